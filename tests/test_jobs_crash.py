"""Crash at any point of a stack with a job: abort a create, or a destroy, right before each of the
jobs' mutating calls (roles, schedule group, family, state machine, schedule, alarm -- the web
stack's own calls are test_crash.py's); the next run must converge: one of each, every setting
right, and nothing left to do (create), nothing of the jobs left (destroy)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ZONE, Recorder, client, config_text
from moto import mock_aws, settings
from test_jobs import JOB, MACHINE, _nothing_of_jobs_left, inline, schedule

from ecsup import engine
from ecsup.context import is_mutating

STACK = config_text(JOB + "alarm = true\n")
ROLES = ("web-dev-jobs", "web-dev-scheduler")


class Crash(BaseException):
    """Like kill -9 from the process's point of view: no `except Exception` catches it."""


def jobs_call(service: str, operation: str, params: dict[str, Any]) -> bool:
    """A mutating call on the jobs' resources."""
    if not is_mutating(operation):
        return False
    if service in ("scheduler", "stepfunctions"):
        return True
    if service == "iam":
        return params.get("RoleName") in ROLES
    if service == "ecs":
        family = str(params.get("family") or params.get("taskDefinition") or params.get("taskDefinitions") or "")
        return "web-dev-nightly" in family
    if service == "cloudwatch":
        return "job-nightly" in str(params.get("AlarmName") or params.get("AlarmNames") or "")
    return False


def crash_before(n: int, crashed_at: list[str]) -> Any:
    """Crash right before the n-th mutating call on the jobs; from then on every call fails."""
    seen = {"n": 0, "dead": False}

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if seen["dead"]:
            raise Crash("dead process")
        if jobs_call(service, operation, params):
            seen["n"] += 1
            if seen["n"] == n:
                seen["dead"] = True
                crashed_at.append(f"{service}.{operation}")
                raise Crash(f"crash before jobs' mutating call #{n}: {service}.{operation}")
        return None

    return inject


def _fresh_account() -> None:
    client("route53").create_hosted_zone(Name=ZONE, CallerReference="tests")


def _destroy(make_ctx: Any) -> engine.DestroyResult:
    ctx = make_ctx(STACK)
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        return engine.destroy(ctx, outcome)


def _converged() -> None:
    sched = schedule()
    assert sched["Target"]["Arn"] == MACHINE and sched["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert [s["Name"] for s in client("scheduler").list_schedules(GroupName="web-dev")["Schedules"]] == [
        "web-dev-nightly"
    ]
    machines = client("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["stateMachineArn"] for m in machines] == [MACHINE]
    assert inline("web-dev-scheduler")["Statement"][0]["Resource"] == [MACHINE]
    assert {s["Sid"] for s in inline("web-dev-jobs")["Statement"]} >= {"RunJobTasks", "PassTaskRoles"}
    alarms = client("cloudwatch").describe_alarms(AlarmNamePrefix="ecsup-web-dev-job-")["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == ["ecsup-web-dev-job-nightly-failed"]


def test_create_with_a_job_converges_after_a_crash_before_each_of_the_jobs_calls(make_ctx, shared_clients):
    settings.ACM_VALIDATION_WAIT = 0
    recorder = Recorder()
    shared_clients(recorder)
    with mock_aws():
        _fresh_account()
        seen: list[str] = []
        recorder.injectors = [lambda s, o, p: seen.append(o) if jobs_call(s, o, p) else None]
        engine.create(make_ctx(STACK))
        operations = list(seen)
    assert len(operations) >= 8, operations
    crashed_at: list[str] = []
    for n in range(1, len(operations) + 1):
        recorder.reset()
        with mock_aws():
            _fresh_account()
            recorder.injectors = [crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                engine.create(make_ctx(STACK))
            recorder.injectors = []
            engine.create(make_ctx(STACK))  # resume
            _converged()
            recorder.reset()
            engine.create(make_ctx(STACK))
            assert recorder.writes() == [], f"after a crash before {crashed_at[-1]}"
    assert [op.split(".")[1] for op in crashed_at] == operations


def test_destroy_of_a_stack_with_a_job_leaves_nothing_after_a_crash_before_each_of_the_jobs_calls(
    make_ctx, shared_clients, clock
):
    settings.ACM_VALIDATION_WAIT = 0
    recorder = Recorder()
    shared_clients(recorder)
    count: list[str] = []
    with mock_aws():
        _fresh_account()
        engine.create(make_ctx(STACK))
        recorder.injectors = [lambda s, o, p: count.append(o) if jobs_call(s, o, p) else None]
        _destroy(make_ctx)
    points = list(count)  # DeleteSchedule, DeleteStateMachine, the family, the alarm, the roles, the group
    assert len(points) >= 8, points
    crashed_at: list[str] = []
    for n in range(1, len(points) + 1):
        recorder.reset()
        with mock_aws():
            _fresh_account()
            engine.create(make_ctx(STACK))
            recorder.injectors = [crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                _destroy(make_ctx)
            recorder.injectors = []
            result = _destroy(make_ctx)  # resume
            assert result.failed == [] and result.left == [], f"after a crash before {crashed_at[-1]}"
            clock.sleep(60)  # what was DELETING is gone
            _nothing_of_jobs_left()
    # a destroy deletes concurrently: which call is the n-th varies from run to run
    assert len(crashed_at) == len(points)
