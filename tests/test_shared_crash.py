"""Crash while joining or leaving a shared load balancer (issue 19): abort right before each
mutating call that changes the shared part or the stack's place on it (ELB calls, the shared
security group, taking the shared lock); the next run converges, the one after changes nothing,
and the other stack on the load balancer is never disturbed."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ZONE, Recorder
from moto import mock_aws, settings
from test_crash import Crash, _crash_before, _fresh_account
from test_shared_lb import all_load_balancers, api, rules, web

from ecsup import context as context_module
from ecsup import engine
from ecsup.context import is_mutating

SHARED_LOCK = "/ecsup/shared-lb/edge/lock"


# the calls that change the shared part or the stack's place on it (the stack's own target
# groups, tasks' group and the rest are test_crash.py's)
SHARED_OPERATIONS = {
    "CreateLoadBalancer",
    "CreateListener",
    "CreateRule",
    "AddListenerCertificates",
    "ModifyListener",
    "RemoveListenerCertificates",
    "DeleteRule",
    "DeleteListener",
    "DeleteLoadBalancer",
}


def _shared_call(service: str, operation: str, params: dict[str, Any]) -> bool:
    if operation in SHARED_OPERATIONS:
        return True
    if service == "ec2" and operation == "CreateSecurityGroup":
        return "ecsup-shared-edge" in str(params)
    return service == "ssm" and params.get("Name") == SHARED_LOCK and operation == "PutParameter"


class Points:
    """Numbers (1-based, among mutating calls) of the calls a crash is tried before: each shared
    operation's first call (a call repeated, such as taking the shared lock for each change, or
    deleting the second listener, ends the same way), and the last DeleteSecurityGroup (retried
    while the load balancer's interfaces are released; the last one is the shared group's)."""

    def __init__(self) -> None:
        self.n = 0
        self.points: list[tuple[int, str]] = []
        self.seen: set[str] = set()
        self.last_group: tuple[int, str] | None = None

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if is_mutating(operation):
            self.n += 1
            if operation == "DeleteSecurityGroup":
                self.last_group = (self.n, operation)
            elif _shared_call(service, operation, params) and operation not in self.seen:
                self.seen.add(operation)
                self.points.append((self.n, operation))

    def all(self) -> list[tuple[int, str]]:
        return sorted(self.points + ([self.last_group] if self.last_group else []))


def _destroy(make_ctx: Any, text: str) -> engine.DestroyResult:
    ctx = make_ctx(text)
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        return engine.destroy(ctx, outcome)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    settings.ACM_VALIDATION_WAIT = 0
    rec = Recorder()
    monkeypatch.setattr(context_module, "SESSION_HOOKS", [rec.hook])
    return rec


def _points(recorder: Recorder, setup: Any, run: Any) -> list[tuple[int, str]]:
    with mock_aws():
        _fresh_account()
        setup()
        points = Points()
        recorder.injectors = [points]
        run()
        recorder.injectors = []
    return points.all()


def test_joining_converges_after_a_crash_at_each_of_its_calls(recorder, make_ctx):
    """web is the first stack: its create makes the shared part, its rule and certificate."""
    points = _points(recorder, lambda: None, lambda: engine.create(make_ctx(web())))
    points = [p for p in points if p[1] != "DeleteSecurityGroup"]
    assert {op for _, op in points} >= {"CreateLoadBalancer", "CreateListener", "CreateRule", "PutParameter"}
    for n, op in points:
        with mock_aws():
            _fresh_account()
            recorder.injectors = [_crash_before(n, [])]
            with pytest.raises(Crash):
                engine.create(make_ctx(web()))
            recorder.injectors = []
            engine.create(make_ctx(web()))  # resume: takes over the dead run's locks
            assert all_load_balancers() == ["edge"], f"crash before #{n} {op}"
            assert sorted(rules()) == [f"www.{ZONE}"]
            recorder.reset()
            engine.create(make_ctx(web()))
            assert recorder.mutating() == [], f"not converged after a crash before #{n} {op}"


def _both(make_ctx: Any) -> None:
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))


@pytest.mark.parametrize("leaving", ["first", "last"])
def test_leaving_converges_after_a_crash_at_each_of_its_calls(recorder, make_ctx, leaving):
    """first: web leaves while api stays (its certificate takes over the listener's default);
    last: api leaves after web, and the shared part goes with it."""

    def setup() -> None:
        _both(make_ctx)
        if leaving == "last":
            _destroy(make_ctx, web())

    text = web() if leaving == "first" else api()
    points = _points(recorder, setup, lambda: _destroy(make_ctx, text))
    assert {op for _, op in points} >= {"DeleteRule", "PutParameter"}, points
    for n, op in points:
        with mock_aws():
            _fresh_account()
            setup()
            recorder.injectors = [_crash_before(n, [])]
            with pytest.raises(Crash):
                _destroy(make_ctx, text)
            recorder.injectors = []
            result = _destroy(make_ctx, text)
            assert not result.failed and not result.left, f"crash before #{n} {op}: {result}"
            if leaving == "first":
                assert sorted(rules()) == [f"api.{ZONE}"]
                ctx = make_ctx(api())
                ctx.mode = "plan"
                assert engine.make_plan(ctx).changes() == [], f"api disturbed by a crash before #{n} {op}"
            else:
                assert all_load_balancers() == []
            recorder.reset()
            ctx = make_ctx(text)
            assert [a for a in engine.plan_destroy(ctx).actions if a.mutates] == [], f"#{n} {op}"
