"""What each scheduled job's runs look like: its schedule, its next run and its last runs.

Read-only. A job is an EventBridge Scheduler schedule whose target is the job's Step Functions
state machine, which runs the job's task (names.py, steps for jobs). The schedule (GetSchedule)
says the expression, its time zone and its state; the next run is computed here from them
(schedule_times.py; rate() counts from the schedule's StartDate, else its creation). The runs are
the state machine's executions, which Step Functions keeps listed for 90 days after they end
(ListExecutions: "Results are sorted by time, with the most recent execution first";
DescribeExecution: status, startDate, stopDate, error, cause). What a finished run did, from its
error and cause:

* SUCCEEDED: exit 0.
* FAILED with error NonZeroExit and cause "exit code N" (ecsup's Fail state): exit N.
* FAILED with States.TaskFailed: the cause is the task's description (ECS .sync integration):
  its container's ExitCode (exit N), or, without one, "could not start" with the task's
  stoppedReason (a task that never ran: an image that cannot be pulled, a secret it cannot read).
* FAILED with States.Timeout, or TIMED_OUT: timed out (Step Functions stopped the task).
* FAILED with an ECS error (RunTask refused: ECS.*, AmazonECS.Unknown for a Failures answer):
  could not start, with the error.
* ABORTED: stopped (StopExecution).

Data only; render.py prints it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from .context import Context
from .errors import doing, is_code
from .workloads import JobConfig

LAST_RUNS = 5  # executions shown per job
_EXIT_CAUSE = re.compile(r"^exit code (-?\d+)$")


def now() -> datetime:
    """The wall clock, for the next run (tests replace it)."""
    return datetime.now(UTC)


@dataclass
class JobRun:
    execution: str  # the execution's name
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
    started: datetime | None
    stopped: datetime | None
    result: str  # "exit 0", "exit 3", "timed out", "could not start (...)", "running", ...
    exit_code: int | None = None
    seconds: float | None = None  # how long it ran (so far, when running)

    @property
    def finished(self) -> bool:
        return self.status not in ("RUNNING", "PENDING_REDRIVE")

    @property
    def ok(self) -> bool:
        return self.status == "SUCCEEDED"

    def as_dict(self) -> dict[str, Any]:
        return {
            "execution": self.execution,
            "status": self.status,
            "started": self.started.isoformat() if self.started else None,
            "stopped": self.stopped.isoformat() if self.stopped else None,
            "seconds": self.seconds,
            "result": self.result,
            "exit_code": self.exit_code,
            "ok": self.ok if self.finished else None,
        }


@dataclass
class JobStatus:
    name: str
    schedule: str
    timezone: str
    state: str  # the schedule's: ENABLED, DISABLED, or MISSING (not created)
    next_run: datetime | None = None
    next_note: str = ""  # why there is no next run time ("see the schedule: ..."), when there is none
    runs: list[JobRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def last_finished(self) -> JobRun | None:
        return next((r for r in self.runs if r.finished), None)

    @property
    def failing(self) -> bool:
        """The last finished run did not succeed."""
        last = self.last_finished
        return last is not None and not last.ok

    def next_run_text(self) -> str:
        if self.next_run is None:
            return self.next_note or "none"
        local = self.next_run.astimezone(_zone(self.timezone))
        return f"{local:%Y-%m-%d %H:%M} {self.timezone}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "state": self.state,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "next_run_note": self.next_note or None,
            "failing": self.failing,
            "runs": [r.as_dict() for r in self.runs],
            "notes": self.notes,
        }


def _zone(name: str) -> tzinfo:
    from .schedule_times import NotSupported, zone

    try:
        return zone(name)
    except NotSupported:
        return UTC


def collect(ctx: Context, at: datetime | None = None) -> list[JobStatus]:
    """Every job of ecsup.toml, in its order; reads for the jobs made at once."""
    when = at or now()
    jobs = list(ctx.config.jobs)
    found = ctx.in_parallel({job.name: (lambda job=job: one(ctx, job, when)) for job in jobs})  # type: ignore[misc]
    out = []
    for job in jobs:
        result, error = found[job.name]
        if error is not None:
            raise error
        assert result is not None
        out.append(result)
    return out


def one(ctx: Context, job: JobConfig, when: datetime) -> JobStatus:
    schedule = _schedule(ctx, job)
    status = JobStatus(
        job.name,
        str(schedule.get("ScheduleExpression") or job.schedule),
        str(schedule.get("ScheduleExpressionTimezone") or job.timezone),
        str(schedule.get("State") or "MISSING"),
    )
    if not schedule:
        status.notes.append(f"schedule {ctx.names.schedule(job.name)} does not exist: `ecsup create` makes it")
    _next_run(status, schedule, when)
    machine = _state_machine_arn(ctx, job, schedule)
    if machine is None:
        status.notes.append(f"state machine {ctx.names.workload(job.name)} does not exist: no runs to show")
        return status
    status.runs = runs(ctx, job, machine, when)
    return status


def _schedule(ctx: Context, job: JobConfig) -> dict[str, Any]:
    with doing(f"read schedule {ctx.names.schedule(job.name)}"):
        try:
            found: dict[str, Any] = ctx.client("scheduler").get_schedule(
                Name=ctx.names.schedule(job.name), GroupName=ctx.names.schedule_group
            )
        except Exception as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return {}
            raise
    return found


def _next_run(status: JobStatus, schedule: dict[str, Any], when: datetime) -> None:
    from .schedule_times import NotSupported, next_fire

    if status.state == "DISABLED":
        status.next_note = "none (the schedule is disabled)"
        return
    start = schedule.get("StartDate") or schedule.get("CreationDate")
    if status.schedule.startswith("rate(") and start is None:
        status.next_note = "see the schedule (it does not exist yet)"
        return
    try:
        status.next_run = next_fire(status.schedule, status.timezone, when, start=start)
    except NotSupported as exc:
        status.next_note = f"see the schedule ({exc}: not computed here)"
        return
    if status.next_run is None:
        status.next_note = "none (the schedule will not fire again)"


def _state_machine_arn(ctx: Context, job: JobConfig, schedule: dict[str, Any]) -> str | None:
    """The schedule's target; without a schedule, the state machine of the job's name."""
    target = str((schedule.get("Target") or {}).get("Arn") or "")
    if ":states:" in target and ":stateMachine:" in target:
        return target
    name = ctx.names.workload(job.name)
    with doing("list the state machines"):
        for page in ctx.client("stepfunctions").get_paginator("list_state_machines").paginate():
            for machine in page.get("stateMachines", []):
                if machine.get("name") == name:
                    return str(machine["stateMachineArn"])
    return None


def runs(ctx: Context, job: JobConfig, machine: str, when: datetime) -> list[JobRun]:
    """The job's last runs, newest first: ListExecutions (newest first), then DescribeExecution of each."""
    sfn = ctx.client("stepfunctions")
    with doing(f"list the runs of {machine.split(':')[-1]}"):
        listed: list[dict[str, Any]] = []
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine, PaginationConfig={"MaxItems": LAST_RUNS, "PageSize": LAST_RUNS}
        ):
            listed += page.get("executions", [])
            if len(listed) >= LAST_RUNS:
                break
    listed = sorted(listed, key=lambda e: e.get("startDate") or datetime.min.replace(tzinfo=UTC), reverse=True)
    arns = [str(e["executionArn"]) for e in listed[:LAST_RUNS]]

    def describe(arn: str) -> dict[str, Any]:
        with doing(f"describe run {arn.split(':')[-1]}"):
            found: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return found

    described = ctx.in_parallel({arn: (lambda arn=arn: describe(arn)) for arn in arns})  # type: ignore[misc]
    out = []
    for arn in arns:
        execution, error = described[arn]
        if error is not None:
            raise error
        assert execution is not None
        out.append(interpret(execution, job.name, when))
    return out


def interpret(execution: dict[str, Any], container: str, when: datetime) -> JobRun:
    """What a run did, from DescribeExecution (module docstring)."""
    status = str(execution.get("status", ""))
    started, stopped = _utc(execution.get("startDate")), _utc(execution.get("stopDate"))
    end = stopped or (when if status == "RUNNING" else None)
    seconds = round((end - started).total_seconds(), 1) if started and end else None
    run = JobRun(str(execution.get("name", "")), status, started, stopped, "", seconds=seconds)
    error, cause = str(execution.get("error") or ""), str(execution.get("cause") or "")
    if status in ("RUNNING", "PENDING_REDRIVE"):
        run.result = "running"
    elif status == "SUCCEEDED":
        run.result, run.exit_code = "exit 0", 0
    elif status == "TIMED_OUT" or error == "States.Timeout":
        run.result = "timed out (stopped)"
    elif status == "ABORTED":
        run.result = "stopped (StopExecution)"
    elif error == "NonZeroExit" and _EXIT_CAUSE.match(cause.strip()):
        run.exit_code = int(_EXIT_CAUSE.match(cause.strip()).group(1))  # type: ignore[union-attr]
        run.result = f"exit {run.exit_code}"
    elif error == "States.TaskFailed":
        run.exit_code, run.result = _task_failed(cause, container)
    elif error.startswith(("ECS.", "AmazonECS.")):
        run.result = f"could not start ({_ecs_error(error, cause)})"
    else:
        run.result = f"failed ({error}: {cause})" if cause else f"failed ({error or 'no error given'})"
    return run


def _utc(value: Any) -> datetime | None:
    """botocore gives Step Functions' epoch timestamps in the local time zone: shown in UTC."""
    return value.astimezone(UTC) if isinstance(value, datetime) else None


def _task_failed(cause: str, container: str) -> tuple[int | None, str]:
    """The ECS .sync integration's States.TaskFailed: the task's description is the cause."""
    try:
        task = json.loads(cause)
    except ValueError:
        return None, f"failed (States.TaskFailed: {cause})"
    if not isinstance(task, dict):
        return None, f"failed (States.TaskFailed: {cause})"
    containers = [c for c in task.get("Containers") or [] if isinstance(c, dict)]
    ours = next((c for c in containers if c.get("Name") == container), containers[0] if containers else {})
    code = ours.get("ExitCode")
    if isinstance(code, int) and task.get("StopCode") in (None, "EssentialContainerExited"):
        return code, f"exit {code}"
    why = ours.get("Reason") or task.get("StoppedReason") or task.get("StopCode") or "no reason given"
    if task.get("StopCode") in ("TaskFailedToStart", None) or code is None:
        return None, f"could not start ({why})"
    return None, f"stopped ({task.get('StopCode')}: {why})"


def _ecs_error(error: str, cause: str) -> str:
    try:
        failures = json.loads(cause).get("Failures") or []
        return "; ".join(str(f.get("Reason") or f) for f in failures) or error
    except (ValueError, AttributeError):
        pass
    match = re.search(r"Error Code: ([A-Za-z]+)", cause)
    message = cause.split(" (Service:")[0].strip()
    if match:
        return f"{match.group(1)}: {message}"
    return f"{error}: {cause}" if cause else error
