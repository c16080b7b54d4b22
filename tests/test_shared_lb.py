"""A load balancer shared by several stacks (issue 19): the shared part made by the first stack
and found by the next, one host rule per stack as ECS's production rule, releases that move only
their own rule, and leaving in either order (the shared part goes with the last)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ZONE, Recorder, client, config_text

from ecsup import deploy, engine
from ecsup.errors import ConfigError

IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"
SHARED = '\n[load_balancer]\nshared = "edge"\n'


def web(extra: str = "") -> str:
    return config_text(SHARED + extra)


def api(extra: str = "") -> str:
    return config_text(
        SHARED + extra, replace={'app = "web"': 'app = "api"', f'hostname = "www.{ZONE}"': f'hostname = "api.{ZONE}"'}
    )


def shared_lb() -> dict[str, Any] | None:
    lbs = [lb for lb in client("elbv2").describe_load_balancers()["LoadBalancers"]]
    return next((lb for lb in lbs if lb["LoadBalancerName"] == "edge"), None)


def all_load_balancers() -> list[str]:
    return sorted(lb["LoadBalancerName"] for lb in client("elbv2").describe_load_balancers()["LoadBalancers"])


def https_listener() -> dict[str, Any]:
    lb = shared_lb()
    assert lb is not None
    return next(
        li
        for li in client("elbv2").describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        if li["Port"] == 443
    )


def rules() -> dict[str, dict[str, Any]]:
    """The shared HTTPS listener's host rules by host name."""
    out = {}
    for r in client("elbv2").describe_rules(ListenerArn=https_listener()["ListenerArn"])["Rules"]:
        if r["IsDefault"]:
            continue
        host = r["Conditions"][0]["HostHeaderConfig"]["Values"][0]
        out[host] = r
    return out


def weights(rule: dict[str, Any]) -> dict[str, int]:
    groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


def changes(make_ctx: Any, text: str) -> list[Any]:
    ctx = make_ctx(text)
    ctx.mode = "plan"
    return engine.make_plan(ctx).changes()


def destroy(make_ctx: Any, text: str) -> engine.DestroyResult:
    ctx = make_ctx(text)
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        return engine.destroy(ctx, outcome)


@pytest.fixture
def two(aws: Recorder, make_ctx: Any) -> Recorder:
    engine.create(make_ctx(web()))
    engine.create(make_ctx(api()))
    aws.reset()
    return aws


def test_two_stacks_share_one_load_balancer_with_a_rule_each(two, make_ctx):
    assert all_load_balancers() == ["edge"]  # no own load balancer for either stack
    lb = shared_lb()
    tags = {
        t["Key"]: t["Value"]
        for t in client("elbv2").describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    }
    assert tags.get("ecsup:shared-lb") == "edge" and "ecsup:app" not in tags
    https = https_listener()
    assert https["DefaultActions"][0]["Type"] == "fixed-response"
    assert https["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    found = rules()
    assert sorted(found) == [f"api.{ZONE}", f"www.{ZONE}"]
    assert found[f"www.{ZONE}"]["Priority"] != found[f"api.{ZONE}"]["Priority"]
    # each rule is its service's production rule, and its first deployment made green live on it
    for app, host in (("web", f"www.{ZONE}"), ("api", f"api.{ZONE}")):
        svc = client("ecs").describe_services(cluster=f"{app}-dev", services=[f"{app}-dev"])["services"][0]
        adv = svc["loadBalancers"][0]["advancedConfiguration"]
        assert adv["productionListenerRule"] == found[host]["RuleArn"]
        assert weights(found[host]) == {f"{app}-dev-blue": 0, f"{app}-dev-green": 100}
    # the tasks admit the shared load balancer's security group
    sg = client("ec2").describe_security_groups(GroupNames=["api-dev-tasks"])["SecurityGroups"][0]
    assert [p["UserIdGroupPairs"][0]["GroupId"] for p in sg["IpPermissions"]] == lb["SecurityGroups"]
    # both hostnames alias the shared load balancer
    # re-run: nothing to change for either
    assert changes(make_ctx, web()) == []
    assert changes(make_ctx, api()) == []
