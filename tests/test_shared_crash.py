"""Crash while joining or leaving a shared load balancer (issue 19): abort right before each
mutating call -- every one: the shared part's, the shared lock's, the stack's own target groups,
security groups, rule, certificate, ... -- of

1. the first stack's create, which makes the shared part ("join first");
2. a second stack's create onto it ("join second");
3. the destroy of a stack that is not the last ("leave first");
4. the destroy of the last stack, which takes the shared part with it ("leave last").

After each crash the next run converges, the run after that makes no mutating call, and the
other stack on the load balancer is never disturbed: its rule (priority, hosts, weights),
target groups, service's production rule, DNS alias and certificate on the listener stay as
they were, right after the crash and after the re-run.

The four operations run one after the other in each account (web joins, api joins, web
leaves, api leaves): each crashes at the same call number, and each starts from what the
previous crash's re-run left, which must therefore be as good as a clean run's. That costs one
operation per operation tested, instead of setting the account up again for each of the
~170 crash points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ZONE, Recorder, client
from moto import mock_aws, settings
from test_crash import Crash, _crash_before, _fresh_account
from test_shared_lb import all_load_balancers, api, https_listener, rules, web, weights

from ecsup import engine
from ecsup.context import is_mutating

HOSTS = {"web": f"www.{ZONE}", "api": f"api.{ZONE}"}
SHARED_LOCK = "/ecsup/shared-lb/edge/lock"
SHARDS = 4  # the crash points, split among this many tests (pytest -n: on both workers)


# the two calls of releasing the shared lock
SHARED_RELEASE = {("PutParameter", "/ecsup/shared-lb/edge/generation"), ("DeleteParameter", SHARED_LOCK)}


def _spy(attempted: list[tuple[str, str]]) -> Any:
    def spy(service: str, operation: str, params: dict[str, Any]) -> None:
        if is_mutating(operation):
            attempted.append((operation, str(params.get("Name"))))

    return spy


def _destroy(make_ctx: Any, text: str) -> engine.DestroyResult:
    ctx = make_ctx(text)
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        return engine.destroy(ctx, outcome)


@pytest.fixture
def recorder(shared_clients: Any) -> Recorder:
    settings.ACM_VALIDATION_WAIT = 0
    rec = Recorder()
    shared_clients(rec)
    return rec


def _tags(arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client("acm").list_tags_for_certificate(CertificateArn=arn)["Tags"]}


def _listener_certificates() -> dict[str, bool]:
    """The shared HTTPS listener's certificates: ARN -> is the default."""
    found = client("elbv2").describe_listener_certificates(ListenerArn=https_listener()["ListenerArn"])
    return {c["CertificateArn"]: bool(c.get("IsDefault")) for c in found["Certificates"]}


def _own_certificates_on_listener(app: str) -> set[str]:
    return {arn for arn in _listener_certificates() if _tags(arn).get("ecsup:app") == app}


def _alias(host: str) -> str | None:
    from conftest import zone_id

    for r in client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]:
        if r["Name"].rstrip(".") == host and r["Type"] == "A" and "AliasTarget" in r:
            return str(r["AliasTarget"]["DNSName"]).rstrip(".").lower()
    return None


def _place(app: str) -> dict[str, Any]:
    """What a stack has on the shared load balancer, which another stack's join or leave must
    not change (but for its certificate: see _assert_undisturbed)."""
    rule = rules()[HOSTS[app]]
    elb = client("elbv2")
    groups = elb.describe_target_groups(Names=[f"{app}-dev-blue", f"{app}-dev-green"])["TargetGroups"]
    service = client("ecs").describe_services(cluster=f"{app}-dev", services=[f"{app}-dev"])["services"][0]
    return {
        "rule": (rule["RuleArn"], rule["Priority"], rule["Conditions"], rule["Actions"]),
        "groups": sorted((g["TargetGroupArn"], g["Port"], g["HealthCheckPath"], g["VpcId"]) for g in groups),
        "service": service["loadBalancers"],
        "alias": _alias(HOSTS[app]),
        "certificates": _own_certificates_on_listener(app),
    }


def _assert_undisturbed(app: str, before: dict[str, Any], where: str) -> None:
    now = _place(app)
    # the stack's certificate on the listener stays there; when the stack whose certificate was
    # the listener's default leaves, the staying stack's certificate may join (takes over)
    assert before.pop("certificates") <= now.pop("certificates"), f"{app}'s certificate left the listener {where}"
    assert now == before, f"{app} disturbed {where}"


def _assert_serves(app: str) -> None:
    """The stack serves on the shared load balancer: its host rule forwards to its green group."""
    assert all_load_balancers() == ["edge"]
    assert weights(rules()[HOSTS[app]]) == {f"{app}-dev-blue": 0, f"{app}-dev-green": 100}
    lb = client("elbv2").describe_load_balancers(Names=["edge"])["LoadBalancers"][0]
    assert _alias(HOSTS[app]) == lb["DNSName"].lower()


def _assert_left(app: str) -> None:
    """Nothing of the stack is left."""
    elb = client("elbv2")
    groups = [g["TargetGroupName"] for g in elb.describe_target_groups()["TargetGroups"]]
    assert not [g for g in groups if g.startswith(f"{app}-dev-")], groups
    assert _alias(HOSTS[app]) is None
    names = [g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]]
    assert not [n for n in names if n.startswith(f"{app}-dev-")], names
    assert not [
        c
        for c in client("acm").list_certificates()["CertificateSummaryList"]
        if _tags(c["CertificateArn"]).get("ecsup:app") == app
    ]
    parameters = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    assert not [p for p in parameters if p.startswith(f"/ecsup/{app}-dev/")], parameters  # its lock, claims
    assert not client("ecs").describe_clusters(clusters=[f"{app}-dev"])["clusters"] or all(
        c["status"] == "INACTIVE" for c in client("ecs").describe_clusters(clusters=[f"{app}-dev"])["clusters"]
    )


@dataclass
class Operation:
    name: str
    run: Callable[[], Any]
    other: str | None  # the other stack on the load balancer meanwhile
    converged: Callable[[bool], None]  # what the re-run must have left (given: crashed releasing the shared lock?)
    again: Callable[[], Any]  # the run after that: it must make no mutating call
    destroys: bool = False


def _operations(make_ctx: Any) -> list[Operation]:
    def create(app: str) -> Callable[[], Any]:
        return lambda: engine.create(make_ctx(web() if app == "web" else api()))

    def destroy(app: str) -> Callable[[], Any]:
        def destroy_run() -> None:
            result = _destroy(make_ctx, web() if app == "web" else api())
            assert not result.failed and not result.left, result

        return destroy_run

    def web_left(_: bool) -> None:
        _assert_left("web")
        assert sorted(rules()) == [HOSTS["api"]]  # the shared part stays for api
        certificates = _listener_certificates()
        assert certificates and {_tags(arn).get("ecsup:app") for arn in certificates} == {"api"}
        _assert_serves("api")

    def all_left(dead_lock_allowed: bool) -> None:
        _assert_left("api")
        assert all_load_balancers() == []
        names = [g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]]
        assert not [n for n in names if n.startswith("ecsup-shared")], names
        # left: the secret (destroy keeps it without --purge); nothing of the shared lock
        parameters = {p["Name"] for p in client("ssm").describe_parameters()["Parameters"]}
        if dead_lock_allowed and SHARED_LOCK in parameters:
            # a crash in the release of the shared lock, the shared part already deleted: the re-run
            # has nothing shared left to change and leaves the dead run's lock (a later create on
            # the same shared name takes it over) -- as test_crash.py allows for the stack's lock
            parameters.remove(SHARED_LOCK)
        assert parameters <= {"/web/dev/DB_PASSWORD"}, parameters

    return [
        Operation("web joins first", create("web"), None, lambda _: _assert_serves("web"), create("web")),
        Operation("api joins second", create("api"), "web", lambda _: _assert_serves("api"), create("api")),
        Operation("web leaves first", destroy("web"), "api", web_left, destroy("web"), destroys=True),
        Operation("api leaves last", destroy("api"), None, all_left, destroy("api"), destroys=True),
    ]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_joining_and_leaving_converge_after_a_crash_before_every_mutating_call(recorder, make_ctx, shard):
    operations = _operations(make_ctx)
    with mock_aws():  # how many mutating calls does each operation make?
        _fresh_account()
        counts, names = [], []
        for op in operations:
            recorder.reset()
            op.run()
            counts.append(len(recorder.mutating()))
            names.append([o for _, o in recorder.mutating()])
    # each operation's own calls, the shared part's and the shared lock's are all crash points
    assert {"CreateLoadBalancer", "CreateListener", "CreateRule", "CreateTargetGroup"} <= set(names[0]), names[0]
    assert {"CreateRule", "CreateTargetGroup", "PutParameter"} <= set(names[1]), names[1]
    assert {"DeleteRule", "DeleteTargetGroup", "PutParameter"} <= set(names[2]), names[2]
    assert {"DeleteRule", "DeleteListener", "DeleteLoadBalancer", "DeleteTargetGroup"} <= set(names[3]), names[3]

    crashed: list[list[str]] = [[] for _ in operations]
    ran_out = [0 for _ in operations]
    for n in range(1 + shard, max(counts) + 1, SHARDS):
        with mock_aws():
            _fresh_account()
            last = max(k for k, count in enumerate(counts) if n <= count)
            for k, op in enumerate(operations[: last + 1]):
                if n > counts[k]:  # fewer calls than n: this one only sets the next up
                    op.run()
                    continue
                before = _place(op.other) if op.other else None
                where = f"by a crash before call #{n} of {op.name}"
                attempted: list[tuple[str, str]] = []  # the mutating calls tried: the n-th crashed
                recorder.injectors = [_spy(attempted), _crash_before(n, crashed[k])]
                try:
                    op.run()
                except Crash:
                    pass
                else:
                    # a destroy's count of calls varies by a few (how many times the shared group's
                    # deletion is retried while interfaces are released depends on how its concurrent
                    # deletions interleave): this time it made fewer than n, and so finished
                    assert op.destroys and len(attempted) < n, f"no crash before call #{n} of {op.name}"
                    recorder.injectors = []
                    ran_out[k] += 1
                    continue
                recorder.injectors = []
                if op.other and before:
                    _assert_undisturbed(op.other, dict(before), where)
                try:
                    op.run()  # the re-run: takes the dead run's locks over
                    op.converged(attempted[n - 1] in SHARED_RELEASE)
                except AssertionError as exc:
                    raise AssertionError(f"{where}: {exc}") from exc
                if op.other and before:
                    _assert_undisturbed(op.other, dict(before), f"{where}, after the re-run")
                recorder.reset()
                op.again()
                # (a destroy takes and releases the stack's lock even when nothing is left to delete)
                done = recorder.writes() if op.destroys else recorder.mutating()
                assert done == [], f"not converged {where}"
    for k, op in enumerate(operations):  # every mutating call of each operation was a crash point
        if k < 2:  # a create's calls come in one order
            assert crashed[k] == names[k][shard::SHARDS], op.name
        else:  # a destroy deletes concurrently: which call is the n-th varies
            assert len(crashed[k]) + ran_out[k] == len(range(1 + shard, counts[k] + 1, SHARDS)), op.name
            assert ran_out[k] <= 2, (op.name, ran_out[k])  # by a few retries, not by whole deletions


def test_a_last_destroy_killed_after_deleting_the_load_balancer_deletes_its_security_group_on_rerun(recorder, make_ctx):
    """The window the crash points above reach only when the calls fall that way: the load
    balancer deleted, its security group not yet (retried while its interfaces are released)."""
    with mock_aws():
        _fresh_account()
        engine.create(make_ctx(web()))
        [shared] = client("ec2").describe_security_groups(GroupNames=["ecsup-shared-edge"])["SecurityGroups"]

        dead: list[bool] = []

        def killed(service: str, operation: str, params: dict[str, Any]) -> None:
            if dead or (operation == "DeleteSecurityGroup" and params.get("GroupId") == shared["GroupId"]):
                dead.append(True)  # from then on every call fails: the process is gone
                raise Crash("killed while the load balancer's interfaces are released")

        recorder.injectors = [killed]
        with pytest.raises(Crash):
            _destroy(make_ctx, web())
        recorder.injectors = []
        assert all_load_balancers() == []  # the load balancer is gone, its group is not
        assert client("ec2").describe_security_groups(GroupIds=[shared["GroupId"]])["SecurityGroups"]

        result = _destroy(make_ctx, web())

        assert not result.failed and not result.left, result
        names = [g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]]
        assert names == ["default"], names
        parameters = {p["Name"] for p in client("ssm").describe_parameters()["Parameters"]}
        assert parameters <= {"/web/dev/DB_PASSWORD"}, parameters
