"""ECS: clusters, services and task definitions as AWS treats them (the deployment controller is
deployments.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import FARGATE_MEMORY
from . import (
    AwsFault,
    Emulation,
    _ec2,
    _ecs,
    _iam,
    _role,
    _settled,
    _state,
)
from .iam import SERVICE_LINKED_ROLE


# -- ECS ----------------------------------------------------------------------------------
def _service_groups(svc: Any) -> list[str]:
    config = (svc.network_configuration or {}).get("awsvpcConfiguration") or {}
    return list(config.get("securityGroups") or [])


def advance_draining(em: Emulation, ecs: Any) -> None:
    """A deleted service turns INACTIVE once its tasks have stopped; their network interfaces
    (and so the security groups) are released some time after."""
    for svc in ecs.services.values():
        until = getattr(svc, "_ecsup_draining_until", None)
        if svc.status == "DRAINING" and until is not None and em.now() >= until:
            svc.status = "INACTIVE"
            released = _state(_ec2(svc._account_id, svc.region_name), "released")
            for group in _service_groups(svc):
                released[group] = until  # from when its tasks stopped, not from when someone looked


def deleted_service_drains(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    svc = result.result["service"]
    if svc.status == "INACTIVE":
        svc.status = "DRAINING"
        svc.running_count = svc.pending_count = 0
        svc._ecsup_draining_until = em.now() + em.delays.service_draining
    return result


def services_drain_over_time(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    advance_draining(em, _ecs(resp.current_account, resp.region))
    return proceed()


def cluster_with_services_cannot_be_deleted(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteCluster: "ClusterContainsServicesException" while a service is ACTIVE or DRAINING."""
    ecs = _ecs(resp.current_account, resp.region)
    advance_draining(em, ecs)
    name = (resp._get_param("cluster") or "default").split("/")[-1]
    if any(s.cluster_name == name and s.status in ("ACTIVE", "DRAINING") for s in ecs.services.values()):
        raise AwsFault(
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        )
    return proceed()


def _service_linked_role_usable(em: Emulation, account: str) -> bool:
    if _role(account, SERVICE_LINKED_ROLE) is None:
        return False
    return _settled(em, _state(_iam(account), "created").get(SERVICE_LINKED_ROLE), em.delays.service_linked_role)


def _needs_service_linked_role(em: Emulation, account: str) -> None:
    if not _service_linked_role_usable(em, account):
        raise AwsFault(
            "InvalidParameterException",
            "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
        )


def cluster_creates_the_service_linked_role(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateCluster creates ECS's service-linked role when it is missing (ECS Developer Guide,
    "Using service-linked roles"), but with capacity providers it needs the role usable
    already: a brand-new account fails the first time (cloudformation-coverage-roadmap#818)."""
    account = resp.current_account
    if resp._get_param("capacityProviders") or resp._get_param("defaultCapacityProviderStrategy"):
        _needs_service_linked_role(em, account)
    elif _role(account, SERVICE_LINKED_ROLE) is None:
        _iam(account).create_service_linked_role("ecs.amazonaws.com", "", "")
        _state(_iam(account), "created")[SERVICE_LINKED_ROLE] = em.now()
    return proceed()


def capacity_providers_need_the_service_linked_role(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    _needs_service_linked_role(em, resp.current_account)
    return proceed()


def create_service_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateService: needs the service-linked role; a name that is ACTIVE is "Creation of
    service was not idempotent." (TF#2283), one still DRAINING "Unable to Start a service that
    is still Draining." (spinnaker/spinnaker#5476) -- moto silently replaces both."""
    account, region = resp.current_account, resp.region
    _needs_service_linked_role(em, account)
    ecs = _ecs(account, region)
    advance_draining(em, ecs)
    cluster = (resp._get_param("cluster") or "default").split("/")[-1]
    existing = ecs.services.get(f"{cluster}:{resp._get_param('serviceName')}")
    if existing is not None and existing.status == "ACTIVE":
        raise AwsFault("InvalidParameterException", "Creation of service was not idempotent.")
    if existing is not None and existing.status == "DRAINING":
        raise AwsFault("InvalidParameterException", "Unable to Start a service that is still Draining.")
    result = proceed()
    _tasks_start(em, resp, result.result["service"])
    return result


def update_service_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    starts = resp._get_param("taskDefinition") or resp._get_param("forceNewDeployment")
    result = proceed()
    if starts:
        _tasks_start(em, resp, result.result["service"])
    return result


def _tasks_start(em: Emulation, resp: Any, svc: Any) -> None:
    """Tasks that start within seconds of a change to their execution role's permissions
    cannot read their secrets; enough of them failing trips the circuit breaker."""
    ecs = _ecs(resp.current_account, resp.region)
    try:
        td = ecs.describe_task_definition(svc.task_definition)
    except Exception:
        return
    role = str(getattr(td, "execution_role_arn", None) or "").split("/")[-1]
    changed = _state(_iam(resp.current_account), "permissions").get(role)
    if role and not _settled(em, changed, em.delays.iam_permissions):
        for deployment in svc.deployments[:1]:
            deployment.update(
                rolloutState="FAILED",
                rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
                runningCount=0,
                failedTasks=3,
            )
        svc.running_count = 0


def fargate_task_size_must_be_valid(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """RegisterTaskDefinition for FARGATE with a cpu/memory pair Fargate has not: "ClientException:
    Invalid 'cpu' setting for task." (STACK.md) -- after everything before it was created."""
    if "FARGATE" in (resp._get_param("requiresCompatibilities") or []):
        cpu, memory = resp._get_param("cpu"), resp._get_param("memory")
        try:
            ok = int(memory) in FARGATE_MEMORY.get(int(cpu), [])
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise AwsFault("ClientException", "Invalid 'cpu' setting for task.")
    return proceed()


def environment_in_no_promised_order(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    for container in result.result["taskDefinition"].container_definitions:
        env = container.get("environment")
        if env and len(env) > 1:
            env.reverse()
    return result


def service_capacity_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateService/UpdateService with a capacityProviderStrategy: moto drops it on create (and
    reports launch type EC2). On AWS it replaces the launch type, and every provider in it must
    be associated with the cluster: "The specified capacity provider strategy cannot contain a
    capacity provider that is not associated with the cluster." (ECS API reference,
    CapacityProviderStrategyItem; Fargate capacity providers, ECS Developer Guide)."""
    strategy = resp._get_param("capacityProviderStrategy")
    if strategy and resp._get_param("service"):  # UpdateService: only the transitions AWS lists
        ecs = _ecs(resp.current_account, resp.region)
        try:
            svc = ecs._get_service(resp._get_param("cluster") or "default", resp._get_param("service"))
        except Exception:
            svc = None
        if svc is not None and svc.launch_type == "FARGATE" and not getattr(svc, "capacity_provider_strategy", None):
            # UpdateService reference, capacityProviderStrategy: "The following list provides the
            # valid transitions" -- Fargate launch type to a Fargate capacity provider is not one.
            # AWS's wording is not documented; this one is worded here.
            raise AwsFault(
                "InvalidParameterException",
                "Updating a service from the FARGATE launch type to a Fargate capacity provider strategy is not "
                "supported.",
            )
    if strategy:
        ecs = _ecs(resp.current_account, resp.region)
        name = (resp._get_param("cluster") or "default").split("/")[-1]
        cluster = ecs.clusters.get(name)
        associated = set(getattr(cluster, "capacity_providers", None) or [])
        if any(item.get("capacityProvider") not in associated for item in strategy):
            raise AwsFault(
                "InvalidParameterException",
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
                "with the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
                "provider and try again.",
            )
    result = proceed()
    if strategy:
        svc = result.result["service"]
        svc.capacity_provider_strategy = strategy
        svc.launch_type = None
    return result


LIST_SERVICES_PAGE = 10  # ListServices without maxResults: "returns up to 10 results and a nextToken"
DESCRIBE_SERVICES_LIMIT = 10


def list_services_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """ListServices: only ACTIVE services (a deleted one "is no longer visible ... in the
    ListServices API operation" while DRAINING, nor once INACTIVE: DeleteService API reference),
    paged -- up to 10 without maxResults, maxResults 1 to 100, a nextToken while more remain
    (ListServices API reference). moto lists every service it keeps, all at once."""
    import base64

    result = proceed()
    ecs = _ecs(resp.current_account, resp.region)
    status = {svc.arn: svc.status for svc in ecs.services.values()}
    arns = [arn for arn in result.result.get("serviceArns") or [] if status.get(arn) == "ACTIVE"]
    size = resp._get_param("maxResults")
    size = LIST_SERVICES_PAGE if size is None else int(size)
    if not 1 <= size <= 100:
        raise AwsFault("InvalidParameterException", "maxResults must be between 1 and 100.")
    token = resp._get_param("nextToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(str(token).encode()).decode())
        except ValueError:
            raise AwsFault("InvalidParameterException", "Invalid nextToken.") from None
    result.result["serviceArns"] = arns[start : start + size]
    if start + size < len(arns):
        result.result["nextToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return result


def describe_services_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DescribeServices takes at most 10 services: "InvalidParameterException: service names can
    have at most 10 items." (remind101/empire#468, structurely/ecs-autoscale#32); moto takes any number."""
    if len(resp._get_param("services") or []) > DESCRIBE_SERVICES_LIMIT:
        raise AwsFault("InvalidParameterException", "service names can have at most 10 items.")
    return proceed()


def install(around: Callable[..., None]) -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as ECS

    around(ECS, "create_cluster", cluster_creates_the_service_linked_role)
    around(ECS, "put_cluster_capacity_providers", capacity_providers_need_the_service_linked_role)
    around(ECS, "create_service", create_service_as_aws)
    around(ECS, "update_service", update_service_as_aws)
    around(ECS, "delete_service", deleted_service_drains)
    around(ECS, "describe_services", services_drain_over_time)
    around(ECS, "list_services", services_drain_over_time)
    around(ECS, "delete_cluster", cluster_with_services_cannot_be_deleted)
    around(ECS, "register_task_definition", fargate_task_size_must_be_valid)
    around(ECS, "register_task_definition", environment_in_no_promised_order)
    around(ECS, "create_service", service_capacity_as_aws)
    around(ECS, "update_service", service_capacity_as_aws)
    around(ECS, "list_services", list_services_as_aws)
    around(ECS, "describe_services", describe_services_as_aws)
