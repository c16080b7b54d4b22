"""ECS service deployments, read and watched: what `create` (a service update), `deploy`,
`rollback`, `status` and `destroy` all need, below each of them. Which deployment is in
progress, what it deploys, how far it got (``DeployState`` snapshots for the UI), and why a
service fails (its events and stopped tasks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import waiting
from .context import Context
from .errors import (
    EXIT_LOCKED,
    EXIT_ROLLED_BACK,
    EXIT_UNHEALTHY,
    AwsError,
    EcsupError,
    WaitTimeout,
    doing,
    error_code,
    is_code,
)
from .names import tag_dict

# ECS API reference, ServiceDeployment.status
ONGOING = ["PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"]
ENDED = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
# ServiceDeployment.lifecycleStage values once production traffic is all on the new revision
# (botocore's ecs model: ... PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP)
PRODUCTION_MOVED = ("POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")
ATTACH_HINT = "`ecsup deploy --watch` watches it again; `ecsup rollback` rolls it back"


class StackMissing(EcsupError):
    exit_code = EXIT_UNHEALTHY


class DeploymentInProgress(EcsupError):
    exit_code = EXIT_LOCKED


class RolledBack(EcsupError):
    """ECS rolled the deployment back (circuit breaker, alarm, or a rollback request)."""

    exit_code = EXIT_ROLLED_BACK

    def __init__(self, message: str, hint: str | None = None, result: DeployResult | None = None) -> None:
        super().__init__(message, hint)
        self.result = result


@dataclass
class DeployState:
    """One look at a deployment in progress (what the live view shows)."""

    arn: str
    status: str
    stage: str = ""
    reason: str = ""
    revision_before: str = ""  # task definition family:revision
    revision_after: str = ""
    new_running: int = 0
    new_pending: int = 0
    old_running: int = 0
    old_pending: int = 0
    desired: int = 0
    traffic: dict[str, float] = field(default_factory=dict)  # target group -> production weight (%)
    bake_left: float | None = None  # seconds, during BAKE_TIME
    bake_total: float | None = None
    events: list[str] = field(default_factory=list)  # new since the last look
    elapsed: float = 0.0
    alarms: dict[str, str] = field(default_factory=dict)  # the alarms ECS watches -> their state (OK, ALARM, ...)
    workload: str = ""  # "": the web service; else the worker this deployment releases (release.py)

    @property
    def production_moved(self) -> bool:
        """Production traffic is all on the new revision: blue/green after its shift, linear and
        canary after their last step (ECS API reference, ServiceDeployment.lifecycleStage: the
        stages after PRODUCTION_TRAFFIC_SHIFT); a rolling deployment once the new tasks all run
        and the old ones are gone; any deployment that ended SUCCESSFUL."""
        if self.status == "SUCCESSFUL":
            return True
        if self.status not in ("PENDING", "IN_PROGRESS"):
            return False
        if self.stage:
            return self.stage in PRODUCTION_MOVED
        return self.desired > 0 and self.new_running >= self.desired and self.old_running == 0

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def summary(self) -> str:
        """A line that changes only when something worth a new plain line changed."""
        parts = [self.status + (f" {self.stage}" if self.stage and not self.ended else "")]
        if self.traffic:
            parts.append("traffic " + " / ".join(f"{tg} {w:g}%" for tg, w in sorted(self.traffic.items())))
        parts.append(
            f"new {self.revision_after or '?'}: {self.new_running} running"
            + (f", {self.new_pending} pending" if self.new_pending else "")
        )
        if self.revision_before:
            parts.append(
                f"old {self.revision_before}: {self.old_running} running"
                + (f", {self.old_pending} pending" if self.old_pending else "")
            )
        if self.alarms:
            parts.append("alarms " + ", ".join(f"{n} {s}" for n, s in sorted(self.alarms.items())))
        return "; ".join(parts)


@dataclass
class DeployResult:
    deployment_arn: str | None
    status: str
    revision_before: str
    revision_after: str
    image_before: str
    image_after: str
    seconds: float = 0.0
    rollback_reason: str | None = None
    message: str = ""
    # how far `deploy` waited (--wait-until): started, production (traffic moved, probe passed),
    # complete (ECS reported it SUCCESSFUL)
    stage: str = "complete"
    triggered_alarms: list[str] = field(default_factory=list)  # the alarms that made ECS roll back
    # why the deployment's tasks stopped (DescribeTasks stoppedReason, containers[].reason), when it failed
    stopped_reasons: list[str] = field(default_factory=list)
    probe: dict[str, Any] | None = None  # verify.ProbeResult.as_dict()
    # the workers and jobs released (or rolled back) with the web service: name -> what happened to it
    # (kind, revision_before, revision_after, status), release.py
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return f"{self.status}: {self.revision_after} ({self.seconds:.0f}s)"


STOPPED_TASKS_READ = 300  # at most this many stopped tasks are described for a diagnosis (100 a call)


def _stopped_tasks(ctx: Context, **filters: Any) -> list[dict[str, Any]]:
    """The cluster's stopped tasks matching ``filters`` (ListTasks desiredStatus=STOPPED, every page;
    ECS keeps stopped tasks listed for about an hour), described 100 at a time."""
    ecs = ctx.client("ecs")
    arns: list[str] = []
    with doing(f"list the stopped tasks of cluster {ctx.names.cluster}"):
        pages = ecs.get_paginator("list_tasks").paginate(cluster=ctx.names.cluster, desiredStatus="STOPPED", **filters)
        for page in pages:
            arns += page.get("taskArns", [])
    tasks: list[dict[str, Any]] = []
    arns = arns[:STOPPED_TASKS_READ]
    with doing(f"describe the stopped tasks of cluster {ctx.names.cluster}"):
        for i in range(0, len(arns), 100):  # DescribeTasks takes up to 100 tasks
            tasks += ecs.describe_tasks(cluster=ctx.names.cluster, tasks=arns[i : i + 100]).get("tasks", [])
    return tasks


def _reasons(task: dict[str, Any]) -> list[str]:
    """A stopped task's reasons: its stoppedReason, then its containers' reasons (ECS often puts the
    cause, e.g. CannotPullContainerError, in both), each once."""
    found = [task.get("stoppedReason")] + [c.get("reason") for c in task.get("containers") or []]
    return list(dict.fromkeys(str(r) for r in found if r))


def stopped_reasons(ctx: Context, service: str | None = None) -> list[str]:
    """Why the service's (or a worker's, ``service``) recently stopped tasks stopped (best effort:
    [] when unreadable)."""
    try:
        tasks = _stopped_tasks(ctx, serviceName=service or ctx.names.service)
    except EcsupError:  # diagnosis is best effort: never hide the original failure
        return []
    return sorted({r for t in tasks for r in _reasons(t)})


def deployment_stopped_reasons(ctx: Context, deployment: dict[str, Any], family: str = "") -> list[str]:
    """Why the tasks a deployment started stopped, most frequent first, each with how many tasks
    gave it. ECS starts a deployment's tasks with ``startedBy`` = its ``ecs-svc/<n>`` id, n being
    the last part of its target service revision's ARN (how terraform-provider-aws, ecs/service.go
    findPrimaryDeploymentARN, matches the two); without tasks listed that way, the task definition
    family's stopped tasks of that id. Best effort: [] when unreadable."""
    number = str((deployment.get("targetServiceRevision") or {}).get("arn", "")).split("/")[-1]
    if not number:
        return []
    started_by = f"ecs-svc/{number}"
    try:
        tasks = _stopped_tasks(ctx, startedBy=started_by)
        if not tasks and family:
            tasks = [t for t in _stopped_tasks(ctx, family=family) if t.get("startedBy") == started_by]
    except EcsupError:
        return []
    counts: dict[str, int] = {}
    for task in tasks:
        for reason in _reasons(task):
            counts[reason] = counts.get(reason, 0) + 1
    return [
        f"{reason} ({n} task{'s' if n != 1 else ''})"
        for reason, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def service_failure(ctx: Context, service: dict[str, Any] | None, reasons: list[str] | None = None) -> str:
    """What AWS says about a service that does not stabilise: stopped tasks and events. ``reasons``:
    the stopped tasks' reasons already read (a deployment's), else the service's."""
    parts = []
    if reasons is None:
        reasons = stopped_reasons(ctx, (service or {}).get("serviceName"))
    if reasons:
        parts.append("stopped tasks: " + " | ".join(reasons))
    if service:
        events = [e["message"] for e in service.get("events", [])[:5]]
        if events:
            parts.append("recent events: " + " | ".join(events))
    return "; ".join(parts) or "AWS reported no events and no stopped tasks"


CREATE_AGAIN = "fix the cause above, then re-run `ecsup create`: it resumes where it stopped"
# after a deployment ECS rolled back, the service runs the revision before: the way on is another deploy
DEPLOY_AGAIN = (
    "the service runs the revision before; look at `ecsup logs --since 30m` and `ecsup status`, fix the image "
    "or its configuration, then `ecsup deploy --image ...` again (or `ecsup rollback` to go further back)"
)


def failure_hint(diagnosis: str, then: str = CREATE_AGAIN) -> str:
    """What to do about a service whose tasks do not become healthy; ``then``: the way on (a
    deploy's is not a create's)."""
    cause = _likely_cause(diagnosis)
    if cause is None:
        return then
    return cause if then == CREATE_AGAIN else f"{cause}; {then}"


def _likely_cause(diagnosis: str) -> str | None:
    if "ResourceInitializationError" in diagnosis:
        return (
            "the tasks could not start: check that the secrets exist and the execution role may read them "
            "(ssm:GetParameters, kms:Decrypt), and that the subnets can reach ECR/SSM (public IP or NAT)"
        )
    if "CannotPullContainerError" in diagnosis or "pull" in diagnosis.lower():
        return "the image could not be pulled: check service.image and the subnets' route to the registry"
    if "health check" in diagnosis.lower():
        return "tasks fail the load balancer health check: check service.health_check_path and container_port"
    return None


# -- reading ------------------------------------------------------------------------------
def service(
    ctx: Context, to: str = "deploy to", name: str = "", missing: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The stack's service (or ``name``'s: a worker's), which must exist and be ecsup's; ``to``: what
    the command would do with it, for the error when there is none ("restart", "scale", "run a task
    beside"); ``missing``: that error's message and hint instead of the web service's."""
    name = name or ctx.names.service
    with doing(f"look up service {name}"):
        try:
            found = ctx.client("ecs").describe_services(cluster=ctx.names.cluster, services=[name], include=["TAGS"])[
                "services"
            ]
        except Exception as exc:
            if not is_code(exc, "ClusterNotFoundException"):
                raise
            found = []
    svc = next((s for s in found if s.get("status") == "ACTIVE"), None)
    if svc is None:
        message, hint = missing or (
            f"there is no service {name} in {ctx.region} to {to}",
            "`ecsup create` builds the stack first",
        )
        raise StackMissing(message, hint=hint)
    if not ctx.names.owns(tag_dict(svc.get("tags"), "key", "value")):
        from .errors import OwnershipConflict

        raise OwnershipConflict(
            f"ECS service {name!r} exists but does not carry ecsup's tags for app={ctx.names.app}, env={ctx.names.env}"
        )
    ctx.learn_account(str(svc.get("serviceArn", "")))  # a job's state machine ARN needs it (release.py)
    return dict(svc)


def describe_task_definition(ctx: Context, arn: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    with doing(f"describe task definition {short(arn)}"):
        resp = ctx.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    return dict(resp["taskDefinition"]), list(resp.get("tags", []))


def image_of(ctx: Context, td: dict[str, Any]) -> str:
    containers = td.get("containerDefinitions", [])
    ours = next((c for c in containers if c.get("name") == ctx.names.container), containers[0] if containers else {})
    return str(ours.get("image", ""))


def short(arn: str | None) -> str:
    """family:revision from a task definition ARN."""
    return str(arn or "").split("/")[-1]


def list_deployments(ctx: Context, service_name: str | None = None, **filters: Any) -> list[dict[str, Any]]:
    """Every brief of the service's (``service_name``'s: a worker's) deployments matching
    ``filters``, from all pages (20 a page unless asked otherwise; botocore has no paginator for
    it), newest first: the API reference promises no order, so they are sorted here by
    ``createdAt`` (AWS's clock, never ours)."""
    ecs = ctx.client("ecs")
    briefs: list[dict[str, Any]] = []
    token: str | None = None
    name = service_name or ctx.names.service
    with doing(f"list the deployments of service {name}"):
        while True:
            page = ecs.list_service_deployments(
                cluster=ctx.names.cluster,
                service=name,
                maxResults=100,
                **filters,
                **({"nextToken": token} if token else {}),
            )
            briefs += page.get("serviceDeployments", [])
            token = page.get("nextToken")
            if not token:
                break
    briefs.sort(key=lambda b: b.get("createdAt") or datetime.min.replace(tzinfo=UTC), reverse=True)
    return briefs


def ongoing(ctx: Context, service_name: str | None = None) -> str | None:
    """The ARN of the deployment in progress on the service (a worker's: ``service_name``), if any
    (the newest)."""
    briefs = list_deployments(ctx, service_name, status=ONGOING)
    return str(briefs[0]["serviceDeploymentArn"]) if briefs else None


def describe_deployment(ctx: Context, arn: str) -> dict[str, Any]:
    with doing(f"describe deployment {arn}"):
        resp = ctx.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])
    found = resp.get("serviceDeployments") or []
    if not found:
        raise AwsError(f"deployment {arn} not found", "ServiceDeploymentNotFound")
    return dict(found[0])


def _revision_task_definitions(ctx: Context, arns: list[str], cache: dict[str, str]) -> None:
    missing = [a for a in arns if a and a not in cache]
    if not missing:
        return
    with doing("describe service revisions"):
        revisions = ctx.client("ecs").describe_service_revisions(serviceRevisionArns=missing)["serviceRevisions"]
    for rev in revisions:
        cache[rev["serviceRevisionArn"]] = str(rev.get("taskDefinition", ""))


def production_weights(ctx: Context, svc: dict[str, Any]) -> dict[str, float]:
    """The production listener rule's forward weights by target group name (blue/green,
    linear, canary); {} for a rolling service."""
    lbs = svc.get("loadBalancers") or [{}]
    rule = (lbs[0].get("advancedConfiguration") or {}).get("productionListenerRule")
    if not rule:
        return {}
    with doing("read the production listener rule"):
        rules = ctx.client("elbv2").describe_rules(RuleArns=[rule])["Rules"]
    weights: dict[str, float] = {}
    for action in rules[0].get("Actions", []) if rules else []:
        for group in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
            weights[group["TargetGroupArn"].split("/")[-2]] = float(group.get("Weight", 0))
    total = sum(weights.values()) or 1.0
    return {name: round(100.0 * w / total, 1) for name, w in weights.items()}


# -- watching -------------------------------------------------------------------------------
def alarm_states(ctx: Context, names: list[str]) -> dict[str, dict[str, Any]]:
    """name -> DescribeAlarms' MetricAlarm or CompositeAlarm (state, reason, definition) of those of
    ``names`` that exist: the deployment alarms ECS watches (steps/alarms.py makes ecsup's). ECS
    watches composite alarms too; DescribeAlarms returns them only when AlarmTypes asks for them
    ("If you omit this parameter, only metric alarms are returned" -- CloudWatch API reference)."""
    found: dict[str, dict[str, Any]] = {}
    cw = ctx.client("cloudwatch")
    for i in range(0, len(names), 100):  # AlarmNames: at most 100 (CloudWatch API reference)
        with doing("look up the deployment alarms"):
            pages = cw.get_paginator("describe_alarms").paginate(
                AlarmNames=names[i : i + 100], AlarmTypes=["CompositeAlarm", "MetricAlarm"]
            )
            for page in pages:
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    found[alarm["AlarmName"]] = alarm
    return found


def watch(
    ctx: Context,
    arn: str,
    timeout: float,
    purpose: str = "deploy",
    until: Callable[[DeployState], bool] | None = None,
    since: float | None = None,
    service_name: str | None = None,
    workload: str = "",
    abort: Callable[[], bool] | None = None,
) -> DeployResult:
    """Follow a deployment to its end (or, with ``until``, until a look satisfies it: the result
    then has the status of that moment), handing each change to ``ctx.ui.deploy_progress``.
    Returns the result when it ended SUCCESSFUL (for a rollback: ROLLBACK_SUCCESSFUL);
    raises RolledBack when ECS rolled it back (naming the alarm that made it, if one did),
    WaitTimeout when ``timeout`` ran out. ``since``: when the watch of this deployment began (a watch
    resumed after the probe keeps counting from there). ``service_name``/``workload``: a worker's
    service and name (release.py watches them beside the web service's); ``abort``: returns True
    when the watch should stop where it is (another workload of the release failed): the result
    then has the status of that moment, as with ``until``."""
    ecs = ctx.client("ecs")
    name = service_name or ctx.names.service
    start = ctx.clock() if since is None else since
    revisions: dict[str, str] = {}
    seen_events: set[str] = set()
    first_look = True
    bake_seen: dict[str, float] = {}
    last: dict[str, Any] = {}

    def look() -> tuple[bool, str]:
        nonlocal first_look
        dep = describe_deployment(ctx, arn)
        with doing(f"read service {name}"):
            svc = ecs.describe_services(cluster=ctx.names.cluster, services=[name])["services"][0]
        target = dep.get("targetServiceRevision") or {}
        sources = dep.get("sourceServiceRevisions") or []
        _revision_task_definitions(ctx, [target.get("arn", "")] + [s.get("arn", "") for s in sources], revisions)
        events = []
        for event in reversed(svc.get("events", [])[:20]):  # oldest first
            if event["id"] not in seen_events:
                seen_events.add(event["id"])
                if not first_look:  # what happened before the watch began is history
                    events.append(str(event["message"]))
        first_look = False
        stage = str(dep.get("lifecycleStage", ""))
        watched = list((dep.get("alarms") or {}).get("alarmNames") or [])
        alarms = {n: str(a.get("StateValue")) for n, a in alarm_states(ctx, watched).items()}
        bake_total = (dep.get("deploymentConfiguration") or {}).get("bakeTimeInMinutes")
        bake_left = None
        if stage == "BAKE_TIME" and bake_total is not None:
            since = bake_seen.setdefault("at", ctx.clock())
            # an endpoint that is not AWS (the sandbox) shortens the bake: a countdown in real
            # minutes would be wrong, so there is none
            bake_left = None if ctx.endpoint else max(0.0, bake_total * 60.0 - (ctx.clock() - since))
        state = DeployState(
            arn=arn,
            status=str(dep.get("status", "")),
            stage=stage,
            reason=str((dep.get("rollback") or {}).get("reason") or dep.get("statusReason") or ""),
            revision_before=short(revisions.get(sources[0].get("arn", ""), "")) if sources else "",
            revision_after=short(revisions.get(target.get("arn", ""), "")),
            new_running=int(target.get("runningTaskCount", 0)),
            new_pending=int(target.get("pendingTaskCount", 0)),
            old_running=sum(int(s.get("runningTaskCount", 0)) for s in sources),
            old_pending=sum(int(s.get("pendingTaskCount", 0)) for s in sources),
            desired=int(svc.get("desiredCount", 0)),
            traffic=production_weights(ctx, svc),
            bake_left=bake_left,
            bake_total=None if bake_total is None else bake_total * 60.0,
            events=events,
            elapsed=ctx.clock() - start,
            alarms=alarms,
            workload=workload,
        )
        last.update(state=state, deployment=dep, service=svc)
        ctx.ui.deploy_progress(state)
        stopped = abort is not None and abort()
        return state.ended or (until is not None and until(state)) or stopped, state.status

    def timed_out(status: str) -> WaitTimeout:
        return WaitTimeout(
            f"the deployment is still {status} after {int(timeout)} s ({arn}); it goes on in ECS",
            hint=ATTACH_HINT,
        )

    # the deploy view is the progress: no generic wait lines
    waiting.poll(
        ctx,
        f"deployment of {name}",
        look,
        timeout,
        on_timeout=timed_out,
        first=1.0,
        cap=10.0,
        report=False,
    )
    state: DeployState = last["state"]
    dep = last["deployment"]
    result = DeployResult(
        deployment_arn=arn,
        status=state.status,
        revision_before=state.revision_before,
        revision_after=state.revision_after,
        image_before="",
        image_after="",
        seconds=round(ctx.clock() - start, 1),
        rollback_reason=(dep.get("rollback") or {}).get("reason")
        or (dep.get("statusReason") if state.status != "SUCCESSFUL" else None),
    )
    wanted = "ROLLBACK_SUCCESSFUL" if purpose == "rollback" else "SUCCESSFUL"
    if state.status == wanted or (purpose == "rollback" and state.status == "SUCCESSFUL"):
        return result
    if not state.ended:  # ``until`` was satisfied
        return result
    triggered = list((dep.get("alarms") or {}).get("triggeredAlarmNames") or [])
    if triggered:
        result.triggered_alarms = triggered
        found = alarm_states(ctx, triggered)
        why = "; ".join(
            f"alarm {n} went into ALARM" + (f" ({found[n].get('StateReason')})" if found.get(n) else "")
            for n in triggered
        )
        raise RolledBack(
            f"ECS rolled the deployment of {state.revision_after or 'the new revision'} back ({state.status}): {why}",
            hint="the service runs the revision before; look at the alarm's metrics, `ecsup logs --since 30m` and "
            "`ecsup status`, fix the release, then `ecsup deploy --image ...` again",
            result=result,
        )
    family = short(revisions.get(str((dep.get("targetServiceRevision") or {}).get("arn", "")), "")).split(":")[0]
    result.stopped_reasons = deployment_stopped_reasons(ctx, dep, family)
    diagnosis = service_failure(ctx, last.get("service"), result.stopped_reasons or None)
    raise RolledBack(
        f"the deployment of {state.revision_after or 'the new revision'} ended {state.status}"
        + (f": {result.rollback_reason}" if result.rollback_reason else "")
        + f"; {diagnosis}",
        hint=failure_hint(diagnosis, DEPLOY_AGAIN),
        result=result,
    )


def stop_for_destroy(ctx: Context) -> str:
    """Destroy: a deployment in progress is asked to roll back before the service goes, so that
    ECS starts no more of its tasks. Best effort: DeleteService with ``force`` removes the
    service whatever its deployments are doing, and mid-rollback AWS may refuse other calls;
    the answer says what happened, and destroy goes on."""
    try:
        arn = ongoing(ctx)
        if arn is None:
            return ""
        ctx.client("ecs").stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    except Exception as exc:
        code = error_code(exc)
        if code is None:  # not an AWS answer: a bug
            raise
        return f"the deployment in progress was not stopped first ({code}); the deletion stops it"
    return "the deployment in progress was stopped first"


def primary(service: dict[str, Any], task_definition: str | None = None) -> tuple[str | None, Any]:
    """(number, createdAt) of a service's PRIMARY deployment. ECS numbers it (``deployments[].id``
    "ecs-svc/<n>") as the last part of its service revision's ARN: how terraform-provider-aws
    (ecs/service.go, findPrimaryDeploymentARN) matches a service to the deployment it started."""
    for entry in service.get("deployments") or []:
        if entry.get("status") == "PRIMARY" and (
            task_definition is None or entry.get("taskDefinition") == task_definition
        ):
            parts = str(entry.get("id", "")).split("/")
            return (parts[1] if len(parts) == 2 and parts[1] else None), entry.get("createdAt")
    return None, None


def started_deployment(ctx: Context, service: dict[str, Any], task_definition: str | None = None) -> str | None:
    """The deployment a CreateService or UpdateService just started, found by what it deploys --
    the service revision of the answer's PRIMARY deployment (or, without one, the revision of
    ``task_definition``) -- never by comparing AWS's times with this machine's clock, which can be
    minutes off. ECS lists it a moment later."""
    number, created = primary(service, task_definition)
    revisions: dict[str, str] = {}
    # AWS's own time of the PRIMARY deployment bounds the listing (a fast one may have ended by
    # now); without it, the deployments in progress
    recent = {"createdAt": {"after": created - timedelta(minutes=5)}} if isinstance(created, datetime) else {}
    filters: dict[str, Any] = recent or {"status": ONGOING}

    def find() -> tuple[bool, str]:
        for brief in list_deployments(ctx, service.get("serviceName"), **filters):
            target = str(brief.get("targetServiceRevisionArn", ""))
            if number is not None:
                if target.split("/")[-1] == number:
                    found["arn"] = str(brief["serviceDeploymentArn"])
                    return True, "started"
                continue
            if task_definition and brief.get("status") in ONGOING:
                _revision_task_definitions(ctx, [target], revisions)
                if revisions.get(target) == task_definition:
                    found["arn"] = str(brief["serviceDeploymentArn"])
                    return True, "started"
        return False, "not listed yet"

    found: dict[str, str] = {}
    try:
        waiting.poll(ctx, "ECS to list the new deployment", find, 60.0, first=1.0, cap=5.0)
    except WaitTimeout:
        return None
    return found.get("arn")
