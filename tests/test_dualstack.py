"""[network] ipv6 on a network the user owns: a dual-stack load balancer, an alias AAAA beside the
alias A, its security group open to IPv6 too; refused before any change where the load balancer's
subnets have no IPv6 block (as AWS would refuse it half-way: the emulation does); drift of the
load balancer's IP address type repaired both ways; destroy removes the AAAA it wrote."""

from __future__ import annotations

import io
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import REGION, ZONE, change_records, client, config_text, explain, invoke, zone_id

from ecsup import engine
from ecsup.cli import run_destroy
from ecsup.errors import ConfigError, OwnershipConflict
from ecsup.render import ConsoleUI, make_console

HOST = f"www.{ZONE}."


@dataclass
class Vpc:
    id: str
    subnets: list[str]


def make_vpc(ipv6: bool = True) -> Vpc:
    """A public VPC as people build a dual-stack one: an Amazon-provided /56, an internet gateway
    with 0.0.0.0/0 and ::/0 routes, and two subnets each with a /64 (none with ipv6=False)."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16", AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc["VpcId"])
    table = ec2.create_route_table(VpcId=vpc["VpcId"])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    blocks: list[Any] = []
    if ipv6:
        ec2.create_route(RouteTableId=table, DestinationIpv6CidrBlock="::/0", GatewayId=igw)
        block = vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
        blocks = list(ipaddress.ip_network(block).subnets(new_prefix=64))[1:3]
    ids = []
    for i, az in enumerate("ab"):
        kwargs: dict[str, Any] = {"Ipv6CidrBlock": str(blocks[i])} if ipv6 else {}
        sid = ec2.create_subnet(
            VpcId=vpc["VpcId"], CidrBlock=f"10.60.{i + 1}.0/24", AvailabilityZone=f"{REGION}{az}", **kwargs
        )["Subnet"]["SubnetId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=sid)
        ids.append(sid)
    return Vpc(vpc["VpcId"], ids)


def with_network(vpc: Vpc, ipv6: bool = True, extra: str = "") -> str:
    net = f'\n[network]\nvpc_id = "{vpc.id}"\nsubnets = {json.dumps(vpc.subnets)}\nipv6 = {str(ipv6).lower()}\n'
    head, _, rest = config_text().partition("\n[service]")
    return head.replace('hostname = "www.', extra + 'hostname = "www.') + net + "\n[service]" + rest


def load_balancer() -> dict[str, Any]:
    return dict(client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0])


def records(kind: str) -> list[dict[str, Any]]:
    rrs = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    return [r for r in rrs if r["Name"].lower() == HOST and r["Type"] == kind]


def alias(kind: str) -> str:
    found = records(kind)
    assert len(found) == 1, found
    return str(found[0]["AliasTarget"]["DNSName"]).rstrip(".").lower()


def destroy(ctx: Any) -> dict[str, Any]:
    return run_destroy(ctx, ConsoleUI(make_console(io.StringIO()), interactive=False), False)


def test_dual_stack_load_balancer_with_a_and_aaaa_alias(aws, make_ctx):
    vpc = make_vpc()
    engine.create(make_ctx(with_network(vpc)))
    lb = load_balancer()
    assert lb["IpAddressType"] == "dualstack"
    dns = lb["DNSName"].lower()
    assert alias("A").removeprefix("dualstack.") == dns
    assert alias("AAAA") == f"dualstack.{dns}"  # what Route53 itself writes for an ELB alias
    # the load balancer's group admits 80/443 on both families; the tasks' group admits it (both families)
    ec2 = client("ec2")
    groups = {
        g["GroupName"]: g
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc.id]}])["SecurityGroups"]
    }
    alb_rules = {
        (p["FromPort"], r.get("CidrIp") or r.get("CidrIpv6"))
        for p in groups["web-dev-alb"]["IpPermissions"]
        for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", [])
    }
    assert alb_rules == {(port, src) for port in (80, 443) for src in ("0.0.0.0/0", "::/0")}
    tasks = groups["web-dev-tasks"]["IpPermissions"]
    assert [pair["GroupId"] for p in tasks for pair in p["UserIdGroupPairs"]] == [groups["web-dev-alb"]["GroupId"]]
    # a second run changes nothing
    ctx = make_ctx(with_network(vpc))
    ctx.mode = "plan"
    assert engine.make_plan(ctx).changes() == []


def test_ipv6_without_ipv6_subnets_is_refused_before_any_change(aws, make_ctx, tmp_path):
    vpc = make_vpc(ipv6=False)
    with pytest.raises(ConfigError) as err:
        engine.create(make_ctx(with_network(vpc)))
    assert err.value.problems[0][0] == "network.ipv6"
    assert all(s in err.value.message for s in vpc.subnets) and "IPv6 CIDR block" in err.value.message
    assert aws.mutating() == []
    # the CLI: exit 2, the subnets named, nothing changed -- the default VPC has no IPv6 block either
    path = tmp_path / "ecsup.toml"
    head, _, rest = config_text().partition("\n[service]")
    path.write_text(head + "\n[network]\nipv6 = true\n\n[service]" + rest)
    aws.reset()
    result = invoke("plan", "--config", str(path))
    assert result.exit_code == 2, explain(result)
    assert "network.ipv6" in result.output and "subnet-" in result.output and "Traceback" not in result.output
    assert aws.writes() == []


def test_aws_refuses_a_dual_stack_load_balancer_without_ipv6_subnets(aws):
    """The emulation: what AWS answers (ValidationError), which moto would not."""
    vpc = make_vpc(ipv6=False)
    elb = client("elbv2")
    with pytest.raises(elb.exceptions.ClientError) as err:
        elb.create_load_balancer(Name="x", Subnets=vpc.subnets, IpAddressType="dualstack")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    arn = elb.create_load_balancer(Name="x", Subnets=vpc.subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    with pytest.raises(elb.exceptions.ClientError) as err:
        elb.set_ip_address_type(LoadBalancerArn=arn, IpAddressType="dualstack")
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_ip_address_type_drift_is_repaired_both_ways(aws, make_ctx):
    vpc = make_vpc()
    engine.create(make_ctx(with_network(vpc)))
    elb = client("elbv2")
    elb.set_ip_address_type(LoadBalancerArn=load_balancer()["LoadBalancerArn"], IpAddressType="ipv4")  # by hand
    ctx = make_ctx(with_network(vpc))
    ctx.mode = "plan"
    changes = engine.make_plan(ctx).changes()
    assert [(a.resource, [(c.attribute, c.old, c.new) for c in a.changes]) for a in changes] == [
        ("load balancer", [("IP address type", "ipv4", "dualstack")])
    ]
    engine.create(make_ctx(with_network(vpc)))
    assert load_balancer()["IpAddressType"] == "dualstack"

    # ipv6 turned off: back to ipv4, and the AAAA ecsup wrote goes (the A stays)
    ctx = make_ctx(with_network(vpc, ipv6=False))
    ctx.mode = "plan"
    planned = {(a.kind, a.resource, a.name) for a in engine.make_plan(ctx).changes()}
    assert planned == {("update", "load balancer", "web-dev"), ("delete", "DNS record", f"www.{ZONE} AAAA")}
    engine.create(make_ctx(with_network(vpc, ipv6=False)))
    assert load_balancer()["IpAddressType"] == "ipv4"
    assert records("AAAA") == [] and len(records("A")) == 1


def test_ipv6_turned_on_later_adds_the_aaaa(aws, make_ctx):
    vpc = make_vpc()
    engine.create(make_ctx(with_network(vpc, ipv6=False)))
    assert load_balancer()["IpAddressType"] == "ipv4" and records("AAAA") == []
    engine.create(make_ctx(with_network(vpc)))
    assert load_balancer()["IpAddressType"] == "dualstack"
    assert alias("AAAA") == f"dualstack.{load_balancer()['DNSName'].lower()}"


def test_an_aaaa_that_is_not_ecsups_is_a_conflict(aws, make_ctx):
    vpc = make_vpc()
    change_records("CREATE", {"Name": HOST, "Type": "AAAA", "TTL": 60, "ResourceRecords": [{"Value": "2001:db8::1"}]})
    with pytest.raises(OwnershipConflict) as err:
        engine.create(make_ctx(with_network(vpc)))
    assert "AAAA" in err.value.message
    assert records("AAAA")[0]["ResourceRecords"] == [{"Value": "2001:db8::1"}]


def test_destroy_removes_the_aaaa_even_with_ipv6_turned_off(aws, make_ctx):
    vpc = make_vpc()
    engine.create(make_ctx(with_network(vpc)))
    assert records("AAAA") and records("A")
    destroy(make_ctx(with_network(vpc, ipv6=False)))
    assert records("AAAA") == [] and records("A") == []


def test_a_cname_needs_no_aaaa_and_the_plan_says_so(aws, make_ctx):
    vpc = make_vpc()
    ctx = make_ctx(with_network(vpc, extra='record = "cname"\n'))
    engine.create(ctx)
    assert load_balancer()["IpAddressType"] == "dualstack"
    assert records("AAAA") == [] and len(records("CNAME")) == 1
    assert any("no AAAA record to add" in note for note in ctx.notes)


def _on_shared(vpc: Vpc, ipv6: bool, app: str) -> str:
    text = with_network(vpc, ipv6=ipv6) + '\n[load_balancer]\nshared = "edge"\n'
    if app == "api":
        text = text.replace('app = "web"', 'app = "api"').replace(
            f'hostname = "www.{ZONE}"', f'hostname = "api.{ZONE}"'
        )
    return text


def test_a_shared_load_balancer_turns_dual_stack_when_a_stack_on_it_asks_and_stays(aws, make_ctx):
    vpc = make_vpc()
    engine.create(make_ctx(_on_shared(vpc, ipv6=False, app="web")))
    elb = client("elbv2")
    assert elb.describe_load_balancers(Names=["edge"])["LoadBalancers"][0]["IpAddressType"] == "ipv4"

    ctx = make_ctx(_on_shared(vpc, ipv6=True, app="api"))
    ctx.mode = "plan"
    planned = [
        (a.kind, [(c.attribute, c.old, c.new) for c in a.changes])
        for a in engine.make_plan(ctx).changes()
        if a.resource == "load balancer"
    ]
    assert planned == [("update", [("IP address type", "ipv4", "dualstack")])]
    engine.create(make_ctx(_on_shared(vpc, ipv6=True, app="api")))
    lb = elb.describe_load_balancers(Names=["edge"])["LoadBalancers"][0]
    assert lb["IpAddressType"] == "dualstack"
    rrs = client("route53").list_resource_record_sets(HostedZoneId=zone_id())["ResourceRecordSets"]
    aaaa = {r["Name"] for r in rrs if r["Type"] == "AAAA"}
    assert aaaa == {f"api.{ZONE}."}  # the stack with ipv6 only

    # the stack without ipv6 does not turn it back: it says so, and changes nothing
    ctx = make_ctx(_on_shared(vpc, ipv6=False, app="web"))
    ctx.mode = "plan"
    outcome = engine.make_plan(ctx)
    assert outcome.changes() == []
    assert any("shared load balancer edge is dualstack" in note for note in outcome.notes)


def test_status_reports_a_missing_aaaa_and_an_ipv4_load_balancer(aws, make_ctx):
    from ecsup import status

    vpc = make_vpc()
    engine.create(make_ctx(with_network(vpc)))
    change_records("DELETE", records("AAAA")[0])  # by hand
    client("elbv2").set_ip_address_type(LoadBalancerArn=load_balancer()["LoadBalancerArn"], IpAddressType="ipv4")
    rows = {(r.resource, r.name): r for r in status.collect(make_ctx(with_network(vpc))).rows}
    assert rows[("DNS record", f"www.{ZONE} AAAA")].state == status.MISSING
    assert rows[("load balancer", "web-dev")].state == status.DRIFT
    assert "IP address type" in rows[("load balancer", "web-dev")].detail
    assert rows[("DNS record", f"www.{ZONE}")].state == status.OK
