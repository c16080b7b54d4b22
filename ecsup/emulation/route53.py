"""Route53: a CNAME cannot share its name, and an alias to a load balancer Route53 does not see yet
is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import (
    AwsFault,
    Emulation,
    _norm,
    _settled,
    _state,
)
from .acm import validation_records_written


# -- Route53 --------------------------------------------------------------------------------
def change_batch_as_aws(
    em: Emulation, backend: Any, proceed: Callable[[], Any], zoneid: str, changes: list[Any]
) -> Any:
    zone = backend.get_hosted_zone(zoneid)
    types: dict[str, set[str]] = {}
    for rrset in zone.rrsets:
        types.setdefault(_norm(rrset.name), set()).add(rrset.type)
    for change in changes:
        record = change["ResourceRecordSet"]
        name, kind = _norm(record["Name"]), record["Type"]
        if change["Action"] == "DELETE":
            types.get(name, set()).discard(kind)
            continue
        others = types.setdefault(name, set()) - {kind}
        if kind == "CNAME" and others:
            raise AwsFault(
                "InvalidChangeBatch",
                f"[RRSet of type CNAME with DNS name {name}. is not permitted as it conflicts with other records "
                f"with the same DNS name in zone {_norm(zone.name)}.]",
            )
        if "CNAME" in others:
            raise AwsFault(
                "InvalidChangeBatch",
                f"[RRSet of type {kind} with DNS name {name}. is not permitted because a conflicting RRSet of type "
                f"CNAME with the same DNS name already exists in zone {_norm(zone.name)}.]",
            )
        types[name].add(kind)
        target = record.get("AliasTarget")
        if target:
            _alias_target_visible(em, zone, record, target)
    result = proceed()
    if any(c["ResourceRecordSet"]["Type"] == "CNAME" and c["Action"] != "DELETE" for c in changes):
        validation_records_written(em, backend.account_id)
    return result


def _alias_target_visible(em: Emulation, zone: Any, record: dict[str, Any], target: dict[str, Any]) -> None:
    dns = _norm(target.get("DNSName", "")).removeprefix("dualstack.")
    from moto.elbv2.models import elbv2_backends

    for regions in list(elbv2_backends.values()):  # a zone does not say its account: look in each
        for elb in list(regions.values()):
            for lb in elb.load_balancers.values():
                if _norm(lb.dns_name) == dns:
                    created = _state(elb, "created").get(lb.arn)
                    if not _settled(em, created, em.delays.alias_target):
                        raise AwsFault(
                            "InvalidChangeBatch",
                            f"[Tried to create an alias that targets {dns}., type {record['Type']} in zone "
                            f"{target.get('HostedZoneId')}, but that target was not found]",
                        )
                    return


def install(around: Callable[..., None]) -> None:
    from moto.route53.models import Route53Backend

    around(Route53Backend, "change_resource_record_sets", change_batch_as_aws)
