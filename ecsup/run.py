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

import contextlib
import re
import shlex
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from . import waiting
from .context import Context
from .errors import (
    EXIT_BEFORE_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TASK_NOT_RUN,
    AwsError,
    EcsupError,
    OptionError,
    WaitTimeout,
    doing,
    is_code,
)

RUN_TAG = "ecsup:one-off"  # value: "run" (ecsup run) or "before" (the migration before a rollout)
# value: a token of this very task, made before RunTask is sent: the task can be found by it when
# the answer to RunTask never came (interrupted while it was in flight)
TOKEN_TAG = "ecsup:one-off-id"
STARTED_BY = {"run": "ecsup-run", "before": "ecsup-before"}  # RunTask startedBy: letters, digits, -, / and _
# A job run now (`ecsup run --job NAME`): purpose "job:NAME", startedBy "ecsup-job/NAME" (as its schedule's
# runs are), ecsup's container of the job's family being named after the job.
JOB_PURPOSE = "job:"
STOPPED_AFTER_STOP = 120.0  # seconds to see a task stopped by StopTask reach STOPPED
# After an interrupt while RunTask was in flight: how long to look for the task it may have started
# (RunTask's API reference: the ECS API is eventually consistent, a new task may not show at once).
FIND_AFTER_INTERRUPT = 20.0
# awslogs delivers a container's last lines after it stopped, even after the task is STOPPED
# (Docker's driver sends its last batch as the container stops, without anything waiting for it;
# CloudWatch Logs shows events some time after they are put): nothing AWS reports says the last
# line has arrived, so the stream is read until no line came for LOG_QUIET seconds after the
# container stopped, for LOG_DRAIN seconds at most after the task is STOPPED. The quiet is counted
# from when the container was first seen stopped (the task's executionStoppedAt, or the container
# STOPPED), with the stream read at every look in between: the task's own stopping (DEPROVISIONING
# detaches its network interface: seconds to tens of seconds on Fargate) then counts towards it,
# and a task whose container never started waits for nothing. LOG_QUIET: context.LOG_QUIET
# (5 s), or ECSUP_LOG_QUIET.
LOG_DRAIN = 30.0
LOG_PAGES = 100  # GetLogEvents pages per read, at most (a stream written faster than it is read)
FAILED_TO_RUN = ("TaskFailedToStart", "SpotInterruption", "TerminationNotice")
LAST_LINES = 20
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def started_by(purpose: str) -> str:
    """RunTask's startedBy for a one-off task of this purpose."""
    if purpose.startswith(JOB_PURPOSE):
        return f"ecsup-job/{purpose[len(JOB_PURPOSE) :]}"
    return STARTED_BY[purpose]


def container_of(ctx: Context, purpose: str) -> str:
    """The container a one-off task of this purpose runs the command in."""
    return purpose[len(JOB_PURPOSE) :] if purpose.startswith(JOB_PURPOSE) else ctx.names.container


class TaskNotRun(EcsupError):
    """The task could not start, or stopped without its container's exit code (docker run: 125)."""

    exit_code = EXIT_TASK_NOT_RUN

    def __init__(self, message: str, hint: str | None = None, result: RunResult | None = None) -> None:
        super().__init__(message, hint)
        self.result = result


class Interrupted(EcsupError):
    """Ctrl-C or SIGTERM while a one-off task was being started or watched: what became of it.
    ``left`` is what may still run (a task ARN, or the token of a task not found), else None."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, hint: str | None = None, left: dict[str, str] | None = None) -> None:
        super().__init__(message, hint)
        self.left = left


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
def parse_env(
    ctx: Context, pairs: list[str] | None, secret_names: tuple[tuple[str, str], ...] | None = None
) -> dict[str, str]:
    """--env-var KEY=VALUE / -e (repeatable): plain values, like service.environment.
    ``secret_names``: the workload's secrets (default: the service's), which no value may replace."""
    out: dict[str, str] = {}
    secrets = {name for name, _ in (ctx.config.service.secrets if secret_names is None else secret_names)}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise OptionError(
                f"--env-var {pair!r} has no '='", hint=f"write --env-var KEY=VALUE, e.g. --env-var {pair or 'KEY'}=1"
            )
        if not _ENV_NAME.fullmatch(key):
            raise OptionError(
                f"--env-var {key!r}: a variable name is letters, digits and '_', not starting with a digit",
                hint="rename the variable, e.g. --env-var LOG_LEVEL=debug",
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
            f"--cpu {want_cpu}: Fargate has no such size",
            hint="use one of " + ", ".join(map(str, FARGATE_MEMORY)) + " (cpu units: 1024 is one vCPU)",
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
@dataclass
class Launch:
    """What is known of a task being started: whether a RunTask may have reached ECS (sent, and
    no answer said it started nothing), and the task's ARN once an answer named it."""

    purpose: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    sent: bool = False
    arn: str | None = None


def start(
    ctx: Context,
    task_definition: str,
    placement: Placement,
    command: list[str],
    purpose: str,
    env: dict[str, str] | None = None,
    size: tuple[str, str] | None = None,
    launch: Launch | None = None,
) -> dict[str, Any]:
    """RunTask: one task of ``task_definition`` where the service runs, its command (and env,
    size) overridden, tagged and started by ecsup. ``launch`` follows the call (an interrupt may
    come at any moment of it: run_task then finds what it started)."""
    from botocore.exceptions import ClientError

    from .steps.ecs import ecs_tags, eventually_consistent

    launch = launch or Launch(purpose)

    override: dict[str, Any] = {"name": container_of(ctx, purpose)}
    if command:  # none: the task definition's own (a job without a command runs the image's)
        override["command"] = list(command)
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
        "startedBy": started_by(purpose),
        "tags": ecs_tags(ctx, {RUN_TAG: purpose, TOKEN_TAG: launch.token}),
        "enableECSManagedTags": True,
        "platformVersion": "LATEST",
        "enableExecuteCommand": ctx.config.service.exec,
    }
    if placement.capacity:
        kwargs["capacityProviderStrategy"] = placement.capacity
    else:
        kwargs["launchType"] = "FARGATE"
    ecs = ctx.client("ecs")

    def sending(**_: Any) -> None:  # botocore is sending the request: from here until an answer,
        launch.sent = True  # ECS may have started a task

    def attempt() -> dict[str, Any]:
        try:
            answer: dict[str, Any] = ecs.run_task(**kwargs)
        except ClientError:  # ECS answered with an error: it started nothing
            launch.sent = False
            raise
        launch.arn = next((str(t["taskArn"]) for t in answer.get("tasks") or []), None)
        return answer

    event, handler_id = "before-send.ecs.RunTask", f"ecsup-run-{launch.token}"
    ecs.meta.events.register(event, sending, unique_id=handler_id)
    try:
        with doing(f"run a one-off task of {task_definition.split('/')[-1]}"):
            resp = waiting.retry(
                ctx, "the new IAM roles to be usable by ECS", attempt, eventually_consistent, ctx.timeouts.propagation
            )
    except AwsError as exc:  # ecsup could not start it: docker run's 125 too
        raise TaskNotRun(exc.message, exc.hint) from exc
    finally:
        ecs.meta.events.unregister(event, unique_id=handler_id)
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


def _stream(ctx: Context, td: dict[str, Any], task_id: str, name: str | None = None) -> tuple[str, str] | None:
    """The awslogs group and stream of ecsup's container (or ``name``) in this task."""
    name = name or ctx.names.container
    container = next((c for c in td.get("containerDefinitions", []) if c.get("name") == name), None)
    log = (container or {}).get("logConfiguration") or {}
    opts = log.get("options") or {}
    if log.get("logDriver") != "awslogs" or not opts.get("awslogs-group"):
        return None
    prefix = opts.get("awslogs-stream-prefix")
    stream = f"{prefix}/{name}/{task_id}" if prefix else task_id
    return str(opts["awslogs-group"]), stream


def _container_stopped(ctx: Context, task: dict[str, Any], name: str | None = None) -> bool:
    """ecsup's container of the task has stopped: the task's executionStoppedAt ("the time stamp for
    when the task execution stopped", API reference, Task) or the container's lastStatus STOPPED."""
    if task.get("executionStoppedAt"):
        return True
    container: dict[str, Any] = next(
        (c for c in task.get("containers", []) if c.get("name") == (name or ctx.names.container)), {}
    )
    return container.get("lastStatus") == "STOPPED"


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def follow(
    ctx: Context,
    task: dict[str, Any],
    td: dict[str, Any],
    command: list[str],
    timeout: float,
    container_name: str | None = None,
) -> RunResult:
    """Stream the task's log lines and follow it to STOPPED (StopTask when ``timeout`` runs out).
    ``container_name``: the container that runs the command (default: ecsup's web container)."""
    name = container_name or ctx.names.container
    arn = str(task["taskArn"])
    task_id = arn.split("/")[-1]
    ecs, logs = ctx.client("ecs"), ctx.client("logs")
    where = _stream(ctx, td, task_id, name)
    result = RunResult(
        task_arn=arn,
        task_id=task_id,
        revision=str(task.get("taskDefinitionArn", "")).split("/")[-1],
        image=next(
            (str(c.get("image")) for c in td.get("containerDefinitions", []) if c.get("name") == name),
            "",
        ),
        command=list(command),
    )
    token: dict[str, str] = {}
    last: dict[str, Any] = {"status": ""}
    began = ctx.clock()
    heard: dict[str, float] = {}  # "stopped": the container first seen stopped; "line": a line read since

    def read_logs() -> int:
        """Print what the stream holds past the last read; the number of new lines. Pages are
        followed until GetLogEvents gives back the token it was given: a page can be empty while
        more events remain (CloudWatch Logs API reference, GetLogEvents)."""
        if where is None:
            return 0
        new = 0
        for _ in range(LOG_PAGES):
            params: dict[str, Any] = {"logGroupName": where[0], "logStreamName": where[1], "startFromHead": True}
            if token.get("next"):
                params["nextToken"] = token["next"]
            with doing(f"read the task's log stream {where[1]}"):
                try:
                    page = logs.get_log_events(**params)
                except Exception as exc:
                    if is_code(exc, "ResourceNotFoundException"):  # the container has not written yet
                        return new
                    raise
            for event in page.get("events", []):
                message = str(event.get("message", "")).rstrip("\r\n")
                result.last_lines.append(message)
                del result.last_lines[:-LAST_LINES]
                ctx.ui.task_log(task_id, message)
                new += 1
            forward = page.get("nextForwardToken")
            if not forward or forward == token.get("next"):  # the end of the stream, for now
                return new
            token["next"] = forward
        return new

    def drain() -> None:
        """After STOPPED: the lines awslogs delivers late, until none came for LOG_QUIET seconds."""
        if where is None or not (last.get("task") or {}).get("startedAt"):
            return  # no container ran: it wrote nothing
        from .context import log_quiet_from_environment

        quiet_for = log_quiet_from_environment()
        quiet = {"since": max(heard.get("stopped", ctx.clock()), heard.get("line", 0.0))}

        def settled() -> tuple[bool, str]:
            if read_logs():
                quiet["since"] = ctx.clock()
            return ctx.clock() - quiet["since"] >= quiet_for, "reading the last log lines"

        with contextlib.suppress(WaitTimeout):  # lines kept coming for LOG_DRAIN seconds: what came is printed
            waiting.poll(ctx, f"task {task_id}'s last log lines", settled, LOG_DRAIN, first=1.0, cap=2.0, report=False)

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
            new = read_logs()  # in the order the container wrote them: after RUNNING, before STOPPED
            if "stopped" in heard and new:
                heard["line"] = ctx.clock()
        if "stopped" not in heard and _container_stopped(ctx, now, name):
            heard["stopped"] = ctx.clock()  # after the read above: what it read came before
        if stopping:
            announce()
        return status == "STOPPED", status

    try:
        waiting.poll(ctx, f"task {task_id}", look, timeout, first=1.0, cap=3.0, report=False)
    except WaitTimeout:
        result.timed_out = True
        stop(ctx, arn, f"ecsup: the task ran longer than its timeout ({int(timeout)} s)")
        waiting.poll(ctx, f"task {task_id} to stop", look, STOPPED_AFTER_STOP, first=1.0, cap=3.0, report=False)
    drain()  # what the container wrote last, delivered after it stopped
    final: dict[str, Any] = last.get("task") or {}
    container: dict[str, Any] = next((c for c in final.get("containers", []) if c.get("name") == name), {})
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


def _interrupted_reason(what: str, signal: str = "Ctrl-C") -> str:
    import getpass

    try:
        who = getpass.getuser()
    except Exception:
        who = "unknown user"
    return f"{what} interrupted ({signal}) by {who}"


def stop_command(ctx: Context, task: str) -> str:
    """The AWS CLI command that stops ``task`` (an id or ARN) of the stack's cluster."""
    words = ["aws", "ecs", "stop-task", "--cluster", ctx.names.cluster, "--task", task.split("/")[-1]]
    words += ["--region", ctx.region] + (["--profile", ctx.profile] if ctx.profile else [])
    return shlex.join(words)


def _find_command(ctx: Context, purpose: str, token: str) -> str:
    words = ["aws", "ecs", "list-tasks", "--cluster", ctx.names.cluster, "--started-by", started_by(purpose)]
    words += ["--region", ctx.region] + (["--profile", ctx.profile] if ctx.profile else [])
    return f"{shlex.join(words)} (the one tagged {TOKEN_TAG}={token})"


def find_started(ctx: Context, purpose: str, token: str) -> str | None:
    """The running task that a RunTask of this run started, by the token it was tagged with:
    ListTasks by ecsup's startedBy (every page), then DescribeTasks with the tags, 100 at a time."""
    ecs = ctx.client("ecs")
    with doing(f"look for the one-off task tagged {TOKEN_TAG}={token}"):
        pages = ecs.get_paginator("list_tasks").paginate(
            cluster=ctx.names.cluster, startedBy=started_by(purpose), desiredStatus="RUNNING"
        )
        arns = [str(arn) for page in pages for arn in page.get("taskArns", [])]
        for i in range(0, len(arns), 100):
            found = ecs.describe_tasks(cluster=ctx.names.cluster, tasks=arns[i : i + 100], include=["TAGS"])
            for task in found.get("tasks", []):
                if any(t.get("key") == TOKEN_TAG and t.get("value") == token for t in task.get("tags") or []):
                    return str(task["taskArn"])
    return None


def still_running(ctx: Context, left: dict[str, str]) -> str | None:
    """What an interrupted run left behind (Interrupted.left), if it has not stopped since: the
    stack's lock stays held while it runs (lock.py). A description with how to stop it, or None."""
    arn = left.get("task")
    if arn:
        with doing(f"describe task {arn.split('/')[-1]}"):
            found = ctx.client("ecs").describe_tasks(cluster=ctx.names.cluster, tasks=[arn])["tasks"]
        if not found or found[0].get("lastStatus") == "STOPPED":
            return None
        return f"task {arn.split('/')[-1]} ({found[0].get('lastStatus')}): stop it with `{stop_command(ctx, arn)}`"
    token, purpose = left.get("token"), left.get("purpose", "before")
    if token and (purpose in STARTED_BY or purpose.startswith(JOB_PURPOSE)):
        arn = find_started(ctx, purpose, token)
        if arn:
            return f"task {arn.split('/')[-1]}: stop it with `{stop_command(ctx, arn)}`"
    return None


def _settle(ctx: Context, launch: Launch, signal: str) -> Interrupted:
    """After an interrupt at any moment of starting or watching a task: stop the task this run
    started -- found by its token when RunTask's answer never came -- and see it STOPPED. When
    that cannot be done (AWS refused, or a second interrupt), say exactly what may still run and
    the command that stops it; Interrupted.left then keeps the stack's lock held (lock.py)."""
    arn, asked = launch.arn, False
    ecs = ctx.client("ecs")
    by_hand = launch.purpose == "run" or launch.purpose.startswith(JOB_PURPOSE)  # ecsup run (--job)
    what = "interrupted" if by_hand else "the before task was interrupted"
    found: dict[str, str | None] = {"arn": None}
    try:
        if arn is None:
            if not launch.sent:
                return Interrupted(f"{what} ({signal}) before RunTask was sent: no task was started")
            ctx.ui.task_event(f"interrupted ({signal}) while RunTask was in flight: looking for the task it started")

            def listed() -> tuple[bool, str]:
                found["arn"] = find_started(ctx, launch.purpose, launch.token)
                return found["arn"] is not None, "found" if found["arn"] else "not listed (yet)"

            try:
                waiting.poll(ctx, "the task RunTask started", listed, FIND_AFTER_INTERRUPT, first=1.0, cap=3.0)
            except WaitTimeout:
                return Interrupted(
                    f"{what} ({signal}) while RunTask was in flight; ECS lists no task of this run after "
                    f"{FIND_AFTER_INTERRUPT:.0f} s, so it most likely started none",
                    hint=f"to be sure: {_find_command(ctx, launch.purpose, launch.token)}; stop it with "
                    f"`{stop_command(ctx, '<task id>')}`",
                    left={"token": launch.token, "purpose": launch.purpose},
                )
            arn = found["arn"]
            assert arn is not None
        task_id = arn.split("/")[-1]
        with doing(f"describe task {task_id}"):
            seen = ecs.describe_tasks(cluster=ctx.names.cluster, tasks=[arn])["tasks"]
        if seen and seen[0].get("lastStatus") == "STOPPED":  # e.g. while its last log lines were read
            return Interrupted(f"{what} ({signal}): task {task_id} had already stopped")
        ctx.ui.task_event(f"interrupted ({signal}): stopping task {task_id}; interrupt again to leave it stopping")
        stop(ctx, arn, _interrupted_reason("ecsup run" if by_hand else "ecsup before task", signal))
        asked = True

        def stopped() -> tuple[bool, str]:
            with doing(f"describe task {task_id}"):
                now = ecs.describe_tasks(cluster=ctx.names.cluster, tasks=[arn])["tasks"]
            status = str(now[0].get("lastStatus", "")) if now else "not visible"
            return status == "STOPPED", status

        waiting.poll(ctx, f"task {task_id} to stop", stopped, STOPPED_AFTER_STOP, first=1.0, cap=3.0)
        return Interrupted(f"{what} ({signal}): task {task_id} was stopped (StopTask; it is STOPPED)")
    except (KeyboardInterrupt, EcsupError) as exc:
        why = "interrupted again" if isinstance(exc, KeyboardInterrupt) else exc.message
        if arn is None:
            return Interrupted(
                f"{what} ({signal}) while RunTask was in flight, and the task it may have started could not be "
                f"looked for ({why})",
                hint=f"find it with {_find_command(ctx, launch.purpose, launch.token)} and stop it with "
                f"`{stop_command(ctx, '<task id>')}`",
                left={"token": launch.token, "purpose": launch.purpose},
            )
        task_id = arn.split("/")[-1]
        state = "is stopping (StopTask was accepted)" if asked else "may still be running"
        return Interrupted(
            f"{what} ({signal}): task {task_id} {state}; ecsup could not see it stopped ({why})",
            hint=f"stop it with `{stop_command(ctx, arn)}`",
            left={"task": arn},
        )


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
    """Start the task; unless ``detach``, follow it to the end. An interrupt (Ctrl-C, SIGTERM) at
    any moment -- before RunTask, while it is in flight or retried, while the task is watched --
    becomes Interrupted once the task it started is stopped, or said to be still running."""
    from .errors import Terminated

    launch = Launch(purpose)
    try:
        task = start(ctx, task_definition, placement, command, purpose, env, size, launch)
        arn = str(task["taskArn"])
        ctx.ui.task_event(
            f"started task {arn.split('/')[-1]} of {task_definition.split('/')[-1]}: {shlex.join(command)}"
        )
        if detach:
            return RunResult(arn, arn.split("/")[-1], task_definition.split("/")[-1], "", list(command))
        return follow(ctx, task, td, command, timeout, container_of(ctx, purpose))
    except KeyboardInterrupt as exc:
        signal = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
        raise _settle(ctx, launch, signal) from None


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
        raise OptionError("no command to run", hint="write it after `--`, e.g. `ecsup run -- python manage.py migrate`")
    if image is not None and (not image.strip() or any(c.isspace() for c in image)):
        raise OptionError(f"--image {image!r} is not an image reference", hint="e.g. --image ghcr.io/org/app:1.2.3")
    if timeout <= 0:
        raise OptionError(
            f"--timeout {timeout:g}: must be more than 0 seconds",
            hint="give the seconds the task may run before it is stopped, e.g. --timeout 600",
        )
    variables = parse_env(ctx, env)
    if cpu is not None and memory is not None:
        check_size(cpu, memory, {})
    svc = service(ctx, "run a task beside")
    arn = str(svc["taskDefinition"])
    td, tags = describe_task_definition(ctx, arn)
    size = check_size(cpu, memory, td)
    if image and image != image_of(ctx, td):
        arn = register_revision(ctx, td, tags, image)
        td = describe_task_definition(ctx, arn)[0]
    return run_task(ctx, arn, td, placement_of(svc), command, "run", timeout, variables, size, detach)


# -- ecsup run --job ------------------------------------------------------------------------------
def run_job(
    ctx: Context,
    name: str,
    env: list[str] | None = None,
    cpu: int | None = None,
    memory: int | None = None,
    timeout: float | None = None,
    detach: bool = False,
) -> RunResult:
    """`ecsup run --job NAME`: the job now, as its schedule runs it -- a one-off task of the revision
    its state machine names (the family's latest ACTIVE one when it has none), the job's command, the
    stack's network (the web service's subnets, security group and public-IP setting) and the job's
    capacity, started by ecsup-job/NAME. ``timeout`` defaults to the job's."""
    from .deployments import StackMissing, describe_task_definition, service
    from .release import job_task_definition

    job = ctx.config.job(name)
    if job is None:
        known = ", ".join(j.name for j in ctx.config.jobs)
        raise OptionError(
            f"--job {name}: ecsup.toml has no [jobs.{name}]"
            + (f"; its jobs: {known}" if known else "; it has no jobs"),
            hint=f"one of: {known}" if known else "define a job under [jobs.<name>] (docs/configuration.md)",
        )
    seconds = float(job.timeout) if timeout is None else timeout
    if seconds <= 0:
        raise OptionError(
            f"--timeout {seconds:g}: must be more than 0 seconds",
            hint=f"give the seconds the task may run before it is stopped (default: jobs.{name}.timeout)",
        )
    variables = parse_env(ctx, env, job.secrets)
    if cpu is not None and memory is not None:
        check_size(cpu, memory, {})
    family = ctx.names.workload(name)
    try:
        # the revision its state machine names (what its schedule runs: after a failed release or a
        # rollback, not the family's latest)
        ref = job_task_definition(ctx, name)
    except StackMissing:  # no state machine: the family alone, its latest ACTIVE revision
        ref = family
    try:
        td = describe_task_definition(ctx, ref)[0]
    except AwsError as exc:
        if exc.code not in ("ClientException", "InvalidParameterException"):
            raise
        td = {"status": "MISSING"}
    if td.get("status") != "ACTIVE":
        raise StackMissing(
            f"job {name} has no active task definition {family} in {ctx.region}",
            hint="`ecsup create` makes the job first",
        )
    svc = service(ctx, f"run job {name} beside")
    placement = Placement(network=dict(svc.get("networkConfiguration") or {}), capacity=job.capacity_provider_strategy)
    size = check_size(cpu, memory, td)
    arn = str(td["taskDefinitionArn"])
    return run_task(ctx, arn, td, placement, list(job.command), JOB_PURPOSE + name, seconds, variables, size, detach)


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
    except Interrupted as exc:
        exc.message += f"; {revision} was not rolled out"
        raise
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
