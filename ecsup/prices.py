"""Where `ecsup cost` gets its unit prices: the AWS Price List API (cached on disk for a
day), or the dated table shipped below when the API cannot be used (--offline, no
credentials, access denied, no network).

One small interface: ``choose_prices(region, ...) -> Prices``; ``shipped_prices(region)``
never touches AWS. Everything here is data; ``cost.py`` does the arithmetic.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import EXIT_CONFIG, EcsupError

# Fargate Spot is not in the shipped table: its price moves with supply and demand. AWS: "Fargate
# Spot allows customers to run interrupt-tolerant Amazon ECS Tasks on spare capacity at up to a
# 70% discount off the regular Fargate price" (aws.amazon.com/fargate/pricing/). A published
# snapshot of the Spot prices (github.com/theuves/fgcalc, src/utils/prices.json) was 61-69% below
# on demand in the regions below, so 70% is the optimistic end.
SPOT_DISCOUNT = 0.70

# Route 53: $0.50 per hosted zone and month for the first 25 zones, the same in every region;
# queries to alias records that point at an ELB load balancer are free (aws.amazon.com/route53/pricing/).
ROUTE53_ZONE_MONTH = 0.50

# Jobs (a Step Functions Standard state machine started by an EventBridge Scheduler schedule).
# Step Functions Standard: $0.025 per 1,000 state transitions in us-east-1, us-west-2, eu-west-1,
# eu-central-1 and ap-northeast-1 alike (a few other regions charge more: N. California $0.0279,
# Paris $0.0297, Sao Paulo $0.0375); the first 4,000 transitions a month of the account are free,
# for ever (aws.amazon.com/step-functions/pricing/, "State transitions pricing table").
STEP_FUNCTIONS_TRANSITION = 0.025 / 1000
STEP_FUNCTIONS_FREE_TRANSITIONS = 4000
# EventBridge Scheduler: $1.00 per million invocations after the first 14 million a month of the
# account, which are free (aws.amazon.com/eventbridge/pricing/, "EventBridge Scheduler").
SCHEDULER_INVOCATION = 1.00 / 1_000_000
SCHEDULER_FREE_INVOCATIONS = 14_000_000

# -- the shipped table --------------------------------------------------------------------------
TABLE_DATE = "2026-11-27"
TABLE_SOURCE = "AWS pricing pages and AWS Price List data (sources listed in ecsup/prices.py)"

# USD. Keys: Fargate Linux vCPU-hour and GB-hour (x86 and ARM), ALB hour and LCU-hour, public
# IPv4 address-hour, CloudWatch Logs ingestion per GB and storage per GB-month.
#
# Sources (each figure was read from one of these unless marked "derived" or "as"):
# - us-east-1: ecsup's STACK.md (late 2025), matching the AWS Fargate pricing page as quoted by
#   vantage.sh/blog/fargate-pricing (Linux/x86 $0.04048 / $0.004445, Linux/ARM $0.03238 /
#   $0.00356); ELB pricing page (aws.amazon.com/elasticloadbalancing/pricing/, transcribed
#   2026-09-20 by api-evangelist): $0.0225 per ALB-hour, $0.008 per LCU-hour; CloudWatch Logs
#   $0.50 per GB ingested (Standard class) and $0.03 per GB-month (CloudHealth list-price rules
#   for USE1-DataProcessing-Bytes / USE1-TimedStorage-ByteHrs, 2025-01-01).
# - us-west-2: Fargate as us-east-1 (github.com/theuves/fgcalc region table: $0.04048 /
#   $0.004445; ARM derived: 20% below x86, as in every region checked); ALB as us-east-1 (not
#   read separately); Logs $0.50 per GB ("USW2-DataProcessing-Bytes $0.50 per GB - custom log
#   data ingested" on an Oregon bill), storage $0.03 as us-east-1.
# - eu-west-1: Fargate $0.04048 / $0.004445 and ARM $0.03238 / $0.00356 (EU-Fargate-* usage
#   types, compared with the AWS page in a public pricing review); ALB $0.0252 per hour (a July
#   2026 Cost Explorer export: EU-LoadBalancerUsage $15.00 for 595 h) and $0.008 per LCU-hour
#   (AWSELB eu-west-1 offer 20260911124544, EU-LCUUsage); Logs $0.57 per GB and $0.03 per
#   GB-month (AmazonCloudWatch eu-west-1 offer published 2026-09-22).
# - eu-central-1: Fargate $0.04656 / $0.00511 (AmazonECS Price List, 2026-07-07:
#   EUC1-Fargate-vCPU-Hours:perCPU, EUC1-Fargate-GB-Hours); ARM $0.03725 / $0.00409 derived
#   (20% below x86); ALB $0.027 per hour (EUC1-LoadBalancerUsage $19.44 for June 2026, 720 h),
#   LCU-hour $0.008 as the other regions (not read separately); Logs $0.63 per GB (list-price
#   rule for EUC1-DataProcessing-Bytes, 2025-01-01) and $0.0324 per GB-month (CloudWatch
#   pricing page; not re-read).
# - ap-northeast-1: Fargate $0.05056 / $0.00553, ALB $0.0243 / $0.008, Logs $0.76 / $0.033
#   (STACK.md; Logs also awsi.click, ELB also aws.darcy-it.com); ARM $0.04045 / $0.00442
#   (AWS Price List bulk API, AmazonECS ap-northeast-1, publicationDate 2026-07-07).
# - Public IPv4: $0.005 per address-hour in every region since 2024-02-01 (AWS News Blog, "New
#   AWS Public IPv4 Address Charge"; an eu-west-1 bill: 1,783 address-hours for $8.91).
# - The network ([network] egress; not in REQUIRED: a Price List answer without them keeps the
#   table's figure). NAT gateway per hour and per GB processed (AmazonEC2, productFamily "NAT
#   Gateway", usage types <prefix>-NatGateway-Hours / -NatGateway-Bytes): $0.045 / $0.045 in
#   us-east-1 (Price List SKU M2YSHUBETB3JX4M4, 2025-10) and us-west-2, $0.048 in eu-west-1, $0.052
#   in eu-central-1, $0.062 in ap-northeast-1 (aws.amazon.com/vpc/pricing/; European figures also a
#   2026 regional comparison, cloudpipelines.pages.dev). An interface VPC endpoint per availability
#   zone and hour and per GB processed (AmazonVPC, VpcEndpoint-Hours / VpcEndpoint-Bytes, first
#   tier): $0.01 / $0.01 in us-east-1 and us-west-2, $0.011 in eu-west-1, $0.012 in eu-central-1,
#   $0.014 in ap-northeast-1 per hour, $0.01 per GB everywhere (aws.amazon.com/privatelink/pricing/).
#   The S3 gateway endpoint is free.
TABLE: dict[str, dict[str, float]] = {
    "us-east-1": {
        "fargate_vcpu_hour": 0.04048,
        "fargate_gb_hour": 0.004445,
        "fargate_arm_vcpu_hour": 0.03238,
        "fargate_arm_gb_hour": 0.00356,
        "alb_hour": 0.0225,
        "alb_lcu_hour": 0.008,
        "public_ipv4_hour": 0.005,
        "logs_ingest_gb": 0.50,
        "logs_storage_gb_month": 0.03,
        "nat_gateway_hour": 0.045,
        "nat_gateway_gb": 0.045,
        "vpc_endpoint_hour": 0.01,
        "vpc_endpoint_gb": 0.01,
    },
    "us-west-2": {
        "fargate_vcpu_hour": 0.04048,
        "fargate_gb_hour": 0.004445,
        "fargate_arm_vcpu_hour": 0.03238,
        "fargate_arm_gb_hour": 0.00356,
        "alb_hour": 0.0225,
        "alb_lcu_hour": 0.008,
        "public_ipv4_hour": 0.005,
        "logs_ingest_gb": 0.50,
        "logs_storage_gb_month": 0.03,
        "nat_gateway_hour": 0.045,
        "nat_gateway_gb": 0.045,
        "vpc_endpoint_hour": 0.01,
        "vpc_endpoint_gb": 0.01,
    },
    "eu-west-1": {
        "fargate_vcpu_hour": 0.04048,
        "fargate_gb_hour": 0.004445,
        "fargate_arm_vcpu_hour": 0.03238,
        "fargate_arm_gb_hour": 0.00356,
        "alb_hour": 0.0252,
        "alb_lcu_hour": 0.008,
        "public_ipv4_hour": 0.005,
        "logs_ingest_gb": 0.57,
        "logs_storage_gb_month": 0.03,
        "nat_gateway_hour": 0.048,
        "nat_gateway_gb": 0.048,
        "vpc_endpoint_hour": 0.011,
        "vpc_endpoint_gb": 0.01,
    },
    "eu-central-1": {
        "fargate_vcpu_hour": 0.04656,
        "fargate_gb_hour": 0.00511,
        "fargate_arm_vcpu_hour": 0.03725,
        "fargate_arm_gb_hour": 0.00409,
        "alb_hour": 0.027,
        "alb_lcu_hour": 0.008,
        "public_ipv4_hour": 0.005,
        "logs_ingest_gb": 0.63,
        "logs_storage_gb_month": 0.0324,
        "nat_gateway_hour": 0.052,
        "nat_gateway_gb": 0.052,
        "vpc_endpoint_hour": 0.012,
        "vpc_endpoint_gb": 0.01,
    },
    "ap-northeast-1": {
        "fargate_vcpu_hour": 0.05056,
        "fargate_gb_hour": 0.00553,
        "fargate_arm_vcpu_hour": 0.04045,
        "fargate_arm_gb_hour": 0.00442,
        "alb_hour": 0.0243,
        "alb_lcu_hour": 0.008,
        "public_ipv4_hour": 0.005,
        "logs_ingest_gb": 0.76,
        "logs_storage_gb_month": 0.033,
        "nat_gateway_hour": 0.062,
        "nat_gateway_gb": 0.062,
        "vpc_endpoint_hour": 0.014,
        "vpc_endpoint_gb": 0.01,
    },
}

TABLE_KIND = "table"
API_KIND = "api"
API_SOURCE = "AWS Price List API"
SHIPPED_SOURCE = "table shipped with ecsup"


@dataclass(frozen=True)
class Prices:
    """Unit prices in USD for one region, and where they came from."""

    region: str
    fargate_vcpu_hour: float
    fargate_gb_hour: float
    fargate_arm_vcpu_hour: float
    fargate_arm_gb_hour: float
    alb_hour: float
    alb_lcu_hour: float
    public_ipv4_hour: float
    logs_ingest_gb: float
    logs_storage_gb_month: float
    route53_zone_month: float = ROUTE53_ZONE_MONTH
    # the network ([network] egress): us-east-1's unless the table or the API has the region's
    nat_gateway_hour: float = 0.045
    nat_gateway_gb: float = 0.045
    vpc_endpoint_hour: float = 0.01  # an interface endpoint in one availability zone
    vpc_endpoint_gb: float = 0.01
    # the same in the shipped table's regions (above); not read from the Price List API
    sfn_transition: float = STEP_FUNCTIONS_TRANSITION
    scheduler_invocation: float = SCHEDULER_INVOCATION
    # The published Fargate Spot prices, when the Price List API had them; else estimated.
    spot_vcpu_hour: float | None = None
    spot_gb_hour: float | None = None
    spot_arm_vcpu_hour: float | None = None
    spot_arm_gb_hour: float | None = None
    kind: str = TABLE_KIND  # "table" or "api"
    date: str = TABLE_DATE  # the table's date, or when the API was read (UTC, ISO 8601)
    cached: bool = False  # API prices read back from the disk cache
    note: str = ""  # why the API was not used, when it was tried

    @property
    def source(self) -> str:
        return API_SOURCE if self.kind == API_KIND else SHIPPED_SOURCE

    @property
    def source_line(self) -> str:
        """The line printed with every estimate."""
        if self.kind == API_KIND:
            return f"prices: {API_SOURCE}, fetched {_readable(self.date)}" + (" (cached)" if self.cached else "")
        return f"prices: {SHIPPED_SOURCE}, taken {self.date} from {TABLE_SOURCE}"

    def fargate(self, architecture: str, spot: bool) -> tuple[float, float]:
        """(per vCPU-hour, per GB-hour) for X86_64 or ARM64, on demand or Spot."""
        arm = architecture == "ARM64"
        vcpu = self.fargate_arm_vcpu_hour if arm else self.fargate_vcpu_hour
        gb = self.fargate_arm_gb_hour if arm else self.fargate_gb_hour
        if not spot:
            return vcpu, gb
        published = (
            (self.spot_arm_vcpu_hour, self.spot_arm_gb_hour) if arm else (self.spot_vcpu_hour, self.spot_gb_hour)
        )
        if published[0] is not None and published[1] is not None:
            return published[0], published[1]
        return vcpu * (1 - SPOT_DISCOUNT), gb * (1 - SPOT_DISCOUNT)

    def spot_published(self, architecture: str) -> bool:
        if architecture == "ARM64":
            return self.spot_arm_vcpu_hour is not None and self.spot_arm_gb_hour is not None
        return self.spot_vcpu_hour is not None and self.spot_gb_hour is not None

    def spot_basis(self, architecture: str) -> str:
        if self.spot_published(architecture):
            return "Fargate Spot at the published Spot price (AWS Price List API); it moves with supply and demand"
        return (
            f"Fargate Spot estimated at {SPOT_DISCOUNT:.0%} below on demand (AWS: 'up to a 70% discount off "
            "the regular Fargate price'); the real Spot price moves with supply and demand"
        )


def _readable(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


class UnknownRegion(EcsupError):
    """No prices for the region: not in the shipped table, and the API was not usable."""

    exit_code = EXIT_CONFIG


def shipped_prices(region: str) -> Prices:
    """The prices of the table shipped with ecsup (no AWS call); UnknownRegion if it lacks the region."""
    row: dict[str, Any] | None = TABLE.get(region)  # floats, into a dataclass with str fields too
    if row is None:
        raise UnknownRegion(
            f"no prices for region {region!r} in the table shipped with ecsup (it has {', '.join(TABLE)})",
            hint="run `ecsup cost` without --offline, with AWS credentials allowed pricing:GetProducts, "
            "to read the AWS Price List API for that region",
        )
    return Prices(region=region, **row)


# -- the Price List API ------------------------------------------------------------------------
# The pricing endpoint answers only in us-east-1, eu-central-1 and ap-south-1.
PRICING_REGION = "us-east-1"

# (ServiceCode, extra filters) -> the usage types (without their region prefix) each price is.
# Filters use CONTAINS so that the region prefix (USE1-, EU-, EUC1-, APN1-...) need not be known.
_QUERIES: list[tuple[str, list[tuple[str, str, str]], dict[str, str]]] = [
    (
        "AmazonECS",
        [("CONTAINS", "usagetype", "Fargate")],
        {
            "Fargate-vCPU-Hours:perCPU": "fargate_vcpu_hour",
            "Fargate-GB-Hours": "fargate_gb_hour",
            "Fargate-ARM-vCPU-Hours:perCPU": "fargate_arm_vcpu_hour",
            "Fargate-ARM-GB-Hours": "fargate_arm_gb_hour",
            "SpotUsage-Fargate-vCPU-Hours:perCPU": "spot_vcpu_hour",
            "SpotUsage-Fargate-GB-Hours": "spot_gb_hour",
            "SpotUsage-Fargate-ARM-vCPU-Hours:perCPU": "spot_arm_vcpu_hour",
            "SpotUsage-Fargate-ARM-GB-Hours": "spot_arm_gb_hour",
        },
    ),
    (
        # productFamily tells an ALB's LoadBalancerUsage from a Classic one's (same usage type)
        "AWSELB",
        [("TERM_MATCH", "productFamily", "Load Balancer-Application")],
        {"LoadBalancerUsage": "alb_hour", "LCUUsage": "alb_lcu_hour"},
    ),
    (
        "AmazonVPC",
        [("CONTAINS", "usagetype", "PublicIPv4:InUseAddress")],
        {"PublicIPv4:InUseAddress": "public_ipv4_hour"},
    ),
    (
        "AmazonCloudWatch",
        [("CONTAINS", "usagetype", "DataProcessing-Bytes")],
        {"DataProcessing-Bytes": "logs_ingest_gb"},
    ),
    (
        "AmazonCloudWatch",
        [("CONTAINS", "usagetype", "TimedStorage-ByteHrs")],
        {"TimedStorage-ByteHrs": "logs_storage_gb_month"},
    ),
    (
        "AmazonEC2",
        [("TERM_MATCH", "productFamily", "NAT Gateway")],
        {"NatGateway-Hours": "nat_gateway_hour", "NatGateway-Bytes": "nat_gateway_gb"},
    ),
    (
        "AmazonVPC",
        [("CONTAINS", "usagetype", "VpcEndpoint-")],
        {"VpcEndpoint-Hours": "vpc_endpoint_hour", "VpcEndpoint-Bytes": "vpc_endpoint_gb"},
    ),
]
REQUIRED = (
    "fargate_vcpu_hour",
    "fargate_gb_hour",
    "fargate_arm_vcpu_hour",
    "fargate_arm_gb_hour",
    "alb_hour",
    "alb_lcu_hour",
    "public_ipv4_hour",
    "logs_ingest_gb",
    "logs_storage_gb_month",
)
# read when the API has them; otherwise the shipped table's (or us-east-1's) figure
OPTIONAL = ("nat_gateway_hour", "nat_gateway_gb", "vpc_endpoint_hour", "vpc_endpoint_gb")
_REGION_PREFIX = re.compile(r"^[A-Z]{2,5}\d{0,2}-")


class PriceListUnavailable(Exception):
    """The Price List API could not give the prices (the reason is the message)."""


def _usage_suffix(usagetype: str) -> str:
    """'EUC1-Fargate-GB-Hours' -> 'Fargate-GB-Hours' (us-east-1 items may have no prefix)."""
    return _REGION_PREFIX.sub("", usagetype, count=1)


def parse_price_item(item: str | dict[str, Any]) -> tuple[str, float] | None:
    """(usagetype, on-demand USD price of the first tier) of one PriceList entry, or None."""
    doc = json.loads(item) if isinstance(item, str) else item
    usagetype = str(doc.get("product", {}).get("attributes", {}).get("usagetype", ""))
    for term in doc.get("terms", {}).get("OnDemand", {}).values():
        dimensions = list(term.get("priceDimensions", {}).values())
        dimensions.sort(key=lambda d: float(d.get("beginRange", "0") or 0))  # the first tier
        for dim in dimensions:
            usd = dim.get("pricePerUnit", {}).get("USD")
            if usd is not None:
                return usagetype, float(usd)
    return None


def _get_products(client: Any, service: str, filters: list[dict[str, str]]) -> Iterable[str]:
    token = None
    while True:
        kwargs: dict[str, Any] = {"ServiceCode": service, "Filters": filters, "MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        page = client.get_products(**kwargs)
        yield from page.get("PriceList", [])
        token = page.get("NextToken")
        if not token:
            return


def fetch_prices(client: Any, region: str, now: Callable[[], float] = time.time) -> Prices:
    """Read the region's prices from the Price List API; PriceListUnavailable on any failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .errors import translate

    found: dict[str, Any] = {}  # price field -> USD
    try:
        for service, extra, wanted in _QUERIES:
            filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
            filters += [{"Type": kind, "Field": field, "Value": value} for kind, field, value in extra]
            for item in _get_products(client, service, filters):
                parsed = parse_price_item(item)
                if parsed is None:
                    continue
                key = wanted.get(_usage_suffix(parsed[0]))
                if key is not None and key not in found:
                    found[key] = parsed[1]
    except (BotoCoreError, ClientError) as exc:
        translated = translate(exc, "pricing:GetProducts")
        raise PriceListUnavailable(translated.message if translated else str(exc)) from exc
    missing = [key for key in REQUIRED if key not in found]
    if missing:
        raise PriceListUnavailable(f"the AWS Price List API has no {', '.join(missing)} for {region}")
    for key in OPTIONAL:  # not priced by the API for the region: the table's figure, if it has one
        if key not in found and key in TABLE.get(region, {}):
            found[key] = TABLE[region][key]
    fetched = datetime.fromtimestamp(now(), UTC).isoformat(timespec="seconds")
    return Prices(region=region, kind=API_KIND, date=fetched, **found)


# -- the disk cache ----------------------------------------------------------------------------
CACHE_MAX_AGE = 86400.0  # a day
CACHE_VERSION = 2  # 2: the network's prices


def cache_dir() -> Path:
    """$ECSUP_CACHE_DIR, else $XDG_CACHE_HOME/ecsup, else ~/.cache/ecsup."""
    explicit = os.environ.get("ECSUP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ecsup"


def _cache_file(directory: Path, region: str) -> Path:
    return directory / f"prices-{region}.json"


_PRICE_FIELDS = {f.name for f in fields(Prices)} - {"region", "kind", "date", "cached", "note"}


def read_cache(region: str, directory: Path, now: Callable[[], float] = time.time) -> Prices | None:
    """API prices cached less than a day ago, else None (missing, stale or unreadable)."""
    try:
        doc = json.loads(_cache_file(directory, region).read_text(encoding="utf-8"))
        age = now() - float(doc["fetched_at"])
        if doc.get("version") != CACHE_VERSION or doc.get("region") != region or not 0 <= age < CACHE_MAX_AGE:
            return None
        values = {k: v for k, v in doc["prices"].items() if k in _PRICE_FIELDS}
        return Prices(region=region, kind=API_KIND, date=str(doc["fetched"]), cached=True, **values)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(prices: Prices, directory: Path, now: Callable[[], float] = time.time) -> None:
    """Best effort: a cache that cannot be written only costs an API call next time."""
    values = {k: v for k, v in asdict(prices).items() if k in _PRICE_FIELDS}
    doc = {
        "version": CACHE_VERSION,
        "region": prices.region,
        "fetched_at": now(),
        "fetched": prices.date,
        "source": API_SOURCE,
        "prices": values,
    }
    path = _cache_file(directory, prices.region)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


# -- choosing ------------------------------------------------------------------------------------
def _make_client(factory: Callable[[], Any]) -> Any:
    """The pricing client; making it can fail too (e.g. an unknown --profile)."""
    from botocore.exceptions import BotoCoreError

    from .errors import translate

    try:
        return factory()
    except EcsupError as exc:
        raise PriceListUnavailable(exc.message) from exc
    except BotoCoreError as exc:
        translated = translate(exc, "pricing:GetProducts")
        raise PriceListUnavailable(translated.message if translated else str(exc)) from exc


def choose_prices(
    region: str,
    *,
    offline: bool = False,
    client: Callable[[], Any] | None = None,
    directory: Path | None = None,
    now: Callable[[], float] = time.time,
    endpoint: str | None = None,
) -> Prices:
    """The Price List API's prices (from the cache when under a day old), else the shipped
    table's with a note saying why; --offline (or no client) goes straight to the table, and so
    does an ``endpoint`` that is not AWS (the sandbox, a local emulator: no Price List API there,
    and asking costs retries and leaves errors in its log). UnknownRegion when neither has the region."""
    if offline or client is None:
        return shipped_prices(region)
    if endpoint:
        return replace(
            shipped_prices(region), note=f"{endpoint} has no AWS Price List API: prices from the shipped table"
        )
    where = directory if directory is not None else cache_dir()
    cached = read_cache(region, where, now)
    if cached is not None:
        return cached
    try:
        prices = fetch_prices(_make_client(client), region, now)
    except PriceListUnavailable as exc:
        reason = str(exc)
        try:
            table = shipped_prices(region)
        except UnknownRegion as unknown:
            raise UnknownRegion(
                f"{unknown.message}, and the AWS Price List API could not be used: {reason}", unknown.hint
            ) from None
        return replace(table, note=f"the AWS Price List API could not be used ({reason}): using the shipped table")
    write_cache(prices, where, now)
    return prices
