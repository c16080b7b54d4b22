"""Route53: the hostname pointing at the load balancer (alias A by default, or a
CNAME), plus a TXT marker ``_ecsup.<hostname>`` that records the owner, since
Route53 records cannot carry tags."""

from __future__ import annotations

from typing import Any

from .. import waiting
from ..context import Context
from ..errors import is_code
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from . import Step, external
from .zone import change_records, fqdn, records_at


def marker_name(ctx: Context) -> str:
    return fqdn(f"_ecsup.{ctx.config.dns.hostname}")


# Route53 refuses an alias to a load balancer it does not see yet (one created seconds ago):
# "InvalidChangeBatch: [Tried to create an alias that targets <name>., type A in zone <id>, but
# that target was not found]" (barnybug/cli53#227, aws/aws-cdk#19643). AWS gives only message
# text to tell it from a batch that is wrong (same code), so the pattern lives here.
ALIAS_TARGET_NOT_FOUND = "but that target was not found"


def alias_target_not_visible(exc: BaseException) -> bool:
    return is_code(exc, "InvalidChangeBatch") and ALIAS_TARGET_NOT_FOUND in str(exc)


def _norm_dns(name: str) -> str:
    """Route53 answers an ALB alias target as 'dualstack.<alb dns name>.'"""
    return name.rstrip(".").lower().removeprefix("dualstack.")


def _target(record: dict[str, Any]) -> str:
    if "AliasTarget" in record:
        return f"alias {_norm_dns(record['AliasTarget']['DNSName'])}"
    values = ",".join(v["Value"].rstrip(".").lower() for v in record.get("ResourceRecords", []))
    return f"{record['Type']} {values}"


def _current(ctx: Context) -> dict[str, Any] | None:
    for r in records_at(ctx, ctx.config.dns.hostname):
        if r["Type"] in ("A", "CNAME"):
            return r
    return None


def _is_marked(ctx: Context) -> bool:
    for r in records_at(ctx, marker_name(ctx)):
        if r["Type"] == "TXT" and any(v["Value"] == ctx.names.owner_marker() for v in r.get("ResourceRecords", [])):
            return True
    return False


# Resolvers keep the answer this long: the CNAME's TTL, and the TTL Route53 gives an alias to a
# load balancer ("Route 53 uses the TTL of the alias target": 60 s for ELB -- Route53 Developer
# Guide, "Choosing between alias and non-alias records"). A move (steps/move.py) keeps the old load
# balancer serving well beyond it.
RECORD_TTL = 60


def _desired(ctx: Context, target: tuple[str, str] | None = None) -> dict[str, Any]:
    """The record for the load balancer (DNS name, hosted zone id) ``target``, by default this
    run's (ctx.facts)."""
    dns, zone = target or (ctx.facts["alb_dns"], ctx.facts["alb_zone"])
    host = fqdn(ctx.config.dns.hostname)
    if ctx.config.dns.record == "cname":
        return {"Name": host, "Type": "CNAME", "TTL": RECORD_TTL, "ResourceRecords": [{"Value": dns}]}
    return {
        "Name": host,
        "Type": "A",
        "AliasTarget": {"HostedZoneId": zone, "DNSName": dns, "EvaluateTargetHealth": True},
    }


def _want_target(ctx: Context) -> str:
    dns = ctx.facts.get("alb_dns")
    if not dns:
        return KNOWN_AFTER_APPLY
    return f"alias {_norm_dns(dns)}" if ctx.config.dns.record == "alias" else f"CNAME {_norm_dns(dns)}"


def desired_dns(record: dict[str, Any]) -> str:
    return str((record.get("AliasTarget") or {}).get("DNSName") or record["ResourceRecords"][0]["Value"])


def _marker(ctx: Context) -> dict[str, Any]:
    return {
        "Name": marker_name(ctx),
        "Type": "TXT",
        "TTL": 300,
        "ResourceRecords": [{"Value": ctx.names.owner_marker()}],
    }


def _points_at(record: dict[str, Any], dns_name: str) -> bool:
    dns = _norm_dns(dns_name or "")
    return bool(dns) and _target(record).split(" ", 1)[1] == dns


def _points_at_our_alb(ctx: Context, record: dict[str, Any]) -> bool:
    """At this run's load balancer or, while the stack moves (steps/move.py), the one it leaves."""
    move = ctx.facts.get("move")
    return _points_at(record, ctx.facts.get("alb_dns") or "") or (
        move is not None and _points_at(record, move.source_dns)
    )


def point_record(ctx: Context, target: tuple[str, str] | None = None) -> str:
    """Point the hostname at the load balancer ``target`` (DNS name, zone id; default this run's),
    read afresh; nothing when it already does. Returns what it did."""
    current = _current(ctx)
    dns = (target or (ctx.facts["alb_dns"], ""))[0]
    if current is not None and _points_at(current, dns):
        return f"already {_target(current)}"
    DnsStep()._apply(ctx, current, target)
    return f"{_target(current) if current else '-'} -> {_norm_dns(dns)}"


class DnsStep(Step):
    title = "DNS record"
    # records: the certificate's step reads the zone's records (one listing for both) and writes its
    # validation records first: one change of the zone at a time (Route53 refuses a change to a zone
    # still applying another, PriorRequestNotComplete), and the record is not on the service's path
    reads = ("zone_id", "alb_dns", "alb_zone", "move", "records")
    provides = ("provider_leftover_alb",)

    def plan(self, ctx: Context) -> list[Action]:
        host = ctx.config.dns.hostname
        if external.is_external(ctx):  # the user's record at their provider: said, never written
            record = external.site_record(ctx)
            where = record.value if ctx.facts.get("alb_dns") else "the load balancer (its name printed once it exists)"
            return [
                Action(
                    "noop",
                    "DNS record",
                    host,
                    f"at your DNS provider (dns.external), not written by ecsup: {record.type} {host} -> {where}",
                )
            ]
        current = _current(ctx)
        want = _want_target(ctx)
        marked = _is_marked(ctx)
        if ctx.config.dns.record == "cname":
            # Route53 refuses a CNAME where any other record set exists at the name (RFC 1034):
            # "RRSet of type CNAME with DNS name ... is not permitted as it conflicts with other
            # records with the same DNS name" (aws/aws-sdk-java#1996) -- found here, not at apply.
            others = sorted({r["Type"] for r in records_at(ctx, host) if r is not current and r["Type"] != "CNAME"})
            if others:
                ctx.conflicts.append(
                    f"DNS name {host} already has {', '.join(others)} record(s), and a CNAME cannot coexist with "
                    'other records at a name: use record = "alias" (an A alias can), or another dns.hostname'
                )
                return []
        if current is None:
            return [Action("create", "DNS record", host, want, run=lambda: self._apply(ctx, None))]
        have = _target(current)
        ours = marked or _points_at_our_alb(ctx, current)
        if not ours:
            ctx.conflicts.append(
                f"DNS record {host} exists ({have}) and is not ecsup's (no {marker_name(ctx)} "
                "marker): delete it or choose another dns.hostname"
            )
            return []
        if have == want and marked:
            return [Action("noop", "DNS record", host, have)]
        move = ctx.facts.get("move")
        if move is not None and have != want:
            # the record moves once the new load balancer serves the stack: MoveStep / the service's move
            return [Action("noop", "DNS record", host, f"{have}; moves to {ctx.names.alb} once it serves (below)")]
        changes = [Change("target", have, want)] if have != want else [Change("owner marker", "-", "TXT")]
        return [Action("update", "DNS record", host, "", changes, run=lambda: self._apply(ctx, current))]

    def _apply(self, ctx: Context, current: dict[str, Any] | None, target: tuple[str, str] | None = None) -> str:
        desired = _desired(ctx, target)
        changes: list[dict[str, Any]] = []
        if current is None:
            changes.append({"Action": "CREATE", "ResourceRecordSet": desired})  # fails if someone raced us
        elif current["Type"] != desired["Type"]:
            changes += [
                {"Action": "DELETE", "ResourceRecordSet": current},
                {"Action": "CREATE", "ResourceRecordSet": desired},
            ]
        else:
            changes.append({"Action": "UPSERT", "ResourceRecordSet": desired})
        changes.append({"Action": "UPSERT", "ResourceRecordSet": _marker(ctx)})
        waiting.retry(
            ctx,
            f"Route53 to see load balancer {ctx.names.alb}",
            lambda: change_records(ctx, changes, f"{ctx.config.dns.hostname} -> {_norm_dns(desired_dns(desired))}"),
            alias_target_not_visible,
            ctx.timeouts.propagation,
        )
        return _want_target(ctx)

    def plan_destroy(self, ctx: Context) -> list[Action]:
        if external.is_external(ctx):  # at the user's provider: destroy says it can go there
            ctx.facts["provider_leftover_alb"] = ctx.facts.get("alb_dns")
            return []
        if not ctx.facts.get("zone_id"):
            return []
        host = ctx.config.dns.hostname
        current = _current(ctx)
        marked = _is_marked(ctx)
        doomed: list[dict[str, Any]] = []
        if current is not None:
            if marked and _points_at_our_alb(ctx, current):
                doomed.append(current)
            elif marked or _points_at_our_alb(ctx, current):
                return [Action("skip", "DNS record", host, f"{_target(current)} is not what ecsup wrote: left alone")]
            else:
                return [Action("skip", "DNS record", host, "not ecsup's: left alone")]
        doomed += [r for r in records_at(ctx, marker_name(ctx)) if r["Type"] == "TXT" and marked]
        if not doomed:
            return []
        detail = _target(current) if current in doomed and current is not None else "owner marker"
        return [Action("delete", "DNS record", host, detail, run=lambda: self._delete(ctx, doomed))]

    def _delete(self, ctx: Context, doomed: list[dict[str, Any]]) -> str:
        change_records(
            ctx, [{"Action": "DELETE", "ResourceRecordSet": r} for r in doomed], f"remove {ctx.config.dns.hostname}"
        )
        return "deleted"
