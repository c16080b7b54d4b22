"""The network's layouts end to end: a stack on ecsup's own network with each egress other than
"public" (and ipv6, an internal load balancer) is built by `create` -- the network, what its egress
needs, the service in the private subnets without public IPv4 -- and `destroy` of the last stack
removes all of it, in an account without a default VPC."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Recorder, client, config_text

from ecsup import engine
from ecsup.sandbox import remove_default_vpc

PRIVATE_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1"
DUAL_STACK_IMAGE = "123456789012.dkr-ecr.eu-west-1.on.aws/web:1"


def layout(egress: str, extra: str = "") -> str:
    # egress "ipv6" needs a stack without secrets (SSM has no IPv6 endpoint: refused otherwise)
    replace = {'[service.secrets]\nDB_PASSWORD = "/web/dev/DB_PASSWORD"\n': ""} if egress == "ipv6" else {}
    if egress in ("endpoints", "ipv6"):  # no way to public.ecr.aws: the region's private ECR (dual-stack name for ipv6)
        image = PRIVATE_IMAGE if egress == "endpoints" else DUAL_STACK_IMAGE
        replace['image = "public.ecr.aws/nginx/nginx:stable"'] = f'image = "{image}"'
    return config_text(f'\n[network]\nshared = "main"\nipv6 = true\negress = "{egress}"\n' + extra, replace=replace)


def named(what: str) -> dict[str, str]:
    return {s["SubnetId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])}.get("Name", "") for s in what}


@pytest.mark.parametrize("egress", ["nat", "endpoints", "ipv6"])
def test_a_stack_on_each_private_egress_is_built_and_the_last_destroy_removes_the_network(
    aws: Recorder, make_ctx: Any, egress: str
) -> None:
    assert remove_default_vpc(client("ec2"))
    text = layout(egress)
    engine.create(make_ctx(text))

    ec2 = client("ec2")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:ecsup:network", "Values": ["main"]}])["Vpcs"]
    subnets = named(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"])
    service = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    # the tasks are in the private subnets, without a public IPv4
    assert network["assignPublicIp"] == "DISABLED"
    assert network["subnets"] and all("-private-" in subnets[s] for s in network["subnets"])
    # the load balancer stays in the public ones, dual-stack
    [lb] = client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"]
    assert lb["IpAddressType"] == "dualstack"
    assert all("-public-" in subnets[z["SubnetId"]] for z in lb["AvailabilityZones"])
    made = {
        "nat": lambda: [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"],
        "endpoints": lambda: ec2.describe_vpc_endpoints()["VpcEndpoints"],
        "ipv6": lambda: ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"],
    }[egress]
    assert made(), f"{egress}: nothing made for it"

    # a second create has nothing to do
    ctx = make_ctx(text)
    ctx.mode = "plan"
    assert engine.make_plan(ctx).changes() == []

    ctx = make_ctx(text)
    outcome = engine.plan_destroy(ctx)
    with engine.destroy_locked(ctx):
        engine.destroy(ctx, outcome)
    # nothing of the network is left: its NAT gateway's and endpoints' interfaces were not taken for
    # someone else's (which would keep it)
    assert ec2.describe_vpcs()["Vpcs"] == []
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    assert [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"] == []
    assert [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"] != "deleted"] == []
    assert ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"] == []


def test_an_internal_load_balancer_on_ecsup_s_network_is_in_the_tasks_private_subnets(
    aws: Recorder, make_ctx: Any
) -> None:
    assert remove_default_vpc(client("ec2"))
    engine.create(make_ctx(layout("nat", "\n[load_balancer]\ninternal = true\n")))
    ec2 = client("ec2")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:ecsup:network", "Values": ["main"]}])["Vpcs"]
    subnets = named(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"])
    [lb] = client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert lb["Scheme"] == "internal"
    assert all("-private-" in subnets[z["SubnetId"]] for z in lb["AvailabilityZones"])
