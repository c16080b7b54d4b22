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


def test_each_stack_deploys_and_rolls_back_moving_only_its_own_rule(two, make_ctx):
    before = rules()
    api_rule = before[f"api.{ZONE}"]

    result = deploy.deploy(make_ctx(web()), IMAGE_2)

    assert result.status == "SUCCESSFUL"
    after = rules()
    assert weights(after[f"www.{ZONE}"]) == {"web-dev-blue": 100, "web-dev-green": 0}  # web moved to blue
    assert after[f"api.{ZONE}"]["Actions"] == api_rule["Actions"]  # api's rule untouched
    assert {h: r["Priority"] for h, r in after.items()} == {h: r["Priority"] for h, r in before.items()}

    deploy.deploy(make_ctx(api()), IMAGE_2)
    after = rules()
    assert weights(after[f"api.{ZONE}"]) == {"api-dev-blue": 100, "api-dev-green": 0}
    assert weights(after[f"www.{ZONE}"]) == {"web-dev-blue": 100, "web-dev-green": 0}

    deploy.rollback(make_ctx(web()))
    after = rules()
    assert weights(after[f"www.{ZONE}"]) == {"web-dev-blue": 0, "web-dev-green": 100}
    assert weights(after[f"api.{ZONE}"]) == {"api-dev-blue": 100, "api-dev-green": 0}
    # neither stack's infrastructure takes ECS's weights back
    assert changes(make_ctx, web()) == [] and changes(make_ctx, api()) == []


@pytest.mark.parametrize("first", ["web", "api"])
def test_destroy_in_either_order_leaves_nothing_after_the_last(two, make_ctx, first):
    configs = {"web": web(), "api": api()}
    second = "api" if first == "web" else "web"
    host = {"web": f"www.{ZONE}", "api": f"api.{ZONE}"}

    result = destroy(make_ctx, configs[first])

    assert not result.failed and not result.left
    assert all_load_balancers() == ["edge"]  # the other stack still uses it
    assert sorted(rules()) == [host[second]]
    groups = [g["TargetGroupName"] for g in client("elbv2").describe_target_groups()["TargetGroups"]]
    assert sorted(groups) == [f"{second}-dev-blue", f"{second}-dev-green"]
    # the certificate that stays serves the remaining host; the one that left is gone from ACM
    certs = client("elbv2").describe_listener_certificates(ListenerArn=https_listener()["ListenerArn"])["Certificates"]
    assert certs and all(c["CertificateArn"] for c in certs)
    tagged = {
        c["CertificateArn"]: {
            t["Key"]: t["Value"]
            for t in client("acm").list_tags_for_certificate(CertificateArn=c["CertificateArn"])["Tags"]
        }
        for c in client("acm").list_certificates()["CertificateSummaryList"]
    }
    assert sorted(t.get("ecsup:app") for t in tagged.values()) == [second]
    assert {c["CertificateArn"] for c in certs} <= set(tagged)
    # the remaining stack is still as it should be
    assert changes(make_ctx, configs[second]) == []

    result = destroy(make_ctx, configs[second])

    assert not result.failed and not result.left
    assert all_load_balancers() == []
    assert client("elbv2").describe_target_groups()["TargetGroups"] == []
    names = [g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]]
    assert not [n for n in names if n.startswith("ecsup-shared") or n.endswith("-tasks")]
    assert client("acm").list_certificates()["CertificateSummaryList"] == []
    ssm = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    assert not [p for p in ssm if p.startswith("/ecsup/shared-lb/edge/lock")]
    # a second destroy changes nothing
    ctx = make_ctx(configs[second])
    assert [a for a in engine.plan_destroy(ctx).actions if a.mutates] == []
