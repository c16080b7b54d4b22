"""ACM: the certificate (and optionally its us-east-1 twin for CloudFront), its DNS
validation records, and the wait for ISSUED -- deferred until the HTTPS listener
needs it, so the rest of the stack is built while ACM validates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from .. import waiting
from ..context import Context
from ..errors import AwsError, ConfigError, EcsupError, WaitTimeout, doing, is_code
from ..names import tag_dict
from ..plan import KNOWN_AFTER_APPLY, Action
from . import Step, external, listeners_ref, load_balancer_ref
from .zone import change_records, fqdn, records_at

CLOUDFRONT_REGION = "us-east-1"
UNUSABLE = {"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"}
# ListCertificates returns only RSA_1024/RSA_2048 certificates unless asked for the others
ALL_KEY_TYPES = {
    "keyTypes": ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]
}


def covers(pattern: str, name: str) -> bool:
    if pattern == name:
        return True
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


def wanted_names(ctx: Context) -> tuple[str, list[str]]:
    """(DomainName, SubjectAlternativeNames) as STACK.md sets them. With dns.external there is no
    zone whose names a wildcard would cover (nor one to validate it in): the hostname alone."""
    zone, host = ctx.config.dns.zone, ctx.config.dns.hostname
    if external.is_external(ctx):
        return host, []
    sans = [f"*.{zone}"]
    if not (covers(zone, host) or covers(f"*.{zone}", host)):
        sans.append(host)
    return zone, sans


def cert_regions(ctx: Context) -> list[str]:
    regions = [ctx.region]
    if ctx.config.dns.cloudfront_certificate and ctx.region != CLOUDFRONT_REGION:
        regions.append(CLOUDFRONT_REGION)
    return regions


def fact_key(ctx: Context, region: str) -> str:
    return "cert_arn" if region == ctx.region else "cert_arn_cloudfront"


def owned_certificates(ctx: Context, region: str) -> list[dict[str, Any]]:
    """Every certificate in ``region`` tagged as this stack's, described (newest first)."""
    acm = ctx.client("acm", region)
    zone = wanted_names(ctx)[0]  # the zone apex; with dns.external, the hostname
    found = []
    with doing(f"list certificates in {region}"):
        for page in acm.get_paginator("list_certificates").paginate(Includes=ALL_KEY_TYPES):
            for summary in page["CertificateSummaryList"]:
                if summary.get("DomainName", "").lower() != zone:
                    continue
                arn = summary["CertificateArn"]
                try:
                    tags = tag_dict(acm.list_tags_for_certificate(CertificateArn=arn).get("Tags"))
                except Exception as exc:  # deleted between list and read
                    if is_code(exc, "ResourceNotFoundException"):
                        continue
                    raise
                if ctx.names.owns(tags):
                    found.append(acm.describe_certificate(CertificateArn=arn)["Certificate"])
    found.sort(key=lambda c: str(c.get("CreatedAt", "")), reverse=True)
    return found


def validation_records(cert: dict[str, Any]) -> list[dict[str, str]] | None:
    """The distinct CNAMEs to write, or None while ACM has not published them all."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for option in cert.get("DomainValidationOptions", []):
        record = option.get("ResourceRecord")
        if not record:
            return None
        out[(fqdn(record["Name"]), record["Value"])] = {
            "Name": fqdn(record["Name"]),
            "Type": record["Type"],
            "Value": record["Value"],
        }
    return list(out.values()) or None


def missing_records(ctx: Context, records: list[dict[str, str]]) -> list[dict[str, str]]:
    missing = []
    for rec in records:
        have = [r for r in records_at(ctx, rec["Name"]) if r["Type"] == rec["Type"]]
        values = {v["Value"].rstrip(".").lower() for r in have for v in r.get("ResourceRecords", [])}
        if rec["Value"].rstrip(".").lower() not in values:
            missing.append(rec)
    return missing


def upsert_records(ctx: Context, records: list[dict[str, str]], what: str) -> None:
    change_records(
        ctx,
        [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": r["Name"],
                    "Type": r["Type"],
                    "TTL": 300,
                    "ResourceRecords": [{"Value": r["Value"]}],
                },
            }
            for r in records
        ],
        what,
    )


def describe(ctx: Context, arn: str, region: str) -> dict[str, Any]:
    with doing(f"describe certificate {arn}"):
        return dict(ctx.client("acm", region).describe_certificate(CertificateArn=arn)["Certificate"])


def wait_records(ctx: Context, arn: str, region: str) -> list[dict[str, str]]:
    """ACM publishes the validation records a few seconds after the request."""
    found: dict[str, list[dict[str, str]]] = {}

    def check() -> tuple[bool, str]:
        records = validation_records(describe(ctx, arn, region))
        if records:
            found["records"] = records
            return True, "published"
        return False, "not yet published"

    waiting.poll(
        ctx,
        f"validation records of the certificate in {region}",
        check,
        ctx.timeouts.validation_record,
        first=1.0,
        cap=5.0,
    )
    return found["records"]


def request(ctx: Context, region: str) -> str:
    domain, sans = wanted_names(ctx)
    acm = ctx.client("acm", region)
    with doing(f"request certificate for {domain} in {region}"):
        arn = acm.request_certificate(
            DomainName=domain,
            # an empty list is refused: botocore's ACM model gives SubjectAlternativeNames min 1
            **({"SubjectAlternativeNames": sans} if sans else {}),
            ValidationMethod="DNS",
            # Per run: a botocore retry of this very call is idempotent, while a request made
            # after a destroy never gets the deleted certificate back.
            IdempotencyToken=ctx.run_id[:32],
            Tags=ctx.names.tag_list(),
            Options={"CertificateTransparencyLoggingPreference": "ENABLED"},
        )["CertificateArn"]
    ctx.facts[fact_key(ctx, region)] = arn
    return str(arn)


def request_external(ctx: Context, region: str) -> str:
    """dns.external: request, then hand the validation CNAME(s) ACM publishes -- with the site's
    record -- to the user, who creates them at their DNS provider (ecsup writes no record)."""
    arn = request(ctx, region)
    records = wait_records(ctx, arn, region)
    ctx.facts.setdefault("provider_validation", {})[region] = records
    external.show(ctx, provider_validation(ctx), "ACM issues the certificate once public DNS answers its validation")
    return arn


def provider_validation(ctx: Context) -> list[dict[str, str]]:
    """dns.external: the validation records of every certificate this stack uses (read again when
    this run did not request it: a create resumed finds the certificate by its tags)."""
    known: dict[str, list[dict[str, str]]] = ctx.facts.setdefault("provider_validation", {})
    out: list[dict[str, str]] = []
    for region in cert_regions(ctx) if not ctx.config.dns.certificate_arn else [ctx.region]:
        arn = ctx.facts.get(fact_key(ctx, region))
        if not arn:
            continue
        if region not in known:
            known[region] = validation_records(describe(ctx, arn, region)) or []
        out += known[region]
    return out


def write_records(ctx: Context, region: str) -> str:
    arn = ctx.facts[fact_key(ctx, region)]
    records = wait_records(ctx, arn, region)
    missing = missing_records(ctx, records)
    if missing:
        upsert_records(ctx, missing, f"validation of {ctx.config.dns.zone} ({region})")
    return ", ".join(r["Name"] for r in records)


def diagnose(cert: dict[str, Any]) -> str:
    parts = []
    for option in cert.get("DomainValidationOptions", []):
        rec = option.get("ResourceRecord", {})
        parts.append(
            f"{option['DomainName']}: {option.get('ValidationStatus', '?')}"
            + (f" (CNAME {rec.get('Name')} -> {rec.get('Value')})" if rec else "")
        )
    return "; ".join(parts)


def _name_servers(ctx: Context) -> str:
    """The zone's own name servers, to compare with the registrar's delegation (best effort)."""
    try:
        zone = ctx.client("route53").get_hosted_zone(Id=ctx.facts["zone_id"])
        return ", ".join(zone.get("DelegationSet", {}).get("NameServers", [])) or "unknown"
    except Exception:
        return "see the zone's NS record"


def wait_issued(ctx: Context, regions: list[str] | None = None) -> None:
    """Wait until the certificates this stack uses in ``regions`` (default: the stack's own
    region, the one its listener needs) are ISSUED, all together. A certificate brought with
    dns.certificate_arn that is still PENDING_VALIDATION is waited for the same way."""
    pending = {
        region: ctx.facts[fact_key(ctx, region)]
        for region in (regions or [ctx.region])
        if ctx.facts.get(fact_key(ctx, region)) and not ctx.facts.get(f"{fact_key(ctx, region)}_issued")
    }
    if not pending:
        return
    outside = external.is_external(ctx)
    if outside:  # the user creates the records: say which (again, on a resumed create) before waiting
        external.show(ctx, provider_validation(ctx), "ACM validates the certificate through these records")
    last: dict[str, dict[str, Any]] = {}

    def check() -> tuple[bool, str]:
        states = []
        for region, arn in pending.items():
            cert = describe(ctx, arn, region)
            last[region] = cert
            status = cert["Status"]
            if status in UNUSABLE:
                reason = cert.get("FailureReason", "")
                raise AwsError(
                    f"certificate {arn} is {status}" + (f" ({reason})" if reason else "") + f": {diagnose(cert)}",
                    status,
                    hint=(
                        "check the validation CNAME at your DNS provider and any CAA records (they must allow "
                        "amazon.com); then re-run `ecsup create`, which requests a new certificate"
                        if outside
                        else "check the zone's NS delegation at the registrar and any CAA records "
                        "(they must allow amazon.com); then re-run `ecsup create`"
                    ),
                )
            states.append(status if len(pending) == 1 else f"{region} {status}")
        done = all(c["Status"] == "ISSUED" for c in last.values())
        return done, ", ".join(states)

    def timeout(state: str) -> WaitTimeout:
        details = "; ".join(f"{region} {c['CertificateArn']}: {diagnose(c)}" for region, c in last.items())
        if outside:
            return WaitTimeout(
                f"certificate still {state} after {int(ctx.timeouts.certificate)} s ({details})",
                hint="create the validation CNAME printed above at your DNS provider (ACM checks public DNS; "
                "the record can take a while to reach it) and check that no CAA record forbids amazon.com; "
                "re-running `ecsup create` resumes: it finds the certificate again and prints the records again",
            )
        return WaitTimeout(
            f"certificate still {state} after {int(ctx.timeouts.certificate)} s ({details})",
            hint=f"ACM validates through the CNAME records above in zone {ctx.config.dns.zone}: check that the "
            f"registrar delegates the domain to this zone's NS name servers ({_name_servers(ctx)}) and that no CAA "
            "record forbids amazon.com; re-running `ecsup create` resumes the wait",
        )

    # DescribeCertificate is cheap and ACM often validates within a minute: start at 1 s so the
    # listener is created within a second or two of ISSUED (botocore's waiter polls every 60 s).
    what = (
        "certificate validation (ACM)"
        if set(pending) == {ctx.region}
        else f"certificate validation (ACM, {', '.join(pending)})"
    )
    waiting.poll(ctx, what, check, ctx.timeouts.certificate, on_timeout=timeout, first=1.0)
    for region in pending:
        ctx.facts[f"{fact_key(ctx, region)}_issued"] = True


def wait_cloudfront_copy(ctx: Context) -> None:
    """The us-east-1 copy serves CloudFront, not this stack: waited for only once the stack is
    up, so it never holds up the service. A failure still fails the run (after the service)."""
    others = [r for r in cert_regions(ctx) if r != ctx.region]
    if not others:
        return
    try:
        wait_issued(ctx, others)
    except EcsupError as exc:
        exc.message = (
            f"the stack is up at {ctx.config.url}, but the CloudFront certificate is not usable: {exc.message}"
        )
        raise


def unwanted_regions(ctx: Context) -> list[str]:
    """Regions where an ecsup-owned copy may linger that the config no longer asks for: the
    us-east-1 copy once cloudfront_certificate is turned off (or a certificate is brought)."""
    wanted = cert_regions(ctx) if not ctx.config.dns.certificate_arn else [ctx.region]
    return [r for r in (CLOUDFRONT_REGION,) if r not in wanted and r != ctx.region]


class CertificateStep(Step):
    title = "certificate"
    reads = ("zone_id",)  # records in the zone
    # the two longest waits start first: the load balancer (it provisions for minutes), then the
    # certificate (ACM validates meanwhile): its request comes right after the load balancer's
    after = ("LoadBalancerStep",)
    provides = (
        "cert_arn",
        "cert_arn_issued",
        "cert_arn_cloudfront",
        "cert_arn_cloudfront_issued",
        "records",
        "provider_validation",
        "provider_records",
        "owned_cert_arns",
        "provider_leftover_validation",
    )

    def plan(self, ctx: Context) -> list[Action]:
        arn = ctx.config.dns.certificate_arn
        actions = [self._bring_your_own(ctx, arn)] if arn else []
        # each region is read on its own (the regional one and the us-east-1 copy at once)
        reads: dict[str, Callable[[], list[Action]]] = {}
        for region in [] if arn else cert_regions(ctx):
            reads[f"plan {region}"] = partial(self._plan_region, ctx, region)
        for region in unwanted_regions(ctx):
            reads[f"remove {region}"] = partial(self._plan_removal, ctx, region)
        for found, error in ctx.in_parallel(reads).values():
            if error is not None:
                raise error
            actions += found or []
        return actions

    def after_apply(self, ctx: Context) -> None:
        wait_cloudfront_copy(ctx)

    def _plan_region(self, ctx: Context, region: str) -> list[Action]:
        domain, sans = wanted_names(ctx)
        wanted = {domain, *sans}
        label = f"{domain} ({region})"
        usable = [
            c
            for c in owned_certificates(ctx, region)
            if c["Status"] not in UNUSABLE and set(c.get("SubjectAlternativeNames", [])) | {c["DomainName"]} == wanted
        ]
        outside = external.is_external(ctx)
        if not usable and outside:  # no zone: the validation record is the user's to create
            return [
                Action(
                    "create",
                    "certificate",
                    label,
                    f"DNS validation; names {domain}; its validation CNAME is yours to create at your DNS provider "
                    "(printed once ACM publishes it)",
                    run=partial(request_external, ctx, region),
                )
            ]
        if not usable:
            return [
                Action(
                    "create",
                    "certificate",
                    label,
                    "DNS validation; names " + ", ".join([domain, *sans]),
                    run=partial(request, ctx, region),
                ),
                Action(
                    "create", "validation records", label, KNOWN_AFTER_APPLY, run=partial(write_records, ctx, region)
                ),
            ]
        cert = usable[0]
        ctx.learn_account(cert["CertificateArn"])
        key = fact_key(ctx, region)
        ctx.facts[key] = cert["CertificateArn"]
        if cert["Status"] == "ISSUED":
            ctx.facts[f"{key}_issued"] = True
        actions = [Action("noop", "certificate", label, f"{cert['Status']} {cert['CertificateArn']}")]
        if outside:  # its records are at the user's provider: waiting for ISSUED prints them (wait_issued)
            return actions
        records = validation_records(cert)
        missing = missing_records(ctx, records) if records else None
        if missing or records is None:
            actions.append(
                Action(
                    "create",
                    "validation records",
                    label,
                    ", ".join(r["Name"] for r in missing) if missing else KNOWN_AFTER_APPLY,
                    run=partial(write_records, ctx, region),
                )
            )
        else:
            actions.append(Action("noop", "validation records", label, ", ".join(r["Name"] for r in records)))
        return actions

    def _plan_removal(self, ctx: Context, region: str) -> list[Action]:
        """ecsup's copies in a region the config no longer uses: deleted with their validation
        records (unless another certificate still uses them); kept while something uses them."""
        actions = []
        for cert in owned_certificates(ctx, region):
            arn, label = cert["CertificateArn"], f"{cert['DomainName']} ({region})"
            users = cert.get("InUseBy") or []
            if users:
                ctx.notes.append(
                    f"certificate {label} is no longer configured but is in use by {', '.join(users)}: left in place"
                )
                continue
            actions.append(
                Action(
                    "delete",
                    "certificate",
                    label,
                    "no longer configured (dns.cloudfront_certificate)",
                    run=partial(delete_certificate, ctx, arn, region, patient=False),
                )
            )
            records = validation_records(cert) or []
            if records and not external.is_external(ctx):  # at the user's provider, not in a zone
                actions.append(
                    Action(
                        "delete",
                        "validation records",
                        label,
                        ", ".join(r["Name"] for r in records) + " (unless another certificate uses them)",
                        run=partial(delete_records, ctx, records, arn),
                    )
                )
        return actions

    def _bring_your_own(self, ctx: Context, arn: str) -> Action:
        """dns.certificate_arn, checked before any change: in the stack's region, covering the
        hostname, and ISSUED -- or PENDING_VALIDATION, which the listener then waits for."""
        region = arn.split(":")[3]
        key = "dns.certificate_arn"
        if region != ctx.region:
            raise ConfigError(
                [
                    (
                        key,
                        f"the certificate is in {region}; the load balancer is in "
                        f"{ctx.region} and needs a certificate from the same region",
                    )
                ]
            )
        try:
            cert = describe(ctx, arn, region)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise ConfigError([(key, f"certificate {arn} does not exist")]) from None
            raise
        names = {cert["DomainName"], *cert.get("SubjectAlternativeNames", [])}
        host = ctx.config.dns.hostname
        if not any(covers(n, host) for n in names):
            raise ConfigError([(key, f"the certificate ({', '.join(sorted(names))}) does not cover {host}")])
        status = cert["Status"]
        if status in UNUSABLE:
            reason = f" ({cert['FailureReason']})" if cert.get("FailureReason") else ""
            raise ConfigError(
                [(key, f"certificate {arn} is {status}{reason}: a load balancer cannot use it")],
                hint="request or import a new certificate and put its ARN in dns.certificate_arn "
                "(or remove the key: ecsup then requests one); nothing was changed",
            )
        ctx.facts["cert_arn"] = arn
        if status == "ISSUED":
            ctx.facts["cert_arn_issued"] = True
        detail = "bring your own; never deleted by ecsup"
        if status != "ISSUED":
            detail += f"; {status}: the HTTPS listener waits for ACM to issue it"
        return Action("noop", "certificate", arn, f"{status}, {detail}")

    def plan_destroy(self, ctx: Context) -> list[Action]:
        actions: list[Action] = []
        if ctx.config.dns.certificate_arn:
            actions.append(
                Action(
                    "keep",
                    "certificate",
                    ctx.config.dns.certificate_arn,
                    "given as dns.certificate_arn: never deleted by ecsup",
                )
            )
        # both regions whatever the config says now: a copy made before cloudfront_certificate
        # was turned off is still ecsup's to remove
        for region in sorted({ctx.region, CLOUDFRONT_REGION}):
            for cert in owned_certificates(ctx, region):
                arn = cert["CertificateArn"]
                if region == ctx.region:  # SharedRuleStep takes it off a shared listener
                    ctx.facts.setdefault("owned_cert_arns", []).append(arn)
                label = f"{cert['DomainName']} ({region})"
                actions.append(
                    Action(
                        "delete",
                        "certificate",
                        label,
                        arn,
                        run=partial(delete_certificate, ctx, arn, region),
                        # the stack's listener uses the regional one; the us-east-1 copy is independent
                        after=(
                            (listeners_ref(ctx),)
                            + (
                                (f"listener certificate {ctx.names.rule}", load_balancer_ref(ctx))
                                if ctx.names.shared
                                else ()
                            )
                            if region == ctx.region
                            else ()
                        ),
                    )
                )
                records = validation_records(cert) or []
                if records and external.is_external(ctx):  # at the user's provider: said after destroy
                    ctx.facts.setdefault("provider_leftover_validation", []).extend(records)
                if records and ctx.facts.get("zone_id"):
                    actions.append(
                        Action(
                            "delete",
                            "validation records",
                            label,
                            ", ".join(r["Name"] for r in records),
                            run=partial(delete_records, ctx, records, arn),
                            after=(f"certificate {label}",),  # it needs them to renew while it exists
                        )
                    )
        return actions


class _StillUsed(Exception):
    """The certificate is on a listener that stays (or used by a service other than ELB)."""

    def __init__(self, users: list[str]) -> None:
        super().__init__(", ".join(users))
        self.users = users


def still_used_by(ctx: Context, arn: str, region: str) -> list[str]:
    """What really still uses the certificate: ACM's InUseBy, each load balancer in it confirmed
    by its listeners' certificates (DescribeListenerCertificates, paginated). ACM keeps answering
    ResourceInUseException for a while after a listener let go (InUseBy can lag too): that is
    waited out; a listener that still has it is not, since nothing of this run will release it."""
    users: list[str] = []
    elb = ctx.client("elbv2", region)
    for user in describe(ctx, arn, region).get("InUseBy") or []:
        if ":elasticloadbalancing:" not in user or ":loadbalancer/" not in user:
            users.append(user)  # CloudFront, API Gateway...: in use for real
            continue
        try:
            with doing(f"read the listeners of {user}"):
                for page in elb.get_paginator("describe_listeners").paginate(LoadBalancerArn=user):
                    for listener in page["Listeners"]:
                        pages = elb.get_paginator("describe_listener_certificates").paginate(
                            ListenerArn=listener["ListenerArn"]
                        )
                        if any(c["CertificateArn"] == arn for p in pages for c in p["Certificates"]):
                            users.append(f"{user.split('/')[-2]} {listener['Protocol']}:{listener['Port']}")
        except AwsError as exc:
            if exc.code not in ("LoadBalancerNotFound", "ListenerNotFound"):
                raise
    return users


def delete_certificate(ctx: Context, arn: str, region: str, patient: bool = True) -> str:
    """Delete; ResourceInUseException is retried while the load balancer lets go of it
    (destroy), or -- for a copy no longer configured (create) -- reported, not waited for. A
    certificate that stays on a shared listener (steps/shared.py: keep_certificate), or that a
    listener nothing here deletes still has (still_used_by), is kept and said, not waited for."""
    kept = ctx.facts.get("kept_certs", {}).get(arn)
    if kept:
        return f"kept: {kept}"
    acm = ctx.client("acm", region)

    def attempt() -> None:
        try:
            acm.delete_certificate(CertificateArn=arn)
        except Exception as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return
            if patient and is_code(exc, "ResourceInUseException"):
                users = still_used_by(ctx, arn, region)
                if users:
                    raise _StillUsed(users) from exc
            raise

    try:
        with doing(f"delete certificate {arn}"):
            waiting.retry(
                ctx,
                "the certificate to be released by its load balancer",
                attempt,
                lambda e: is_code(e, "ResourceInUseException"),
                ctx.timeouts.release if patient else 0,
            )
    except _StillUsed as used:
        why = f"still in use by {', '.join(used.users)}, which this destroy does not delete"
        ctx.facts.setdefault("kept_certs", {})[arn] = why
        return f"kept: {why}; remove it there, then `ecsup destroy` again deletes it"
    ctx.facts.setdefault("deleted_certs", set()).add(arn)
    return "deleted"


_SCAN_LOCK = threading.Lock()


def records_in_use(ctx: Context, names: set[str] | None = None) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """Validation records that another certificate in the account relies on, and the regions
    that could not be checked (region -> why). ACM gives the same validation CNAME for a name
    in every region, so every enabled region is read (concurrently), once per run; the
    certificates deleted since are left out. ``names``: the certificate's names when they are not
    the stack's (the previews' *.<domain>)."""
    if names is not None:
        by_cert, doubts = _records_by_certificate(ctx, names)
    else:
        with _SCAN_LOCK:  # deletions run at once: the account's regions are read once
            if "records_by_cert" not in ctx.facts:
                ctx.facts["records_by_cert"], ctx.facts["records_doubts"] = _records_by_certificate(ctx)
        by_cert, doubts = ctx.facts["records_by_cert"], ctx.facts["records_doubts"]
    deleted = ctx.facts.get("deleted_certs", set())
    used = {rec for arn, recs in by_cert.items() if arn not in deleted for rec in recs}
    return used, doubts


def enabled_regions(ctx: Context) -> list[str]:
    """The regions enabled in this account (DescribeRegions leaves out the opt-in ones not enabled)."""
    with doing("list the account's regions"):
        return sorted(r["RegionName"] for r in ctx.client("ec2").describe_regions()["Regions"])


def _records_by_certificate(
    ctx: Context, names: set[str] | None = None
) -> tuple[dict[str, set[tuple[str, str]]], dict[str, str]]:
    """Validation records per certificate, for the certificates that can share ours: ACM's
    record depends only on the domain name, so only certificates naming one of our names."""
    if names is None:
        domain, sans = wanted_names(ctx)
        names = {domain, *sans}
    ours = names
    try:
        regions = enabled_regions(ctx)
    except EcsupError as exc:
        return {}, {"every region": exc.message}

    def certificates_in(region: str) -> dict[str, set[tuple[str, str]]]:
        acm = ctx.client("acm", region)
        used: dict[str, set[tuple[str, str]]] = {}
        with doing(f"list certificates in {region}"):
            for page in acm.get_paginator("list_certificates").paginate(Includes=ALL_KEY_TYPES):
                for summary in page["CertificateSummaryList"]:
                    names = {summary.get("DomainName", ""), *summary.get("SubjectAlternativeNameSummaries", [])}
                    if not names & ours:
                        continue
                    arn = summary["CertificateArn"]
                    try:
                        cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
                    except Exception as exc:
                        if is_code(exc, "ResourceNotFoundException"):
                            continue
                        raise
                    used[arn] = {(r["Name"], r["Value"]) for r in validation_records(cert) or []}
        return used

    used: dict[str, set[tuple[str, str]]] = {}
    doubts: dict[str, str] = {}
    for region, (found, error) in ctx.in_parallel({r: partial(certificates_in, r) for r in regions}).items():
        if error is not None:
            doubts[region] = getattr(error, "message", str(error))
        else:
            used.update(found or {})
    return used, doubts


def delete_records(ctx: Context, records: list[dict[str, str]], arn: str, names: set[str] | None = None) -> str:
    if arn in ctx.facts.get("kept_certs", {}):
        return f"kept {len(records)}: certificate {arn} stays and needs them to renew"
    in_use, doubts = records_in_use(ctx, names)
    if doubts:  # a certificate we could not see may use them: keep them, and say why
        why = "; ".join(f"{region}: {reason}" for region, reason in sorted(doubts.items()))
        return f"kept {len(records)}: could not check every region for a certificate using them ({why})"
    kept = [r for r in records if (r["Name"], r["Value"]) in in_use]
    doomed = []
    for rec in records:
        if rec in kept:
            continue
        for have in records_at(ctx, rec["Name"]):
            values = {v["Value"] for v in have.get("ResourceRecords", [])}
            if have["Type"] == rec["Type"] and rec["Value"] in values:
                doomed.append({"Action": "DELETE", "ResourceRecordSet": have})
    if doomed:
        change_records(ctx, doomed, "certificate validation no longer needed")
    if kept:
        return f"kept {len(kept)} still used by another certificate"
    return "deleted" if doomed else "already gone"
