"""A crash before each of its own mutating calls of `preview up` (the first preview: it makes the shared load
balancer, the previews' certificate and its marker) and of `preview down` (the last one: it takes
them all down): the next run converges, and the run after that makes no mutating call.

As in test_shared_crash.py, the two operations run one after the other in each account, each
crashing at the same call number: the down starts from what the up's re-run left."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ZONE, Recorder, client, zone_id
from moto import mock_aws, settings
from test_crash import Crash, _crash_before, _fresh_account
from test_previews import DOMAIN, env_config, marker_names, wildcards
from test_shared_lb import aliases, all_load_balancers, rules

from ecsup import engine, previews

SHARDS = 3
# the mutating calls a preview makes of its own or on the shared load balancer (the crash points)
PREVIEW_OWN = {
    "PutParameter",
    "DeleteParameter",
    "RequestCertificate",
    "AddTagsToCertificate",
    "RemoveTagsFromCertificate",
    "DeleteCertificate",
    "ChangeResourceRecordSets",
    "AddListenerCertificates",
    "RemoveListenerCertificates",
    "CreateLoadBalancer",
    "CreateListener",
    "CreateRule",
    "DeleteRule",
    "DeleteListener",
    "DeleteLoadBalancer",
}


@pytest.fixture
def recorder(shared_clients: Any) -> Recorder:
    settings.ACM_VALIDATION_WAIT = 0
    rec = Recorder()
    shared_clients(rec)
    return rec


def _up(make_ctx: Any) -> None:
    prepared = previews.prepare_up(make_ctx(env_config()), "pr-1")
    engine.create(prepared.ctx)


def _down(make_ctx: Any) -> None:
    prepared = previews.prepare_down(make_ctx(env_config()), "pr-1")
    ctx = prepared.ctx
    outcome = engine.plan_destroy(ctx)
    if any(a.kind == "delete" for a in outcome.actions):
        with engine.destroy_locked(ctx):
            result = engine.destroy(ctx, outcome)
        assert not result.failed and not result.left, result
    previews.release_certificate(ctx, prepared.exists)


def _served() -> None:
    assert all_load_balancers() == ["edge"]
    assert sorted(rules()) == [f"pr-1.{DOMAIN}"]
    assert list(aliases()) == [f"pr-1.{DOMAIN}"]
    [cert] = wildcards()
    arn = cert["CertificateArn"]
    assert client("acm").describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"
    assert marker_names() == ["/ecsup/previews/web/pr-1"]
    certs = [c for c in client("acm").list_certificates()["CertificateSummaryList"] if c["DomainName"] == ZONE]
    assert certs == []  # the stack never requested its own


def _gone(dead_lock_allowed: bool) -> None:
    assert all_load_balancers() == []
    assert wildcards() == []
    assert marker_names() == []
    records = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    assert sorted(r["Type"] for r in records) == ["NS", "SOA"], records
    parameters = {p["Name"] for p in client("ssm").describe_parameters()["Parameters"]}
    if dead_lock_allowed:  # the dead run's shared lock, its shared part already gone (test_shared_crash.py)
        parameters.discard("/ecsup/shared-lb/edge/lock")
    assert parameters <= {"/web/dev/DB_PASSWORD"}, parameters


@dataclass
class Operation:
    name: str
    run: Callable[[], Any]
    converged: Callable[[bool], None]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_preview_up_and_down_converge_after_a_crash_before_every_mutating_call(recorder, make_ctx, shard):
    operations = [
        Operation("up", lambda: _up(make_ctx), lambda _: _served()),
        Operation("down", lambda: _down(make_ctx), _gone),
    ]
    with mock_aws():
        _fresh_account()
        counts, names = [], []
        for op in operations:
            recorder.reset()
            op.run()
            counts.append(len(recorder.mutating()))
            names.append([o for _, o in recorder.mutating()])
    # the marker, the previews' certificate and its record, the shared lock, the stack: all crash points
    assert {"PutParameter", "RequestCertificate", "ChangeResourceRecordSets", "CreateRule"} <= set(names[0])
    assert {"DeleteParameter", "AddTagsToCertificate", "DeleteCertificate", "DeleteLoadBalancer"} <= set(names[1])

    # The crash points: every call of a preview's own (its marker, the previews' certificate, its
    # validation record and listener certificate) and of the shared load balancer's; the stack's
    # other calls are create's and destroy's, whose crash points tests/test_crash.py and
    # test_shared_crash.py cover call by call (all of them here took over 15 minutes).
    points = [(k, n) for k, ops in enumerate(names) for n, o in enumerate(ops, 1) if o in PREVIEW_OWN]
    assert len(points) >= 8, points
    crashed: list[list[str]] = [[] for _ in operations]
    ran_out = 0
    for k, n in points[shard::SHARDS]:
        with mock_aws():
            _fresh_account()
            for before in operations[:k]:
                before.run()
            op = operations[k]
            where = f"by a crash before call #{n} of preview {op.name}"
            attempted: list[tuple[str, str]] = []

            def spy(service: str, operation: str, params: dict[str, Any], into: list[Any] = attempted) -> None:
                from ecsup.context import is_mutating

                if is_mutating(operation):
                    into.append((operation, str(params.get("Name"))))

            recorder.injectors = [spy, _crash_before(n, crashed[k])]
            try:
                op.run()
            except Crash:
                pass
            else:  # a down whose calls came in another order (deletions at once) ended first
                assert op.name == "down" and len(attempted) < n, f"no crash before call #{n} of {op.name}"
                recorder.injectors = []
                ran_out += 1
                continue
            recorder.injectors = []
            try:
                op.run()  # the re-run: takes the dead run's locks over
                op.converged(attempted[n - 1] == ("DeleteParameter", "/ecsup/shared-lb/edge/lock"))
            except AssertionError as exc:
                raise AssertionError(f"{where}: {exc}") from exc
            recorder.reset()
            op.run()
            assert recorder.writes() == [], f"not converged {where}: {recorder.writes()}"
    mine = points[shard::SHARDS]
    assert crashed[0] == [names[0][n - 1] for k, n in mine if k == 0], "every chosen call of preview up crashed"
    assert len(crashed[1]) + ran_out == len([1 for k, _ in mine if k == 1])
    assert ran_out <= 1, ran_out
