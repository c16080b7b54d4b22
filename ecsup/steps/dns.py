"""Route53: the hostname pointing at the load balancer (alias A by default, or a
CNAME; with [network] ipv6 an alias AAAA beside the A), plus a TXT marker
``_ecsup.<hostname>`` that records the owner, since Route53 records cannot carry tags."""

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


def _current_aaaa(ctx: Context) -> dict[str, Any] | None:
    return next((r for r in records_at(ctx, ctx.config.dns.hostname) if r["Type"] == "AAAA"), None)


def wants_aaaa(ctx: Context) -> bool:
    """[network] ipv6 with an alias record: an alias AAAA beside the alias A, so that IPv6 clients
    reach the dual-stack load balancer. A CNAME needs none: a dual-stack load balancer's DNS name
    "provides both IPv4 and IPv6 addresses, and creates A and AAAA records" (IPv6 on AWS whitepaper,
    "Elastic Load Balancing"), and a CNAME sends resolvers there for both."""
    return ctx.config.network.ipv6 and ctx.config.dns.record == "alias"


def _desired_aaaa(ctx: Context, target: tuple[str, str] | None = None) -> dict[str, Any]:
    """The alias AAAA to the load balancer ``target`` (default this run's). Its alias target is
    ``dualstack.<DNSName>``, what Route53 itself writes for an ELB alias ("all alias records in Route 53
    that point to an Elastic Load Balancer include dualstack ... (without dualstack IPv6 will not
    resolve)" -- aws-cdk aws-route53-targets README, LoadBalancerTarget)."""
    dns, zone = target or (ctx.facts["alb_dns"], ctx.facts["alb_zone"])
    return {
        "Name": fqdn(ctx.config.dns.hostname),
        "Type": "AAAA",
        "AliasTarget": {"HostedZoneId": zone, "DNSName": f"dualstack.{_norm_dns(dns)}", "EvaluateTargetHealth": True},
    }


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


def _our_aaaa(ctx: Context, marked: bool) -> dict[str, Any] | None:
    """The AAAA at the hostname when it is ecsup's: as the A record, marked (the TXT marker) or
    pointing at this stack's load balancer."""
    aaaa = _current_aaaa(ctx)
    if aaaa is not None and "AliasTarget" in aaaa and (marked or _points_at_our_alb(ctx, aaaa)):
        return aaaa
    return None


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
    aaaa = _current_aaaa(ctx) if wants_aaaa(ctx) else None
    aaaa_done = not wants_aaaa(ctx) or (aaaa is not None and _points_at(aaaa, dns))
    if current is not None and _points_at(current, dns) and aaaa_done:
        return f"already {_target(current)}"
    DnsStep()._apply(ctx, current, target)
    return f"{_target(current) if current else '-'} -> {_norm_dns(dns)}"


DUALSTACK_BY_NAME = (
    "[network] ipv6: the load balancer is dual-stack and its DNS name answers both A and AAAA, so the "
    "hostname's CNAME (or your provider's ALIAS) to that name serves IPv6 clients too: no AAAA record to add"
)


class DnsStep(Step):
    title = "DNS record"
    # records: the certificate's step reads the zone's records (one listing for both) and writes its
    # validation records first: one change of the zone at a time (Route53 refuses a change to a zone
    # still applying another, PriorRequestNotComplete), and the record is not on the service's path
    reads = ("zone_id", "alb_dns", "alb_zone", "move", "records")
    provides = ("provider_leftover_alb",)

    def plan(self, ctx: Context) -> list[Action]:
        host = ctx.config.dns.hostname
        if ctx.config.network.ipv6 and (external.is_external(ctx) or ctx.config.dns.record == "cname"):
            ctx.notes.append(DUALSTACK_BY_NAME)
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
        marked = _is_marked(ctx)
        actions = self._plan_a(ctx, marked)
        if not actions:
            return actions  # refused (a conflict): the AAAA neither
        # the A's change (_apply) writes the AAAA in the same batch; its own action then finds it done
        return actions + self._plan_aaaa(ctx, marked)

    def _plan_a(self, ctx: Context, marked: bool) -> list[Action]:
        host = ctx.config.dns.hostname
        current = _current(ctx)
        want = _want_target(ctx)
        if ctx.config.dns.record == "cname":
            # Route53 refuses a CNAME where any other record set exists at the name (RFC 1034):
            # "RRSet of type CNAME with DNS name ... is not permitted as it conflicts with other
            # records with the same DNS name" (aws/aws-sdk-java#1996) -- found here, not at apply.
            ours_aaaa = _our_aaaa(ctx, marked)
            others = sorted(
                {
                    r["Type"]
                    for r in records_at(ctx, host)
                    if r is not current and r is not ours_aaaa and r["Type"] != "CNAME"
                }
            )
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

    def _plan_aaaa(self, ctx: Context, marked: bool) -> list[Action]:
        """The alias AAAA beside a record that is already right: made, repointed or (ipv6 turned off, or
        a CNAME now) removed when it is ecsup's; someone else's is a conflict when one is wanted."""
        host = ctx.config.dns.hostname
        name = f"{host} AAAA"
        aaaa = _current_aaaa(ctx)
        want = _want_target(ctx)
        if not wants_aaaa(ctx):
            ours = _our_aaaa(ctx, marked)
            if ours is None:
                return []
            why = "[network] ipv6 is off" if not ctx.config.network.ipv6 else 'record = "cname" needs none'
            return [Action("delete", "DNS record", name, f"{_target(ours)} ({why})", run=lambda: self._apply_aaaa(ctx))]
        if aaaa is None:
            return [Action("create", "DNS record", name, f"{want} (dual-stack)", run=lambda: self._apply_aaaa(ctx))]
        if _our_aaaa(ctx, marked) is None:
            ctx.conflicts.append(
                f"DNS record {host} AAAA exists ({_target(aaaa)}) and is not ecsup's (no {marker_name(ctx)} "
                "marker): delete it, choose another dns.hostname, or set [network] ipv6 = false"
            )
            return []
        have = _target(aaaa)
        if have == want:
            return [Action("noop", "DNS record", name, have)]
        if ctx.facts.get("move") is not None:
            return [Action("noop", "DNS record", name, f"{have}; moves with the A record (below)")]
        return [
            Action("update", "DNS record", name, "", [Change("target", have, want)], run=lambda: self._apply_aaaa(ctx))
        ]

    def _aaaa_changes(self, ctx: Context, target: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """The AAAA's part of a change batch, read afresh: UPSERT the wanted one, or DELETE ecsup's."""
        if wants_aaaa(ctx):
            desired = _desired_aaaa(ctx, target)
            aaaa = _current_aaaa(ctx)
            if aaaa is not None and _points_at(aaaa, desired["AliasTarget"]["DNSName"]):
                return []
            return [{"Action": "UPSERT", "ResourceRecordSet": desired}]
        ours = _our_aaaa(ctx, _is_marked(ctx))
        return [] if ours is None else [{"Action": "DELETE", "ResourceRecordSet": ours}]

    def _apply_aaaa(self, ctx: Context) -> str:
        changes = self._aaaa_changes(ctx)
        if not changes:
            return "already done"
        if changes[0]["Action"] != "DELETE":
            changes.append({"Action": "UPSERT", "ResourceRecordSet": _marker(ctx)})
        waiting.retry(
            ctx,
            f"Route53 to see load balancer {ctx.names.alb}",
            lambda: change_records(ctx, changes, f"{ctx.config.dns.hostname} AAAA"),
            alias_target_not_visible,
            ctx.timeouts.propagation,
        )
        return "deleted" if changes[0]["Action"] == "DELETE" else _want_target(ctx)

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
        aaaa = self._aaaa_changes(ctx, target)
        if desired["Type"] == "CNAME":  # ecsup's AAAA goes first: a CNAME cannot coexist with it
            changes = aaaa + changes
        else:
            changes += aaaa
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
        aaaa = _current_aaaa(ctx)
        if aaaa is not None:  # whatever [network] ipv6 says now: the AAAA ecsup wrote goes with the A
            if marked and _points_at_our_alb(ctx, aaaa):
                doomed.append(aaaa)
            elif current in doomed:  # the A goes but an AAAA that is not what ecsup wrote stays
                ctx.notes.append(f"DNS record {host} AAAA ({_target(aaaa)}) is not what ecsup wrote: left alone")
        doomed += [r for r in records_at(ctx, marker_name(ctx)) if r["Type"] == "TXT" and marked]
        if not doomed:
            return []
        detail = _target(current) if current in doomed and current is not None else "owner marker"
        if aaaa is not None and aaaa in doomed:
            detail += " and AAAA"
        return [Action("delete", "DNS record", host, detail, run=lambda: self._delete(ctx, doomed))]

    def _delete(self, ctx: Context, doomed: list[dict[str, Any]]) -> str:
        change_records(
            ctx, [{"Action": "DELETE", "ResourceRecordSet": r} for r in doomed], f"remove {ctx.config.dns.hostname}"
        )
        return "deleted"
