"""ECS: the cluster, the task definition (a new revision only when the effective
definition differs), and the service, waited on until stable."""

from __future__ import annotations

from typing import Any

from .. import waiting
from ..context import Context
from ..errors import AwsError, WaitTimeout, doing, error_code, is_code
from ..names import tag_dict
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from . import Step, check_owner, foreign, service_ref

GRACE_PERIOD = 60
DESIRED_TAG = "ecsup:desired-count"  # the desired count the config asked for last time

# ECS answers with these while a just-created role or target-group association propagates.
# AWS gives only message text here; the patterns live in this one place.
EVENTUAL_CONSISTENCY_MESSAGES = (
    "unable to assume",
    "does not have an associated load balancer",
    "role is not valid",
    "not authorized to perform: sts:AssumeRole",
)


def eventually_consistent(exc: BaseException) -> bool:
    if not is_code(exc, "InvalidParameterException", "ClientException"):
        return False
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")).lower()
    return any(p.lower() in message for p in EVENTUAL_CONSISTENCY_MESSAGES)


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return tag_dict(items, "key", "value")


def ecs_tags(ctx: Context, extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    tags = dict(ctx.names.tags(), **(extra or {}))
    return [{"key": k, "value": v} for k, v in tags.items()]


# -- cluster ------------------------------------------------------------------------
def find_cluster(ctx: Context) -> dict[str, Any] | None:
    with doing(f"look up cluster {ctx.names.cluster}"):
        resp = ctx.client("ecs").describe_clusters(clusters=[ctx.names.cluster], include=["TAGS"])
    active = [c for c in resp.get("clusters", []) if c.get("status") in ("ACTIVE", "PROVISIONING")]
    return active[0] if active else None


SERVICE_LINKED_ROLE = "AWSServiceRoleForECS"
# CreateServiceLinkedRole for a role that exists: "InvalidInput: Service role name
# AWSServiceRoleForECS has been taken in this account, please try a different suffix."
# (Rayraegah/terraform-aws-hasura#17). Only the text tells it from other InvalidInput.
ROLE_TAKEN = "has been taken in this account"


def service_linked_role_exists(ctx: Context) -> bool:
    with doing(f"look up ECS's service-linked role {SERVICE_LINKED_ROLE}"):
        try:
            ctx.client("iam").get_role(RoleName=SERVICE_LINKED_ROLE)
        except Exception as exc:
            if is_code(exc, "NoSuchEntity"):
                return False
            raise
    return True


def create_service_linked_role(ctx: Context) -> str:
    """ECS acts through AWSServiceRoleForECS (load balancer targets, network interfaces). A
    fresh account has none until something creates it, and CreateService/CreateCluster fail
    with "Unable to assume the service linked role" meanwhile."""
    try:
        ctx.client("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    except Exception as exc:
        if is_code(exc, "InvalidInput") and ROLE_TAKEN in str(exc):
            return "exists already"
        if is_code(exc, "AccessDenied", "AccessDeniedException"):
            raise AwsError(
                f"create ECS's service-linked role {SERVICE_LINKED_ROLE}: AccessDenied",
                "AccessDenied",
                hint="this account has no AWSServiceRoleForECS yet and the credentials in use may not perform "
                "iam:CreateServiceLinkedRole: grant it (for ecs.amazonaws.com), or have an administrator run "
                "`aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com` once",
            ) from None
        with doing(f"create ECS's service-linked role {SERVICE_LINKED_ROLE}"):
            raise
    return "created"


class ClusterStep(Step):
    title = "cluster"

    def plan(self, ctx: Context) -> list[Action]:
        cluster = find_cluster(ctx)
        name = ctx.names.cluster
        if cluster is None:
            actions = []
            # An existing cluster means ECS's role exists: only a new cluster needs the look.
            if not service_linked_role_exists(ctx):
                actions.append(
                    Action(
                        "create",
                        "service-linked role",
                        SERVICE_LINKED_ROLE,
                        "ECS's own role in this account (once per account; never deleted by ecsup)",
                        run=lambda: create_service_linked_role(ctx),
                    )
                )
            actions.append(Action("create", "ECS cluster", name, "", run=lambda: self._create(ctx)))
            return actions
        if check_owner(ctx, "ECS cluster", name, _tags(cluster.get("tags"))):
            ctx.facts["cluster_arn"] = cluster["clusterArn"]
            return [Action("noop", "ECS cluster", name, cluster["status"])]
        return []

    def _create(self, ctx: Context) -> str:
        ecs = ctx.client("ecs")
        with doing(f"create cluster {ctx.names.cluster}"):
            # No capacity providers: the service uses launchType FARGATE. A service-linked role
            # created a moment ago may not be assumable yet: retried, bounded.
            cluster = waiting.retry(
                ctx,
                "ECS's service-linked role to be usable",
                lambda: ecs.create_cluster(clusterName=ctx.names.cluster, tags=ecs_tags(ctx))["cluster"],
                eventually_consistent,
                ctx.timeouts.propagation,
            )
        ctx.facts["cluster_arn"] = cluster["clusterArn"]
        return str(cluster["clusterArn"])

    def plan_destroy(self, ctx: Context) -> list[Action]:
        cluster = find_cluster(ctx)
        if cluster is None:
            return []
        if not ctx.names.owns(_tags(cluster.get("tags"))):
            return [foreign(ctx, "ECS cluster", ctx.names.cluster)]
        return [
            Action(
                "delete", "ECS cluster", ctx.names.cluster, "", run=lambda: self._delete(ctx), after=(service_ref(ctx),)
            )
        ]

    def _delete(self, ctx: Context) -> str:
        ecs = ctx.client("ecs")

        def attempt() -> None:
            try:
                ecs.delete_cluster(cluster=ctx.names.cluster)
            except Exception as exc:
                if not is_code(exc, "ClusterNotFoundException"):
                    raise

        with doing(f"delete cluster {ctx.names.cluster}"):
            waiting.retry(
                ctx,
                "the cluster's services and tasks to stop",
                attempt,
                lambda e: is_code(
                    e, "ClusterContainsServicesException", "ClusterContainsTasksException", "UpdateInProgressException"
                ),
                ctx.timeouts.release,
            )
        return "deleted"


# -- task definition ------------------------------------------------------------------
def container_definition(ctx: Context) -> dict[str, Any]:
    svc = ctx.config.service
    return {
        "name": ctx.names.container,
        "image": svc.image,
        "essential": True,
        "portMappings": [{"containerPort": svc.container_port, "hostPort": svc.container_port, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in svc.environment],
        "secrets": [{"name": var, "valueFrom": ctx.facts["secret_arns"][var]} for var, _ in svc.secrets],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": ctx.names.log_group,
                "awslogs-region": ctx.region,
                "awslogs-stream-prefix": "ecs",
            },
        },
    }


def task_definition(ctx: Context) -> dict[str, Any]:
    svc = ctx.config.service
    return {
        "family": ctx.names.family,
        "taskRoleArn": ctx.facts["task_role_arn"],
        "executionRoleArn": ctx.facts["execution_role_arn"],
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(svc.cpu),
        "memory": str(svc.memory),
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "containerDefinitions": [container_definition(ctx)],
    }


def _effective(td: dict[str, Any]) -> dict[str, Any]:
    """The parts of a task definition ecsup sets, normalised for comparison."""
    containers = []
    for c in td.get("containerDefinitions", []):
        containers.append(
            {
                "name": c.get("name"),
                "image": c.get("image"),
                "essential": c.get("essential", True),
                "portMappings": sorted(
                    (p.get("containerPort"), p.get("hostPort", p.get("containerPort")), p.get("protocol", "tcp"))
                    for p in c.get("portMappings", [])
                ),
                "environment": sorted((e["name"], e.get("value", "")) for e in c.get("environment", [])),
                "secrets": sorted((s["name"], s["valueFrom"]) for s in c.get("secrets", [])),
                "logConfiguration": c.get("logConfiguration"),
            }
        )
    return {
        "family": td.get("family"),
        "taskRoleArn": td.get("taskRoleArn"),
        "executionRoleArn": td.get("executionRoleArn"),
        "networkMode": td.get("networkMode"),
        "requiresCompatibilities": sorted(td.get("requiresCompatibilities", [])),
        "cpu": str(td.get("cpu")),
        "memory": str(td.get("memory")),
        "runtimePlatform": td.get("runtimePlatform") or {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "containers": containers,
    }


def _describe_changes(have: dict[str, Any], want: dict[str, Any]) -> list[Change]:
    changes = []
    for key in want:
        if key == "containers":
            for hc, wc in zip(have[key] or [{}], want[key], strict=False):
                for k in wc:
                    if hc.get(k) != wc[k]:
                        shown = k if k not in ("environment", "secrets") else f"{k} (names)"
                        old, new = hc.get(k), wc[k]
                        if k in ("environment", "secrets"):
                            old = [x[0] for x in old or []] if k == "secrets" else old
                            new = [x[0] for x in new] if k == "secrets" else new
                        if k == "environment":  # plain values: fine to show
                            shown = k
                        changes.append(Change(shown, str(old), str(new)))
        elif have.get(key) != want[key]:
            changes.append(Change(key, str(have.get(key)), str(want[key])))
    return changes


def latest_task_definition(ctx: Context) -> tuple[dict[str, Any], dict[str, str]] | None:
    with doing(f"look up task definition {ctx.names.family}"):
        try:
            resp = ctx.client("ecs").describe_task_definition(taskDefinition=ctx.names.family, include=["TAGS"])
        except Exception as exc:
            if is_code(exc, "ClientException"):  # no active revision in the family
                return None
            raise
    td = resp["taskDefinition"]
    if td.get("status") != "ACTIVE":
        return None
    return td, _tags(resp.get("tags"))


class TaskDefinitionStep(Step):
    title = "task definition"

    def plan(self, ctx: Context) -> list[Action]:
        family = ctx.names.family
        found = latest_task_definition(ctx)
        want = task_definition(ctx)
        image = ctx.config.service.image
        if found is None:
            return [
                Action(
                    "create",
                    "task definition",
                    family,
                    f"{image}, cpu {want['cpu']}/{want['memory']} MiB",
                    run=lambda: self._register(ctx),
                )
            ]
        td, tags = found
        if not check_owner(ctx, "task definition", f"{family}:{td['revision']}", tags):
            return []
        changes = _describe_changes(_effective(td), _effective(want))
        if not changes:
            ctx.facts["task_definition_arn"] = td["taskDefinitionArn"]
            return [Action("noop", "task definition", f"{family}:{td['revision']}", image)]
        return [
            Action(
                "create",
                "task definition",
                f"{family}:{td['revision'] + 1}",
                "new revision",
                changes,
                run=lambda: self._register(ctx),
            )
        ]

    def _register(self, ctx: Context) -> str:
        ecs = ctx.client("ecs")
        with doing(f"register task definition {ctx.names.family}"):
            td = waiting.retry(
                ctx,
                "the new IAM roles to be usable by ECS",
                lambda: ecs.register_task_definition(**task_definition(ctx), tags=ecs_tags(ctx)),
                eventually_consistent,
                ctx.timeouts.propagation,
            )["taskDefinition"]
        ctx.facts["task_definition_arn"] = td["taskDefinitionArn"]
        return f"revision {td['revision']}"

    def plan_destroy(self, ctx: Context) -> list[Action]:
        ecs = ctx.client("ecs")
        arns: list[str] = []
        with doing(f"list task definitions of {ctx.names.family}"):
            for status in ("ACTIVE", "INACTIVE"):
                for page in ecs.get_paginator("list_task_definitions").paginate(
                    familyPrefix=ctx.names.family, status=status
                ):
                    arns += [
                        a for a in page["taskDefinitionArns"] if a.split("/")[-1].rsplit(":", 1)[0] == ctx.names.family
                    ]
            mine: list[tuple[str, str]] = []
            theirs: list[str] = []
            for arn in arns:
                resp = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
                if ctx.names.owns(_tags(resp.get("tags"))):
                    mine.append((arn, str(resp["taskDefinition"].get("status"))))
                else:
                    theirs.append(arn)
        actions: list[Action] = []
        if theirs:
            actions.append(
                Action(
                    "skip",
                    "task definition",
                    ctx.names.family,
                    f"{len(theirs)} revision(s) not ecsup's (no matching ownership tags): left alone",
                )
            )
        if mine:
            actions.append(
                Action(
                    "delete",
                    "task definition",
                    ctx.names.family,
                    f"{len(mine)} revision(s)",
                    run=lambda: self._deregister(ctx, mine),
                    after=(service_ref(ctx),),
                )
            )
        return actions

    def _deregister(self, ctx: Context, revisions: list[tuple[str, str]]) -> str:
        ecs = ctx.client("ecs")
        arns = [arn for arn, _ in revisions]
        with doing(f"deregister task definitions of {ctx.names.family}"):
            for arn, status in revisions:
                if status == "ACTIVE":
                    ecs.deregister_task_definition(taskDefinition=arn)
            for i in range(0, len(arns), 10):
                try:
                    ecs.delete_task_definitions(taskDefinitions=arns[i : i + 10])
                except Exception as exc:  # partitions without the API: deregistered is enough
                    if not is_code(exc, "InvalidParameterException", "UnsupportedOperation", "NotImplemented"):
                        raise
        return f"deregistered {len(arns)}"


# -- service ------------------------------------------------------------------
def find_service(ctx: Context) -> dict[str, Any] | None:
    if not ctx.facts.get("cluster_arn") and ctx.mode != "destroy":
        return None
    with doing(f"look up service {ctx.names.service}"):
        try:
            resp = ctx.client("ecs").describe_services(
                cluster=ctx.names.cluster, services=[ctx.names.service], include=["TAGS"]
            )
        except Exception as exc:
            if is_code(exc, "ClusterNotFoundException"):
                return None
            raise
    services = resp.get("services", [])
    return services[0] if services and services[0].get("status") in ("ACTIVE", "DRAINING") else None


def network_configuration(ctx: Context) -> dict[str, Any]:
    return {
        "awsvpcConfiguration": {
            "subnets": ctx.facts["subnets"],
            "securityGroups": [ctx.facts["sg_tasks"]],
            "assignPublicIp": "ENABLED" if ctx.config.network.assign_public_ip else "DISABLED",
        }
    }


def load_balancers(ctx: Context) -> list[dict[str, Any]]:
    return [
        {
            "targetGroupArn": ctx.facts["tg_blue"],
            "containerName": ctx.names.container,
            "containerPort": ctx.config.service.container_port,
        }
    ]


DEPLOYMENT = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def stopped_reasons(ctx: Context) -> list[str]:
    """Why the service's recently stopped tasks stopped (best effort: [] when unreadable)."""
    try:
        ecs = ctx.client("ecs")
        arns = ecs.list_tasks(
            cluster=ctx.names.cluster, serviceName=ctx.names.service, desiredStatus="STOPPED", maxResults=10
        ).get("taskArns", [])
        if not arns:
            return []
        tasks = ecs.describe_tasks(cluster=ctx.names.cluster, tasks=arns).get("tasks", [])
    except Exception:  # diagnosis is best effort: never hide the original failure
        return []
    return sorted({t["stoppedReason"] for t in tasks if t.get("stoppedReason")})


def service_failure(ctx: Context, service: dict[str, Any] | None) -> str:
    """What AWS says about a service that does not stabilise: events and stopped tasks."""
    parts = []
    if service:
        events = [e["message"] for e in service.get("events", [])[:5]]
        if events:
            parts.append("recent events: " + " | ".join(events))
    reasons = stopped_reasons(ctx)
    if reasons:
        parts.append("stopped tasks: " + " | ".join(reasons))
    return "; ".join(parts) or "AWS reported no events and no stopped tasks"


def failure_hint(diagnosis: str) -> str:
    if "ResourceInitializationError" in diagnosis:
        return (
            "the tasks could not start: check that the secrets exist and the execution role may read them "
            "(ssm:GetParameters, kms:Decrypt), and that the subnets can reach ECR/SSM (public IP or NAT)"
        )
    if "CannotPullContainerError" in diagnosis or "pull" in diagnosis.lower():
        return "the image could not be pulled: check service.image and the subnets' route to the registry"
    if "health check" in diagnosis.lower():
        return "tasks fail the load balancer health check: check service.health_check_path and container_port"
    return "fix the cause above, then re-run `ecsup create`: it resumes where it stopped"


def wait_stable(ctx: Context) -> str:
    ecs = ctx.client("ecs")
    seen: set[str] = set()
    last: dict[str, Any] = {}

    def check() -> tuple[bool, str]:
        with doing(f"read the state of service {ctx.names.service}"):
            found = ecs.describe_services(cluster=ctx.names.cluster, services=[ctx.names.service])["services"]
        if not found:  # just created: DescribeServices may still report it MISSING
            return False, "not visible yet"
        svc = found[0]
        last["service"] = svc
        for event in reversed(svc.get("events", [])[:10]):
            if event["id"] not in seen:
                seen.add(event["id"])
                ctx.ui.event(event["message"])
        deployments = svc.get("deployments", [])
        primary: dict[str, Any] = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
        failed = next((d for d in deployments if d.get("rolloutState") == "FAILED"), None)
        want = ctx.facts.get("task_definition_arn")
        rolled_back = bool(want) and svc.get("taskDefinition") != want  # the breaker put the old revision back
        if failed is not None or rolled_back:
            diagnosis = service_failure(ctx, svc)
            reason = (failed or {}).get("rolloutStateReason") or (
                f"the service runs {str(svc.get('taskDefinition', '?')).split('/')[-1]} again, "
                f"not {str(want).split('/')[-1]}"
            )
            raise AwsError(
                f"the deployment of service {ctx.names.service} failed and was rolled back: {reason}; {diagnosis}",
                "DeploymentFailed",
                hint=failure_hint(diagnosis),
            )
        running, desired = svc.get("runningCount", 0), svc.get("desiredCount", 0)
        state = f"running {running}/{desired}" + (f", {len(deployments)} deployments" if len(deployments) > 1 else "")
        done = running == desired and len(deployments) <= 1 and primary.get("rolloutState", "COMPLETED") == "COMPLETED"
        return done, state

    def timeout(state: str) -> WaitTimeout:
        diagnosis = service_failure(ctx, last.get("service"))
        return WaitTimeout(
            f"service {ctx.names.service} not stable after {int(ctx.timeouts.service)} s ({state}); {diagnosis}",
            hint=failure_hint(diagnosis),
        )

    return waiting.poll(
        ctx, f"service {ctx.names.service} to become stable", check, ctx.timeouts.service, on_timeout=timeout
    )


def permissions_settle(ctx: Context) -> None:
    """Tasks started right after this run changed their execution role's permissions could
    fail to read their secrets (IAM applies changes within seconds, with no way to ask when),
    and failed tasks count toward the circuit breaker's rollback: let the change settle first."""
    changed = ctx.facts.get("execution_permissions_changed_at")
    if changed is not None:
        waiting.settle(ctx, "IAM to apply the execution role's new permissions", changed + ctx.timeouts.iam_settle)


class ServiceStep(Step):
    title = "service"

    def plan(self, ctx: Context) -> list[Action]:
        svc_cfg = ctx.config.service
        name = ctx.names.service
        svc = find_service(ctx)
        if svc is not None and svc.get("status") == "DRAINING":
            return [
                Action(
                    "create",
                    "ECS service",
                    name,
                    "previous one still draining: wait, then create",
                    run=lambda: self._create(ctx, wait_inactive=True),
                )
            ]
        if svc is None:
            return [
                Action(
                    "create",
                    "ECS service",
                    name,
                    f"FARGATE, {svc_cfg.desired_count} task(s), behind {ctx.names.tg_blue}",
                    run=lambda: self._create(ctx),
                )
            ]
        tags = _tags(svc.get("tags"))
        if not check_owner(ctx, "ECS service", name, tags):
            return []
        ctx.facts["service"] = svc  # what status reports on
        changes = self._changes(ctx, svc, tags)
        detail = f"running {svc.get('runningCount')}/{svc.get('desiredCount')}"
        if svc.get("desiredCount") != svc_cfg.desired_count and str(svc_cfg.desired_count) == tags.get(DESIRED_TAG):
            ctx.notes.append(
                f"service {name}: desired count {svc.get('desiredCount')} was changed on the live "
                f"service (config says {svc_cfg.desired_count}); left as it is"
            )
        if not changes:
            return [Action("noop", "ECS service", name, detail)]
        return [Action("update", "ECS service", name, detail, changes, run=lambda: self._update(ctx, svc, changes))]

    def _changes(self, ctx: Context, svc: dict[str, Any], tags: dict[str, str]) -> list[Change]:
        changes = []
        want_td = ctx.facts.get("task_definition_arn", KNOWN_AFTER_APPLY)
        if svc.get("taskDefinition") != want_td:
            changes.append(
                Change("task definition", svc.get("taskDefinition", "-").split("/")[-1], want_td.split("/")[-1])
            )
        want_count = ctx.config.service.desired_count
        if str(want_count) != tags.get(DESIRED_TAG) and svc.get("desiredCount") != want_count:
            changes.append(Change("desired count", str(svc.get("desiredCount")), str(want_count)))
        elif str(want_count) != tags.get(DESIRED_TAG):
            changes.append(Change(f"tag {DESIRED_TAG}", str(tags.get(DESIRED_TAG)), str(want_count)))
        have_net = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        want_net = {
            "subnets": ctx.facts["subnets"],
            "securityGroups": [ctx.facts.get("sg_tasks", KNOWN_AFTER_APPLY)],
            "assignPublicIp": "ENABLED" if ctx.config.network.assign_public_ip else "DISABLED",
        }
        if (
            sorted(have_net.get("subnets", [])) != want_net["subnets"]
            or have_net.get("securityGroups") != want_net["securityGroups"]
            or have_net.get("assignPublicIp", "DISABLED") != want_net["assignPublicIp"]
        ):
            changes.append(Change("network", str(have_net), str(want_net)))
        have_lb = [
            (lb.get("targetGroupArn"), lb.get("containerName"), lb.get("containerPort"))
            for lb in svc.get("loadBalancers", [])
        ]
        want_lb = [
            (ctx.facts.get("tg_blue", KNOWN_AFTER_APPLY), ctx.names.container, ctx.config.service.container_port)
        ]
        if have_lb != want_lb:
            changes.append(Change("load balancer", str(have_lb), str(want_lb)))
        # AWS always reports these two; moto does not store them, so compare only what is reported.
        grace = svc.get("healthCheckGracePeriodSeconds")
        if grace is not None and grace != GRACE_PERIOD:
            changes.append(Change("health check grace period", str(grace), str(GRACE_PERIOD)))
        deployment = svc.get("deploymentConfiguration")
        if deployment is not None:
            breaker = deployment.get("deploymentCircuitBreaker") or {}
            if not (breaker.get("enable") and breaker.get("rollback")):
                changes.append(Change("circuit breaker", str(breaker or "off"), "enabled with rollback"))
        return changes

    def _create(self, ctx: Context, wait_inactive: bool = False) -> str:
        ecs = ctx.client("ecs")
        if wait_inactive:
            self._wait_inactive(ctx)
        permissions_settle(ctx)
        count = ctx.config.service.desired_count
        with doing(f"create service {ctx.names.service}"):
            waiting.retry(
                ctx,
                "the new IAM roles and target group to be usable by ECS",
                lambda: ecs.create_service(
                    cluster=ctx.names.cluster,
                    serviceName=ctx.names.service,
                    taskDefinition=ctx.facts["task_definition_arn"],
                    desiredCount=count,
                    launchType="FARGATE",
                    platformVersion="LATEST",
                    networkConfiguration=network_configuration(ctx),
                    loadBalancers=load_balancers(ctx),
                    healthCheckGracePeriodSeconds=GRACE_PERIOD,
                    deploymentConfiguration=DEPLOYMENT,
                    deploymentController={"type": "ECS"},
                    propagateTags="SERVICE",
                    enableECSManagedTags=True,
                    tags=ecs_tags(ctx, {DESIRED_TAG: str(count)}),
                ),
                eventually_consistent,
                ctx.timeouts.propagation,
            )
        return wait_stable(ctx)

    def _update(self, ctx: Context, svc: dict[str, Any], changes: list[Change]) -> str:
        ecs = ctx.client("ecs")
        attrs = {c.attribute for c in changes}
        kwargs: dict[str, Any] = {}
        if "task definition" in attrs:
            kwargs["taskDefinition"] = ctx.facts["task_definition_arn"]
        if "desired count" in attrs:
            kwargs["desiredCount"] = ctx.config.service.desired_count
        if "network" in attrs:
            kwargs["networkConfiguration"] = network_configuration(ctx)
        if "load balancer" in attrs:
            kwargs["loadBalancers"] = load_balancers(ctx)
        if "health check grace period" in attrs:
            kwargs["healthCheckGracePeriodSeconds"] = GRACE_PERIOD
        if "circuit breaker" in attrs:
            kwargs["deploymentConfiguration"] = DEPLOYMENT
        if kwargs:
            permissions_settle(ctx)
        with doing(f"update service {ctx.names.service}"):
            if kwargs:
                waiting.retry(
                    ctx,
                    "the new IAM roles and target group to be usable by ECS",
                    lambda: ecs.update_service(cluster=ctx.names.cluster, service=ctx.names.service, **kwargs),
                    eventually_consistent,
                    ctx.timeouts.propagation,
                )
            ecs.tag_resource(
                resourceArn=svc["serviceArn"],
                tags=[{"key": DESIRED_TAG, "value": str(ctx.config.service.desired_count)}],
            )
        return wait_stable(ctx) if kwargs else "tagged"

    def _wait_inactive(self, ctx: Context) -> None:
        ecs = ctx.client("ecs")

        def check() -> tuple[bool, str]:
            with doing(f"read the state of service {ctx.names.service}"):
                services = ecs.describe_services(cluster=ctx.names.cluster, services=[ctx.names.service])["services"]
            status = services[0]["status"] if services else "INACTIVE"
            return status == "INACTIVE", status

        waiting.poll(ctx, f"service {ctx.names.service} to finish draining", check, ctx.timeouts.service)

    def plan_destroy(self, ctx: Context) -> list[Action]:
        svc = find_service(ctx)
        if svc is None:
            return []
        if not ctx.names.owns(_tags(svc.get("tags"))):
            return [foreign(ctx, "ECS service", ctx.names.service)]
        return [
            Action(
                "delete",
                "ECS service",
                ctx.names.service,
                f"scale to 0, delete, wait until inactive ({svc.get('status')})",
                run=lambda: self._delete(ctx, svc),
            )
        ]

    def _delete(self, ctx: Context, svc: dict[str, Any]) -> str:
        ecs = ctx.client("ecs")
        with doing(f"delete service {ctx.names.service}"):
            try:
                if svc.get("status") == "ACTIVE":
                    if svc.get("desiredCount"):
                        ecs.update_service(cluster=ctx.names.cluster, service=ctx.names.service, desiredCount=0)
                    ecs.delete_service(cluster=ctx.names.cluster, service=ctx.names.service, force=True)
            except Exception as exc:
                if not is_code(
                    exc, "ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"
                ):
                    raise
            self._wait_inactive(ctx)
        return "deleted"


__all__ = ["ClusterStep", "ServiceStep", "TaskDefinitionStep", "error_code"]
