"""Workloads beside the web service: each worker ([workers.<name>]) is its own task definition
family and an ECS service with no load balancer, in the stack's cluster and network, rolled out
with ECS's rolling strategy and the deployment circuit breaker (rollback on). A job's task
definition is built here too (``workload_task_definition``); its schedule is steps/jobs'.

The worker's container is the web container's (steps/ecs.py ``container``) with the worker's
command, environment and secrets (already merged with [service]'s), logs under the worker's name
and its ``stopTimeout``. Its image is its own ``image``, or else the image the web service runs
after this run (a deploy's, kept as TaskDefinitionStep keeps it): `create` never swaps the image
a `deploy --image` released.

The stack's worker services are found by name (the configured ones, which DescribeServices also
shows while DRAINING) and by listing the cluster's services (ListServices, every page: a worker
removed from ecsup.toml is deleted by the next `create`). Each carries ``ecsup:worker = <name>``
besides the ownership tags; so do its task definition revisions.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from .. import waiting
from ..context import Context
from ..errors import doing, is_code
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from ..workloads import WorkerConfig, Workload
from . import Step, check_owner, foreign
from .ecs import (
    DESIRED_TAG,
    _describe_changes,
    _effective,
    _tags,
    container,
    ecs_tags,
    eventually_consistent,
    family_revisions,
    fargate_task_definition,
    latest_task_definition,
    plan_family_deletion,
)

WORKER_TAG = "ecsup:worker"  # on a worker's service and task definition revisions: the worker's name
# on the cluster: the stack has (or had) workers -- a stack without it and without [workers.*]
# costs no ListServices on a no-op run
WORKERS_MARK = "ecsup:workers"
DESCRIBE_LIMIT = 10  # DescribeServices: "You may specify up to 10 services to describe in a single operation"


# -- task definition ------------------------------------------------------------------------
def workload_container(ctx: Context, workload: Workload, image: str) -> dict[str, Any]:
    """The workload's one container, named after it: its command, environment and secrets
    (valueFrom = the parameter's ARN), its logs in the stack's group under its name."""
    arns: dict[str, str] = ctx.facts.get("parameter_arns") or {}
    if any(name not in arns for _, name in workload.secrets):
        from .secrets import parameter_arn

        arns = {name: arns.get(name) or parameter_arn(ctx, name) for _, name in workload.secrets}
    return container(
        ctx,
        workload.name,
        image,
        workload.environment,
        [(var, arns[name]) for var, name in workload.secrets],
        workload.name,
        command=workload.command,
        stop_timeout=getattr(workload, "stop_timeout", None),
    )


def workload_task_definition(ctx: Context, workload: Workload, image: str) -> dict[str, Any]:
    """A worker's or a job's task definition (RegisterTaskDefinition's arguments but the tags):
    family ``<app>-<env>-<name>``, the stack's task and execution roles, the workload's size and
    architecture, one container (``workload_container``)."""
    return fargate_task_definition(
        ctx,
        ctx.names.workload(workload.name),
        workload.cpu,
        workload.memory,
        workload.cpu_architecture,
        workload_container(ctx, workload, image),
    )


def workload_image(ctx: Context, workload: Workload, new: bool = False) -> str:
    """Its own image, or the one the web service runs after this run (TaskDefinitionStep's: the
    deployed image unless [service] image changed in the file), [service] image on a new stack.
    A ``new`` workload (no service yet) during a release of the web service starts with the image
    the web service ran before it (ecs.settled_image), never the unfinished release's: a release
    that fails would leave it there. (An existing worker under a release runs the release's
    revision, which the release moves and takes back: the same image, no change from create.)"""
    if workload.image:
        return workload.image
    if new:
        from .ecs import settled_image

        return settled_image(ctx)
    return str(ctx.facts.get("image") or ctx.config.service.image)


# -- the stack's worker services --------------------------------------------------------------
_LOOKUP = threading.Lock()


def worker_services(ctx: Context) -> dict[str, dict[str, Any]]:
    """The stack's worker services, ACTIVE or DRAINING, by worker name: every configured one that
    exists (whoever owns it: check_owner says), and those ListServices shows that carry this stack's
    tags and ``ecsup:worker`` (removed from ecsup.toml). Read once a run."""
    with _LOOKUP:
        if "worker_services" not in ctx.facts:
            ctx.facts["worker_services"] = _find_worker_services(ctx)
        found: dict[str, dict[str, Any]] = ctx.facts["worker_services"]
        return found


def _find_worker_services(ctx: Context) -> dict[str, dict[str, Any]]:
    destroying = ctx.mode == "destroy"
    if not ctx.facts.get("cluster_arn") and not destroying:
        return {}  # a new cluster: no service in it
    configured = {ctx.names.workload(w.name): w.name for w in ctx.config.workers}
    names = dict(configured)
    if destroying or configured or ctx.facts.get("cluster_tags", {}).get(WORKERS_MARK):
        prefix = ctx.names.stack + "-"
        for name in _list_services(ctx):
            if name.startswith(prefix) and name not in names:
                names[name] = ""  # its worker's name is in its tag
    found: dict[str, dict[str, Any]] = {}
    for svc in _describe(ctx, sorted(names)):
        if svc.get("status") not in ("ACTIVE", "DRAINING"):
            continue
        tags = _tags(svc.get("tags"))
        worker = names.get(svc["serviceName"]) or (tags.get(WORKER_TAG, "") if ctx.names.owns(tags) else "")
        if worker:
            found[worker] = svc
    return found


def _list_services(ctx: Context) -> list[str]:
    """The names of the cluster's services (ListServices lists ACTIVE ones only: DeleteService
    API reference, "the service is no longer visible ... in the ListServices API operation")."""
    with doing(f"list the services of cluster {ctx.names.cluster}"):
        try:
            pages = ctx.client("ecs").get_paginator("list_services").paginate(cluster=ctx.names.cluster)
            return [arn.split("/")[-1] for page in pages for arn in page.get("serviceArns", [])]
        except Exception as exc:
            if is_code(exc, "ClusterNotFoundException"):
                return []
            raise


def _describe(ctx: Context, names: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ecs = ctx.client("ecs")
    for i in range(0, len(names), DESCRIBE_LIMIT):
        chunk = names[i : i + DESCRIBE_LIMIT]
        with doing(f"look up services {', '.join(chunk)}"):
            try:
                out += ecs.describe_services(cluster=ctx.names.cluster, services=chunk, include=["TAGS"])["services"]
            except Exception as exc:
                if is_code(exc, "ClusterNotFoundException"):
                    return []
                raise
    return out


def worker_service_refs(ctx: Context) -> tuple[str, ...]:
    """Destroy: the deletions of the stack's worker services (what the cluster and the roles wait for)."""
    return tuple(f"ECS service {svc['serviceName']}" for _, svc in sorted(worker_services(ctx).items()))


def _owned(ctx: Context, svc: dict[str, Any] | None) -> bool:
    return svc is not None and ctx.names.owns(_tags(svc.get("tags")))


# -- the worker task definition step ------------------------------------------------------------
class WorkerTaskDefinitionStep(Step):
    """Each worker's family: a new revision only when what ecsup sets differs from the revision
    the worker's service runs (else the latest), as for the web service's."""

    title = "worker task definitions"
    # the image the web service runs after this run (TaskDefinitionStep's: workload_image), the
    # stack's roles, every workload's parameters (each exists before a task that names it starts)
    reads = ("image", "task_role_arn", "execution_role_arn", "parameter_arns")
    plan_reads = ("cluster_arn", "cluster_tags")  # the services in the cluster (worker_services)
    provides = ("worker_services", "worker_task_definitions")
    concurrent = True  # one family each

    def plan(self, ctx: Context) -> list[Action]:
        services = worker_services(ctx)
        ctx.facts.setdefault("worker_task_definitions", {})
        ctx.facts.setdefault("worker_images", {})
        found = ctx.in_parallel(
            {w.name: partial(self._plan_worker, ctx, w, services.get(w.name)) for w in ctx.config.workers}
        )
        actions: list[Action] = []
        for result, error in found.values():
            if error is not None:
                raise error
            actions += result or []
        return actions

    def _plan_worker(self, ctx: Context, worker: WorkerConfig, svc: dict[str, Any] | None) -> list[Action]:
        family = ctx.names.workload(worker.name)
        image = workload_image(ctx, worker, new=not _owned(ctx, svc))
        ctx.facts.setdefault("worker_images", {})[worker.name] = image
        want = workload_task_definition(ctx, worker, image)
        found = latest_task_definition(ctx, family)
        live: dict[str, Any] | None = None
        if _owned(ctx, svc) and svc is not None and svc.get("taskDefinition"):
            if found is not None and found[0]["taskDefinitionArn"] == svc["taskDefinition"]:
                live = found[0]
            else:
                with doing(f"describe task definition {svc['taskDefinition'].split('/')[-1]}"):
                    live = dict(
                        ctx.client("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])[
                            "taskDefinition"
                        ]
                    )
        size = f"cpu {want['cpu']}/{want['memory']} MiB"
        if found is None:
            return [
                Action(
                    "create", "task definition", family, f"{image}, {size}", run=partial(self._register, ctx, worker)
                )
            ]
        latest, tags = found
        if not check_owner(ctx, "task definition", f"{family}:{latest['revision']}", tags):
            return []
        td = live or latest
        changes = _describe_changes(_effective(td), _effective(want))
        if not changes:
            ctx.facts["worker_task_definitions"][worker.name] = td["taskDefinitionArn"]
            return [Action("noop", "task definition", f"{family}:{td['revision']}", image)]
        return [
            Action(
                "create",
                "task definition",
                f"{family}:{latest['revision'] + 1}",
                "new revision",
                changes,
                run=partial(self._register, ctx, worker),
            )
        ]

    def _register(self, ctx: Context, worker: WorkerConfig) -> str:
        ecs = ctx.client("ecs")
        family = ctx.names.workload(worker.name)
        image = ctx.facts.get("worker_images", {}).get(worker.name) or workload_image(ctx, worker)
        body = workload_task_definition(ctx, worker, image)
        with doing(f"register task definition {family}"):
            td = waiting.retry(
                ctx,
                "the new IAM roles to be usable by ECS",
                lambda: ecs.register_task_definition(**body, tags=ecs_tags(ctx, {WORKER_TAG: worker.name})),
                eventually_consistent,
                ctx.timeouts.propagation,
            )["taskDefinition"]
        ctx.facts["worker_task_definitions"][worker.name] = td["taskDefinitionArn"]
        return f"revision {td['revision']}"

    def plan_destroy(self, ctx: Context) -> list[Action]:
        """Every worker family of the stack: the configured workers', the services' found, and those
        ListTaskDefinitionFamilies shows under the stack's prefix whose revisions are this stack's
        workers' (a worker removed while its family stayed: a run stopped between the two)."""
        families = {ctx.names.workload(w.name) for w in ctx.config.workers}
        families |= {svc["serviceName"] for svc in worker_services(ctx).values()}
        jobs = {ctx.names.workload(j.name) for j in ctx.config.jobs}  # the jobs' (steps of their own)
        ecs = ctx.client("ecs")
        with doing(f"list the task definition families of {ctx.names.stack}"):
            for page in ecs.get_paginator("list_task_definition_families").paginate(
                familyPrefix=ctx.names.stack + "-", status="ALL"
            ):
                families |= {f for f in page.get("families", []) if f not in jobs}
        found = ctx.in_parallel({f: partial(self._worker_revisions, ctx, f) for f in sorted(families)})
        actions: list[Action] = []
        for family, (result, error) in found.items():
            if error is not None:
                raise error
            if result is not None and (result[0] or result[1]):
                actions += plan_family_deletion(ctx, family, (f"ECS service {family}",), result)
        return actions

    def _worker_revisions(self, ctx: Context, family: str) -> tuple[list[tuple[str, str]], list[str]]:
        """The family's revisions that are this stack's workers' (and, for a configured worker's
        family, the others: left alone, and said)."""
        configured = family in {ctx.names.workload(w.name) for w in ctx.config.workers}
        mine, theirs = family_revisions(ctx, family, keep=lambda tags: bool(tags.get(WORKER_TAG)))
        return mine, (theirs if configured else [])


# -- the worker service step --------------------------------------------------------------------
ROLLING = {
    # ECS API reference, DeploymentConfiguration: the circuit breaker with rollback; new tasks
    # start before old ones stop (a worker's queue keeps a consumer through a release)
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "strategy": "ROLLING",
}
EXEC_CHANGE = "ECS Exec (new deployment)"
CAPACITY_CHANGE = "capacity (new deployment)"
DEPLOYING = {"taskDefinition", "networkConfiguration", "loadBalancers", "forceNewDeployment"}


def worker_strategy(worker: Workload) -> list[dict[str, Any]]:
    """Always a capacity provider strategy (FARGATE on demand too), as the web service's (ecs.needs_providers)."""
    return worker.capacity_provider_strategy or [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]


def wanted_count(worker: WorkerConfig, live: int | None, applied: str | None = None) -> int:
    """The desired count create sets. With auto scaling: a live count within min..max is kept
    (auto scaling's), one outside is brought to the nearest bound. Without: the web service's rule
    (steps/service.py) -- a live count (`ecsup scale --workload`, another tool) is kept while the
    file's ``desired_count`` is still the one create applied last (``applied``: the service's
    ``ecsup:desired-count`` tag); a changed (or never recorded) value in the file is applied."""
    scaling = worker.autoscaling
    if live is None:
        return worker.desired_count
    if scaling is None:
        return live if applied == str(worker.desired_count) else worker.desired_count
    return min(max(live, scaling.min), scaling.max)


def _applied(svc: dict[str, Any]) -> str | None:
    """The desired count create applied last to the worker's service (its ``ecsup:desired-count`` tag)."""
    return _tags(svc.get("tags")).get(DESIRED_TAG)


def live_count_kept(worker: WorkerConfig, svc: dict[str, Any]) -> bool:
    """The worker's live desired count differs from the file's and create keeps it (a live change:
    `ecsup scale --workload`); auto scaling's count is said by its own range."""
    live = svc.get("desiredCount")
    return (
        worker.autoscaling is None
        and live != worker.desired_count
        and live == wanted_count(worker, live, _applied(svc))
    )


class WorkerServiceStep(Step):
    """Beside the web service, not after it: what a worker's tasks need exists (its revision, the
    cluster, the tasks' network, the log group, the roles' permissions settled). One exception:
    with [service.deploy] before, a worker following the web service's image rolls out a new
    revision only after the web service's step (which runs the before task first), as a release
    does -- the before task once, then every deployment (``_after_before_task``)."""

    title = "worker services"
    reads = (
        "worker_task_definitions",
        "worker_services",
        "cluster_arn",
        "cluster_tags",  # mark_cluster
        "subnets",
        "sg_tasks",
        "permissions_changed_at",  # permissions_settle
        "log_group",  # the tasks log there
    )
    plan_reads = ("task_definition_arn", "service_seen")  # whether the web service rolls out (before task)
    provides = ("cluster_tags",)  # the cluster says the stack has workers (mark_cluster)

    def groups(self, actions: list[Action]) -> list[list[Action]]:
        """Each worker's actions in a unit of their own (its service waits to be stable while the
        others' do): a removed worker's scaling, service and family, one after another."""
        by_worker: dict[str, list[Action]] = {}
        for action in actions:
            by_worker.setdefault(getattr(self, "_worker_of", {}).get(id(action), ""), []).append(action)
        return list(by_worker.values())

    _worker_of: dict[int, str]  # id(action) -> its worker (plan)

    def plan(self, ctx: Context) -> list[Action]:
        services = worker_services(ctx)
        actions: list[Action] = []
        self._worker_of = {}
        for worker in ctx.config.workers:
            planned = self._plan_worker(ctx, worker, services.get(worker.name))
            if _after_before_task(ctx, worker):
                for action in planned:
                    if action.kind == "create" or any(c.attribute == "task definition" for c in action.changes):
                        action.reads = ("service",)
            self._worker_of |= {id(a): worker.name for a in planned}
            actions += planned
        configured = {w.name for w in ctx.config.workers}
        for name, svc in sorted(services.items()):
            if name not in configured and svc.get("status") == "ACTIVE":
                planned = self._plan_removed(ctx, name, svc)
                self._worker_of |= {id(a): name for a in planned}
                actions += planned
        return actions

    def _plan_worker(self, ctx: Context, worker: WorkerConfig, svc: dict[str, Any] | None) -> list[Action]:
        name = ctx.names.workload(worker.name)
        if svc is not None and svc.get("status") == "DRAINING":
            return [
                Action(
                    "create",
                    "ECS service",
                    name,
                    "previous one still draining: wait, then create",
                    run=partial(self._create, ctx, worker, True),
                )
            ]
        if svc is None:
            count = wanted_count(worker, worker.desired_count)
            return [
                Action(
                    "create",
                    "ECS service",
                    name,
                    f"{worker.capacity}, {count} task(s), no load balancer, ROLLING, circuit breaker (rollback)",
                    run=partial(self._create, ctx, worker),
                )
            ]
        if not check_owner(ctx, "ECS service", name, _tags(svc.get("tags"))):
            return []
        changes = self._changes(ctx, worker, svc)
        detail = f"running {svc.get('runningCount')}/{svc.get('desiredCount')}"
        if worker.autoscaling and svc.get("desiredCount") != worker.desired_count and not changes:
            detail += " (auto scaling's)"
        if live_count_kept(worker, svc):
            ctx.notes.append(
                f"service {name}: desired count {svc.get('desiredCount')} was changed on the live "
                f"service (config says {worker.desired_count}); left as it is"
            )
        if not changes:
            return [Action("noop", "ECS service", name, detail)]
        return [
            Action("update", "ECS service", name, detail, changes, run=partial(self._update, ctx, worker, svc, changes))
        ]

    def _changes(self, ctx: Context, worker: WorkerConfig, svc: dict[str, Any]) -> list[Change]:
        from .service import _capacity_summary, _strategy_summary

        changes = []
        want_td = ctx.facts.get("worker_task_definitions", {}).get(worker.name, KNOWN_AFTER_APPLY)
        if svc.get("taskDefinition") != want_td:
            changes.append(
                Change("task definition", str(svc.get("taskDefinition", "-")).split("/")[-1], want_td.split("/")[-1])
            )
        live = svc.get("desiredCount")
        want_count = wanted_count(worker, live, _applied(svc))
        if live != want_count:
            changes.append(Change("desired count", str(live), str(want_count)))
        elif _applied(svc) != str(worker.desired_count):  # what create applies, recorded
            changes.append(Change(f"tag {DESIRED_TAG}", str(_applied(svc)), str(worker.desired_count)))
        have_net = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        want_net = _network(ctx, known=False)["awsvpcConfiguration"]
        if (
            sorted(have_net.get("subnets", [])) != sorted(want_net["subnets"])
            or have_net.get("securityGroups") != want_net["securityGroups"]
            or have_net.get("assignPublicIp", "DISABLED") != want_net["assignPublicIp"]
        ):
            changes.append(Change("network", str(have_net), str(want_net)))
        have_capacity = _capacity_summary(svc.get("capacityProviderStrategy"), svc.get("launchType"))
        want_capacity = _capacity_summary(worker_strategy(worker))
        if have_capacity != want_capacity:
            changes.append(Change(CAPACITY_CHANGE, have_capacity, want_capacity))
        want_exec = ctx.config.service.exec
        if bool(svc.get("enableExecuteCommand")) != want_exec:
            changes.append(
                Change(EXEC_CHANGE, "on" if svc.get("enableExecuteCommand") else "off", "on" if want_exec else "off")
            )
        if svc.get("loadBalancers"):
            changes.append(Change("load balancer", str(len(svc["loadBalancers"])), "none"))
        deployment = svc.get("deploymentConfiguration")
        if deployment is not None:  # AWS always reports it
            breaker = deployment.get("deploymentCircuitBreaker") or {}
            if not (breaker.get("enable") and breaker.get("rollback")):
                changes.append(Change("circuit breaker", str(breaker or "off"), "enabled with rollback"))
            have = _strategy_summary(deployment)
            if have != "ROLLING":
                changes.append(Change("deployment strategy", have, "ROLLING"))
        return changes

    def _create(self, ctx: Context, worker: WorkerConfig, wait_inactive: bool = False) -> str:
        from .service import permissions_settle, wait_stable

        ecs = ctx.client("ecs")
        name = ctx.names.workload(worker.name)
        if wait_inactive:
            _wait_inactive(ctx, name)
        mark_cluster(ctx)
        permissions_settle(ctx)
        count = wanted_count(worker, worker.desired_count)
        td = ctx.facts["worker_task_definitions"][worker.name]
        with doing(f"create service {name}"):
            waiting.retry(
                ctx,
                "the new IAM roles to be usable by ECS",
                lambda: ecs.create_service(
                    cluster=ctx.names.cluster,
                    serviceName=name,
                    taskDefinition=td,
                    desiredCount=count,
                    capacityProviderStrategy=worker_strategy(worker),
                    platformVersion="LATEST",
                    networkConfiguration=_network(ctx),
                    deploymentConfiguration=ROLLING,
                    deploymentController={"type": "ECS"},
                    propagateTags="SERVICE",
                    enableECSManagedTags=True,
                    enableExecuteCommand=ctx.config.service.exec,
                    tags=ecs_tags(ctx, {WORKER_TAG: worker.name, DESIRED_TAG: str(worker.desired_count)}),
                ),
                eventually_consistent,
                ctx.timeouts.propagation,
            )
        return wait_stable(ctx, name, td)

    def _update(self, ctx: Context, worker: WorkerConfig, svc: dict[str, Any], changes: list[Change]) -> str:
        from .service import permissions_settle, wait_stable

        ecs = ctx.client("ecs")
        name = ctx.names.workload(worker.name)
        attrs = {c.attribute for c in changes}
        td = ctx.facts.get("worker_task_definitions", {}).get(worker.name)
        kwargs: dict[str, Any] = {}
        if "task definition" in attrs:
            kwargs["taskDefinition"] = td
        if "desired count" in attrs:
            kwargs["desiredCount"] = wanted_count(worker, svc.get("desiredCount"), _applied(svc))
        if "network" in attrs:
            kwargs["networkConfiguration"] = _network(ctx)
        if "load balancer" in attrs:
            kwargs["loadBalancers"] = []
        if attrs & {"circuit breaker", "deployment strategy"}:
            kwargs["deploymentConfiguration"] = ROLLING
        if EXEC_CHANGE in attrs:  # ECS Exec applies to tasks started afterwards: a new deployment
            kwargs["enableExecuteCommand"] = ctx.config.service.exec
            kwargs["forceNewDeployment"] = True
        if CAPACITY_CHANGE in attrs:  # ECS moves the tasks only with a new deployment
            kwargs["capacityProviderStrategy"] = worker_strategy(worker)
            kwargs["forceNewDeployment"] = True
        deploys = bool(kwargs.keys() & DEPLOYING)
        if kwargs:
            permissions_settle(ctx)  # tasks may start (a new deployment, a higher count): their secrets readable
        with doing(f"update service {name}"):
            if kwargs:
                waiting.retry(
                    ctx,
                    "the new IAM roles to be usable by ECS",
                    lambda: ecs.update_service(cluster=ctx.names.cluster, service=name, **kwargs),
                    eventually_consistent,
                    ctx.timeouts.propagation,
                )
            if _applied(svc) != str(worker.desired_count):  # the file's value is applied: recorded
                ecs.tag_resource(
                    resourceArn=svc["serviceArn"], tags=[{"key": DESIRED_TAG, "value": str(worker.desired_count)}]
                )
        if not kwargs:
            return "tagged"
        if not deploys:
            return "updated"
        return wait_stable(ctx, name, td or svc.get("taskDefinition"))

    # -- a worker removed from ecsup.toml: its scaling, its service, its family ----------------
    def _plan_removed(self, ctx: Context, worker: str, svc: dict[str, Any]) -> list[Action]:
        name = svc["serviceName"]
        actions = _scaling_removal(ctx, worker, svc)
        actions.append(
            Action(
                "delete",
                "ECS service",
                name,
                f"worker {worker!r} is no longer in ecsup.toml: delete, wait until inactive",
                run=partial(delete_worker_service, ctx, svc),
            )
        )
        mine, _ = family_revisions(ctx, name, keep=lambda tags: bool(tags.get(WORKER_TAG)))
        actions += plan_family_deletion(ctx, name, (f"ECS service {name}",), (mine, []))
        return actions

    # -- destroy ------------------------------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        from .autoscaling import policy_names, resource_id

        actions = []
        for worker, svc in sorted(worker_services(ctx).items()):
            name = svc["serviceName"]
            if not _owned(ctx, svc):
                actions.append(foreign(ctx, "ECS service", name))
                continue
            actions.append(
                Action(
                    "delete",
                    "ECS service",
                    name,
                    f"worker {worker!r}: delete, wait until inactive ({svc.get('status')})",
                    run=partial(delete_worker_service, ctx, svc),
                    # auto scaling goes first (it would scale the service back up)
                    after=(
                        f"scalable target {resource_id(ctx, name)}",
                        *(f"scaling policy {p}" for p in sorted(policy_names(ctx, name).values())),
                    ),
                )
            )
        return actions


def _after_before_task(ctx: Context, worker: WorkerConfig) -> bool:
    """The web service runs [service.deploy] before in this create (it is created, or rolls out a new
    revision: steps/service.py) and the worker follows its image: the worker's rollout comes after."""
    if not ctx.config.service.deploy.before or worker.image:
        return False
    svc = ctx.facts.get("service_seen")
    if svc is None or svc.get("status") == "DRAINING":
        return True
    return ctx.facts.get("task_definition_arn") != svc.get("taskDefinition")


def _scaling_removal(ctx: Context, worker: str, svc: dict[str, Any]) -> list[Action]:
    """A removed worker's scaling policies and target, before its service goes (steps/autoscaling.py)."""
    from .autoscaling import MARKER_TAG, AutoscalingStep, Scaled

    if _tags(svc.get("tags")).get(MARKER_TAG) != "true":
        return []
    scaled = Scaled(svc["serviceName"], None, f"worker {worker!r}", svc, 0)  # "worker 'x' removed"
    return AutoscalingStep()._destroy_one(ctx, scaled)


def _network(ctx: Context, known: bool = True) -> dict[str, Any]:
    """The stack's awsvpc configuration, as the web service's."""
    return {
        "awsvpcConfiguration": {
            "subnets": sorted(ctx.facts.get("subnets") or []),
            "securityGroups": [ctx.facts["sg_tasks"] if known else ctx.facts.get("sg_tasks", KNOWN_AFTER_APPLY)],
            "assignPublicIp": ctx.config.network.task_public_ip,
        }
    }


def mark_cluster(ctx: Context) -> None:
    """Before the stack's first worker service: the cluster says the stack has workers (what lets a
    stack without [workers.*] skip ListServices)."""
    if ctx.facts.get("cluster_tags", {}).get(WORKERS_MARK):
        return
    arn = ctx.facts.get("cluster_arn")
    if not arn:
        return
    with doing(f"tag cluster {ctx.names.cluster}"):
        ctx.client("ecs").tag_resource(resourceArn=arn, tags=[{"key": WORKERS_MARK, "value": "true"}])
    ctx.facts.setdefault("cluster_tags", {})[WORKERS_MARK] = "true"


def _wait_inactive(ctx: Context, name: str) -> None:
    ecs = ctx.client("ecs")

    def check() -> tuple[bool, str]:
        with doing(f"read the state of service {name}"):
            services = ecs.describe_services(cluster=ctx.names.cluster, services=[name])["services"]
        status = services[0]["status"] if services else "INACTIVE"
        return status == "INACTIVE", status

    waiting.poll(ctx, f"service {name} to finish draining", check, ctx.timeouts.service)


def delete_worker_service(ctx: Context, svc: dict[str, Any]) -> str:
    """DeleteService with force (its tasks stop with it, whatever its deployment does: DeleteService
    API reference), then wait until it is INACTIVE (a service of the same name cannot be created
    while it drains)."""
    name = svc["serviceName"]
    with doing(f"delete service {name}"):
        try:
            if svc.get("status") == "ACTIVE":
                ctx.client("ecs").delete_service(cluster=ctx.names.cluster, service=name, force=True)
        except Exception as exc:
            if not is_code(exc, "ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"):
                raise
        _wait_inactive(ctx, name)
    return "deleted"


__all__ = [
    "WORKER_TAG",
    "WorkerServiceStep",
    "WorkerTaskDefinitionStep",
    "worker_services",
    "workload_container",
    "workload_task_definition",
]
