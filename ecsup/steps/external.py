"""[dns] external = true: the domain's DNS is at another provider (no Route53 zone in the account).

ecsup makes no Route53 call for such a stack. What it would write in a zone, the user creates at
their provider, and ecsup says exactly what: the certificate's validation CNAME(s) ("Add this record
to your DNS configuration to prove that you own or control the domain" -- ACM API reference,
DnsValidationChallenge; and "when a certificate comes up for renewal, ACM uses the same method" --
ACM User Guide, "Renew ACM public certificates": the record stays) and the hostname's record
to the load balancer -- a CNAME, or at the apex of the domain (where a CNAME cannot sit, RFC 1034
3.6.2) the provider's ALIAS / ANAME / CNAME flattening. `status` checks public DNS through the
system resolver (not Route53); `destroy` says which records can go.

Nothing here prints: the block of records goes to the UI (``ctx.ui.provider_records``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..context import Context


def is_external(ctx: Context) -> bool:
    return bool(ctx.config.dns.external)


@dataclass(frozen=True)
class ProviderRecord:
    """One record the user creates (or removes) at their DNS provider."""

    type: str  # CNAME, or "ALIAS" for the provider's apex equivalent
    name: str
    value: str
    why: str

    def line(self) -> str:
        return f"{self.type:<5}  {self.name}  ->  {self.value}   ({self.why})"

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "name": self.name, "value": self.value, "why": self.why}


def looks_like_apex(host: str) -> bool:
    """Two labels (example.com): the apex of a registered domain. Deeper names may be apexes too
    (example.co.uk) -- without a zone ecsup cannot tell, so the CNAME line says what to do then."""
    return len(host.rstrip(".").split(".")) <= 2


APEX_HOW = "use your provider's ALIAS, ANAME or CNAME flattening: a CNAME cannot sit at the apex of a domain"


def site_record(ctx: Context, alb_dns: str | None = None) -> ProviderRecord:
    """The hostname's record to the load balancer (its DNS name: ``alb_dns``, else this run's)."""
    host = ctx.config.dns.hostname
    target = alb_dns or ctx.facts.get("alb_dns") or f"the DNS name of load balancer {ctx.names.alb}"
    target = str(target).rstrip(".").lower().removeprefix("dualstack.")
    if looks_like_apex(host):
        return ProviderRecord("ALIAS", f"{host}.", target, f"the site; {host} is the apex: {APEX_HOW}")
    return ProviderRecord("CNAME", f"{host}.", target, f"the site; if {host} is the apex of your domain, {APEX_HOW}")


def validation_record(record: dict[str, str]) -> ProviderRecord:
    return ProviderRecord(
        record.get("Type", "CNAME"),
        record["Name"],
        record["Value"],
        "certificate validation: keep it while the certificate exists, ACM renews through it",
    )


def records(ctx: Context, validation: list[dict[str, str]], alb_dns: str | None = None) -> list[ProviderRecord]:
    """What the user creates at their provider: the validation CNAMEs (each once: ACM gives the same
    record for a name in every region), then the site's record."""
    seen: set[tuple[str, str]] = set()
    out = []
    for rec in validation:
        key = (rec["Name"].lower(), rec["Value"].lower())
        if key not in seen:
            seen.add(key)
            out.append(validation_record(rec))
    return [*out, site_record(ctx, alb_dns)]


def show(ctx: Context, validation: list[dict[str, str]], why: str) -> None:
    """Hand the records to create to the UI -- once per run, or again when they changed (a
    second region's certificate with other records) -- and keep them for --json (facts)."""
    found = records(ctx, validation)
    key = tuple(r.line() for r in found)
    if ctx.facts.get("provider_records_shown") == key:
        return
    ctx.facts["provider_records_shown"] = key
    ctx.facts["provider_records"] = [r.as_dict() for r in found]
    host = ctx.config.dns.hostname
    ctx.ui.provider_records(
        f"{host}: the domain's DNS is at your provider (dns.external); {why}. Create these records there:",
        [r.line() for r in found],
    )


# -- status: does public DNS send the hostname to the load balancer? ------------------------------
Resolver = Callable[[str], set[str]]


def system_resolve(name: str) -> set[str]:
    """The addresses the system resolver gives ``name`` (A and AAAA, through CNAMEs); empty when it
    has no answer. socket.getaddrinfo is what a browser on this machine would use."""
    try:
        found = socket.getaddrinfo(name, 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return set()
    return {str(info[4][0]) for info in found}


RESOLVE: Resolver = system_resolve  # tests put a resolver of their own here


def public_dns(ctx: Context, alb_dns: str) -> tuple[str, str]:
    """(state, detail) of the hostname in public DNS against the load balancer's addresses:
    "ok", "missing" (no answer), "elsewhere" (other addresses), or "skipped" (an endpoint that is
    not AWS, e.g. the sandbox: its load balancer has no public address to compare with)."""
    host = ctx.config.dns.hostname
    if ctx.endpoint:
        return "skipped", (
            f"skipped: AWS calls go to {ctx.endpoint}, whose load balancer has no public address; "
            f"point {host} at {alb_dns} at your DNS provider on AWS"
        )
    want = RESOLVE(alb_dns)
    have = RESOLVE(host)
    if not have:
        return "missing", (
            f"{host} does not resolve (system resolver): create the record at your DNS provider -- "
            f"{site_record(ctx, alb_dns).line()}"
        )
    if want and have & want:
        return "ok", f"{host} resolves to load balancer {alb_dns} ({', '.join(sorted(have & want))})"
    return "elsewhere", (
        f"{host} resolves to {', '.join(sorted(have))}, not to load balancer {alb_dns} "
        f"({', '.join(sorted(want)) or 'no answer'}): point it there at your DNS provider "
        "(a proxy or CDN in front of the load balancer also shows this)"
    )


GONE = {
    "certificate validation": "certificate validation: the certificate is deleted",
    "the site": "the site: its load balancer is deleted",
}


def leftovers(ctx: Context, validation: list[dict[str, str]], alb_dns: str | None) -> list[dict[str, Any]]:
    """destroy: the records the user can remove at their provider once the stack is gone."""
    found = records(ctx, validation, alb_dns) if validation or alb_dns else []
    out = []
    for r in found:
        gone = next(why for start, why in GONE.items() if r.why.startswith(start))
        r = ProviderRecord(r.type, r.name, r.value, gone)
        out.append(r.as_dict() | {"line": r.line()})
    return out
