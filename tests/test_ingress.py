"""Who may reach the service: `[load_balancer] allow_cidrs` (the own load balancer's security
group; on a shared one, a source-ip condition of the stack's rule), `internal` (the scheme, in the
tasks' subnets; a change refused in planning), `waf_acl` (a regional WAF web ACL associated with
the load balancer, with drift repair, and another's association left alone) -- on the strict layer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Recorder, client, config_text, explain, invoke
from test_real_aws_preflight import make_vpc, network, with_network

from ecsup import engine, status
from ecsup.config import parse
from ecsup.errors import EXIT_CONFIG, ConfigError
from ecsup.steps.ingress import WAF_TAG

V4, V6 = "203.0.113.0/24", "2001:db8::/32"
ALLOW = f'\n[load_balancer]\nallow_cidrs = ["{V4}", "{V6}"]\n'


def lb(name: str = "web-dev") -> dict[str, Any]:
    return dict(client("elbv2").describe_load_balancers(Names=[name])["LoadBalancers"][0])


def alb_group() -> dict[str, Any]:
    groups = client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web-dev-alb"]}])
    return dict(groups["SecurityGroups"][0])


def ingress(group: dict[str, Any]) -> set[tuple[int, int, str]]:
    out = set()
    for perm in group["IpPermissions"]:
        for r in perm.get("IpRanges", []):
            out.add((perm.get("FromPort", -1), perm.get("ToPort", -1), r["CidrIp"]))
        for r in perm.get("Ipv6Ranges", []):
            out.add((perm.get("FromPort", -1), perm.get("ToPort", -1), r["CidrIpv6"]))
    return out


def web_rules(*cidrs: str) -> set[tuple[int, int, str]]:
    return {(port, port, c) for port in (80, 443) for c in cidrs}


def planned(make_ctx: Any, text: str) -> list[Any]:
    ctx = make_ctx(text)
    ctx.mode = "plan"
    return engine.make_plan(ctx).changes()


# -- allow_cidrs on the stack's own load balancer ----------------------------------------------
def test_allow_cidrs_are_the_only_sources_of_the_load_balancers_group_and_drift_is_repaired(
    aws: Recorder, make_ctx: Any
) -> None:
    text = config_text(ALLOW)
    engine.create(make_ctx(text))
    group = alb_group()
    assert ingress(group) == web_rules(V4, V6)  # IPv4 and IPv6 each in their family, nothing from anywhere
    v4 = [r for p in group["IpPermissions"] for r in p.get("IpRanges", [])]
    v6 = [r for p in group["IpPermissions"] for r in p.get("Ipv6Ranges", [])]
    assert {r["CidrIp"] for r in v4} == {V4} and {r["CidrIpv6"] for r in v6} == {V6}
    assert planned(make_ctx, text) == []

    # drift: someone opens 443 to the world, removes 80 from the office, adds SSH
    ec2 = client("ec2")
    gid = group["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]},
        ],
    )
    ec2.revoke_security_group_ingress(
        GroupId=gid,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": V4}]}],
    )
    [change] = planned(make_ctx, text)
    assert change.resource == "security group" and change.name == "web-dev-alb"
    assert "tcp/443 from 0.0.0.0/0" in change.changes[0].old and f"tcp/80 from {V4}" in change.changes[0].new
    engine.create(make_ctx(text))
    assert ingress(alb_group()) == web_rules(V4, V6) | {(22, 22, "198.51.100.0/24")}  # SSH: not a web port

    # the allowlist removed: anyone again, the CIDR rules ecsup added gone
    engine.create(make_ctx(config_text()))
    assert ingress(alb_group()) == web_rules("0.0.0.0/0", "::/0") | {(22, 22, "198.51.100.0/24")}


def test_an_allowlist_past_the_security_group_quota_is_refused_in_planning(aws: Recorder, make_ctx: Any) -> None:
    # 29 CIDRs fit alone (58 rules); with the 3 rules someone added, 61: over EC2's 60 per family
    engine.create(make_ctx(config_text()))
    gid = alb_group()["GroupId"]
    client("ec2").authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]}
            for p in (22, 8080, 9000)
        ],
    )
    cidrs = [f"10.{i}.0.0/16" for i in range(29)]
    text = config_text(f"\n[load_balancer]\nallow_cidrs = {json.dumps(cidrs)}\n")
    aws.reset()
    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(text))
    assert err.value.problems[0][0] == "load_balancer.allow_cidrs" and "61 IPv4" in err.value.message
    assert aws.writes() == []
    # 31 IPv4 CIDRs cannot fit at all: the config says so before any AWS call
    with pytest.raises(ConfigError) as err:
        parse(config_text(f"\n[load_balancer]\nallow_cidrs = {json.dumps([f'10.{i}.0.0/16' for i in range(31)])}\n"))
    assert err.value.problems == [("load_balancer.allow_cidrs", err.value.problems[0][1])]
    assert "62 inbound rules" in err.value.message


# -- allow_cidrs on a shared load balancer -------------------------------------------------------
def test_on_a_shared_load_balancer_allow_cidrs_is_a_source_ip_condition_of_the_stacks_rule(
    aws: Recorder, make_ctx: Any
) -> None:
    from test_shared_lb import https_listener, shared_lb

    text = config_text(f'\n[load_balancer]\nshared = "edge"\nallow_cidrs = ["{V4}", "2001:DB8::/32"]\n')
    engine.create(make_ctx(text))

    def rule() -> dict[str, Any]:
        found = client("elbv2").describe_rules(ListenerArn=https_listener()["ListenerArn"])["Rules"]
        [mine] = [r for r in found if not r["IsDefault"]]
        return dict(mine)

    def conditions() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for c in rule()["Conditions"]:
            config = c.get("HostHeaderConfig") or c.get("SourceIpConfig") or {}
            out[c["Field"]] = sorted(config.get("Values", []))
        return out

    assert conditions() == {"host-header": ["www.test.example.com"], "source-ip": sorted([V4, V6])}
    # the shared part stays open to all: other stacks' clients come through it
    lb_groups = shared_lb()["SecurityGroups"]  # type: ignore[index]
    group = client("ec2").describe_security_groups(GroupIds=lb_groups)["SecurityGroups"][0]
    assert ingress(group) == web_rules("0.0.0.0/0", "::/0")
    assert planned(make_ctx, text) == []

    # drift: the source-ip condition removed by hand
    client("elbv2").modify_rule(
        RuleArn=rule()["RuleArn"],
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["www.test.example.com"]}}],
    )
    [change] = planned(make_ctx, text)
    assert change.resource == "listener rule" and any(c.attribute == "source-ip" for c in change.changes)
    engine.create(make_ctx(text))
    assert conditions()["source-ip"] == sorted([V4, V6])

    # the key removed: the rule serves anyone again
    engine.create(make_ctx(config_text('\n[load_balancer]\nshared = "edge"\n')))
    assert "source-ip" not in conditions()


# -- internal ------------------------------------------------------------------------------------
def test_an_internal_load_balancer_goes_in_the_tasks_private_subnets(aws: Recorder, make_ctx: Any) -> None:
    vpc = make_vpc()
    net = network(vpc.id, subnets=vpc.private, public_ip=False)
    text = with_network(net) + "\n[load_balancer]\ninternal = true\n"
    engine.create(make_ctx(text))
    found = lb("web-dev-int")  # its name says its scheme: a change of the key is a move to the other name
    assert found["Scheme"] == "internal"
    assert {az["SubnetId"] for az in found["AvailabilityZones"]} == set(vpc.private)  # no internet gateway there
    assert planned(make_ctx, text) == []
    # the hostname's record points at it as for any load balancer
    from conftest import zone_id

    records = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    [alias] = [r for r in records if r["Name"] == "www.test.example.com." and r["Type"] == "A"]
    assert alias["AliasTarget"]["DNSName"].rstrip(".").lower().endswith(found["DNSName"].lower())
    from test_destroy import destroy

    destroy(make_ctx(text))
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []


def test_changing_internal_on_a_live_stack_moves_it_to_a_new_load_balancer(aws: Recorder, make_ctx: Any) -> None:
    from conftest import ZONE
    from test_shared_lb import _WhenRecordMoves, aliases, all_load_balancers, changes

    engine.create(make_ctx(config_text()))
    group = alb_group()["GroupId"]
    internal = config_text("\n[load_balancer]\ninternal = true\n")
    ctx = make_ctx(internal)
    ctx.mode = "plan"
    plan = engine.make_plan(ctx)
    planned_ = {(a.kind, a.resource, a.name) for a in plan.changes()}
    assert {
        ("create", "load balancer", "web-dev-int"),
        ("create", "target group", "web-dev-blu2"),
        ("update", "ECS service", "web-dev"),
        ("update", "DNS record", f"www.{ZONE}"),
        ("delete", "load balancer", "web-dev"),
    } <= planned_, planned_
    assert ("delete", "security group", "web-dev-alb") not in planned_  # the new load balancer's too
    assert any(
        "moves from its own load balancer web-dev to its own load balancer web-dev-int" in n
        and "reachable only inside the VPC" in n
        and "new DNS name" in n
        for n in plan.notes
    ), plan.notes
    assert all_load_balancers() == ["web-dev"]  # planning changed nothing

    when = _WhenRecordMoves(("web-dev-blu2", "web-dev-grn2"), "web-dev-green")
    aws.injectors = [when]
    engine.create(make_ctx(internal))
    aws.injectors = []
    [moment] = when.seen  # the record moved once, while both load balancers served
    assert moment["load balancers"] == ["web-dev", "web-dev-int"], moment
    assert moment["new"]["web-dev-grn2"] >= 1 and moment["old"] >= 1, moment  # both served
    assert all_load_balancers() == ["web-dev-int"]
    new = client("elbv2").describe_load_balancers(Names=["web-dev-int"])["LoadBalancers"][0]
    assert new["Scheme"] == "internal" and new["SecurityGroups"] == [group]
    assert aliases()[f"www.{ZONE}"] == new["DNSName"].lower()
    tasks = client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web-dev-tasks"]}])
    sources = [p["GroupId"] for perm in tasks["SecurityGroups"][0]["IpPermissions"] for p in perm["UserIdGroupPairs"]]
    assert sources == [group]  # the tasks still admit the load balancer's group
    assert changes(make_ctx, internal) == []

    # and back: internet-facing again, under the stack's name
    engine.create(make_ctx(config_text()))
    assert all_load_balancers() == ["web-dev"] and lb()["Scheme"] == "internet-facing"
    assert aliases()[f"www.{ZONE}"] == lb()["DNSName"].lower()
    assert changes(make_ctx, config_text()) == []


# -- waf_acl -------------------------------------------------------------------------------------
def web_acl(name: str) -> str:
    return str(
        client("wafv2").create_web_acl(
            Name=name,
            Scope="REGIONAL",
            DefaultAction={"Allow": {}},
            VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name},
        )["Summary"]["ARN"]
    )


def associated() -> str:
    found = client("wafv2").get_web_acl_for_resource(ResourceArn=lb()["LoadBalancerArn"])
    return str((found.get("WebACL") or {}).get("ARN") or "")


def lb_tags() -> dict[str, str]:
    arn = lb()["LoadBalancerArn"]
    found = client("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def waf(arn: str) -> str:
    return f'\n[load_balancer]\nwaf_acl = "{arn}"\n'


def test_a_web_acl_is_associated_repaired_and_disassociated(aws: Recorder, make_ctx: Any) -> None:
    acl, other = web_acl("office"), web_acl("someone-elses")
    text = config_text(waf(acl))
    engine.create(make_ctx(text))
    assert associated() == acl and lb_tags()[WAF_TAG] == acl
    # WAF did not see the new load balancer at first (WAFUnavailableEntityException): retried
    assert aws.calls.count(("wafv2", "AssociateWebACL")) >= 2
    assert planned(make_ctx, text) == []

    # drift: another web ACL associated by hand (it replaces ours), then none
    client("wafv2").associate_web_acl(WebACLArn=other, ResourceArn=lb()["LoadBalancerArn"])
    [change] = planned(make_ctx, text)
    assert change.kind == "update" and change.changes[0].old == other and change.changes[0].new == acl
    engine.create(make_ctx(text))
    assert associated() == acl
    client("wafv2").disassociate_web_acl(ResourceArn=lb()["LoadBalancerArn"])
    [change] = planned(make_ctx, text)
    assert change.kind == "create" and change.resource == "web ACL association"
    engine.create(make_ctx(text))
    assert associated() == acl

    # status shows it where it shows the load balancer
    ctx = make_ctx(text)
    report = status.collect(ctx)
    [row] = [r for r in report.rows if r.resource == "load balancer"]
    assert "WAF: office" in row.detail and "clients: anyone" in row.detail and "internet-facing" in row.detail
    assert report.as_dict()["ingress"]["waf_acl"] == acl

    # removed from the config: disassociated, the record of it gone
    [change] = planned(make_ctx, config_text())
    assert change.kind == "delete" and change.resource == "web ACL association"
    engine.create(make_ctx(config_text()))
    assert associated() == "" and WAF_TAG not in lb_tags()
    assert planned(make_ctx, config_text()) == []


def test_a_web_acl_associated_outside_ecsup_is_left_alone_and_named(aws: Recorder, make_ctx: Any) -> None:
    acl, theirs = web_acl("office"), web_acl("security-team")
    engine.create(make_ctx(config_text()))
    client("wafv2").associate_web_acl(WebACLArn=theirs, ResourceArn=lb()["LoadBalancerArn"])
    aws.reset()
    engine.create(make_ctx(config_text()))  # no waf_acl, none of ecsup's: not touched, not even read
    assert associated() == theirs and ("wafv2", "DisassociateWebACL") not in aws.calls

    # ecsup associated one; then the security team put theirs instead, and the key is removed
    engine.create(make_ctx(config_text(waf(acl))))
    client("wafv2").associate_web_acl(WebACLArn=theirs, ResourceArn=lb()["LoadBalancerArn"])
    ctx = make_ctx(config_text())
    ctx.mode = "plan"
    outcome = engine.make_plan(ctx)
    assert not [a for a in outcome.changes() if a.kind == "delete"]
    assert any("security-team" in note and "left alone" in note for note in outcome.notes)
    engine.create(make_ctx(config_text()))
    assert associated() == theirs and WAF_TAG not in lb_tags()


def test_a_web_acl_that_does_not_exist_is_refused_before_any_change(
    aws: Recorder, make_ctx: Any, tmp_path: Any
) -> None:
    gone = web_acl("gone")
    client("wafv2").delete_web_acl(
        Name="gone",
        Scope="REGIONAL",
        Id=gone.split("/")[-1],
        LockToken=client("wafv2").get_web_acl(Name="gone", Scope="REGIONAL", Id=gone.split("/")[-1])["LockToken"],
    )
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(waf(gone)))
    aws.reset()
    result = invoke("create", "-c", str(path))
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert "load_balancer.waf_acl" in result.stderr and "does not exist" in result.stderr
    assert aws.writes() == []


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('allow_cidrs = ["203.0.113.0/33"]', "load_balancer.allow_cidrs[0]", "not a CIDR block"),
        ('allow_cidrs = ["203.0.113.7/24"]', "load_balancer.allow_cidrs[0]", "did you mean 203.0.113.0/24"),
        ('allow_cidrs = ["2001:db8::/32", "2001:DB8:0::/32"]', "load_balancer.allow_cidrs[1]", "already listed"),
        ("allow_cidrs = [24]", "load_balancer.allow_cidrs[0]", "must be a CIDR string"),
        ('waf_acl = "web-acl-1"', "load_balancer.waf_acl", "not a WAF web ACL ARN"),
        (
            'waf_acl = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/cf/1234abcd-12ab-34cd-56ef-1234567890ab"',
            "load_balancer.waf_acl",
            "CloudFront (global)",
        ),
        (
            'waf_acl = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/x/1234abcd-12ab-34cd-56ef-1234567890ab"',
            "load_balancer.waf_acl",
            "of its own region (eu-west-1)",
        ),
        ('shared = "edge"\ninternal = true', "load_balancer.internal", "shared"),
        (
            'shared = "edge"\nwaf_acl = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/'
            '1234abcd-12ab-34cd-56ef-1234567890ab"',
            "load_balancer.waf_acl",
            "shared",
        ),
        (
            'shared = "edge"\nallow_cidrs = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16", '
            '"10.5.0.0/16"]',
            "load_balancer.allow_cidrs",
            "at most 4",
        ),
        ('internal = "yes"', "load_balancer.internal", "true or false"),
    ],
)
def test_bad_ingress_keys_exit_2_naming_the_key_with_no_aws_call(
    extra: str, key: str, words: str, tmp_path: Any, recorder: Recorder
) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(f"\n[load_balancer]\n{extra}\n"))
    result = invoke("create", "-c", str(path))
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert key in result.stderr and words in result.stderr, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert recorder.calls == []


def test_internal_takes_the_tasks_subnets_not_alb_subnets() -> None:
    net = '\n[network]\nvpc_id = "vpc-1"\nsubnets = ["subnet-1", "subnet-2"]\nalb_subnets = ["subnet-3", "subnet-4"]\n'
    with pytest.raises(ConfigError) as err:
        parse(with_network(net) + "\n[load_balancer]\ninternal = true\n")
    assert [k for k, _ in err.value.problems] == ["network.alb_subnets"]
    cfg = parse(config_text(f'\n[load_balancer]\nallow_cidrs = ["203.0.113.5", "{V6}"]\n'))
    assert cfg.load_balancer.allow_cidrs == ("203.0.113.5/32", V6)  # normalised


def test_an_internal_load_balancer_costs_no_public_ipv4_address() -> None:
    from test_cost import cfg, line, table_prices

    from ecsup.cost import Usage, estimate

    public = line(estimate(cfg(), Usage(), table_prices()), "Public IPv4 addresses")
    internal = line(
        estimate(cfg("\n[load_balancer]\ninternal = true\n"), Usage(), table_prices()), "Public IPv4 addresses"
    )
    assert public.monthly_low == pytest.approx((3 + 1) * 730 * 0.005)  # eu-west-1: 3 zones + the task
    assert internal.monthly_low == pytest.approx(1 * 730 * 0.005)  # the task's only
    assert "load_balancer.internal" in internal.note


def test_a_stop_between_recording_and_associating_the_web_acl_converges(aws: Recorder, make_ctx: Any) -> None:
    from conftest import fail_first

    acl = web_acl("office")
    text = config_text(waf(acl))
    aws.injectors.append(fail_first("wafv2", "AssociateWebACL", "WAFInternalErrorException", 50))
    with pytest.raises(Exception):  # noqa: B017 -- AWS failed the association: the run stops
        engine.create(make_ctx(text))
    assert associated() == "" and lb_tags()[WAF_TAG] == acl  # recorded, not associated
    aws.injectors.clear()
    [change] = planned(make_ctx, text)
    assert change.kind == "create" and change.resource == "web ACL association"
    engine.create(make_ctx(text))
    assert associated() == acl


def test_the_quota_counts_each_family_and_group_sources_in_both() -> None:
    from ecsup.steps.network import rules_over_quota

    v4 = {("tcp", p, p, f"10.{i}.0.0/16") for i in range(30) for p in (80, 443)}  # 60 IPv4 rules
    v6 = {("tcp", p, p, f"2001:db8:{i}::/48") for i in range(30) for p in (80, 443)}  # 60 IPv6 rules
    assert rules_over_quota(v4 | v6) == ""  # 120 in all: 60 per family fits
    assert rules_over_quota(v4 | v6 | {("tcp", 22, 22, "sg-0123")}) == "61 IPv4, 61 IPv6"
    assert rules_over_quota(v4 | {("tcp", 22, 22, "198.51.100.0/24")}) == "61 IPv4"


def test_four_cidrs_fit_a_shared_rule_and_aws_refuses_a_fifth(aws: Recorder, make_ctx: Any) -> None:
    from botocore.exceptions import ClientError
    from test_shared_lb import https_listener

    cidrs = [f"10.{i}.0.0/16" for i in range(4)]
    engine.create(make_ctx(config_text(f'\n[load_balancer]\nshared = "edge"\nallow_cidrs = {json.dumps(cidrs)}\n')))
    [rule] = [
        r
        for r in client("elbv2").describe_rules(ListenerArn=https_listener()["ListenerArn"])["Rules"]
        if not r["IsDefault"]
    ]
    with pytest.raises(ClientError) as err:  # the hostname and 5 CIDRs: 6 condition values
        client("elbv2").modify_rule(
            RuleArn=rule["RuleArn"],
            Conditions=[
                {"Field": "host-header", "HostHeaderConfig": {"Values": ["www.test.example.com"]}},
                {"Field": "source-ip", "SourceIpConfig": {"Values": [*cidrs, "10.9.0.0/16"]}},
            ],
        )
    assert "5' condition values" in str(err.value)


@pytest.mark.parametrize("operation", ["UpdateService", "ChangeResourceRecordSets", "DeleteLoadBalancer"])
def test_an_internal_move_that_died_is_finished_by_the_next_create(
    aws: Recorder, make_ctx: Any, clock: Any, operation: str
) -> None:
    from test_crash import Crash
    from test_shared_lb import _DiesAt, all_load_balancers, changes

    engine.create(make_ctx(config_text()))
    internal = config_text("\n[load_balancer]\ninternal = true\n")
    aws.injectors = [_DiesAt(operation, "www" if operation == "ChangeResourceRecordSets" else "")]
    with pytest.raises(Crash):
        engine.create(make_ctx(internal))
    aws.injectors = []
    clock.sleep(600)  # a later run: the deployment the dead one started has ended meanwhile
    engine.create(make_ctx(internal))
    assert all_load_balancers() == ["web-dev-int"] and lb("web-dev-int")["Scheme"] == "internal"
    svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert "ecsup:moving-from" not in {t["key"] for t in svc.get("tags", [])}
    assert changes(make_ctx, internal) == []
