"""ACM: validation records published a moment after the request, ISSUED only once they are in DNS,
and a certificate in use (or just released) cannot be deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import (
    AwsFault,
    Emulation,
    _acm,
    _elbv2,
    _norm,
    _route53,
    _settled,
    _state,
)


# -- ACM ----------------------------------------------------------------------------------
def certificate_state(em: Emulation, cert: Any) -> tuple[str, float | None]:
    """(status as AWS would report it, when it was issued). ACM issues a DNS-validated
    certificate Delays.certificate_validation after its validation records are first present
    in DNS (and not before it has published them: Delays.validation_records after the request).
    moto's own status still has the last word while it says PENDING_VALIDATION (its
    ACM_VALIDATION_WAIT: how tests keep a certificate pending, as if DNS were broken)."""
    issued_at: float | None = getattr(cert, "_ecsup_issued_at", None)
    status = cert.status
    if cert.type != "AMAZON_ISSUED" or issued_at is not None:
        return status, issued_at
    if status != "ISSUED":
        if status == "PENDING_VALIDATION":
            cert._ecsup_pending_seen = em.now()  # moto flips later: issued no earlier than this
        return status, None
    requested = getattr(cert, "_ecsup_requested", None)
    if requested is not None and _outside_every_zone(cert):
        # DNS at a provider the emulation cannot see: the records are taken as created there once
        # published and given the user's time (Delays.external_dns_records)
        created = float(requested) + em.delays.validation_records + em.delays.external_dns_records
        at = max(created + em.delays.certificate_validation, float(getattr(cert, "_ecsup_pending_seen", None) or 0))
        if em.now() < at:
            return "PENDING_VALIDATION", None
        cert._ecsup_issued_at = at
        return status, at
    if not _validation_records_exist(cert):
        cert._ecsup_records_seen = None  # removed before ACM saw them: it starts again when they are back
        return "PENDING_VALIDATION", None
    seen = getattr(cert, "_ecsup_records_seen", None)
    if seen is None:  # present, but not seen appear (written before the emulation looked)
        seen = cert._ecsup_records_seen = em.now()
    ready = max(
        float(seen) + em.delays.certificate_validation,
        float(requested if requested is not None else seen) + em.delays.validation_records,
        float(getattr(cert, "_ecsup_pending_seen", None) or seen),
    )
    if em.now() < ready:
        return "PENDING_VALIDATION", None
    cert._ecsup_issued_at = ready
    return status, ready


def validation_records_written(em: Emulation, account: str) -> None:
    """Notes, for every certificate of the account still waiting for its validation records,
    the moment they are all present (a Route53 change just made, or the request of a certificate
    whose records exist already): ACM's validation delay runs from there."""
    from moto.acm.models import acm_backends

    regions: Any = dict.get(acm_backends, account)  # the regions in use only (indexing creates them)
    for backend in list(dict.values(regions)) if regions is not None else []:
        cert: Any
        for cert in list(backend._certificates.values()):
            if cert.type != "AMAZON_ISSUED" or getattr(cert, "_ecsup_issued_at", None) is not None:
                continue
            if getattr(cert, "_ecsup_records_seen", None) is None and _validation_records_exist(cert):
                cert._ecsup_records_seen = em.now()


def _validation_records_exist(cert: Any) -> bool:
    account = cert.arn.split(":")[4]
    wanted = {
        (_norm(o["ResourceRecord"]["Name"]), _norm(o["ResourceRecord"]["Value"]))
        for o in _original_describe(cert)["Certificate"].get("DomainValidationOptions", [])
    }
    have = {
        (_norm(rrset.name), _norm(value))
        for zone in _route53(account).zones.values()
        for rrset in zone.rrsets
        if rrset.type == "CNAME"
        for value in rrset.records or []
    }
    return wanted <= have


def _outside_every_zone(cert: Any) -> bool:
    """No name of the certificate lies in a hosted zone of the account: its DNS is elsewhere."""
    account = cert.arn.split(":")[4]
    zones = [_norm(zone.name) for zone in _route53(account).zones.values()]
    names = {_norm(o["DomainName"]) for o in _original_describe(cert)["Certificate"].get("DomainValidationOptions", [])}
    return bool(names) and not any(
        name.removeprefix("*.") == zone or name.endswith("." + zone) for name in names for zone in zones
    )


_original_describe: Callable[[Any], dict[str, Any]] = lambda cert: {}  # noqa: E731 (set by install)


def describe_certificate_as_aws(em: Emulation, cert: Any, proceed: Callable[[], Any]) -> Any:
    """DescribeCertificate: no validation records for a few seconds after the request, and
    PENDING_VALIDATION until the records are in DNS."""
    out = proceed()
    c = out["Certificate"]
    if getattr(cert, "_ecsup_key_algorithm", None):
        c["KeyAlgorithm"] = cert._ecsup_key_algorithm
    if cert.type != "AMAZON_ISSUED":
        return out
    status, _ = certificate_state(em, cert)
    published = _settled(em, getattr(cert, "_ecsup_requested", None), em.delays.validation_records)
    if status != c["Status"]:
        c["Status"] = status
        c.pop("IssuedAt", None)
    for option in c.get("DomainValidationOptions", []):
        if status == "PENDING_VALIDATION":
            option["ValidationStatus"] = "PENDING_VALIDATION"
        if not published:
            option.pop("ResourceRecord", None)
    c["InUseBy"] = _in_use_by(cert)
    return out


def _listener_certificates(listener: Any) -> list[str]:
    return [c for c in getattr(listener, "certificates", []) or [] if c]


def _in_use_by(cert: Any) -> list[str]:
    parts = cert.arn.split(":")
    elb = _elbv2(parts[4], parts[3])
    return sorted(
        {
            lb.arn
            for lb in elb.load_balancers.values()
            for li in lb.listeners.values()
            if cert.arn in _listener_certificates(li)
        }
    )


def requested_certificate(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """RequestCertificate: "the length of the domain name ... cannot exceed 64 octets" (ACM
    API reference, RequestCertificate). Its KeyAlgorithm (RSA_2048, EC_prime256v1, EC_secp384r1)
    is the certificate's, as DescribeCertificate and ListCertificates report it (moto's is RSA_2048)."""
    domain = resp._get_param("DomainName") or ""
    if len(domain) > 64:
        raise AwsFault(
            "ValidationException",
            f"1 validation error detected: Value '{domain}' at 'domainName' failed to satisfy constraint: "
            "Member must have length less than or equal to 64",
        )
    result = proceed()
    cert = _acm(resp.current_account, resp.region)._certificates[result.result["CertificateArn"]]
    algorithm = resp._get_param("KeyAlgorithm")
    if algorithm and getattr(cert, "_ecsup_key_algorithm", None) is None:  # moto's key is always RSA_2048
        cert._ecsup_key_algorithm = algorithm
    if getattr(cert, "_ecsup_requested", None) is None:
        cert._ecsup_requested = em.now()
        if cert.type == "AMAZON_ISSUED" and _validation_records_exist(cert):
            cert._ecsup_records_seen = em.now()  # the same records as another certificate's: there already
    return result


def certificate_in_use_cannot_be_deleted(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteCertificate: "ResourceInUseException: Certificate ... is in use." while a
    listener uses it and for a while after (dfds/infrastructure-modules#5, TF#3866)."""
    arn = resp._get_param("CertificateArn")
    cert = _acm(resp.current_account, resp.region)._certificates.get(arn)
    released_at = _state(_acm(resp.current_account, resp.region), "released").get(arn)
    if cert is not None and (_in_use_by(cert) or not _settled(em, released_at, em.delays.certificate_release)):
        raise AwsFault("ResourceInUseException", f"Certificate {arn} in account {resp.current_account} is in use.")
    return proceed()


# "Default filtering returns only RSA_1024 and RSA_2048 certificates that have at least one domain. To
# return other certificate types, provide the desired type signatures" (ACM API reference, Filters:
# keyTypes, https://docs.aws.amazon.com/acm/latest/APIReference/API_Filters.html)
DEFAULT_LISTED_KEY_TYPES = ("RSA_1024", "RSA_2048")


def listed_key_types_by_default(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """ListCertificates without Includes.keyTypes lists only RSA_1024 and RSA_2048 certificates
    (an ECDSA one, EC_prime256v1 say, is left out); moto lists every certificate."""
    result = proceed()
    if not (resp._get_param("Includes") or {}).get("keyTypes"):
        result.result["CertificateSummaryList"] = [
            c
            for c in result.result["CertificateSummaryList"]
            if c.get("KeyAlgorithm", "RSA_2048") in DEFAULT_LISTED_KEY_TYPES
        ]
    return result


def install(around: Callable[..., None]) -> None:
    global _original_describe
    from moto.acm.models import CertBundle
    from moto.acm.responses import AWSCertificateManagerResponse as ACM

    _original_describe = CertBundle.describe
    around(CertBundle, "describe", describe_certificate_as_aws)
    around(ACM, "request_certificate", requested_certificate)
    around(ACM, "delete_certificate", certificate_in_use_cannot_be_deleted)
    around(ACM, "list_certificates", listed_key_types_by_default)
