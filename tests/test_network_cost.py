"""`ecsup cost` prices the network ([network] egress, ipv6): the tasks' public IPv4 addresses and
what each egress saves of them, a NAT gateway's hours, Elastic IP and data, interface endpoints
per zone and their data, the free S3 gateway endpoint; a shared network's hours split among its
stacks; and the plan's cost line shows what a change of egress makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import BASE_CONFIG, config_text, explain, invoke

from ecsup import engine
from ecsup.config import Config, parse
from ecsup.cost import HOURS_PER_MONTH, Sharing, Usage, cents, estimate
from ecsup.prices import TABLE, shipped_prices

pytestmark = pytest.mark.usefixtures("plain_output")

REGION = "eu-west-1"
ROW = TABLE[REGION]
IPV4_MONTH = HOURS_PER_MONTH * ROW["public_ipv4_hour"]  # $3.65 an address


def cfg(egress: str = "public", extra: str = "") -> Config:
    # ecsup's own network: the private layouts need it ("ipv6" a dual-stack one)
    shared = "" if "shared" in extra else 'shared = "main"\n'
    ipv6 = "ipv6 = true\n" if egress == "ipv6" and "ipv6" not in extra else ""
    net = f'\n[network]\negress = "{egress}"\n{shared}{ipv6}' + extra
    head, _, rest = config_text().partition("\n[service]")
    return parse(head + net + "\n[service]" + rest)


def lines(config: Config, usage: Usage | None = None, network: Sharing | None = None) -> dict[str, Any]:
    est = estimate(config, usage or Usage(), shipped_prices(REGION), network_sharing=network)
    return {line.name: line for line in est.lines} | {"total": est.total_low}


def test_public_egress_bills_each_task_an_address_and_nothing_else() -> None:
    found = lines(cfg("public"))
    # the ALB's 3 default-subnet zones + the one task
    assert found["Public IPv4 addresses"].monthly_low == pytest.approx(4 * IPV4_MONTH)
    for name in ("NAT gateway hours", "VPC interface endpoints", "Public IPv4 saved", "Egress-only internet gateway"):
        assert name not in found


def test_ipv6_egress_saves_the_tasks_addresses_for_free() -> None:
    public, ipv6 = lines(cfg("public")), lines(cfg("ipv6"))
    assert ipv6["Public IPv4 addresses"].monthly_low == pytest.approx(3 * IPV4_MONTH)  # the ALB's only
    assert ipv6["Egress-only internet gateway"].monthly_low == 0.0
    saved = ipv6["Public IPv4 saved"]
    assert saved.monthly_low == 0.0 and "$3.65 a month less" in saved.note
    # the total: the task's address, and its address during deployments' overlap (the new tasks' too)
    overlap = (
        public["Deployment overlap (blue/green)"].monthly_low - ipv6["Deployment overlap (blue/green)"].monthly_low
    )
    assert overlap > 0
    assert public["total"] - ipv6["total"] == pytest.approx(IPV4_MONTH + overlap, abs=0.011)


def test_nat_egress_bills_hours_its_address_and_the_assumed_data() -> None:
    found = lines(cfg("nat"), Usage(network_gb_per_month=50))
    hours = found["NAT gateway hours"]
    assert hours.monthly_low == pytest.approx(HOURS_PER_MONTH * ROW["nat_gateway_hour"])  # $35.04 in eu-west-1
    assert hours.unit_price == "$0.048/h"
    data = found["NAT gateway data processed"]
    assert data.quantity == "50 GB" and data.monthly_low == pytest.approx(50 * ROW["nat_gateway_gb"])
    assert "--network-gb-per-month" in data.note
    # the tasks' address goes, the NAT gateway's Elastic IP comes: 3 + 1
    assert found["Public IPv4 addresses"].monthly_low == pytest.approx(4 * IPV4_MONTH)
    assert "NAT gateway" in found["Public IPv4 addresses"].quantity


def test_endpoints_egress_bills_each_endpoint_per_zone_and_s3_is_free() -> None:
    found = lines(cfg("endpoints"))
    endpoints = found["VPC interface endpoints"]
    # ecr.api, ecr.dkr, logs, ssm (the stack has a secret) in the network's 3 zones
    assert "4 endpoints (ecr.api, ecr.dkr, logs, ssm) x 3 zones" in endpoints.quantity
    assert endpoints.monthly_low == pytest.approx(4 * 3 * HOURS_PER_MONTH * ROW["vpc_endpoint_hour"])
    assert found["VPC endpoints data processed"].monthly_low == pytest.approx(10 * ROW["vpc_endpoint_gb"])
    assert found["S3 gateway endpoint"].monthly_low == 0.0
    assert "NAT gateway hours" not in found


def test_a_shared_network_splits_its_hours_not_each_stacks_data() -> None:
    alone = lines(cfg("nat"))
    shared = lines(cfg("nat"), network=Sharing("main", 4, ("a-dev", "b-dev", "c-dev"), what="ecsup's network"))
    assert shared["NAT gateway hours"].monthly_low == pytest.approx(alone["NAT gateway hours"].monthly_low / 4)
    assert (
        "/ 4 stacks" in shared["NAT gateway hours"].quantity
        and "ecsup's network main" in shared["NAT gateway hours"].note
    )
    assert shared["NAT gateway data processed"].monthly_low == alone["NAT gateway data processed"].monthly_low
    # its Elastic IP too: a quarter of an address
    assert shared["Public IPv4 addresses"].monthly_low == pytest.approx(3.25 * IPV4_MONTH)


def test_every_layout_total_is_the_sum_of_its_lines() -> None:
    totals = {}
    for egress in ("public", "ipv6", "nat", "endpoints"):
        est = estimate(cfg(egress), Usage(), shipped_prices(REGION))
        assert est.total_low == cents(sum(cents(line.monthly_low) for line in est.lines))
        totals[egress] = est.total_low
    assert totals["ipv6"] < totals["public"] < totals["endpoints"] and totals["public"] < totals["nat"]


def test_the_cli_prices_the_network_with_the_assumed_gb(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    head, _, rest = BASE_CONFIG.partition("\n[service]")
    path.write_text(head + '\n[network]\nshared = "main"\negress = "nat"\n\n[service]' + rest)
    result = invoke("cost", "--config", str(path), "--offline", "--network-gb-per-month", "100", "--json")
    assert result.exit_code == 0, explain(result)
    import json

    doc = json.loads(result.stdout)
    items = {i["item"]: i for i in doc["items"]}
    assert items["NAT gateway data processed"]["monthly"] == cents(100 * ROW["nat_gateway_gb"])
    assert any("100 GB a month through the NAT gateway" in a for a in doc["assumptions"])


PRIVATE_ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1"


def own_network(egress: str) -> str:
    # "ipv6" is refused with a secret (SSM has no IPv6 endpoint in the region)
    base = BASE_CONFIG.replace('[service.secrets]\nDB_PASSWORD = "/web/dev/DB_PASSWORD"\n', "")
    # an image the layout can pull: ECR's dual-stack name for "ipv6", the region's private ECR else
    image = "123456789012.dkr-ecr.eu-west-1.on.aws/web:1" if egress == "ipv6" else PRIVATE_ECR_IMAGE
    base = base.replace('image = "public.ecr.aws/nginx/nginx:stable"', f'image = "{image}"')
    head, _, rest = base.partition("\n[service]")
    return head + f'\n[network]\nshared = "main"\nipv6 = true\negress = "{egress}"\n\n[service]' + rest


def test_the_plan_shows_what_egress_public_to_ipv6_saves(aws, make_ctx):
    engine.create(make_ctx(own_network("public")))
    ctx = make_ctx(own_network("ipv6"))
    ctx.mode = "plan"
    outcome = engine.make_plan(ctx)
    change = engine.cost_change(ctx, outcome)
    assert change is not None
    assert change["network"]["egress"] == {"before": "public", "after": "ipv6"}
    assert change["delta"] == -cents(IPV4_MONTH)  # the one task's public address
    assert change["network"]["before"] - change["network"]["after"] == pytest.approx(cents(IPV4_MONTH), abs=0.01)
    text = engine.cost_line(change)
    assert "network (egress public -> ipv6)" in text and "-$3.65 a month" in text

    # no change of egress: no network part (and nothing else changed: no cost line at all)
    ctx = make_ctx(own_network("public"))
    ctx.mode = "plan"
    assert engine.cost_change(ctx, engine.make_plan(ctx)) is None


def test_the_stacks_on_a_shared_network_are_counted_by_their_tasks_groups(aws, make_ctx, monkeypatch):
    from conftest import client

    from ecsup.steps import network_sharing as module

    monkeypatch.setattr(module, "network_name", lambda ctx: "main")  # [network] shared = "main" (the net part's key)
    ctx = make_ctx()
    assert module.network_sharing(ctx) == Sharing("main", 1, what="ecsup's network")  # no network yet
    assert module.network_sharing(ctx, offline=True).known is False
    ec2 = client("ec2")
    vpc = ec2.create_vpc(
        CidrBlock="10.70.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "ecsup:network", "Value": "main"}]}],
    )["Vpc"]["VpcId"]
    other = ec2.create_vpc(CidrBlock="10.71.0.0/16")["Vpc"]["VpcId"]
    for name, where, tagged in (
        ("api-dev-tasks", vpc, True),
        ("web-dev-tasks", vpc, True),  # this stack: counted once
        ("jobs-prd-tasks", other, True),  # on another network
        ("someone-tasks", vpc, False),  # not ecsup's
    ):
        tags = [{"Key": "ecsup:app", "Value": name.split("-")[0]}, {"Key": "ecsup:env", "Value": name.split("-")[1]}]
        ec2.create_security_group(
            GroupName=name,
            Description="x",
            VpcId=where,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": tags if tagged else [{"Key": "x", "Value": "y"}]}
            ],
        )
    # api-dev has no service: counted as private; this stack (egress "public") pays none of the parts
    found = module.network_sharing(ctx)
    assert found is not None and (found.stacks, found.others, found.nats) == (1, ("api-dev",), 0)


def test_the_plan_prices_nat_to_endpoints_from_what_is_live_and_the_nat_stays_billed(aws, make_ctx):
    # the network's step reads the live layout (egress_live) and the network's parts (network_sharing):
    # the NAT gateway is kept on the network, so the change adds the endpoints and removes nothing
    engine.create(make_ctx(own_network("nat")))
    ctx = make_ctx(own_network("endpoints"))
    ctx.mode = "plan"
    outcome = engine.make_plan(ctx)
    assert ctx.facts["egress_live"] == "nat"
    change = engine.cost_change(ctx, outcome)
    assert change is not None and change["network"]["egress"] == {"before": "nat", "after": "endpoints"}
    endpoints = 3 * 3 * HOURS_PER_MONTH * ROW["vpc_endpoint_hour"]  # ecr.api, ecr.dkr, logs in 3 zones
    gb = Usage().network_gb_per_month  # the assumed data goes through the endpoints instead of the NAT
    data = gb * (ROW["vpc_endpoint_gb"] - ROW["nat_gateway_gb"])
    assert change["network"]["after"] - change["network"]["before"] == pytest.approx(endpoints + data, abs=0.02)
    nat = HOURS_PER_MONTH * (ROW["nat_gateway_hour"] + ROW["public_ipv4_hour"])
    assert f"the NAT gateway stays on network main (other stacks may use it) and bills ${nat:,.2f} a month" in " ".join(
        outcome.notes
    )
    # `ecsup cost` and the plan agree: the plan's total is the estimate's with the network as it is
    from ecsup.steps.network_sharing import network_sharing

    est = estimate(ctx.config, Usage(0, 0, 0), shipped_prices(REGION), network_sharing=network_sharing(ctx))
    assert change["after"] == est.total_low


def test_a_kept_nat_gateway_is_priced_after_nat_to_public() -> None:
    # the network keeps its NAT gateway until it is deleted: with no private stack on it, the stacks
    # on it pay for it (here this one alone), on a line that says it is kept
    kept = Sharing("main", 1, what="ecsup's network", nats=1)
    found = lines(cfg("public"), network=kept)
    assert found["NAT gateway hours"].monthly_low == pytest.approx(HOURS_PER_MONTH * ROW["nat_gateway_hour"])
    assert "kept: the NAT gateway stays on network main" in found["NAT gateway hours"].note
    assert "NAT gateway data processed" not in found  # no traffic of this stack goes through it
