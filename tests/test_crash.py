"""Crash at any point: abort a create right before its N-th mutating call, for every N
of a full create; the next create must finish with exactly one of each resource and
every setting right (the whole stack is read back, not counted), take over the lock
the dead run left, and release it."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ZONE, Recorder, client
from moto import mock_aws, settings
from test_create import assert_full_stack

from ecsup import engine
from ecsup.context import is_mutating


class Crash(BaseException):
    """Like kill -9 from the process's point of view: no `except Exception` catches it."""


def _fresh_account() -> None:
    client("route53").create_hosted_zone(Name=ZONE, CallerReference="tests")


def _crash_before(n: int, crashed_at: list[str]) -> Any:
    """Crash right before the n-th mutating call; from then on the process is dead: every
    call fails too (so no cleanup, e.g. releasing the lock, can happen -- like kill -9)."""
    seen = {"n": 0}

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if seen["n"] >= n:
            raise Crash("dead process")
        if is_mutating(operation):
            seen["n"] += 1
            if seen["n"] == n:
                crashed_at.append(operation)
                raise Crash(f"crash before mutating call #{n}: {service}.{operation}")
        return None

    return inject


def test_create_converges_after_a_crash_before_every_mutating_call(make_ctx, strict_aws, shared_clients):
    """With every strict AWS behaviour on (the re-run starts at once: the dead run's role is not
    readable yet, its permission change has not applied yet, ...)."""
    assert strict_aws.strict
    settings.ACM_VALIDATION_WAIT = 0
    recorder = Recorder()
    shared_clients(recorder)

    with mock_aws():  # how many mutating calls does a full create make?
        _fresh_account()
        engine.create(make_ctx())
        total = len(recorder.mutating())
        operations = [op for _, op in recorder.mutating()]
    assert total >= 20, operations
    assert "PutMetricAlarm" in operations  # the deployment alarm is a crash point too

    crashed_at = []
    for n in range(1, total + 1):
        recorder.reset()
        with mock_aws():
            _fresh_account()
            recorder.injectors = [_crash_before(n, crashed_at)]
            with pytest.raises(Crash):
                engine.create(make_ctx())
            recorder.injectors = []
            engine.create(make_ctx())  # resume
            assert_full_stack()
            # the dead run's lock was taken over and released -- unless the crash hit the release
            # itself (the last two calls: new generation, delete the lock): then nothing was left
            # to change, and the next run that changes something takes the stale lock over
            # (test_lock.py)
            assert _lock_released() or n >= total - 1
            recorder.reset()
            engine.create(make_ctx())  # and now it is converged: nothing left to do
            assert recorder.mutating() == [], f"after a crash before call #{n} ({crashed_at[-1]})"
    assert crashed_at == operations  # every mutating call of a full create was a crash point


def _lock_released() -> bool:
    names = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    return "/ecsup/web-dev/lock" not in names
