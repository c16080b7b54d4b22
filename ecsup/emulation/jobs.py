"""Scheduled jobs: EventBridge Scheduler schedules that start Step Functions executions, and those
executions run, which moto does neither of (STACK.md: "nothing fires a schedule"; moto's
Step Functions records an execution RUNNING forever unless its ASL parser is switched on, and that
parser calls ECS through a client of its own, outside this emulation).

On the emulation's clock (the tests' fake clock, the sandbox's real one), evaluated whenever a
client looks (Step Functions, Scheduler and CloudWatch Logs reads): every firing that came due
since the last look starts an execution at its own time, and every execution is carried forward to
now, state by state, its ECS task run by the ECS emulation (tasks.py) as a one-off task is.

What AWS does, and where it is said
-----------------------------------
* Schedules (EventBridge Scheduler User Guide, "Schedule types"): cron/rate/at in the schedule's
  time zone, as ecsup/schedule_times.py computes them; a rate schedule without StartDate "starts
  invoking the target immediately". A schedule whose target is a state machine starts an execution
  with the target's Input ("{}" without one). DISABLED schedules do not fire; nothing fires after
  EndDate. Not emulated: the target role's permissions, FlexibleTimeWindow, retries and DLQs.
* Executions (Amazon States Language): Pass, Task, Choice, Wait, Succeed and Fail states; InputPath,
  Parameters (``.$`` keys: JSONPath, ``$$`` the context, and the intrinsics States.Format,
  States.Array, States.StringToJson and States.JsonToString), ResultPath, OutputPath, Retry and
  Catch. An error no Catch handles ends the execution FAILED with its error and cause; a Fail state
  with its Error/ErrorPath and Cause/CausePath. A state's TimeoutSeconds fails the state with
  States.Timeout; the state machine's own TimeoutSeconds ends the execution TIMED_OUT.
* ``arn:aws:states:::ecs:runTask.sync`` ("Run Amazon ECS or Fargate tasks with Step Functions"):
  the Parameters are RunTask's in PascalCase; RunTask's error fails the state (here error
  ``ECS.AmazonECSException``, cause ``<message> (Service: AmazonECS; Status Code: 400; Error Code:
  <code>; ...)``); a non-empty Failures fails it with AmazonECS.Unknown. The state waits for the
  task to be STOPPED; its result is the task's description (DescribeTasks, PascalCase). A task whose
  essential container did not exit 0 (a non-zero exit code, or none: it never started) fails the
  state with States.TaskFailed and the task's description as the cause (what AWS Copilot's
  maintainers observed, aws/copilot-cli#3160). When the state times out (or the execution times out
  or is stopped), Step Functions stops the task (StopTask: why the .sync integration's IAM policy
  includes ecs:StopTask); the ECS emulation applies it at that moment (tasks.OneOff.stop_request).
  ``arn:aws:states:::ecs:runTask`` (no .sync) returns RunTask's answer at once.
* ListExecutions/DescribeExecution report status, startDate, stopDate (also for TIMED_OUT, which
  moto omits), error, cause and output (SUCCEEDED).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import AwsFault, Emulation, _ecs, _state
from . import tasks as ecs_tasks

MAX_CATCH_UP = 24  # firings started at one look, at most (the latest ones): a long-idle sandbox
RUN_TASK = "arn:aws:states:::ecs:runTask"
STATE_MACHINE_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_.-]+$")


class StatesError(Exception):
    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


# -- the clock -------------------------------------------------------------------------------------
def _sfn(account: str, region: str) -> Any:
    from moto.stepfunctions.models import stepfunctions_backends

    return stepfunctions_backends[account][region]


def _scheduler(account: str, region: str) -> Any:
    from moto.scheduler.models import scheduler_backends

    return scheduler_backends[account][region]


@dataclass
class Wall:
    """The emulation clock against the wall clock (UTC), anchored at the first look."""

    t: float
    at: datetime

    def wall(self, t: float) -> datetime:
        return self.at + timedelta(seconds=t - self.t)

    def clock(self, when: datetime) -> float:
        return self.t + (when - self.at).total_seconds()


def wall_of(em: Emulation, account: str, region: str) -> Wall:
    store = _state(_sfn(account, region), "jobs")
    if "wall" not in store:
        store["wall"] = Wall(em.now(), ecs_tasks._now_utc().replace(tzinfo=UTC))  # moto's is naive UTC
    found: Wall = store["wall"]
    return found


# -- JSONPath, intrinsics -------------------------------------------------------------------------
_TOKEN = re.compile(r"\.([A-Za-z0-9_$@-]+)|\[(\d+)\]|\['([^']*)'\]")


def _path(doc: Any, path: str, context: dict[str, Any] | None = None) -> Any:
    if path.startswith("$$"):
        doc, path = context or {}, path[1:]
    if not path.startswith("$"):
        raise StatesError("States.Runtime", f"{path!r} is not a path")
    rest, value = path[1:], doc
    while rest:
        match = _TOKEN.match(rest)
        if not match:
            raise StatesError("States.Runtime", f"the path {path!r} is not one this emulation reads")
        name, index, quoted = match.groups()
        key: Any = int(index) if index is not None else (quoted if quoted is not None else name)
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise StatesError(
                "States.Runtime", f"The JSONPath '{path}' could not be found in the input '{json.dumps(doc)}'"
            ) from None
        rest = rest[match.end() :]
    return value


def _split_args(text: str) -> list[str]:
    args, depth, quoted, current = [], 0, False, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            current += ch
            if ch == "\\" and i + 1 < len(text):
                current += text[i + 1]
                i += 1
            elif ch == "'":
                quoted = False
        elif ch == "'":
            quoted, current = True, current + ch
        elif ch == "(":
            depth, current = depth + 1, current + ch
        elif ch == ")":
            depth, current = depth - 1, current + ch
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    if current.strip():
        args.append(current.strip())
    return args


def _value(expr: str, doc: Any, context: dict[str, Any]) -> Any:
    """A ``.$`` value: a path, or an intrinsic function call."""
    expr = expr.strip()
    if expr.startswith("$"):
        return _path(doc, expr, context)
    match = re.fullmatch(r"(States\.[A-Za-z]+)\((.*)\)", expr, re.S)
    if not match:
        raise StatesError("States.Runtime", f"{expr!r} is neither a path nor an intrinsic function")
    name, args = match.group(1), [_argument(a, doc, context) for a in _split_args(match.group(2))]
    if name == "States.Format":
        template, values = str(args[0]), list(args[1:])
        parts = template.split("{}")
        if len(parts) - 1 != len(values):
            raise StatesError("States.IntrinsicFailure", "States.Format: the arguments do not match the template")
        out = parts[0]
        for value, part in zip(values, parts[1:], strict=True):
            out += (value if isinstance(value, str) else json.dumps(value)) + part
        return out
    if name == "States.Array":
        return list(args)
    if name == "States.StringToJson":
        return json.loads(str(args[0]))
    if name == "States.JsonToString":
        return json.dumps(args[0], separators=(",", ":"))
    raise StatesError("States.Runtime", f"the intrinsic {name} is not one this emulation runs")


def _argument(text: str, doc: Any, context: dict[str, Any]) -> Any:
    if text.startswith("'") and text.endswith("'"):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text.startswith("$") or text.startswith("States."):
        return _value(text, doc, context)
    try:
        return json.loads(text)
    except ValueError:
        raise StatesError("States.Runtime", f"{text!r} is not an argument this emulation reads") from None


def _template(value: Any, doc: Any, context: dict[str, Any]) -> Any:
    """Parameters / Result: ``key.$`` keys take the value of their path or intrinsic."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key.endswith(".$"):
                out[key[:-2]] = _value(str(item), doc, context)
            else:
                out[key] = _template(item, doc, context)
        return out
    if isinstance(value, list):
        return [_template(v, doc, context) for v in value]
    return value


def _put(doc: Any, path: str | None, value: Any) -> Any:
    """ResultPath: None discards the result, "$" replaces the input, "$.a.b" sets it there."""
    if path is None:
        return doc
    if path == "$":
        return value
    out = json.loads(json.dumps(doc, default=str)) if isinstance(doc, dict) else {}
    keys = [m.group(1) or m.group(3) for m in _TOKEN.finditer(path[1:])]
    node = out
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return out


# -- PascalCase, as Step Functions shows an integration's results -----------------------------------
def _to_camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _to_camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_camel(v) for v in value]
    return value


def _to_pascal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _to_pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_pascal(v) for v in value]
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)  # epoch milliseconds, as the integration's JSON carries them
    return value


# -- one execution -------------------------------------------------------------------------------
@dataclass
class Run:
    arn: str
    account: str
    region: str
    states: dict[str, Any]
    state: str | None  # the current state; None once the execution ended
    data: Any  # the current state's input
    entered: float  # emulation clock: when the current state was entered
    started: float
    context: dict[str, Any]
    deadline: float | None = None  # the state machine's TimeoutSeconds
    task_arn: str | None = None  # the current Task state's ECS task
    resume_at: float | None = None  # a Wait state's end, or a Retry's next attempt
    attempts: dict[str, int] = field(default_factory=dict)


def _runs(account: str, region: str) -> dict[str, Run]:
    return _state(_sfn(account, region), "runs")


def _execution(account: str, region: str, arn: str) -> Any:
    for machine in _sfn(account, region).state_machines:
        for execution in machine.executions:
            if execution.execution_arn == arn:
                return execution
    return None


def begin(em: Emulation, account: str, region: str, execution: Any, t: float) -> None:
    """Start carrying an execution (just created by StartExecution) from emulation time ``t``."""
    machine = _sfn(account, region).describe_state_machine(execution.state_machine_arn)
    definition = json.loads(machine.definition)
    wall = wall_of(em, account, region)
    execution.start_date = wall.wall(t)
    data = json.loads(execution.execution_input or "{}")
    context = {
        "Execution": {
            "Id": execution.execution_arn,
            "Name": execution.name,
            "Input": data,
            "StartTime": execution.start_date.isoformat(),
        },
        "StateMachine": {"Id": machine.arn, "Name": machine.name},
    }
    timeout = definition.get("TimeoutSeconds")
    run = Run(
        arn=execution.execution_arn,
        account=account,
        region=region,
        states=dict(definition.get("States") or {}),
        state=str(definition.get("StartAt")),
        data=data,
        entered=t,
        started=t,
        context=context,
        deadline=t + float(timeout) if timeout else None,
    )
    _runs(account, region)[run.arn] = run


def _finish(em: Emulation, run: Run, t: float, status: str, **fields: Any) -> None:
    execution = _execution(run.account, run.region, run.arn)
    run.state = None
    if execution is None:
        return
    execution.status = status
    execution.stop_date = wall_of(em, run.account, run.region).wall(t)
    execution.output = fields.get("output")
    execution.error = fields.get("error")
    execution.cause = fields.get("cause")


def _stop_task(em: Emulation, run: Run, t: float, reason: str) -> None:
    if run.task_arn is None:
        return
    task = ecs_tasks._tasks(_ecs(run.account, run.region)).get(run.task_arn)
    if task is not None and task.desired != "STOPPED":
        request = task.stop_request
        if request is None or request[0] > t:
            task.stop_request = (t, reason)


def carry(em: Emulation, run: Run, now: float) -> None:
    """Carry the execution forward to ``now``: state after state, each at its own time."""
    while run.state is not None:
        deadline = run.deadline
        if deadline is not None and run.entered <= deadline <= now and not _step_done_before(em, run, deadline):
            _stop_task(em, run, deadline, "Step Functions: the execution timed out")
            _finish(em, run, deadline, "TIMED_OUT", error="States.Timeout", cause="")
            return
        if not _step(em, run, now):
            return


def _step_done_before(em: Emulation, run: Run, t: float) -> bool:
    """Whether the current state completes by ``t`` (a Task's ECS task stopped by then)."""
    if run.task_arn is None:
        return run.resume_at is None or run.resume_at <= t
    task = ecs_tasks._tasks(_ecs(run.account, run.region)).get(run.task_arn)
    return task is not None and task.status == "STOPPED" and task.times.get("stoppedAt", float("inf")) <= t


def _step(em: Emulation, run: Run, now: float) -> bool:
    """Run the current state if it can complete by ``now``; False when it must wait."""
    assert run.state is not None
    state = run.states.get(run.state)
    if state is None:
        _finish(em, run, run.entered, "FAILED", error="States.Runtime", cause=f"no state named {run.state!r}")
        return False
    kind = state.get("Type")
    t = run.entered
    if run.resume_at is not None:
        if now < run.resume_at:
            return False
        t, run.resume_at = run.resume_at, None
        run.entered = t
    try:
        effective = _path(run.data, state["InputPath"], run.context) if state.get("InputPath") else run.data
        if kind == "Pass":
            result = _template(state["Parameters"], effective, run.context) if "Parameters" in state else effective
            result = state.get("Result", result)
            return _next(em, run, state, _put(run.data, state.get("ResultPath", "$"), result), t)
        if kind == "Wait":
            seconds = float(state.get("Seconds") or _path(effective, state.get("SecondsPath", "$"), run.context))
            if now < t + seconds:
                run.resume_at = t + seconds
                return False
            return _next(em, run, state, effective, t + seconds)
        if kind == "Succeed":
            _finish(em, run, t, "SUCCEEDED", output=json.dumps(_output(state, effective, run)))
            return False
        if kind == "Fail":
            error = _value(state["ErrorPath"], effective, run.context) if "ErrorPath" in state else state.get("Error")
            cause = _value(state["CausePath"], effective, run.context) if "CausePath" in state else state.get("Cause")
            _finish(em, run, t, "FAILED", error=error, cause=cause)
            return False
        if kind == "Choice":
            for rule in state.get("Choices") or []:
                if _matches(rule, effective, run.context):
                    run.state, run.entered = str(rule["Next"]), t
                    run.data = _output(state, effective, run)
                    return True
            if "Default" not in state:
                raise StatesError("States.NoChoiceMatched", "no Choice rule matched and there is no Default")
            run.state, run.entered, run.data = str(state["Default"]), t, _output(state, effective, run)
            return True
        if kind == "Task":
            done = _task(em, run, state, effective, now)
            if done is None:
                return False
            result, t_done = done
            return _next(em, run, state, _put(run.data, state.get("ResultPath", "$"), result), t_done)
        raise StatesError("States.Runtime", f"the emulation does not run {kind} states")
    except StatesError as exc:
        return _error(em, run, state, exc, float(getattr(exc, "at", run.entered)))


def _output(state: dict[str, Any], doc: Any, run: Run) -> Any:
    return _path(doc, state["OutputPath"], run.context) if state.get("OutputPath") else doc


def _next(em: Emulation, run: Run, state: dict[str, Any], data: Any, t: float) -> bool:
    run.task_arn = None
    out = _output(state, data, run)
    if state.get("End"):
        _finish(em, run, t, "SUCCEEDED", output=json.dumps(out, default=str))
        return False
    run.state, run.data, run.entered = str(state["Next"]), out, t
    run.attempts.clear()
    return True


def _error(em: Emulation, run: Run, state: dict[str, Any], exc: StatesError, t: float) -> bool:
    """An error in the current state: a Retry, a Catch, or the end of the execution."""
    run.task_arn = None

    def matches(names: list[str]) -> bool:
        return exc.error in names or ("States.ALL" in names and exc.error != "States.Runtime")

    for i, retry in enumerate(state.get("Retry") or []):
        if matches(list(retry.get("ErrorEquals") or [])):
            done = run.attempts.get(f"{run.state}/{i}", 0)
            if done < int(retry.get("MaxAttempts", 3)):
                run.attempts[f"{run.state}/{i}"] = done + 1
                wait = float(retry.get("IntervalSeconds", 1)) * float(retry.get("BackoffRate", 2.0)) ** done
                run.resume_at = t + wait
                return True
            break
    for catch in state.get("Catch") or []:
        if matches(list(catch.get("ErrorEquals") or [])):
            caught = {"Error": exc.error, "Cause": exc.cause}
            run.data = _put(run.data, catch.get("ResultPath", "$"), caught)
            run.state, run.entered = str(catch["Next"]), t
            run.attempts.clear()
            return True
    _finish(em, run, t, "FAILED", error=exc.error, cause=exc.cause)
    return False


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "NumericEquals": lambda a, b: isinstance(a, (int, float)) and a == b,
    "NumericGreaterThan": lambda a, b: isinstance(a, (int, float)) and a > b,
    "NumericGreaterThanEquals": lambda a, b: isinstance(a, (int, float)) and a >= b,
    "NumericLessThan": lambda a, b: isinstance(a, (int, float)) and a < b,
    "NumericLessThanEquals": lambda a, b: isinstance(a, (int, float)) and a <= b,
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a == b,
}


def _matches(rule: dict[str, Any], doc: Any, context: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(_matches(r, doc, context) for r in rule["And"])
    if "Or" in rule:
        return any(_matches(r, doc, context) for r in rule["Or"])
    if "Not" in rule:
        return not _matches(rule["Not"], doc, context)
    variable = str(rule.get("Variable", "$"))
    if "IsPresent" in rule:
        try:
            _path(doc, variable, context)
            present = True
        except StatesError:
            present = False
        return present == bool(rule["IsPresent"])
    value = _path(doc, variable, context)
    if "IsNull" in rule:
        return (value is None) == bool(rule["IsNull"])
    if "IsNumeric" in rule:
        return isinstance(value, (int, float)) == bool(rule["IsNumeric"])
    for name, compare in _COMPARE.items():
        if name in rule:
            return compare(value, rule[name])
        if f"{name}Path" in rule:
            return compare(value, _path(doc, rule[f"{name}Path"], context))
    raise StatesError("States.Runtime", f"the Choice rule {json.dumps(rule)} is not one this emulation evaluates")


# -- the ECS integration --------------------------------------------------------------------------
class _Request:
    """What tasks.run_task reads of a request, for a RunTask Step Functions makes."""

    def __init__(self, params: dict[str, Any], account: str, region: str) -> None:
        self.params, self.current_account, self.region = params, account, region

    def _get_param(self, name: str, if_none: Any = None) -> Any:
        value = self.params.get(name)
        return if_none if value is None else value


def _task(em: Emulation, run: Run, state: dict[str, Any], doc: Any, now: float) -> tuple[Any, float] | None:
    """A Task state: its result and when it came, or None while it runs."""
    resource = str(state.get("Resource", ""))
    if resource not in (RUN_TASK, RUN_TASK + ".sync"):
        raise StatesError("States.Runtime", f"the emulation does not run the resource {resource}")
    timeout = state.get("TimeoutSeconds")
    deadline = run.entered + float(timeout) if timeout else None
    ecs = _ecs(run.account, run.region)
    if run.task_arn is None:
        params = _to_camel(_template(state.get("Parameters") or {}, doc, run.context))
        try:
            answer = ecs_tasks.run_task(em, _Request(params, run.account, run.region), lambda: None).result
        except AwsFault as exc:
            raise StatesError(
                "ECS.AmazonECSException",
                f"{exc.message} (Service: AmazonECS; Status Code: 400; Error Code: {exc.code}; "
                f"Request ID: {uuid.uuid4()}; Proxy: null)",
            ) from None
        if answer.get("failures") or not answer.get("tasks"):
            raise StatesError("AmazonECS.Unknown", json.dumps(_to_pascal({"Failures": answer.get("failures")})))
        arn = str(answer["tasks"][0]["taskArn"])
        task = ecs_tasks._tasks(ecs)[arn]
        task.created, task.created_at = run.entered, wall_of(em, run.account, run.region).wall(run.entered)
        if not resource.endswith(".sync"):
            return _to_pascal(answer), run.entered
        run.task_arn = arn
        if deadline is not None:
            task.stop_request = (deadline, "Step Functions: the state timed out (TimeoutSeconds)")
        if run.deadline is not None:
            _stop_task(em, run, run.deadline, "Step Functions: the execution timed out")
    ecs_tasks.advance(em, ecs)
    found = ecs_tasks._tasks(ecs).get(run.task_arn)
    if found is None:
        raise StatesError("States.TaskFailed", "the task is gone")
    task = found
    stopped = task.times.get("stoppedAt") if task.status == "STOPPED" else None
    if deadline is not None and (stopped is None or stopped > deadline):
        if now < deadline:
            return None
        error = StatesError("States.Timeout", "")
        error.at = deadline  # type: ignore[attr-defined]
        raise error
    if stopped is None:
        return None
    description = _to_pascal(ecs_tasks._one_off_view(task, include_tags=False))
    essential = [c for c in description.get("Containers", []) if c.get("Essential", True)]
    if not essential or any(c.get("ExitCode") != 0 for c in essential):
        error = StatesError("States.TaskFailed", json.dumps(description))
        error.at = stopped  # type: ignore[attr-defined]
        raise error
    return description, stopped


# -- schedules ------------------------------------------------------------------------------------
def _date(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _fire_schedules(em: Emulation, account: str, region: str) -> None:
    from ..schedule_times import NotSupported, fires_between

    wall = wall_of(em, account, region)
    now = wall.wall(em.now())
    seen: dict[str, datetime] = _state(_sfn(account, region), "schedules_seen")
    sfn = _sfn(account, region)
    for group in list(_scheduler(account, region).schedule_groups.values()):
        for schedule in list(group.schedules.values()):
            target = schedule.target or {}
            arn = str(target.get("Arn") or "")
            # looked at up to ``since`` (exclusive of what fires at it); first: from its creation, included
            since = seen.setdefault(schedule.arn, _created(schedule, wall) - timedelta(microseconds=1))
            seen[schedule.arn] = now
            if schedule.state != "ENABLED" or not STATE_MACHINE_ARN.fullmatch(arn):
                continue
            start = _date(schedule.start_date) or _created(schedule, wall)
            end = _date(schedule.end_date)
            try:
                due = fires_between(
                    schedule.schedule_expression,
                    schedule.schedule_expression_timezone or "UTC",
                    since,
                    min(now, end) if end else now,
                    start=start,
                    limit=MAX_CATCH_UP,
                )
            except NotSupported:
                continue
            for when in due:
                try:
                    execution = sfn.start_execution(arn, str(uuid.uuid4()), str(target.get("Input") or "{}"))
                except Exception:  # the state machine is gone: Scheduler counts a failed invocation
                    continue
                begin(em, account, region, execution, wall.clock(when))


def _created(schedule: Any, wall: Wall) -> datetime:
    created: datetime | None = getattr(schedule, "_ecsup_created", None)
    if created is None:
        created = _date(schedule.creation_date) or wall.wall(wall.t)
    return created


def advance(em: Emulation, account: str, region: str) -> None:
    """Fire what came due, and carry every execution to now."""
    with ecs_tasks._LOCK:
        ecs_tasks.advance(em, _ecs(account, region))
        _fire_schedules(em, account, region)
        now = em.now()
        for run in list(_runs(account, region).values()):
            if run.state is not None:
                carry(em, run, now)


# -- the API --------------------------------------------------------------------------------------
def _advancing(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    advance(em, resp.current_account, resp.region)
    return proceed()


def start_execution(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    advance(em, resp.current_account, resp.region)
    with ecs_tasks._LOCK:
        result = proceed()
        arn = str(result.result["executionArn"])
        if arn not in _runs(resp.current_account, resp.region):
            execution = _execution(resp.current_account, resp.region, arn)
            begin(em, resp.current_account, resp.region, execution, em.now())
            result.result["startDate"] = execution.start_date
            carry(em, _runs(resp.current_account, resp.region)[arn], em.now())
    return result


def _with_stop_dates(executions: list[dict[str, Any]], account: str, region: str) -> None:
    for item in executions:  # moto leaves stopDate out for TIMED_OUT
        if item.get("status") == "TIMED_OUT" and "stopDate" not in item:
            execution = _execution(account, region, str(item.get("executionArn")))
            if execution is not None and execution.stop_date is not None:
                item["stopDate"] = execution.stop_date


def list_executions(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    advance(em, resp.current_account, resp.region)
    result = proceed()
    _with_stop_dates(result.result.get("executions") or [], resp.current_account, resp.region)
    return result


def describe_execution(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    advance(em, resp.current_account, resp.region)
    result = proceed()
    _with_stop_dates([result.result], resp.current_account, resp.region)
    return result


def stop_execution(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    advance(em, resp.current_account, resp.region)
    with ecs_tasks._LOCK:
        arn = str(resp._get_param("executionArn"))
        run = _runs(resp.current_account, resp.region).get(arn)
        result = proceed()
        if run is not None and run.state is not None:
            _stop_task(em, run, em.now(), "Step Functions: the execution was stopped")
            _finish(em, run, em.now(), "ABORTED", error=resp._get_param("error"), cause=resp._get_param("cause"))
            result.result["stopDate"] = _execution(resp.current_account, resp.region, arn).stop_date
    return result


def schedule_created(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateSchedule: remember when, on the emulation's clock (a rate schedule without StartDate
    counts from then). An update keeps counting from the last look."""
    result = proceed()
    with ecs_tasks._LOCK:
        wall = wall_of(em, resp.current_account, resp.region)
        name, group = resp.uri.split("?")[0].split("/")[-1], resp._get_param("GroupName") or "default"
        try:
            schedule = _scheduler(resp.current_account, resp.region).get_schedule(group, name)
        except Exception:
            return result
        schedule._ecsup_created = wall.wall(em.now())
        seen = _state(_sfn(resp.current_account, resp.region), "schedules_seen")
        seen[schedule.arn] = schedule._ecsup_created - timedelta(microseconds=1)
    return result


def install(around: Callable[..., None]) -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as ECS
    from moto.logs.responses import LogsResponse as LOGS
    from moto.scheduler.responses import EventBridgeSchedulerResponse as SCHEDULER
    from moto.stepfunctions.responses import StepFunctionResponse as SFN

    around(SFN, "start_execution", start_execution)
    around(SFN, "list_executions", list_executions)
    around(SFN, "describe_execution", describe_execution)
    around(SFN, "stop_execution", stop_execution)
    around(SFN, "get_execution_history", _advancing)
    around(SCHEDULER, "get_schedule", _advancing)
    around(SCHEDULER, "list_schedules", _advancing)
    around(SCHEDULER, "create_schedule", schedule_created)
    # what came due before a change ran as things were: looked at before the change applies
    for api in ("update_state_machine", "delete_state_machine"):
        around(SFN, api, _advancing)
    for api in ("update_schedule", "delete_schedule", "delete_schedule_group"):
        around(SCHEDULER, api, _advancing)
    around(ECS, "deregister_task_definition", _advancing)
    for read in ("get_log_events", "filter_log_events"):
        around(LOGS, read, _advancing)


__all__ = ["advance", "begin", "install", "wall_of"]
