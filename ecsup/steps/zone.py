"""Route53: find the public hosted zone (never created, changed or deleted) and
read records in it."""

from __future__ import annotations

import threading
from typing import Any

from ..context import Context
from ..errors import ConfigError, doing
from ..plan import Action
from . import Step


def fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


def unescape(name: str) -> str:
    """Route53 returns '*' as '\\052'."""
    return name.replace("\\052", "*").lower()


def _order(name: str) -> str:
    """Route53's listing order: the ASCII order of the name with its labels reversed, as a
    string with the trailing dot ('com.example.www.'; '-' sorts before '.')."""
    return ".".join(reversed(fqdn(name).rstrip(".").split("."))) + "."


_RECORDS_LOCK = threading.Lock()


def records_at(ctx: Context, name: str) -> list[dict[str, Any]]:
    """Every record set whose name is exactly ``name``.

    One listing starting at ``name`` also answers for the names right after it (e.g.
    ``_ecsup.<hostname>`` after ``<hostname>``): what a page spans is remembered per run
    (steps planned at once wait for one another's listing rather than repeat it)."""
    with _RECORDS_LOCK:
        return _records_at(ctx, name)


def _records_at(ctx: Context, name: str) -> list[dict[str, Any]]:
    cache: dict[str, list[dict[str, Any]]] = ctx.facts.setdefault("records", {})
    spans: list[tuple[str, str | None]] = ctx.facts.setdefault("record_spans", [])
    key = fqdn(name)
    if key in cache:
        return cache[key]
    order = _order(key)
    if any(lo <= order and (hi is None or order < hi) for lo, hi in spans):  # hi: exclusive
        return []
    with doing(f"read DNS records {key}"):
        resp = ctx.client("route53").list_resource_record_sets(
            HostedZoneId=ctx.facts["zone_id"], StartRecordName=key, MaxItems="20"
        )
    found: dict[str, list[dict[str, Any]]] = {}
    for record in resp["ResourceRecordSets"]:
        found.setdefault(unescape(record["Name"]), []).append(record)
    last = resp["ResourceRecordSets"][-1]["Name"] if resp["ResourceRecordSets"] else None
    if resp.get("IsTruncated") and last is not None:
        if unescape(last) != key:
            found.pop(unescape(last), None)  # the last name may continue on the next page
        spans.append((order, _order(unescape(last))))
    elif not resp.get("IsTruncated"):
        spans.append((order, None))
    for n, records in found.items():
        if _order(n) >= order:
            cache[n] = records
    cache.setdefault(key, [])
    return cache[key]


def forget_records(ctx: Context, *names: str) -> None:
    """After a change: forget what was read (the next read lists again)."""
    ctx.facts.pop("records", None)
    ctx.facts.pop("record_spans", None)


def change_records(ctx: Context, changes: list[dict[str, Any]], comment: str) -> None:
    with doing(f"change DNS records ({comment})"):
        ctx.client("route53").change_resource_record_sets(
            HostedZoneId=ctx.facts["zone_id"], ChangeBatch={"Comment": f"ecsup: {comment}", "Changes": changes}
        )
    forget_records(ctx, *(c["ResourceRecordSet"]["Name"] for c in changes))


def find_zone(ctx: Context, zone: str) -> dict[str, Any]:
    r53 = ctx.client("route53")
    name = fqdn(zone)
    with doing(f"look up hosted zone {zone}"):
        resp = r53.list_hosted_zones_by_name(DNSName=name, MaxItems="100")
    matches = [z for z in resp["HostedZones"] if z["Name"].lower() == name]
    public = [z for z in matches if not z.get("Config", {}).get("PrivateZone")]
    if len(public) == 1:
        return public[0]
    if len(public) > 1:
        ids = ", ".join(z["Id"].split("/")[-1] for z in public)
        raise ConfigError(
            [("dns.zone", f"{zone!r} matches several public hosted zones ({ids})")],
            hint="delete the unused zone, or keep one per name in this account",
        )
    if matches:
        raise ConfigError(
            [("dns.zone", f"{zone!r} is a private hosted zone; ecsup needs a public one")],
            hint="create a public hosted zone for it and delegate it from the registrar",
        )
    with doing("list hosted zones"):
        found = [
            z["Name"].rstrip(".")
            for page in r53.get_paginator("list_hosted_zones").paginate()
            for z in page["HostedZones"]
            if not z.get("Config", {}).get("PrivateZone")
        ]
    listed = ", ".join(found[:10]) + (" ..." if len(found) > 10 else "") if found else "none"
    raise ConfigError(
        [("dns.zone", f"no public hosted zone {zone!r} in this account (public zones found: {listed})")],
        hint="create the zone in Route53 (and delegate it), or fix dns.zone",
    )


def refuse_move(ctx: Context) -> None:
    """dns.external: a stack moving between load balancers repoints its record in Route53 when
    ECS shifts production traffic (steps/move.py), which ecsup cannot do at another provider."""
    if ctx.facts.get("move") is not None:
        raise ConfigError(
            [
                (
                    "dns.external",
                    f"{ctx.names.stack} is moving between load balancers (load_balancer.shared changed), which "
                    "repoints its record in Route53 as traffic moves: ecsup cannot do that at another DNS provider",
                )
            ],
            hint="finish the move with the previous [dns] settings (zone, no external), then set dns.external; "
            "nothing was changed",
        )


class ZoneStep(Step):
    title = "hosted zone"
    reads = ("move",)
    provides = ("zone_id",)

    def plan(self, ctx: Context) -> list[Action]:
        if ctx.config.dns.external:  # no zone: the DNS is at another provider (steps/external.py)
            refuse_move(ctx)
            return []
        zone = find_zone(ctx, ctx.config.dns.zone)
        ctx.facts["zone_id"] = zone["Id"].split("/")[-1]
        return [Action("noop", "hosted zone", ctx.config.dns.zone, f"found {ctx.facts['zone_id']} (public)")]

    def plan_destroy(self, ctx: Context) -> list[Action]:
        if ctx.config.dns.external:
            return []
        try:
            zone = find_zone(ctx, ctx.config.dns.zone)
        except ConfigError:
            ctx.facts["zone_id"] = None
            return []
        ctx.facts["zone_id"] = zone["Id"].split("/")[-1]
        return [Action("keep", "hosted zone", ctx.config.dns.zone, "never removed by ecsup")]
