"""One-off tasks: `ecsup run`, and the migration a release runs first ([service.deploy] before).

An operation, like deploy: it runs one Fargate task of the stack's task definition (the revision
the service runs, or one registered for another image exactly as `deploy` registers them) where
the service's tasks run -- its subnets, tasks' security group, public-IP setting and capacity --
with the command, environment and size overridden (ECS API reference, RunTask and TaskOverride).
It streams the container's log lines from its awslogs stream ``<prefix>/<container>/<task id>``
while a `waiting` poll follows the task to STOPPED, and says how it ended the way ``docker run``
does: the essential container's exit code, or 125 when there is none (the task could not start,
was interrupted, or ran out of time).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from . import waiting
from .context import Context
from .errors import (
    EXIT_BEFORE_FAILED,
    EXIT_TASK_NOT_RUN,
    AwsError,
    EcsupError,
    OptionError,
    WaitTimeout,
    doing,
    is_code,
)

RUN_TAG = "ecsup:one-off"  # value: "run" (ecsup run) or "before" (the migration before a rollout)
STARTED_BY = {"run": "ecsup-run", "before": "ecsup-before"}  # RunTask startedBy: letters, digits, - and _
STOPPED_AFTER_STOP = 120.0  # seconds to see a task stopped by StopTask reach STOPPED
FAILED_TO_RUN = ("TaskFailedToStart", "SpotInterruption", "TerminationNotice")
LAST_LINES = 20
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TaskNotRun(EcsupError):
    """The task could not start, or stopped without its container's exit code (docker run: 125)."""

    exit_code = EXIT_TASK_NOT_RUN

    def __init__(self, message: str, hint: str | None = None, result: RunResult | None = None) -> None:
        super().__init__(message, hint)
        self.result = result


class BeforeFailed(EcsupError):
    """The [service.deploy] before task did not exit 0: the release was not started."""

    exit_code = EXIT_BEFORE_FAILED


@dataclass(frozen=True)
class Placement:
    """Where the service's tasks run: what a one-off task copies."""

    network: dict[str, Any]
    capacity: list[dict[str, Any]] | None = None  # a capacity provider strategy, else launch type FARGATE


def placement_of(svc: dict[str, Any]) -> Placement:
    """From the live service (DescribeServices)."""
    strategy = svc.get("capacityProviderStrategy") or None
    return Placement(network=dict(svc.get("networkConfiguration") or {}), capacity=strategy)


@dataclass
class RunResult:
    task_arn: str
    task_id: str
    revision: str
    image: str
    command: list[str]
    exit_code: int | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    container_reason: str | None = None
    timed_out: bool = False
    timings: dict[str, str] = field(default_factory=dict)  # createdAt, startedAt, stoppedAt, ... (ISO 8601)
    seconds: dict[str, float] = field(default_factory=dict)  # waiting (created -> started), running, total
    last_lines: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        """The process exit code, docker run's way: the container's, else 125."""
        if self.timed_out or self.exit_code is None or self.stop_code in FAILED_TO_RUN:
            return EXIT_TASK_NOT_RUN
        return self.exit_code

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status
        return out

    def explanation(self) -> tuple[str, str]:
        """Why there is no exit code, and what to do (one line each)."""
        why = self.container_reason or self.stopped_reason or "no reason given"
        if self.timed_out:
            what = f"task {self.task_id} ran out of time and was stopped ({self.stop_code}: {self.stopped_reason})"
            return what, "give it more time (--timeout, or [service.deploy] before_timeout), or make the command faster"
        what = f"task {self.task_id} stopped without an exit code ({self.stop_code}: {why})"
        text = why + " " + (self.stopped_reason or "")
        if "CannotPullContainerError" in text:
            hint = (
                "the image cannot be pulled: check the image reference and its repository, that the execution role "
                "may pull it (ECR), and that the subnets reach the registry (public IP or NAT)"
            )
        elif "ResourceInitializationError" in text:
            hint = (
                "the task could not be set up: check that the secrets and the log group exist, that the execution "
                "role may read them, and that the subnets reach SSM, ECR and CloudWatch Logs"
            )
        elif "OutOfMemory" in text:
            hint = "the container ran out of memory: give it more with --memory (and --cpu)"
        elif self.stop_code in ("SpotInterruption", "TerminationNotice"):
            hint = 'Fargate reclaimed the capacity: run it again (or on demand: service.capacity = "FARGATE")'
        elif self.stop_code == "UserInitiated":
            hint = "someone stopped the task (StopTask): the reason above says who"
        else:
            hint = f"see the task {self.task_arn} in the ECS console for details"
        return what, hint


# -- input ----------------------------------------------------------------------------------
def parse_env(ctx: Context, pairs: list[str] | None) -> dict[str, str]:
    """--env-var KEY=VALUE / -e (repeatable): plain values, like service.environment."""
    out: dict[str, str] = {}
    secrets = {name for name, _ in ctx.config.service.secrets}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise OptionError(f"--env-var {pair!r} has no '=': write --env-var KEY=VALUE")
        if not _ENV_NAME.fullmatch(key):
            raise OptionError(
                f"--env-var {key!r}: a variable name is letters, digits and '_', not starting with a digit"
            )
        if key in secrets:
            raise OptionError(
                f"--env-var {key}: {key} is a secret of the service (service.secrets): its value comes from SSM",
                hint="change the secret's value in SSM Parameter Store, or use another variable name",
            )
        out[key] = value
    return out


def check_size(cpu: int | None, memory: int | None, td: dict[str, Any]) -> tuple[str, str] | None:
    """--cpu / --memory with the revision's size for what is not given: a size Fargate has, or
    an OptionError listing the valid memory values for the cpu."""
    from .config import FARGATE_MEMORY

    if cpu is None and memory is None:
        return None
    want_cpu = cpu if cpu is not None else int(td.get("cpu") or 0)
    want_memory = memory if memory is not None else int(td.get("memory") or 0)
    if want_cpu not in FARGATE_MEMORY:
        raise OptionError(
            f"--cpu {want_cpu}: Fargate has no such size; use one of " + ", ".join(map(str, FARGATE_MEMORY))
        )
    valid = FARGATE_MEMORY[want_cpu]
    if want_memory not in valid:
        shown = ", ".join(map(str, valid)) if len(valid) <= 8 else f"{valid[0]} to {valid[-1]} ({len(valid)} values)"
        raise OptionError(
            f"--memory {want_memory}: not a Fargate size with cpu {want_cpu}; valid memory (MiB): {shown}",
            hint="pass both --cpu and --memory",
        )
    return str(want_cpu), str(want_memory)


# -- the task -------------------------------------------------------------------------------------
def start(
    ctx: Context,
    task_definition: str,
    placement: Placement,
    command: list[str],
    purpose: str,
    env: dict[str, str] | None = None,
    size: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """RunTask: one task of ``task_definition`` where the service runs, its command (and env,
    size) overridden, tagged and started by ecsup."""
    from .steps.ecs import ecs_tags, eventually_consistent

    override: dict[str, Any] = {"name": ctx.names.container, "command": list(command)}
    if env:
        override["environment"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    overrides: dict[str, Any] = {"containerOverrides": [override]}
    if size:
        overrides["cpu"], overrides["memory"] = size
    kwargs: dict[str, Any] = {
        "cluster": ctx.names.cluster,
        "taskDefinition": task_definition,
        "count": 1,
        "networkConfiguration": placement.network,
        "overrides": overrides,
        "startedBy": STARTED_BY[purpose],
        "tags": ecs_tags(ctx, {RUN_TAG: purpose}),
        "enableECSManagedTags": True,
        "platformVersion": "LATEST",
        "enableExecuteCommand": ctx.config.service.exec,
    }
    if placement.capacity:
        kwargs["capacityProviderStrategy"] = placement.capacity
    else:
        kwargs["launchType"] = "FARGATE"
    ecs = ctx.client("ecs")
    try:
        with doing(f"run a one-off task of {task_definition.split('/')[-1]}"):
            resp = waiting.retry(
                ctx,
                "the new IAM roles to be usable by ECS",
                lambda: ecs.run_task(**kwargs),
                eventually_consistent,
                ctx.timeouts.propagation,
            )
    except AwsError as exc:  # ecsup could not start it: docker run's 125 too
        raise TaskNotRun(exc.message, exc.hint) from exc
    tasks = resp.get("tasks") or []
    if not tasks:
        failures = "; ".join(
            f"{f.get('reason')}" + (f" ({f['detail']})" if f.get("detail") else "") for f in resp.get("failures") or []
        )
        raise TaskNotRun(
            f"ECS started no task: {failures or 'no reason given'}",
            hint="capacity may be short in the subnets' zones: run it again in a moment",
        )
    return dict(tasks[0])


def stop(ctx: Context, task_arn: str, reason: str) -> None:
    with doing(f"stop task {task_arn.split('/')[-1]}"):
        try:
            ctx.client("ecs").stop_task(cluster=ctx.names.cluster, task=task_arn, reason=reason[:255])
        except Exception as exc:
            if not is_code(exc, "InvalidParameterException"):  # it has stopped meanwhile
                raise


def _stream(ctx: Context, td: dict[str, Any], task_id: str) -> tuple[str, str] | None:
    """The awslogs group and stream of ecsup's container in this task."""
    container = next((c for c in td.get("containerDefinitions", []) if c.get("name") == ctx.names.container), None)
    log = (container or {}).get("logConfiguration") or {}
    opts = log.get("options") or {}
    if log.get("logDriver") != "awslogs" or not opts.get("awslogs-group"):
        return None
    prefix = opts.get("awslogs-stream-prefix")
    stream = f"{prefix}/{ctx.names.container}/{task_id}" if prefix else task_id
    return str(opts["awslogs-group"]), stream


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def follow(ctx: Context, task: dict[str, Any], td: dict[str, Any], command: list[str], timeout: float) -> RunResult:
    """Stream the task's log lines and follow it to STOPPED (StopTask when ``timeout`` runs out)."""
    arn = str(task["taskArn"])
    task_id = arn.split("/")[-1]
    ecs, logs = ctx.client("ecs"), ctx.client("logs")
    where = _stream(ctx, td, task_id)
    result = RunResult(
        task_arn=arn,
        task_id=task_id,
        revision=str(task.get("taskDefinitionArn", "")).split("/")[-1],
        image=next(
            (str(c.get("image")) for c in td.get("containerDefinitions", []) if c.get("name") == ctx.names.container),
            "",
        ),
        command=list(command),
    )
    token: dict[str, str] = {}
    last: dict[str, Any] = {"status": ""}
    began = ctx.clock()

    def read_logs() -> None:
        if where is None:
            return
        while True:
            params: dict[str, Any] = {"logGroupName": where[0], "logStreamName": where[1], "startFromHead": True}
            if token.get("next"):
                params["nextToken"] = token["next"]
            with doing(f"read the task's log stream {where[1]}"):
                try:
                    page = logs.get_log_events(**params)
                except Exception as exc:
                    if is_code(exc, "ResourceNotFoundException"):  # the container has not written yet
                        return
                    raise
            for event in page.get("events", []):
                message = str(event.get("message", "")).rstrip("\r\n")
                result.last_lines.append(message)
                del result.last_lines[:-LAST_LINES]
                ctx.ui.task_log(task_id, message)
            forward = page.get("nextForwardToken")
            if not forward or forward == token.get("next") or not page.get("events"):
                if forward:
                    token["next"] = forward
                return
            token["next"] = forward

    def look() -> tuple[bool, str]:
        with doing(f"describe task {task_id}"):
            found = ecs.describe_tasks(cluster=ctx.names.cluster, tasks=[arn])["tasks"]
        if not found:
            return False, "not visible yet"
        now = found[0]
        last["task"] = now
        status = str(now.get("lastStatus", ""))
        stopping = status in ("DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED")

        def announce() -> None:
            if status != last["status"]:
                last["status"] = status
                ctx.ui.task_event(f"task {task_id}: {status} ({ctx.clock() - began:.0f}s)")

        if not stopping:
            announce()
        if now.get("startedAt") or status == "RUNNING" or stopping:
            read_logs()  # in the order the container wrote them: after RUNNING, before STOPPED
        if stopping:
            announce()
        return status == "STOPPED", status

    try:
        waiting.poll(ctx, f"task {task_id}", look, timeout, first=1.0, cap=3.0, report=False)
    except WaitTimeout:
        result.timed_out = True
        stop(ctx, arn, f"ecsup: the task ran longer than its timeout ({int(timeout)} s)")
        waiting.poll(ctx, f"task {task_id} to stop", look, STOPPED_AFTER_STOP, first=1.0, cap=3.0, report=False)
    read_logs()  # what the container wrote last
    final: dict[str, Any] = last.get("task") or {}
    container: dict[str, Any] = next(
        (c for c in final.get("containers", []) if c.get("name") == ctx.names.container), {}
    )
    result.exit_code = container.get("exitCode")
    result.container_reason = container.get("reason")
    result.stop_code = final.get("stopCode")
    result.stopped_reason = final.get("stoppedReason")
    for key in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt"):
        if final.get(key) is not None:
            result.timings[key] = _iso(final[key])
    created: Any = final.get("createdAt")
    started: Any = final.get("startedAt")
    stopped: Any = final.get("stoppedAt")
    if hasattr(created, "timestamp") and hasattr(stopped, "timestamp"):
        result.seconds["total"] = round(stopped.timestamp() - created.timestamp(), 1)
        if hasattr(started, "timestamp"):
            result.seconds["waiting"] = round(started.timestamp() - created.timestamp(), 1)
            result.seconds["running"] = round(stopped.timestamp() - started.timestamp(), 1)
    return result


def _interrupted_reason(what: str) -> str:
    import getpass

    try:
        who = getpass.getuser()
    except Exception:
        who = "unknown user"
    return f"{what} interrupted (Ctrl-C) by {who}"


def run_task(
    ctx: Context,
    task_definition: str,
    td: dict[str, Any],
    placement: Placement,
    command: list[str],
    purpose: str,
    timeout: float,
    env: dict[str, str] | None = None,
    size: tuple[str, str] | None = None,
    detach: bool = False,
) -> RunResult:
    """Start the task; unless ``detach``, follow it to the end (Ctrl-C stops it)."""
    task = start(ctx, task_definition, placement, command, purpose, env, size)
    arn = str(task["taskArn"])
    ctx.ui.task_event(f"started task {arn.split('/')[-1]} of {task_definition.split('/')[-1]}: {shlex.join(command)}")
    if detach:
        return RunResult(arn, arn.split("/")[-1], task_definition.split("/")[-1], "", list(command))
    try:
        return follow(ctx, task, td, command, timeout)
    except KeyboardInterrupt:
        stop(ctx, arn, _interrupted_reason(f"ecsup {'run' if purpose == 'run' else 'before task'}"))
        raise


# -- ecsup run ------------------------------------------------------------------------------------
def run(
    ctx: Context,
    command: list[str],
    image: str | None = None,
    env: list[str] | None = None,
    cpu: int | None = None,
    memory: int | None = None,
    timeout: float = 3600.0,
    detach: bool = False,
) -> RunResult:
    """`ecsup run`: the live revision (or one for ``image``) where the service runs."""
    from .deploy import register_revision
    from .deployments import describe_task_definition, image_of, service

    if not command:
        raise OptionError("no command: write it after `--`, e.g. ecsup run -- python manage.py migrate")
    if image is not None and (not image.strip() or any(c.isspace() for c in image)):
        raise OptionError(f"--image {image!r} is not an image reference", hint="e.g. --image ghcr.io/org/app:1.2.3")
    if timeout <= 0:
        raise OptionError(f"--timeout {timeout:g}: must be more than 0 seconds")
    variables = parse_env(ctx, env)
    if cpu is not None and memory is not None:
        check_size(cpu, memory, {})
    svc = service(ctx)
    arn = str(svc["taskDefinition"])
    td, tags = describe_task_definition(ctx, arn)
    size = check_size(cpu, memory, td)
    if image and image != image_of(ctx, td):
        arn = register_revision(ctx, td, tags, image)
        td = describe_task_definition(ctx, arn)[0]
    return run_task(ctx, arn, td, placement_of(svc), command, "run", timeout, variables, size, detach)


# -- the migration before a rollout ------------------------------------------------------------
def before_rollout(ctx: Context, task_definition: str, placement: Placement) -> RunResult | None:
    """[service.deploy] before: run it with the revision about to be rolled out; raise
    BeforeFailed unless it exits 0 (the caller then does not start the rollout)."""
    from .deployments import describe_task_definition

    command = list(ctx.config.service.deploy.before)
    if not command:
        return None
    if ctx.skip_before:
        ctx.ui.task_event(
            f"WARNING: --skip-before: the before task ({shlex.join(command)}) was NOT run before this rollout"
        )
        return None
    revision = task_definition.split("/")[-1]
    ctx.ui.task_event(f"[service.deploy] before: a one-off task of {revision}, before it is rolled out")
    td = describe_task_definition(ctx, task_definition)[0]
    timeout = float(ctx.config.service.deploy.before_timeout)
    try:
        result = run_task(ctx, task_definition, td, placement, command, "before", timeout)
    except TaskNotRun as exc:
        raise BeforeFailed(
            f"the before task could not be started: {exc.message}; {revision} was not rolled out",
            hint=exc.hint,
        ) from exc
    if result.status == 0:
        ctx.ui.task_event(f"before task {result.task_id} exited 0: rolling out {revision}")
        return result
    tail = " | ".join(result.last_lines[-5:]) or "(no log lines)"
    if result.exit_code is not None and not result.timed_out and result.stop_code not in FAILED_TO_RUN:
        what = f"exited {result.exit_code}"
        hint = "fix the migration (its log lines above) and release again; the service still runs the old revision"
    else:
        what, hint = result.explanation()
        what = what.replace(f"task {result.task_id} ", "")
    raise BeforeFailed(
        f"the before task {result.task_id} ({shlex.join(command)}) {what}; {revision} was not rolled out; "
        f"last log lines: {tail}",
        hint=hint,
    )
