"""ECS: the cluster, the task definition (a new revision only when the effective
definition differs), and the service, waited on until stable."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .. import waiting
from ..context import Context
from ..errors import AwsError, doing, error_code, is_code
from ..names import tag_dict
from ..plan import Action, Change
from . import Step, both, check_owner, foreign, service_ref

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
        resp = ctx.client("ecs").describe_clusters(clusters=[ctx.names.cluster], include=["TAGS", "SETTINGS"])
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


# ECS Developer Guide, "AWS Fargate capacity providers": associated with a cluster with
# PutClusterCapacityProviders (or at CreateCluster), needed by a capacityProviderStrategy.
FARGATE_PROVIDERS = frozenset({"FARGATE", "FARGATE_SPOT"})


def needs_providers(ctx: Context) -> bool:
    """Always: the service runs on a capacity provider strategy whatever its capacity (FARGATE
    on demand too), because UpdateService moves a service between launch type and capacity
    providers only in the transitions its reference lists, and "Fargate launch type -> Fargate
    capacity provider" is not one of them (ECS API reference, UpdateService
    capacityProviderStrategy). A strategy from the start makes every later switch of
    ``capacity`` a change of strategy, which is always allowed."""
    return True


def insights_changes(ctx: Context, cluster: dict[str, Any]) -> list[Change]:
    """[service] container_insights = true: the cluster's containerInsights setting "enabled" (or
    "enhanced", which includes it). false leaves the setting to the account's default."""
    if not ctx.config.service.container_insights:
        return []
    have = {s.get("name"): s.get("value") for s in cluster.get("settings") or []}.get("containerInsights")
    if have in ("enabled", "enhanced"):
        return []
    return [Change("Container Insights", str(have or "disabled"), "enabled")]


def insights_detail(ctx: Context) -> str:
    return ", Container Insights enabled" if ctx.config.service.container_insights else ""


class ClusterStep(Step):
    title = "cluster"
    reads = ()
    provides = ("cluster_arn", "cluster_tags")

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
            ctx.facts["cluster_tags"] = _tags(cluster.get("tags"))  # e.g. the stack has workers (workloads.py)
            have = set(cluster.get("capacityProviders") or [])
            providers = needs_providers(ctx) and not FARGATE_PROVIDERS.issubset(have)
            changes = insights_changes(ctx, cluster)
            if providers:
                changes.insert(
                    0, Change("capacity providers", ", ".join(sorted(have)) or "-", ", ".join(FARGATE_PROVIDERS))
                )
            if changes:
                return [
                    Action(
                        "update",
                        "ECS cluster",
                        name,
                        "",
                        changes,
                        run=lambda: (self._providers(ctx, have) if providers else "") + self._insights(ctx, cluster),
                    )
                ]
            return [Action("noop", "ECS cluster", name, cluster["status"] + insights_detail(ctx))]
        return []

    def _create(self, ctx: Context) -> str:
        ecs = ctx.client("ecs")
        kwargs: dict[str, Any] = {"clusterName": ctx.names.cluster, "tags": ecs_tags(ctx)}
        if needs_providers(ctx):  # the service's capacity provider strategy needs them on the cluster
            kwargs["capacityProviders"] = list(FARGATE_PROVIDERS)
        if ctx.config.service.container_insights:
            kwargs["settings"] = [{"name": "containerInsights", "value": "enabled"}]
        with doing(f"create cluster {ctx.names.cluster}"):
            # A service-linked role created a moment ago may not be assumable yet (a brand-new
            # account fails CreateCluster with capacity providers at first): retried, bounded.
            cluster = waiting.retry(
                ctx,
                "ECS's service-linked role to be usable",
                lambda: ecs.create_cluster(**kwargs)["cluster"],
                eventually_consistent,
                ctx.timeouts.propagation,
                first=0.5,  # the role is usable within seconds, and the service waits for the cluster
            )
        ctx.facts["cluster_arn"] = cluster["clusterArn"]
        return str(cluster["clusterArn"])

    def _insights(self, ctx: Context, cluster: dict[str, Any]) -> str:
        if not insights_changes(ctx, cluster):
            return ""
        with doing(f"turn on Container Insights on cluster {ctx.names.cluster}"):
            ctx.client("ecs").update_cluster(  # UpdateCluster takes the settings (as UpdateClusterSettings)
                cluster=ctx.names.cluster, settings=[{"name": "containerInsights", "value": "enabled"}]
            )
        return ", Container Insights enabled"

    def _providers(self, ctx: Context, have: set[str]) -> str:
        ecs = ctx.client("ecs")
        providers = sorted(have | FARGATE_PROVIDERS)
        with doing(f"add the Fargate capacity providers to cluster {ctx.names.cluster}"):
            waiting.retry(
                ctx,
                "ECS's service-linked role to be usable",
                lambda: ecs.put_cluster_capacity_providers(
                    cluster=ctx.names.cluster, capacityProviders=providers, defaultCapacityProviderStrategy=[]
                ),
                eventually_consistent,
                ctx.timeouts.propagation,
            )
        return ", ".join(providers)

    def plan_destroy(self, ctx: Context) -> list[Action]:
        cluster = find_cluster(ctx)
        if cluster is None:
            return []
        if not ctx.names.owns(_tags(cluster.get("tags"))):
            return [foreign(ctx, "ECS cluster", ctx.names.cluster)]
        from .workloads import worker_service_refs

        stops = self._one_off_stops(ctx)
        return [
            *stops,
            Action(
                "delete",
                "ECS cluster",
                ctx.names.cluster,
                "",
                run=lambda: self._delete(ctx),
                after=(service_ref(ctx), *worker_service_refs(ctx), *(a.ref for a in stops)),
            ),
        ]

    def _one_off_stops(self, ctx: Context) -> list[Action]:
        """The one-off tasks `ecsup run` (--detach, or a run whose caller went away) and the
        `before` migration left running: DeleteCluster refuses while any task is active
        (ClusterContainsTasksException), and such a task may run for hours, so destroy stops them."""
        from ..run import STARTED_BY

        ecs = ctx.client("ecs")
        actions = []
        for started_by in STARTED_BY.values():
            with doing(f"list the one-off tasks of cluster {ctx.names.cluster}"):
                pages = ecs.get_paginator("list_tasks").paginate(
                    cluster=ctx.names.cluster, startedBy=started_by, desiredStatus="RUNNING"
                )
                arns = [arn for page in pages for arn in page.get("taskArns", [])]
            for arn in arns:
                task_id = arn.split("/")[-1]
                actions.append(
                    Action(
                        "delete",
                        "one-off task",
                        task_id,
                        f"still running (startedBy {started_by}): stopped",
                        run=partial(self._stop_task, ctx, arn),
                    )
                )
        return actions

    def _stop_task(self, ctx: Context, arn: str) -> str:
        with doing(f"stop one-off task {arn.split('/')[-1]}"):
            ctx.client("ecs").stop_task(cluster=ctx.names.cluster, task=arn, reason="ecsup destroy")
        return "stopped"

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


# -- the service, as the task definition and service steps see it ------------------------
IMAGE_TAG = "ecsup:image"  # on the service: the config's image as `create` last applied it


def find_service(ctx: Context, unseen_cluster: bool = False) -> dict[str, Any] | None:
    """The service if ACTIVE or DRAINING. Not looked up while planning a create whose cluster was
    not found, unless ``unseen_cluster`` (move.detect reads it before the cluster is looked up)."""
    if not ctx.facts.get("cluster_arn") and ctx.mode != "destroy" and not unseen_cluster:
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


def seen_service(ctx: Context) -> dict[str, Any] | None:
    """The service as this plan saw it (one DescribeServices for the task definition and
    service steps both)."""
    if "service_seen" not in ctx.facts:
        ctx.facts["service_seen"] = find_service(ctx)
    return ctx.facts["service_seen"]


# -- task definition ------------------------------------------------------------------
def container_definition(ctx: Context) -> dict[str, Any]:
    svc = ctx.config.service
    return container(
        ctx,
        ctx.names.container,
        ctx.facts.get("image", svc.image),
        svc.environment,
        [(var, ctx.facts["secret_arns"][var]) for var, _ in svc.secrets],
        "ecs",
        port=svc.container_port,
    )


def container(
    ctx: Context,
    name: str,
    image: str,
    environment: tuple[tuple[str, str], ...],
    secrets: list[tuple[str, str]],
    stream_prefix: str,
    port: int | None = None,
    command: tuple[str, ...] = (),
    stop_timeout: int | None = None,
) -> dict[str, Any]:
    """One essential container of a workload's task definition (the web service's, a worker's, a
    job's): its environment, its secrets ((variable, parameter ARN) pairs), its logs in the stack's
    log group under ``stream_prefix``, [service] readonly_root_filesystem."""
    svc = ctx.config.service
    out: dict[str, Any] = {"name": name, "image": image, "essential": True}
    if port is not None:
        out["portMappings"] = [{"containerPort": port, "hostPort": port, "protocol": "tcp"}]
    if command:
        out["command"] = list(command)
    out |= {
        "environment": [{"name": k, "value": v} for k, v in environment],
        "secrets": [{"name": var, "valueFrom": arn} for var, arn in secrets],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": ctx.names.log_group,
                "awslogs-region": ctx.region,
                "awslogs-stream-prefix": stream_prefix,
                # Written explicitly, whatever the account's default (ECS account setting
                # defaultLogDriverMode): a CloudWatch Logs outage must never block the application's
                # writes to stdout/stderr. Lines are buffered in memory up to max-buffer-size and dropped
                # beyond it (ECS Developer Guide, "Send Amazon ECS logs to CloudWatch": mode, max-buffer-size).
                "mode": "non-blocking",
                "max-buffer-size": AWSLOGS_BUFFER,
            },
        },
    }
    if stop_timeout is not None:  # seconds ECS waits after SIGTERM before SIGKILL (Fargate: 2-120)
        out["stopTimeout"] = stop_timeout
    return out | ({"readonlyRootFilesystem": True} if svc.readonly_root_filesystem else {})


AWSLOGS_BUFFER = "25m"


def task_definition(ctx: Context) -> dict[str, Any]:
    svc = ctx.config.service
    return fargate_task_definition(
        ctx, ctx.names.family, svc.cpu, svc.memory, svc.cpu_architecture, container_definition(ctx)
    )


def fargate_task_definition(
    ctx: Context, family: str, cpu: int, memory: int, architecture: str, container: dict[str, Any]
) -> dict[str, Any]:
    """A workload's task definition: Fargate, awsvpc, the stack's task and execution roles."""
    return {
        "family": family,
        "taskRoleArn": ctx.facts["task_role_arn"],
        "executionRoleArn": ctx.facts["execution_role_arn"],
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(cpu),
        "memory": str(memory),
        # ARM64 is Graviton (about 20% cheaper per vCPU-hour); the image must be built for it
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": architecture},
        "containerDefinitions": [container],
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
                "readonlyRootFilesystem": bool(c.get("readonlyRootFilesystem", False)),
                "command": list(c.get("command") or []),
                "stopTimeout": c.get("stopTimeout"),
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


def latest_task_definition(ctx: Context, family: str = "") -> tuple[dict[str, Any], dict[str, str]] | None:
    family = family or ctx.names.family
    with doing(f"look up task definition {family}"):
        try:
            resp = ctx.client("ecs").describe_task_definition(taskDefinition=family, include=["TAGS"])
        except Exception as exc:
            if is_code(exc, "ClientException"):  # no active revision in the family
                return None
            raise
    td = resp["taskDefinition"]
    if td.get("status") != "ACTIVE":
        return None
    return td, _tags(resp.get("tags"))


def running(ctx: Context, latest: dict[str, Any] | None) -> dict[str, Any] | None:
    """The task definition the service runs, when the service is ecsup's (the latest revision
    is not always it: a rolled-back deploy leaves a newer one)."""
    svc = seen_service(ctx)
    if svc is None or not ctx.names.owns(_tags(svc.get("tags"))) or not svc.get("taskDefinition"):
        return None
    if latest is not None and latest["taskDefinitionArn"] == svc["taskDefinition"]:
        return latest
    with doing(f"describe task definition {svc['taskDefinition'].split('/')[-1]}"):
        return dict(ctx.client("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"])


def _image(td: dict[str, Any], container: str) -> str | None:
    return next((c.get("image") for c in td.get("containerDefinitions", []) if c.get("name") == container), None)


def settled_image(ctx: Context) -> str:
    """The image the web service runs when no release is under way: TaskDefinitionStep's (``image``)
    unless a deployment of the service is in progress, then the one it ran before -- the revision
    of its ACTIVE deployment that had COMPLETED (during a rollback, that one FAILED: the PRIMARY,
    which the service goes back to, is already TaskDefinitionStep's). What a workload that follows
    the service's image and has no revision yet starts with: never an unfinished release's image."""
    image = str(ctx.facts.get("image") or ctx.config.service.image)
    if ctx.facts.get("service_image_applied"):
        return image
    svc = seen_service(ctx)
    deployments = (svc or {}).get("deployments") or []
    primary: dict[str, Any] = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    if primary.get("rolloutState") != "IN_PROGRESS":
        return image
    before = next(
        (
            d
            for d in deployments
            if d.get("status") == "ACTIVE" and d.get("rolloutState") == "COMPLETED" and d.get("taskDefinition")
        ),
        None,
    )
    if before is None:
        return image
    with doing(f"describe task definition {str(before['taskDefinition']).split('/')[-1]}"):
        td = ctx.client("ecs").describe_task_definition(taskDefinition=before["taskDefinition"])["taskDefinition"]
    return _image(td, ctx.names.container) or image


class TaskDefinitionStep(Step):
    """The image belongs to deploys once the service exists: the config's image is applied
    only when it changed since `create` last applied it (the service's ecsup:image tag), the
    way a desired count changed on the live service is kept. Other settings always converge,
    on top of the image the service runs."""

    title = "task definition"
    reads = ("task_role_arn", "execution_role_arn", "secret_arns", "service_seen")
    plan_reads = ("cluster_arn",)  # the service in the cluster (seen_service)
    provides = ("image", "running_image", "running_size", "task_definition_arn")

    def plan(self, ctx: Context) -> list[Action]:
        family = ctx.names.family
        found, _ = both(ctx, partial(latest_task_definition, ctx), partial(seen_service, ctx))
        live = running(ctx, found[0] if found else None)
        image = ctx.config.service.image
        svc = seen_service(ctx)
        applied = _tags(svc.get("tags")).get(IMAGE_TAG) if svc is not None else None
        live_image = (_image(live, ctx.names.container) or image) if live is not None else None
        if live_image is not None and applied in (image, None):
            # unchanged since create applied it (or not known: the tag was removed): the running
            # image is a deploy's, and infrastructure never reverts a deploy
            if live_image != image:
                ctx.notes.append(
                    f"service {ctx.names.service} runs {live_image} (deployed with `ecsup deploy`); service.image "
                    f"({image}) "
                    + ("has not changed since it was applied" if applied else "is not known to have been applied")
                    + ", so the running image is kept (`ecsup deploy --image IMAGE` ships another)"
                )
            image = live_image
        elif live_image is not None and live_image != image:
            ctx.notes.append(
                f"service {ctx.names.service} runs {live_image}; service.image changed in ecsup.toml since create "
                f"applied {applied}, so create deploys {image} in its place"
            )
        elif live is None and found is not None and svc is None:
            last = _image(found[0], ctx.names.container)
            if last and last != image:
                ctx.notes.append(
                    f"service {ctx.names.service} does not exist: it is created with service.image ({image}); "
                    f"the last revision, {family}:{found[0]['revision']}, ran {last} (`ecsup deploy --image {last}` "
                    "ships it again)"
                )
        ctx.facts["image"] = image
        # create applies service.image this run (changed in ecsup.toml since it was applied, or no
        # service yet): the workloads that follow it move with it; otherwise they keep theirs
        ctx.facts["service_image_applied"] = live_image is None or applied not in (ctx.config.service.image, None)
        ctx.facts["running_image"] = _image(live, ctx.names.container) if live else None
        if live is not None:  # what the service runs now, for "monthly cost before -> after"
            platform = live.get("runtimePlatform") or {}
            ctx.facts["running_size"] = (
                int(live.get("cpu") or 0),
                int(live.get("memory") or 0),
                platform.get("cpuArchitecture") or "X86_64",
            )
        want = task_definition(ctx)
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
        latest, tags = found
        if not check_owner(ctx, "task definition", f"{family}:{latest['revision']}", tags):
            return []
        td = live or latest  # compare with what runs
        changes = _describe_changes(_effective(td), _effective(want))
        if not changes:
            ctx.facts["task_definition_arn"] = td["taskDefinitionArn"]
            return [Action("noop", "task definition", f"{family}:{td['revision']}", image)]
        return [
            Action(
                "create",
                "task definition",
                f"{family}:{latest['revision'] + 1}",
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
        return plan_family_deletion(ctx, ctx.names.family, (service_ref(ctx),))


def family_revisions(
    ctx: Context, family: str, keep: Callable[[dict[str, str]], bool] | None = None
) -> tuple[list[tuple[str, str]], list[str]]:
    """The revisions of a task definition family, ACTIVE and INACTIVE: ecsup's for this stack
    ((ARN, status); with ``keep``, those whose tags it keeps), and the ARNs of the others."""
    ecs = ctx.client("ecs")
    arns: list[str] = []
    with doing(f"list task definitions of {family}"):
        for status in ("ACTIVE", "INACTIVE"):
            for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status=status):
                arns += [a for a in page["taskDefinitionArns"] if a.split("/")[-1].rsplit(":", 1)[0] == family]
        mine: list[tuple[str, str]] = []
        theirs: list[str] = []
        for arn in arns:
            resp = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            tags = _tags(resp.get("tags"))
            if ctx.names.owns(tags) and (keep is None or keep(tags)):
                mine.append((arn, str(resp["taskDefinition"].get("status"))))
            else:
                theirs.append(arn)
    return mine, theirs


def deregister_family(ctx: Context, family: str, revisions: list[tuple[str, str]]) -> str:
    """Deregister, then delete, ecsup's revisions of a family."""
    ecs = ctx.client("ecs")
    arns = [arn for arn, _ in revisions]
    with doing(f"deregister task definitions of {family}"):
        for arn, status in revisions:
            if status == "ACTIVE":
                try:
                    ecs.deregister_task_definition(taskDefinition=arn)
                except Exception as exc:  # deregistered meanwhile
                    if not is_code(exc, "ClientException", "InvalidParameterException"):
                        raise
        for i in range(0, len(arns), 10):
            try:
                ecs.delete_task_definitions(taskDefinitions=arns[i : i + 10])
            except Exception as exc:  # partitions without the API: deregistered is enough
                if not is_code(exc, "InvalidParameterException", "UnsupportedOperation", "NotImplemented"):
                    raise
    return f"deregistered {len(arns)}"


def plan_family_deletion(
    ctx: Context,
    family: str,
    after: tuple[str, ...],
    found: tuple[list[tuple[str, str]], list[str]] | None = None,
    detail: str = "",
) -> list[Action]:
    """Destroy's actions for a family: deregister and delete ecsup's revisions once what runs
    them (``after``) is gone; a note about revisions that are not ecsup's."""
    mine, theirs = found if found is not None else family_revisions(ctx, family)
    actions: list[Action] = []
    if theirs:
        actions.append(
            Action(
                "skip",
                "task definition",
                family,
                f"{len(theirs)} revision(s) not ecsup's (no matching ownership tags): left alone",
            )
        )
    if mine:
        actions.append(
            Action(
                "delete",
                "task definition",
                family,
                f"{len(mine)} revision(s)" + detail,
                run=partial(deregister_family, ctx, family, mine),
                after=after,
            )
        )
    return actions


__all__ = ["ClusterStep", "TaskDefinitionStep", "error_code"]
