"""`ecsup cost`: the pure arithmetic (config + usage + prices -> line items), the price
sources (the AWS Price List API with its disk cache, stubbed here; the shipped table), and
the command through typer's CliRunner. No test reaches the network: every pricing call is
answered in-process (a botocore before-call handler or Stubber)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import BASE_CONFIG, Recorder, aws_error, config_text, explain, fresh_client, invoke

from ecsup import cost as cost_module
from ecsup import prices as prices_module
from ecsup.config import Config, parse
from ecsup.cost import (
    DAYS_PER_MONTH,
    DRAIN_MINUTES,
    HOURS_PER_MONTH,
    TASK_START_MINUTES,
    Usage,
    estimate,
    lcu_per_hour,
    monthly_compute,
    overlap_minutes,
    task_split,
)
from ecsup.errors import EXIT_CONFIG
from ecsup.prices import (
    CACHE_MAX_AGE,
    SPOT_DISCOUNT,
    TABLE,
    TABLE_DATE,
    Prices,
    UnknownRegion,
    choose_prices,
    fetch_prices,
    parse_price_item,
    read_cache,
    shipped_prices,
)

pytestmark = pytest.mark.usefixtures("plain_output")

REGION = "eu-west-1"
NOW = 1_795_000_000.0  # 2026-11-18, a fixed "now" for the cache
LINE_NAMES = [
    "Fargate compute",
    "Load balancer hours",
    "Load balancer LCUs",
    "Public IPv4 addresses",
    "CloudWatch Logs ingestion",
    "CloudWatch Logs storage",
    "Route 53 hosted zone",
    "ACM certificates",
    "SSM parameters and KMS key",
    "Deployment overlap (blue/green)",
    "CloudWatch deployment alarms",
]


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test writes the user's ~/.cache."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("ECSUP_CACHE_DIR", str(directory))
    return directory


def cfg(extra: str = "", replace: dict[str, str] | None = None, service: str = "") -> Config:
    """The tests' base config; ``service`` lines go into [service], ``extra`` sections at the end."""
    changes = dict(replace or {})
    if service:
        changes['health_check_path = "/health"'] = f'health_check_path = "/health"\n{service}'
    return parse(config_text(extra, replace=changes))


def table_prices(region: str = REGION) -> Prices:
    return shipped_prices(region)


def line(est: Any, name: str) -> Any:
    return next(item for item in est.lines if item.name == name)


# -- the shipped table ---------------------------------------------------------------------------
def test_the_table_covers_the_five_regions_with_every_price() -> None:
    assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1"} <= set(TABLE)
    for region, row in TABLE.items():
        assert set(row) == set(prices_module.REQUIRED) | set(prices_module.OPTIONAL), region
        assert all(value > 0 for value in row.values()), region
        # Graviton is 20% below x86 in every region AWS publishes
        assert row["fargate_arm_vcpu_hour"] / row["fargate_vcpu_hour"] == pytest.approx(0.8, abs=0.001)
        assert row["fargate_arm_gb_hour"] / row["fargate_gb_hour"] == pytest.approx(0.8, abs=0.002)
    # the figures STACK.md gives
    assert TABLE["us-east-1"]["fargate_vcpu_hour"] == 0.04048
    assert TABLE["us-east-1"]["fargate_arm_gb_hour"] == 0.00356
    assert TABLE["ap-northeast-1"]["alb_hour"] == 0.0243
    assert TABLE["ap-northeast-1"]["logs_ingest_gb"] == 0.76
    assert (TABLE["us-east-1"]["nat_gateway_hour"], TABLE["us-east-1"]["vpc_endpoint_hour"]) == (0.045, 0.01)


def test_shipped_prices_say_where_they_come_from() -> None:
    prices = shipped_prices("us-east-1")
    assert prices.kind == "table" and prices.date == TABLE_DATE
    assert prices.source_line.startswith(f"prices: table shipped with ecsup, taken {TABLE_DATE} from ")


def test_an_unknown_region_offline_names_the_regions_the_table_has() -> None:
    with pytest.raises(UnknownRegion) as caught:
        choose_prices("sa-east-1", offline=True)
    assert caught.value.exit_code == EXIT_CONFIG
    assert "'sa-east-1'" in caught.value.message
    assert all(region in caught.value.message for region in TABLE)


# -- compute -------------------------------------------------------------------------------------
def test_doubling_desired_count_doubles_the_compute_item_exactly() -> None:
    one = estimate(cfg(replace={"desired_count = 1": "desired_count = 3"}), Usage(), table_prices())
    two = estimate(cfg(replace={"desired_count = 1": "desired_count = 6"}), Usage(), table_prices())
    assert line(two, "Fargate compute").monthly_low == 2 * line(one, "Fargate compute").monthly_low
    # 0.5 vCPU + 1 GB, x86, eu-west-1, 730 h
    assert line(one, "Fargate compute").monthly_low == pytest.approx(3 * 730 * (0.5 * 0.04048 + 1 * 0.004445))


@pytest.mark.parametrize("region", sorted(TABLE))
def test_arm64_is_cheaper_than_x86_by_the_tables_ratio(region: str) -> None:
    prices = table_prices(region)
    row = TABLE[region]
    x86 = monthly_compute(region, 1024, 2048, 2, "X86_64", "FARGATE", 1, 0, prices)
    arm = monthly_compute(region, 1024, 2048, 2, "ARM64", "FARGATE", 1, 0, prices)
    expected = (row["fargate_arm_vcpu_hour"] + 2 * row["fargate_arm_gb_hour"]) / (
        row["fargate_vcpu_hour"] + 2 * row["fargate_gb_hour"]
    )
    assert arm < x86
    assert arm / x86 == pytest.approx(expected)


def test_arm64_config_prices_the_arm_rates() -> None:
    arm = estimate(cfg(service='cpu_architecture = "ARM64"'), Usage(), table_prices())
    fargate = line(arm, "Fargate compute")
    assert fargate.monthly_low == pytest.approx(730 * (0.5 * 0.03238 + 1 * 0.00356))
    assert "Linux/ARM64" in fargate.note and "$0.03238/vCPU-h" in fargate.unit_price


def test_spot_is_estimated_at_70_percent_below_on_demand_and_says_so() -> None:
    prices = table_prices()
    on_demand = monthly_compute(REGION, 512, 1024, 4, "X86_64", "FARGATE", 1, 0, prices)
    spot = monthly_compute(REGION, 512, 1024, 4, "X86_64", "FARGATE_SPOT", 1, 0, prices)
    assert spot == pytest.approx(on_demand * (1 - SPOT_DISCOUNT))
    est = estimate(cfg(service='capacity = "FARGATE_SPOT"'), Usage(), prices)
    assert "70% below on demand" in line(est, "Fargate compute").note
    assert any("70% below on demand" in text for text in est.assumptions)


def test_published_spot_prices_win_over_the_estimate() -> None:
    prices = replace(table_prices(), spot_vcpu_hour=0.02, spot_gb_hour=0.002)
    spot = monthly_compute(REGION, 1024, 1024, 1, "X86_64", "FARGATE_SPOT", 1, 0, prices)
    assert spot == pytest.approx(730 * (0.02 + 0.002))
    assert "published Spot price" in prices.spot_basis("X86_64")
    assert "70% below" in prices.spot_basis("ARM64")  # no published ARM Spot price: estimated


@pytest.mark.parametrize(
    ("count", "capacity", "base", "percent", "split"),
    [
        (4, "FARGATE", 1, 0, (4, 0)),
        (4, "FARGATE_SPOT", 1, 0, (0, 4)),
        (5, "mixed", 1, 0, (1, 4)),  # one on demand, the rest Spot
        (5, "mixed", 1, 25, (2, 3)),  # 1 + 25% of 4
        (5, "mixed", 2, 100, (5, 0)),
        (1, "mixed", 3, 0, (1, 0)),  # the base is more than the count
        (0, "mixed", 1, 50, (0, 0)),
    ],
)
def test_task_split(count: int, capacity: str, base: int, percent: int, split: tuple[float, float]) -> None:
    assert task_split(count, capacity, base, percent) == pytest.approx(split)


def test_mixed_capacity_prices_each_part_at_its_rate() -> None:
    prices = table_prices()
    per_task_on_demand = monthly_compute(REGION, 512, 1024, 1, "X86_64", "FARGATE", 1, 0, prices)
    per_task_spot = monthly_compute(REGION, 512, 1024, 1, "X86_64", "FARGATE_SPOT", 1, 0, prices)
    mixed = monthly_compute(REGION, 512, 1024, 5, "X86_64", "mixed", 1, 25, prices)
    assert mixed == pytest.approx(2 * per_task_on_demand + 3 * per_task_spot)
    est = estimate(
        cfg(
            service='capacity = "mixed"\non_demand_base = 1\non_demand_percent = 25',
            replace={"desired_count = 1": "desired_count = 5"},
        ),
        Usage(),
        prices,
    )
    fargate = line(est, "Fargate compute")
    assert fargate.monthly_low == pytest.approx(mixed)
    assert "2 on demand + 3 Spot" in fargate.note


def test_monthly_compute_refuses_another_regions_prices() -> None:
    with pytest.raises(ValueError, match="eu-west-1"):
        monthly_compute("us-east-1", 256, 512, 1, "X86_64", "FARGATE", 1, 0, table_prices())


AUTOSCALING = "\n[service.autoscaling]\nmin = 2\nmax = 8\ncpu_target = 60\n"


def test_autoscaling_makes_the_compute_line_and_the_total_a_range() -> None:
    prices = table_prices()
    est = estimate(cfg(AUTOSCALING), Usage(), prices)
    fargate = line(est, "Fargate compute")
    assert fargate.monthly_low == pytest.approx(
        monthly_compute(REGION, 512, 1024, 2, "X86_64", "FARGATE", 1, 0, prices)
    )
    assert fargate.monthly_high == pytest.approx(4 * fargate.monthly_low)
    assert fargate.is_range and "2 to 8 tasks" in fargate.quantity
    assert est.is_range and est.total_high > est.total_low
    doc = est.as_dict()
    assert doc["total_high"] == est.total_high
    assert " to " in est.total_text
    # the task addresses and the deployment overlap follow the task count too
    assert line(est, "Public IPv4 addresses").is_range
    assert line(est, "Deployment overlap (blue/green)").is_range


def test_without_autoscaling_there_is_no_range() -> None:
    est = estimate(cfg(), Usage(), table_prices())
    assert not est.is_range and "total_high" not in est.as_dict()
    assert all(not item.is_range for item in est.lines)


# -- load balancer -------------------------------------------------------------------------------
def test_load_balancer_hours_and_lcus() -> None:
    prices = table_prices()
    est = estimate(cfg(), Usage(requests_per_month=1_000_000), prices)
    assert line(est, "Load balancer hours").monthly_low == pytest.approx(730 * 0.0252)
    lcu, dimension = lcu_per_hour(Usage(requests_per_month=1_000_000))
    # 1,000,000 x 20 KB = 20 GB a month: 0.0274 GB an hour beats 0.38 new connections a second / 25
    assert dimension == "processed bytes"
    assert lcu == pytest.approx(20 / 730)
    assert line(est, "Load balancer LCUs").monthly_low == pytest.approx(20 * 0.008)
    ten_times = estimate(cfg(), Usage(requests_per_month=10_000_000), prices)
    assert line(ten_times, "Load balancer LCUs").monthly_low == pytest.approx(10 * 20 * 0.008)
    idle = estimate(cfg(), Usage(requests_per_month=0), prices)
    assert line(idle, "Load balancer LCUs").monthly_low == 0


def test_small_requests_make_new_connections_the_lcu_dimension() -> None:
    lcu, dimension = lcu_per_hour(Usage(requests_per_month=2_628_000, kb_per_request=1))  # 1 request a second
    assert dimension == "new connections"
    assert lcu == pytest.approx(1 / 25)


# -- public IPv4 ---------------------------------------------------------------------------------
def test_public_ipv4_one_per_alb_zone_plus_one_per_task() -> None:
    prices = table_prices()
    est = estimate(cfg(replace={"desired_count = 1": "desired_count = 2"}), Usage(), prices)
    ipv4 = line(est, "Public IPv4 addresses")
    assert ipv4.monthly_low == pytest.approx((3 + 2) * 730 * 0.005)  # eu-west-1: 3 default subnets
    assert "5 addresses" in ipv4.quantity


def test_public_ipv4_without_assign_public_ip_counts_only_the_alb() -> None:
    net = (
        '\n[network]\nvpc_id = "vpc-0123"\nsubnets = ["subnet-0a", "subnet-0b"]\n'
        'alb_subnets = ["subnet-1a", "subnet-1b"]\nassign_public_ip = false\n'
    )
    config = cfg(net, replace={"desired_count = 1": "desired_count = 4"})
    ipv4 = line(estimate(config, Usage(), table_prices()), "Public IPv4 addresses")
    assert ipv4.monthly_low == pytest.approx(2 * 730 * 0.005)
    assert "tasks have none" in ipv4.note and "network.alb_subnets" in ipv4.note


def test_public_ipv4_default_subnets_per_region() -> None:
    us_east = estimate(
        cfg(replace={'region = "eu-west-1"': 'region = "us-east-1"'}), Usage(), table_prices("us-east-1")
    )
    assert line(us_east, "Public IPv4 addresses").monthly_low == pytest.approx((6 + 1) * 730 * 0.005)
    elsewhere = replace(table_prices(), region="sa-east-1")  # as the API would give them
    assumed = estimate(cfg(replace={'region = "eu-west-1"': 'region = "sa-east-1"'}), Usage(), elsewhere)
    assert line(assumed, "Public IPv4 addresses").monthly_low == pytest.approx((3 + 1) * 730 * 0.005)
    assert "3 zones assumed for sa-east-1" in line(assumed, "Public IPv4 addresses").note


# -- logs ----------------------------------------------------------------------------------------
def test_logs_ingestion_and_storage_for_the_retention() -> None:
    config = cfg(replace={"desired_count = 1": "desired_count = 1\nlog_retention_days = 90"})
    est = estimate(config, Usage(log_gb_per_month=10), table_prices())
    assert line(est, "CloudWatch Logs ingestion").monthly_low == pytest.approx(10 * 0.57)
    stored = 10 * 90 / DAYS_PER_MONTH
    assert line(est, "CloudWatch Logs storage").monthly_low == pytest.approx(stored * 0.03)
    assert "90-day retention" in line(est, "CloudWatch Logs storage").quantity
    none = estimate(config, Usage(log_gb_per_month=0), table_prices())
    assert line(none, "CloudWatch Logs ingestion").monthly_low == 0


# -- free and fixed lines ------------------------------------------------------------------------
def test_route53_certificates_and_secrets() -> None:
    est = estimate(cfg(), Usage(), table_prices())
    zone = line(est, "Route 53 hosted zone")
    assert zone.monthly_low == 0.50 and "alias A record" in zone.note and "free" in zone.note
    assert line(est, "ACM certificates").monthly_low == 0 and line(est, "ACM certificates").unit_price == "free"
    secrets = line(est, "SSM parameters and KMS key")
    assert secrets.monthly_low == 0 and "1 SecureString parameter" in secrets.quantity
    cname = estimate(cfg(replace={'hostname = "www.': 'record = "cname"\nhostname = "www.'}), Usage(), table_prices())
    assert "CNAME record are billed" in line(cname, "Route 53 hosted zone").note
    cloudfront = estimate(
        cfg(replace={'hostname = "www.': 'cloudfront_certificate = true\nhostname = "www.'}), Usage(), table_prices()
    )
    assert line(cloudfront, "ACM certificates").quantity.startswith("2 ")


# -- deployments ---------------------------------------------------------------------------------
def _overlap(est: Any) -> Any:
    return next(item for item in est.lines if item.name.startswith("Deployment overlap"))


def test_blue_green_overhead_scales_with_deploys_and_bake_minutes() -> None:
    prices = table_prices()
    config = cfg(replace={"desired_count = 1": "desired_count = 2"})
    base = _overlap(estimate(config, Usage(deploys_per_month=20), prices))
    double = _overlap(estimate(config, Usage(deploys_per_month=40), prices))
    assert double.monthly_low == pytest.approx(2 * base.monthly_low)
    assert _overlap(estimate(config, Usage(deploys_per_month=0), prices)).monthly_low == 0
    # the default bake is 5 minutes; 15 adds 10 minutes of both revisions per deploy
    longer = cfg("\n[service.deploy]\nbake_minutes = 15\n", replace={"desired_count = 1": "desired_count = 2"})
    baked = _overlap(estimate(longer, Usage(deploys_per_month=20), prices))
    per_task_hour = monthly_compute(REGION, 512, 1024, 2, "X86_64", "FARGATE", 1, 0, prices) / 730 / 2 + 0.005
    assert baked.monthly_low - base.monthly_low == pytest.approx(20 * 2 * 10 / 60 * per_task_hour)
    minutes = TASK_START_MINUTES + 5 + DRAIN_MINUTES
    assert base.monthly_low == pytest.approx(20 * 2 * minutes / 60 * per_task_hour)


def test_overlap_minutes_by_strategy() -> None:
    def deploy(extra: str) -> Any:
        return cfg(f"\n[service.deploy]\n{extra}\n").service.deploy

    assert overlap_minutes(deploy('strategy = "rolling"')) == TASK_START_MINUTES + DRAIN_MINUTES
    assert overlap_minutes(deploy("bake_minutes = 7")) == TASK_START_MINUTES + 7 + DRAIN_MINUTES
    linear = deploy('strategy = "linear"\nstep_percent = 25.0\nstep_minutes = 3')
    assert overlap_minutes(linear) == TASK_START_MINUTES + (math.ceil(100 / 25) - 1) * 3 + 5 + DRAIN_MINUTES
    canary = deploy('strategy = "canary"\ncanary_minutes = 12')
    assert overlap_minutes(canary) == TASK_START_MINUTES + 12 + 5 + DRAIN_MINUTES
    rolling = estimate(cfg('\n[service.deploy]\nstrategy = "rolling"\n'), Usage(), table_prices())
    blue_green = estimate(cfg(), Usage(), table_prices())
    assert _overlap(rolling).name == "Deployment overlap (rolling)"
    assert _overlap(rolling).monthly_low < _overlap(blue_green).monthly_low


# -- the estimate as a document ------------------------------------------------------------------
def test_the_json_document() -> None:
    est = estimate(cfg(), Usage(), table_prices())
    doc = json.loads(json.dumps(est.as_dict()))
    assert list(doc) == ["region", "stack", "currency", "items", "total", "jobs", "assumptions", "prices"]
    assert doc["region"] == REGION and doc["currency"] == "USD" and doc["stack"] == "web-dev"
    assert [item["item"] for item in doc["items"]] == LINE_NAMES
    for item in doc["items"]:
        assert set(item) == {"item", "quantity", "unit_price", "monthly", "monthly_high", "note", "workload"}
        assert item["monthly"] == item["monthly_high"]
        assert item["workload"] == ("web" if item["item"] == "Fargate compute" else None)
    assert doc["jobs"] == []
    assert doc["total"] == round(sum(item["monthly"] for item in doc["items"]), 2)
    assert doc["prices"] == {"source": "table shipped with ecsup", "date": TABLE_DATE}
    assert any("requests a month" in text for text in doc["assumptions"])


def test_the_total_is_the_sum_of_the_printed_cents() -> None:
    est = estimate(cfg(AUTOSCALING), Usage(requests_per_month=3_333_333, log_gb_per_month=2.345), table_prices())
    assert est.total_low == round(sum(round(item.monthly_low + 1e-9, 2) for item in est.lines), 2)
    assert est.total_high == round(sum(round(item.monthly_high + 1e-9, 2) for item in est.lines), 2)


# -- the Price List API --------------------------------------------------------------------------
def price_item(usagetype: str, usd: str | list[tuple[str, str]], family: str = "Compute", region: str = REGION) -> str:
    """One PriceList entry as the API returns it: a JSON string (documented shape)."""
    tiers = [("0", usd)] if isinstance(usd, str) else usd
    sku = f"SKU{abs(hash((usagetype, family))) % 10**8:08d}"
    dimensions = {
        f"{sku}.JRTCKXETXF.{i}": {
            "rateCode": f"{sku}.JRTCKXETXF.{i}",
            "description": f"{price} per unit of {usagetype}",
            "beginRange": begin,
            "endRange": "Inf",
            "unit": "Hrs",
            "pricePerUnit": {"USD": price},
            "appliesTo": [],
        }
        for i, (begin, price) in enumerate(tiers)
    }
    return json.dumps(
        {
            "product": {
                "productFamily": family,
                "sku": sku,
                "attributes": {"usagetype": usagetype, "regionCode": region, "servicecode": "x"},
            },
            "serviceCode": "x",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "offerTermCode": "JRTCKXETXF",
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "priceDimensions": dimensions,
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


# What the API holds for eu-west-1 in these tests (deliberately not the table's figures), with
# the decoys a careless parser would pick: Windows and EKS-like rows, a Classic load balancer
# with the same usage type as the ALB, the $0 Outposts LCU, a tiered price in reverse order.
API_PRODUCTS: dict[str, list[str]] = {
    "AmazonECS": [
        price_item("EU-Fargate-Windows-vCPU-Hours:perCPU", "0.09"),
        price_item("EU-Fargate-vCPU-Hours:perCPU", "0.0500000000"),
        price_item("EU-Fargate-GB-Hours", "0.0050000000"),
        price_item("EU-Fargate-ARM-vCPU-Hours:perCPU", "0.0400000000"),
        price_item("EU-Fargate-ARM-GB-Hours", "0.0040000000"),
        price_item("EU-Fargate-EphemeralStorage-GB-Hours", "0.000111"),
        price_item("EU-ECS-Anywhere-Instance-hours", "0.01025"),
    ],
    "AWSELB": [
        price_item("EU-LoadBalancerUsage", "0.0300000000", family="Load Balancer"),  # Classic
        price_item("EU-Outposts-LCUUsage", "0.0000000000", family="Load Balancer-Application"),
        price_item("EU-LoadBalancerUsage", "0.0260000000", family="Load Balancer-Application"),
        price_item("EU-LCUUsage", "0.0090000000", family="Load Balancer-Application"),
        price_item("EU-TS-LoadBalancerUsage", "0.0050000000", family="Load Balancer-Application"),
    ],
    "AmazonVPC": [
        price_item("EU-PublicIPv4:IdleAddress", "0.0050000000", family="VPC Public IPv4 Address"),
        price_item("EU-PublicIPv4:InUseAddress", "0.0060000000", family="VPC Public IPv4 Address"),
        price_item("EU-VpcEndpoint-Hours", "0.0120000000", family="VpcEndpoint"),
        price_item("EU-VpcEndpoint-Bytes", [("1048576", "0.0060000000"), ("0", "0.0100000000")], family="VpcEndpoint"),
    ],
    "AmazonEC2": [
        price_item("EU-NatGateway-Hours", "0.0490000000", family="NAT Gateway"),
        price_item("EU-NatGateway-Bytes", "0.0470000000", family="NAT Gateway"),
    ],
    "AmazonCloudWatch": [
        price_item("EU-VendedLog-Bytes", "0.2500000000", family="Data Payload"),
        price_item(
            "EU-DataProcessing-Bytes", [("10240", "0.3000000000"), ("0", "0.6000000000")], family="Data Payload"
        ),
        price_item("EU-TimedStorage-ByteHrs", "0.0310000000", family="Storage Snapshot"),
    ],
}
SPOT_PRODUCTS = [
    price_item("EU-SpotUsage-Fargate-vCPU-Hours:perCPU", "0.0150000000"),
    price_item("EU-SpotUsage-Fargate-GB-Hours", "0.0015000000"),
]


def _matches(item: str, filters: list[dict[str, str]]) -> bool:
    doc = json.loads(item)
    for f in filters:
        have = doc["product"].get(f["Field"]) or doc["product"]["attributes"].get(f["Field"], "")
        if f["Type"] == "TERM_MATCH" and have != f["Value"]:
            return False
        if f["Type"] == "CONTAINS" and f["Value"] not in have:
            return False
    return True


def ok(parsed: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://api.pricing.us-east-1.amazonaws.com/", 200, {}, None), {
        **parsed,
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}},
    }


class FakePriceList:
    """Answers pricing:GetProducts from ``products`` (by ServiceCode, applying the request's
    TERM_MATCH and CONTAINS filters), or fails every call with ``fail``."""

    def __init__(self, products: dict[str, list[str]] | None = None, fail: Callable[[], Any] | None = None) -> None:
        self.products = API_PRODUCTS if products is None else products
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def answer(self, params: dict[str, Any]) -> Any:
        self.calls.append(params)
        if self.fail is not None:
            return self.fail()
        items = [i for i in self.products.get(params["ServiceCode"], []) if _matches(i, params["Filters"])]
        return ok({"FormatVersion": "aws_v1", "PriceList": items})

    def attach(self, pricing: Any) -> Any:
        captured: dict[str, Any] = {}

        def params(params: dict[str, Any], **_: Any) -> None:
            captured.clear()
            captured.update(params)

        pricing.meta.events.register("before-parameter-build.pricing.GetProducts", params)
        pricing.meta.events.register("before-call.pricing.GetProducts", lambda **_: self.answer(dict(captured)))
        return pricing

    def client(self) -> Any:
        return self.attach(fresh_client("pricing", "us-east-1"))


def test_fetch_prices_reads_each_price_from_its_usage_type() -> None:
    fake = FakePriceList()
    prices = fetch_prices(fake.client(), REGION, now=lambda: NOW)
    assert prices.kind == "api" and prices.region == REGION
    assert (prices.fargate_vcpu_hour, prices.fargate_gb_hour) == (0.05, 0.005)
    assert (prices.fargate_arm_vcpu_hour, prices.fargate_arm_gb_hour) == (0.04, 0.004)
    assert (prices.alb_hour, prices.alb_lcu_hour) == (0.026, 0.009)  # the ALB's, not Classic's or Outposts'
    assert prices.public_ipv4_hour == 0.006
    assert (prices.logs_ingest_gb, prices.logs_storage_gb_month) == (0.6, 0.031)  # the first tier
    assert prices.spot_vcpu_hour is None  # no Spot rows: estimated
    assert prices.date == "2026-11-18T11:06:40+00:00"  # NOW, in UTC
    assert prices.source_line == "prices: AWS Price List API, fetched 2026-11-18 11:06 UTC"
    assert (prices.nat_gateway_hour, prices.nat_gateway_gb) == (0.049, 0.047)
    assert (prices.vpc_endpoint_hour, prices.vpc_endpoint_gb) == (0.012, 0.01)  # the first tier
    assert {call["ServiceCode"] for call in fake.calls} == {
        "AmazonECS",
        "AWSELB",
        "AmazonVPC",
        "AmazonCloudWatch",
        "AmazonEC2",
    }
    for call in fake.calls:
        assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION} in call["Filters"]


def test_fetch_prices_takes_published_spot_prices() -> None:
    fake = FakePriceList({**API_PRODUCTS, "AmazonECS": API_PRODUCTS["AmazonECS"] + SPOT_PRODUCTS})
    prices = fetch_prices(fake.client(), REGION)
    assert (prices.spot_vcpu_hour, prices.spot_gb_hour) == (0.015, 0.0015)
    assert prices.fargate("X86_64", spot=True) == (0.015, 0.0015)


def test_parse_price_item_and_usage_types_without_a_region_prefix() -> None:
    assert parse_price_item(price_item("Fargate-GB-Hours", "0.004445", region="us-east-1")) == (
        "Fargate-GB-Hours",
        0.004445,
    )
    assert prices_module._usage_suffix("USE1-Fargate-vCPU-Hours:perCPU") == "Fargate-vCPU-Hours:perCPU"
    assert prices_module._usage_suffix("APS3-LCUUsage") == "LCUUsage"
    assert prices_module._usage_suffix("Fargate-GB-Hours") == "Fargate-GB-Hours"
    assert parse_price_item({"product": {"attributes": {}}, "terms": {}}) is None


def test_fetch_prices_with_stubber_pages_through_next_token() -> None:
    from botocore.stub import Stubber

    pricing = fresh_client("pricing", "us-east-1")
    region_filter = {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION}
    ecs_filters = [region_filter, {"Type": "CONTAINS", "Field": "usagetype", "Value": "Fargate"}]
    with Stubber(pricing) as stub:
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": API_PRODUCTS["AmazonECS"][:3], "NextToken": "page-2"},
            {"ServiceCode": "AmazonECS", "Filters": ecs_filters, "MaxResults": 100},
        )
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": API_PRODUCTS["AmazonECS"][3:]},
            {"ServiceCode": "AmazonECS", "Filters": ecs_filters, "MaxResults": 100, "NextToken": "page-2"},
        )
        stub.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": API_PRODUCTS["AWSELB"][2:4]},
            {
                "ServiceCode": "AWSELB",
                "Filters": [
                    region_filter,
                    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Load Balancer-Application"},
                ],
                "MaxResults": 100,
            },
        )
        for service, contains, items in [
            ("AmazonVPC", "PublicIPv4:InUseAddress", API_PRODUCTS["AmazonVPC"][1:]),
            ("AmazonCloudWatch", "DataProcessing-Bytes", API_PRODUCTS["AmazonCloudWatch"][1:2]),
            ("AmazonCloudWatch", "TimedStorage-ByteHrs", API_PRODUCTS["AmazonCloudWatch"][2:]),
        ]:
            stub.add_response(
                "get_products",
                {"FormatVersion": "aws_v1", "PriceList": items},
                {
                    "ServiceCode": service,
                    "Filters": [region_filter, {"Type": "CONTAINS", "Field": "usagetype", "Value": contains}],
                    "MaxResults": 100,
                },
            )
        for service, kind, field, value in [
            ("AmazonEC2", "TERM_MATCH", "productFamily", "NAT Gateway"),
            ("AmazonVPC", "CONTAINS", "usagetype", "VpcEndpoint-"),
        ]:
            stub.add_response(  # none: the network's prices stay the table's
                "get_products",
                {"FormatVersion": "aws_v1", "PriceList": []},
                {
                    "ServiceCode": service,
                    "Filters": [region_filter, {"Type": kind, "Field": field, "Value": value}],
                    "MaxResults": 100,
                },
            )
        prices = fetch_prices(pricing, REGION)
        stub.assert_no_pending_responses()
    assert prices.fargate_arm_gb_hour == 0.004  # from the second page
    assert prices.nat_gateway_hour == TABLE[REGION]["nat_gateway_hour"]  # not in the answer: the table's


def test_access_denied_falls_back_to_the_table_with_the_reason(cache_in_tmp: Path) -> None:
    message = "User: arn:aws:iam::123456789012:user/x is not authorized to perform: pricing:GetProducts"
    fake = FakePriceList(fail=lambda: aws_error("AccessDeniedException", message))
    prices = choose_prices(REGION, client=fake.client, now=lambda: NOW)
    assert prices.kind == "table" and prices.fargate_vcpu_hour == TABLE[REGION]["fargate_vcpu_hour"]
    assert "AccessDeniedException" in prices.note and "shipped table" in prices.note
    assert len(fake.calls) == 1  # no retry of a refusal
    assert not list(cache_in_tmp.glob("*"))  # nothing cached


def test_an_unreachable_endpoint_falls_back_to_the_table() -> None:
    from botocore.exceptions import EndpointConnectionError

    def unreachable() -> Any:
        raise EndpointConnectionError(endpoint_url="https://api.pricing.us-east-1.amazonaws.com/")

    prices = choose_prices(REGION, client=FakePriceList(fail=unreachable).client)
    assert prices.kind == "table" and "cannot reach AWS" in prices.note


def test_no_credentials_falls_back_to_the_table() -> None:
    from botocore.exceptions import NoCredentialsError

    def no_credentials() -> Any:
        raise NoCredentialsError()

    prices = choose_prices(REGION, client=no_credentials)
    assert prices.kind == "table" and "no AWS credentials" in prices.note


def test_an_incomplete_price_list_falls_back_to_the_table() -> None:
    products = {**API_PRODUCTS, "AWSELB": [API_PRODUCTS["AWSELB"][2]]}  # no LCU price
    prices = choose_prices(REGION, client=FakePriceList(products).client)
    assert prices.kind == "table" and "alb_lcu_hour" in prices.note


def test_an_unknown_region_uses_the_api_when_it_answers() -> None:
    products = {
        service: [item.replace(REGION, "sa-east-1").replace('"EU-', '"SAE1-') for item in items]
        for service, items in API_PRODUCTS.items()
    }
    prices = choose_prices("sa-east-1", client=FakePriceList(products).client)
    assert prices.kind == "api" and prices.region == "sa-east-1" and prices.alb_hour == 0.026


def test_an_unknown_region_without_the_api_is_one_clear_error() -> None:
    fake = FakePriceList(fail=lambda: aws_error("AccessDeniedException", "not authorized"))
    with pytest.raises(UnknownRegion) as caught:
        choose_prices("sa-east-1", client=fake.client)
    assert "'sa-east-1'" in caught.value.message and "AccessDeniedException" in caught.value.message
    assert caught.value.exit_code == EXIT_CONFIG


def test_offline_makes_no_call() -> None:
    def never() -> Any:
        raise AssertionError("offline must not make a pricing client")

    assert choose_prices(REGION, offline=True, client=never).kind == "table"


# -- the disk cache ------------------------------------------------------------------------------
def test_the_cache_is_used_within_a_day_and_refreshed_after(cache_in_tmp: Path) -> None:
    fake = FakePriceList()
    first = choose_prices(REGION, client=fake.client, now=lambda: NOW)
    calls = len(fake.calls)
    assert first.kind == "api" and not first.cached and calls == 7
    cached_file = cache_in_tmp / f"prices-{REGION}.json"
    assert json.loads(cached_file.read_text())["fetched_at"] == NOW

    later = choose_prices(REGION, client=fake.client, now=lambda: NOW + CACHE_MAX_AGE - 60)
    assert len(fake.calls) == calls  # no call
    assert later.cached and later.date == first.date and later.alb_hour == first.alb_hour
    assert later.source_line.endswith("(cached)")

    fake.products = {
        **API_PRODUCTS,
        "AWSELB": [p.replace("0.0260000000", "0.0270000000") for p in API_PRODUCTS["AWSELB"]],
    }
    refreshed = choose_prices(REGION, client=fake.client, now=lambda: NOW + CACHE_MAX_AGE + 60)
    assert len(fake.calls) == 2 * calls
    assert not refreshed.cached and refreshed.alb_hour == 0.027
    assert json.loads(cached_file.read_text())["fetched_at"] == NOW + CACHE_MAX_AGE + 60


def test_a_broken_or_foreign_cache_is_ignored(cache_in_tmp: Path) -> None:
    cache_in_tmp.mkdir(parents=True)
    path = cache_in_tmp / f"prices-{REGION}.json"
    path.write_text("{not json")
    assert read_cache(REGION, cache_in_tmp, lambda: NOW) is None
    path.write_text(json.dumps({"version": 1, "region": "us-east-1", "fetched_at": NOW, "fetched": "x", "prices": {}}))
    assert read_cache(REGION, cache_in_tmp, lambda: NOW) is None
    fake = FakePriceList()
    assert choose_prices(REGION, client=fake.client, now=lambda: NOW).kind == "api"
    assert read_cache(REGION, cache_in_tmp, lambda: NOW) is not None  # rewritten
    assert read_cache(REGION, cache_in_tmp, lambda: NOW - 3600) is None  # written "in the future": stale


def test_the_cache_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ECSUP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert prices_module.cache_dir() == tmp_path / "xdg" / "ecsup"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert prices_module.cache_dir() == tmp_path / "home" / ".cache" / "ecsup"


# -- the command -----------------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(BASE_CONFIG)
    return path


def test_cli_cost_offline_prints_the_table(config_file: Path) -> None:
    result = invoke("cost", "--offline", "-c", str(config_file))
    assert result.exit_code == 0, explain(result)
    out = result.stdout
    assert "web-dev in eu-west-1: estimated cost per month (USD)" in out
    for name in LINE_NAMES:
        assert name in out
    assert "total" in out and "assumptions:" in out
    assert f"prices: table shipped with ecsup, taken {TABLE_DATE} from" in out
    assert "\x1b[" not in out  # plain text off a terminal


def test_cli_cost_json(config_file: Path) -> None:
    result = invoke("cost", "--offline", "--json", "-c", str(config_file), "--requests-per-month", "5000000")
    assert result.exit_code == 0, explain(result)
    doc = json.loads(result.stdout)  # one document, nothing else on stdout
    assert doc["currency"] == "USD" and doc["region"] == REGION
    assert [item["item"] for item in doc["items"]] == LINE_NAMES
    assert doc["total"] == round(sum(item["monthly"] for item in doc["items"]), 2)
    assert doc["prices"]["source"] == "table shipped with ecsup"
    lcus = next(item for item in doc["items"] if item["item"] == "Load balancer LCUs")
    assert lcus["monthly"] == round(5 * 20 * 0.008, 2)


def test_cli_cost_options_reach_the_estimate(config_file: Path) -> None:
    result = invoke(
        "cost", "--offline", "--json", "-c", str(config_file), "--log-gb-per-month", "4", "--deploys-per-month", "0"
    )
    assert result.exit_code == 0, explain(result)
    items = {item["item"]: item for item in json.loads(result.stdout)["items"]}
    assert items["CloudWatch Logs ingestion"]["monthly"] == round(4 * 0.57, 2)
    assert items["Deployment overlap (blue/green)"]["monthly"] == 0
    bad = invoke("cost", "--offline", "-c", str(config_file), "--requests-per-month", "-1")
    assert bad.exit_code == 2


def test_cli_cost_unknown_region_offline_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(BASE_CONFIG.replace('region = "eu-west-1"', 'region = "sa-east-1"'))
    result = invoke("cost", "--offline", "-c", str(path))
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: no prices for region 'sa-east-1'") and "us-east-1" in first
    assert result.stderr.splitlines()[1].startswith("hint: ")


def test_cli_cost_reads_the_price_list_api_through_the_context(config_file: Path, recorder: Recorder) -> None:
    fake = FakePriceList()

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        return fake.answer(params) if (service, operation) == ("pricing", "GetProducts") else None

    recorder.injectors.append(inject)
    result = invoke("cost", "--json", "-c", str(config_file))
    assert result.exit_code == 0, explain(result)
    doc = json.loads(result.stdout)
    assert doc["prices"]["source"] == "AWS Price List API"
    assert {call for call in recorder.calls} == {("pricing", "GetProducts")}
    hours = next(item for item in doc["items"] if item["item"] == "Load balancer hours")
    assert hours["monthly"] == round(730 * 0.026, 2)
    # the second run reads the day-old cache: no AWS call
    recorder.reset()
    again = invoke("cost", "-c", str(config_file))
    assert again.exit_code == 0, explain(again)
    assert recorder.calls == [] and "prices: AWS Price List API, fetched" in again.stdout
    assert "(cached)" in again.stdout


def test_cli_cost_falls_back_when_the_api_refuses(config_file: Path, recorder: Recorder) -> None:
    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if service == "pricing":
            return aws_error("AccessDeniedException", "not authorized to perform: pricing:GetProducts")
        return None

    recorder.injectors.append(inject)
    result = invoke("cost", "-c", str(config_file))
    assert result.exit_code == 0, explain(result)
    assert "note: the AWS Price List API could not be used (pricing:GetProducts: AccessDeniedException" in result.stdout
    assert "prices: table shipped with ecsup" in result.stdout
    assert recorder.calls == [("pricing", "GetProducts")]


def test_the_cost_module_is_pure() -> None:
    """cost.py computes: it imports no AWS SDK and prints nothing."""
    source = Path(cost_module.__file__).read_text()
    assert "boto" not in source and "print(" not in source and "HOURS_PER_MONTH = 730.0" in source
    assert HOURS_PER_MONTH == 730.0
