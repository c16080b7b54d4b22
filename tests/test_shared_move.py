"""Moving a stack between load balancers (issue 19), where it can go wrong: a run stopped during
the move's deployment and run again at once, ECS listing the deployment late, a destroy stopped
on a stack that moved, a stack without a service, and what a no-op plan costs after a move."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from conftest import ZONE, Recorder, client, config_text
from test_shared_lb import (
    _DiesAt,
    _healthy,
    _moved_and_stopped,
    _target_groups,
    aliases,
    all_load_balancers,
    api,
    changes,
    shared_lb,
    web,
)

from ecsup import engine


def _deployments() -> list[dict[str, Any]]:
    ecs = client("ecs")
    briefs = ecs.list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
    return [{"status": b.get("status"), "arn": b["serviceDeploymentArn"]} for b in briefs]


class _Watch:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> None:
        text = json.dumps(params, default=str)
        if operation == "ChangeResourceRecordSets" and f"www.{ZONE}" in text and '"Type": "A"' in text:
            self.seen.append(
                {
                    "what": "record",
                    "new": {g: _healthy(g) for g in ("web-dev-blu2", "web-dev-grn2")},
                    "deployments": _deployments(),
                }
            )
        if operation in ("DeleteLoadBalancer", "DeleteListener", "DeleteTargetGroup"):
            self.seen.append({"what": operation, "deployments": _deployments(), "params": text[:160]})


def test_a_create_run_at_once_after_one_stopped_during_the_move_follows_its_deployment(aws, make_ctx, clock):
    """The first run dies watching the move's deployment; the user runs create again at once: the
    record moves only once the new rule serves, nothing of the old side goes while it is under way."""
    _moved_and_stopped(aws, make_ctx, "DescribeServiceDeployments")
    w = _Watch()
    aws.injectors = [w]
    engine.create(make_ctx(web()))
    aws.injectors = []
    first = w.seen[0]
    assert first["what"] == "record"
    assert sum(first["new"].values()) >= 1, first  # the record must not move to a rule whose groups have no targets
    assert all(
        d["status"] not in ("PENDING", "IN_PROGRESS") for s in w.seen if s["what"] != "record" for d in s["deployments"]
    ), w.seen


def test_a_no_op_plan_after_a_move_reads_one_target_group_call_more_at_most(aws, make_ctx):
    """The plan reads the service and the first pair by name at once (most stacks never moved): a
    stack on its second pair pays that one call, then reads its pair by the ARNs the service
    names -- not the first pair one by one and then the second (three more calls)."""
    engine.create(make_ctx(config_text()))
    aws.reset()
    assert changes(make_ctx, config_text()) == []
    before = [c for c in aws.calls if c[1] in ("DescribeTargetGroups", "DescribeServices")]
    engine.create(make_ctx(web()))  # move onto edge: pair 2
    aws.reset()
    assert changes(make_ctx, web()) == []
    after = [c for c in aws.calls if c[1] in ("DescribeTargetGroups", "DescribeServices")]
    assert len(after) <= len(before) + 1, (before, after)


def test_a_destroy_stopped_after_the_service_went_leaves_no_second_pair_behind(aws, make_ctx, clock):
    from test_crash import Crash
    from test_shared_lb import _target_groups, destroy

    engine.create(make_ctx(config_text()))
    engine.create(make_ctx(web()))  # moved onto edge: pair 2 (the last stack on it)
    assert _target_groups() == ["web-dev-blu2", "web-dev-grn2"]
    aws.injectors = [_DiesAt("DeleteTargetGroup")]
    with pytest.raises(Crash):
        destroy(make_ctx, web())
    aws.injectors = []
    result = destroy(make_ctx, web())
    assert not result.failed and not result.left
    assert _target_groups() == [] and all_load_balancers() == []


def test_a_move_whose_deployment_ecs_lists_late_moves_the_record_while_the_old_side_serves(aws, make_ctx, clock):
    """started_deployment() gives up after 60 s: create waits for a stable service, then moves the record."""
    from test_faults import ok

    engine.create(make_ctx(config_text()))
    engine.create(make_ctx(api()))
    updated = {"yes": False}
    seen: list[Any] = []

    def hide(service: str, operation: str, params: dict[str, Any]) -> Any:
        if operation == "UpdateService" and "loadBalancers" in params:
            updated["yes"] = True
        if operation == "ListServiceDeployments" and updated["yes"] and not seen:
            return ok({"serviceDeployments": []})
        if operation == "ChangeResourceRecordSets" and f"www.{ZONE}" in json.dumps(params, default=str):
            seen.append({"old_green": _healthy("web-dev-green"), "deployments": [d["status"] for d in _deployments()]})
        return None

    aws.injectors = [hide]
    engine.create(make_ctx(web()))
    aws.injectors = []
    assert seen and seen[0]["old_green"] >= 1, seen  # the old load balancer still had its tasks when the record moved


def test_a_stack_without_a_service_stopped_mid_move_leaves_no_load_balancer_behind(aws, make_ctx, clock):
    from test_crash import Crash
    from test_shared_lb import destroy

    engine.create(make_ctx(config_text()))
    client("ecs").delete_service(cluster="web-dev", service="web-dev", force=True)
    clock.sleep(900)
    aws.injectors = [_DiesAt("DeleteLoadBalancer")]
    with pytest.raises(Crash):
        engine.create(make_ctx(web()))
    aws.injectors = []
    clock.sleep(900)
    engine.create(make_ctx(web()))
    assert all_load_balancers() == ["edge"]  # the re-run finished the move: its own load balancer is gone
    destroy(make_ctx, web())
    assert all_load_balancers() == []


def test_a_move_to_a_third_load_balancer_before_the_first_is_finished_is_refused(aws, make_ctx):
    from ecsup.errors import ConfigError

    _moved_and_stopped(aws, make_ctx, "DescribeServiceDeployments")  # web-dev's service is on edge now
    elsewhere = config_text('\n[load_balancer]\nshared = "edge2"\n')
    aws.reset()
    with pytest.raises(ConfigError, match="web-dev's move from web-dev to edge is not finished") as refused:
        engine.create(make_ctx(elsewhere))
    assert refused.value.hint is not None and 'shared = "edge"' in refused.value.hint
    assert aws.mutating() == []
    engine.create(make_ctx(web()))  # finished as the hint says
    assert all_load_balancers() == ["edge"]


def test_the_strict_layer_refuses_a_target_group_on_a_second_load_balancer(aws, make_ctx):
    """What makes a move need a second pair: AWS answers TargetGroupAssociationLimit (moto accepts)."""
    engine.create(make_ctx(web()))
    elb = client("elbv2")
    blue = elb.describe_target_groups(Names=["web-dev-blue"])["TargetGroups"][0]["TargetGroupArn"]
    other = config_text(replace={'app = "web"': 'app = "zzz"', 'hostname = "www.': 'hostname = "zzz.'})
    engine.create(make_ctx(other))
    lb = elb.describe_load_balancers(Names=["zzz-dev"])["LoadBalancers"][0]["LoadBalancerArn"]
    [https] = [li for li in elb.describe_listeners(LoadBalancerArn=lb)["Listeners"] if li["Port"] == 443]
    with pytest.raises(Exception, match="TargetGroupAssociationLimit"):
        elb.create_rule(
            ListenerArn=https["ListenerArn"],
            Priority=5,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/x"]}}],
            Actions=[{"Type": "forward", "TargetGroupArn": blue}],
        )


class _KillInTheMove:
    """Kill the run before the k-th mutating call from the service's MOVE_TAG on (then every call
    fails). A call retried with the same parameters (DeleteSecurityGroup while the old load
    balancer's interfaces are released) is one crash point: a crash before any retry is the same."""

    def __init__(self, k: int, crashed_at: list[str]) -> None:
        self.k, self.crashed_at, self.n, self.on, self.dead = k, crashed_at, 0, False, False
        self.last: tuple[str, str] | None = None

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> None:
        from test_crash import Crash

        from ecsup.context import is_mutating

        if self.dead:
            raise Crash("dead process")
        if operation == "TagResource" and "ecsup:moving-from" in json.dumps(params, default=str):
            self.on = True
        call = (operation, json.dumps(params, sort_keys=True, default=str))
        if self.on and is_mutating(operation) and call != self.last:  # a retry of the same call: one point
            self.last = call
            self.n += 1
            if self.n == self.k:
                self.dead = True
                self.crashed_at.append(operation)
                raise Crash(f"killed before {operation}")


def test_a_move_stopped_before_any_call_from_the_service_s_change_on_is_finished_by_the_next_create(
    make_ctx, strict_aws, shared_clients
):
    """Own load balancer -> edge, killed right before each mutating call from the service's tag
    (MOVE_TAG, just before its UpdateService) to the end of the run: the deployment, the record,
    the old side's deletions, the tag's removal, the lock's release. The next create (run at once:
    the move's deployment may still be under way) ends where a whole move ends; the one after it
    changes nothing."""
    from moto import mock_aws, settings
    from test_crash import Crash, _fresh_account

    assert strict_aws.strict
    settings.ACM_VALIDATION_WAIT = 0
    recorder = Recorder()
    shared_clients(recorder)
    crashed_at: list[str] = []
    k = 0
    while True:
        k += 1
        kill = _KillInTheMove(k, crashed_at)
        with mock_aws():
            _fresh_account()
            engine.create(make_ctx(config_text()))
            recorder.injectors = [kill]
            with contextlib.suppress(Crash):
                engine.create(make_ctx(web()))
            recorder.injectors = []
            if not kill.dead:  # the whole move ran: every call of it was a crash point
                break
            engine.create(make_ctx(web()))  # at once
            where = f"after a crash before the move's call #{k} ({crashed_at[-1]})"
            assert all_load_balancers() == ["edge"], where
            assert _target_groups() == ["web-dev-blu2", "web-dev-grn2"], where
            assert aliases()[f"www.{ZONE}"] == shared_lb()["DNSName"].lower(), where
            svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"], include=["TAGS"])
            assert "ecsup:moving-from" not in {t["key"] for t in svc["services"][0].get("tags", [])}, where
            sg = client("ec2").describe_security_groups(GroupNames=["web-dev-tasks"])["SecurityGroups"][0]
            assert [p["GroupId"] for q in sg["IpPermissions"] for p in q["UserIdGroupPairs"]] == shared_lb()[
                "SecurityGroups"
            ], where
            recorder.reset()
            engine.create(make_ctx(web()))
            assert recorder.writes() == [], where
    assert {"UpdateService", "ChangeResourceRecordSets", "DeleteLoadBalancer", "UntagResource"} <= set(crashed_at)


def test_a_move_says_it_turns_the_old_load_balancer_s_deletion_protection_off(aws, make_ctx):
    engine.create(make_ctx(config_text("\n[load_balancer]\ndeletion_protection = true\n")))
    ctx = make_ctx(web())  # shared, so the key is gone from the config (the two are refused together)
    ctx.mode = "plan"
    [doomed] = [a for a in engine.make_plan(ctx).changes() if a.ref == "load balancer web-dev"]
    assert doomed.kind == "delete" and "its deletion protection is on: turned off first" in doomed.detail
    engine.create(make_ctx(web()))
    assert all_load_balancers() == ["edge"]
