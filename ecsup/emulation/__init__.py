"""Emulated AWS: how AWS behaves where moto is more lenient, kept in one place.

moto answers at once and forgives what AWS refuses. ecsup is written for AWS, so its
test suite and its sandbox both run moto with the behaviours below switched on: the
tests strictly, on the tests' fake clock (AWS's delays pass while ecsup waits them out,
in no real time), the sandbox on the real clock with short delays. Each behaviour is
named after what AWS does and says where that is documented or reported.

The behaviours wrap moto's API handlers (its ``*Response`` classes: the API boundary,
so moto's own internal calls are untouched) and, for the shape of an account (a default
VPC with an internet gateway), its models. They work alike for moto in-process
(``mock_aws``) and as a server (the sandbox), since both run the same handlers.

Needs moto (the ``sandbox`` extra); nothing in ecsup's commands imports this module
unless the sandbox is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from moto.core.exceptions import ServiceException

from ..config import FARGATE_MEMORY, LOG_RETENTION_DAYS


class AwsFault(ServiceException):
    """An AWS error answer. Defined outside moto's packages, it is serialised in the
    protocol of whichever service is being called (moto.core.errors.get_error_model)."""


@dataclass(frozen=True)
class Delays:
    """Seconds AWS takes to settle after an event; while it settles, it answers as below.

    The ones a create or a destroy of the stack must wait out, one after the other, are the
    physical limit of those commands (scripts/bench prints it): certificate_validation,
    load_balancer_provisioning and service_start on create; service_draining and eni_release
    on destroy. The sandbox (``ecsup sandbox --validation-delay ...``) and scripts/bench set them.
    """

    # ACM publishes DomainValidationOptions[].ResourceRecord seconds after RequestCertificate
    # (terraform-provider-aws waits for it; STACK.md).
    validation_records: float = 2.0
    # ACM issues a DNS-validated certificate some time after its validation CNAMEs appear in DNS:
    # it "makes repeated attempts to validate a certificate for 72 hours" (ACM API reference,
    # CertificateDetail.Status), usually minutes after the records exist, sometimes over an hour
    # (hashicorp/terraform-provider-aws#9338; aws_acm_certificate_validation waits up to 75 minutes).
    # Counted from when the records are first present (not from the request): PENDING_VALIDATION
    # until then, ISSUED after. 0 in the tests, where records written means issued.
    certificate_validation: float = 0.0
    # ELB answers UnsupportedCertificate for a certificate ACM has just issued: "The certificate
    # '...' must have a fully-qualified domain name, a supported signature, and a supported key
    # size." -- terraform-provider-aws#41789 (ModifyListener), DataBiosphere/azul#8321 (CreateListener).
    certificate_usable: float = 2.0
    # IAM is eventually consistent: reads right after CreateRole answer NoSuchEntity
    # (IAM User Guide, "Changes that I make are not always immediately visible").
    iam_read: float = 2.0
    # ...and permission changes take seconds to apply: tasks started meanwhile cannot read
    # their secrets (ResourceInitializationError ... AccessDeniedException).
    iam_permissions: float = 4.0
    # ECS cannot assume its service-linked role for a while after it is created: "Unable to
    # assume the service linked role. Please verify that the ECS service linked role exists."
    # (aws-cloudformation/cloudformation-coverage-roadmap#818; terraform-provider-aws retries it
    # in ecs/cluster.go retryClusterCreate and ecs/service.go retryServiceCreate).
    service_linked_role: float = 5.0
    # Route53 refuses an alias to a load balancer it does not see yet ("Tried to create an alias
    # that targets ..., but that target was not found" -- barnybug/cli53#227, aws/aws-cdk#19643).
    alias_target: float = 3.0
    # A new load balancer is "provisioning" until it "is fully set up and ready to route traffic",
    # then "active" (ELB API reference, LoadBalancerState); minutes in practice: terraform's aws_lb
    # waits for active with a 10-minute timeout that large stacks exceed (terraform-provider-aws#8054),
    # "very normal that it takes > 2 minutes" (kubernetes/kubernetes#44695). Listeners and DNS
    # aliases can be created meanwhile, but its target groups' targets cannot pass health checks
    # (TargetHealth stays "initial", Elb.RegistrationInProgress / Elb.InitialHealthChecking; ELB API
    # reference, TargetHealth): a service behind it cannot finish its first deployment before.
    # Short in the tests, whose services come later than that.
    load_balancer_provisioning: float = 3.0
    # A new service's tasks: PENDING (Fargate capacity, the awsvpc network interface -- "an overhead
    # of several seconds" (ECS Developer Guide, "Optimize Amazon ECS task launch time") --, image
    # pull, container start), then RUNNING; its first deployment is COMPLETED once they run and pass
    # the load balancer's health checks (healthy threshold x interval: 2 x 15 s with ecsup's
    # defaults). 0 in the tests: CreateService's tasks run at once (what most tests assume).
    service_start: float = 0.0
    # EC2 answers DependencyViolation ("resource sg-... has a dependent object") while the
    # network interfaces of a deleted load balancer or of stopped tasks are released: minutes
    # (cloud-barista/cb-spider#460, terraform-provider-aws#1671).
    eni_release: float = 90.0
    # ACM answers ResourceInUseException ("Certificate ... is in use.") for a while after the
    # listener using it is gone (terraform-provider-aws#3866; TF retries it for 20 minutes).
    certificate_release: float = 30.0
    # A deleted ECS service stays DRAINING until its tasks stop (DeleteService API reference;
    # minutes in practice: hashicorp/terraform#9521): the target groups' deregistration delay (30 s
    # in ecsup's target groups), then the containers' stop timeout.
    service_draining: float = 30.0
    # ECS service deployments after the first (deployments.py): new tasks take this long to start
    # and pass two health checks; a "minute" of bake time (bakeTimeInMinutes, step and canary bake
    # times) lasts this many seconds (the sandbox compresses it).
    task_start: float = 20.0
    deployment_minute: float = 60.0


STRICT = Delays()  # the test suite: on its fake clock these cost no real time
SANDBOX = Delays(  # the sandbox: on the real clock, short enough to watch (scripts/demo: about a minute)
    validation_records=0.5,
    certificate_validation=1.0,
    certificate_usable=0.5,
    iam_read=0.5,
    iam_permissions=1.0,
    service_linked_role=1.0,
    alias_target=0.5,
    load_balancer_provisioning=1.0,
    service_start=1.0,
    eni_release=2.0,
    certificate_release=1.0,
    service_draining=2.0,
    task_start=1.0,
    deployment_minute=1.0,
)


@dataclass
class Emulation:
    delays: Delays = STRICT
    clock: Callable[[], float] = time.monotonic
    # False: moto as it is (a test that needs plain moto says so); the shape of the account
    # (a default VPC like AWS's) stays.
    strict: bool = True

    def now(self) -> float:
        return self.clock()

    def with_delays(self, **changes: float) -> Emulation:
        return replace(self, delays=replace(self.delays, **changes))


ACTIVE: Emulation | None = None


def activate(emulation: Emulation) -> Emulation:
    """Switch the behaviours on for this process (moto's classes are patched once)."""
    import warnings

    global ACTIVE
    install()
    # Codes AWS returns that botocore's models do not list (UnsupportedCertificate, ...): moto
    # still answers them as the service's error; its warning about the model is noise here.
    warnings.filterwarnings("ignore", message=r"Exception\(AwsFault\)", category=UserWarning)
    ACTIVE = emulation
    return emulation


def deactivate() -> None:
    global ACTIVE
    ACTIVE = None


# -- plumbing ---------------------------------------------------------------------------
Around = Callable[..., Any]  # (emulation, the handler or model, proceed, *the call's arguments)


@dataclass
class _Hooks:
    strict: list[Around] = field(default_factory=list)
    always: list[Around] = field(default_factory=list)


_HOOKS: dict[tuple[type, str], _Hooks] = {}
_INSTALLED = False


def _around(cls: type, method: str, hook: Around, always: bool = False) -> None:
    key = (cls, method)
    if key not in _HOOKS:
        _HOOKS[key] = _Hooks()
        original = getattr(cls, method)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            em = ACTIVE
            hooks = _HOOKS[key]
            chain = ([*hooks.always, *hooks.strict] if em.strict else list(hooks.always)) if em else []

            def call(i: int) -> Any:
                if i == len(chain):
                    return original(self, *args, **kwargs)
                assert em is not None
                return chain[i](em, self, lambda: call(i + 1), *args, **kwargs)

            return call(0)

        setattr(cls, method, wrapper)
    (_HOOKS[key].always if always else _HOOKS[key].strict).append(hook)


def _state(backend: Any, name: str) -> dict[str, Any]:
    """Emulation state kept on a moto backend: it is reset with the backend (mock_aws)."""
    store: dict[str, dict[str, Any]] = backend.__dict__.setdefault("_ecsup_emulation", {})
    return store.setdefault(name, {})


def _params(resp: Any) -> dict[str, Any]:
    """The request's parameters (query protocol: nested; JSON protocol: the body)."""
    import json

    body = resp.body.decode() if isinstance(resp.body, bytes) else resp.body
    if body and body.lstrip().startswith("{"):
        return dict(json.loads(body))
    return dict(resp._get_params())


def _settled(em: Emulation, since: float | None, delay: float) -> bool:
    return since is None or em.now() >= since + delay


def _iam(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account]["aws"]


def _elbv2(account: str, region: str) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[account][region]


def _ec2(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _ecs(account: str, region: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account][region]


def _acm(account: str, region: str) -> Any:
    from moto.acm.models import acm_backends

    return acm_backends[account][region]


def _route53(account: str) -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[account]["aws"]


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


# -- EC2: the account's shape --------------------------------------------------------------
def default_vpc_has_an_internet_gateway(em: Emulation, backend: Any, proceed: Callable[[], Any]) -> Any:
    """AWS's default VPC comes with an internet gateway and a main route table sending
    0.0.0.0/0 to it (VPC User Guide, "Default VPCs"); moto's has only the local route."""
    vpc = proceed()
    igw = backend.create_internet_gateway()
    backend.attach_internet_gateway(igw.id, vpc.id)
    main = backend.describe_route_tables(filters={"vpc-id": [vpc.id], "association.main": ["true"]})
    for table in main:
        backend.create_route(table.id, "0.0.0.0/0", gateway_id=igw.id)
    return vpc


def route_table_of(ec2: Any, subnet: Any) -> Any:
    """The subnet's own route table, else its VPC's main one (as EC2 routes)."""
    own = ec2.describe_route_tables(filters={"association.subnet-id": [subnet.id]})
    if own:
        return own[0]
    main = ec2.describe_route_tables(filters={"vpc-id": [subnet.vpc_id], "association.main": ["true"]})
    return main[0] if main else None


def routes_to_internet_gateway(table: Any) -> bool:
    return table is not None and any(
        r.destination_cidr_block == "0.0.0.0/0" and r.gateway is not None and str(r.gateway.id).startswith("igw-")
        for r in table.routes
    )


# -- ELB ----------------------------------------------------------------------------------
def internet_facing_load_balancer_needs_an_internet_gateway(
    em: Emulation, resp: Any, proceed: Callable[[], Any]
) -> Any:
    """CreateLoadBalancer: "InvalidSubnet: VPC vpc-... has no internet gateway"
    (openshift/installer#1110); a subnet not routed to it cannot serve an internet-facing
    load balancer either (Kong/kong-mesh-ecs#17: created before the route existed)."""
    params = _params(resp)
    if params.get("Scheme", "internet-facing") != "internal":
        ec2 = _ec2(resp.current_account, resp.region)
        for subnet_id in params.get("Subnets") or []:
            subnet = ec2.get_subnet(subnet_id)
            gateways = [g for g in ec2.internet_gateways.values() if g.vpc and g.vpc.id == subnet.vpc_id]
            if not gateways:
                raise AwsFault("InvalidSubnet", f"VPC {subnet.vpc_id} has no internet gateway")
            if not routes_to_internet_gateway(route_table_of(ec2, subnet)):
                raise AwsFault(
                    "InvalidSubnet",
                    f"Subnet {subnet_id} has no route to an internet gateway: an internet-facing load balancer "
                    "is unreachable there",
                )
    result = proceed()
    lb = result.result["LoadBalancers"][0]
    _state(_elbv2(resp.current_account, resp.region), "created")[lb.arn] = em.now()
    lb._ecsup_created = em.now()
    return result


def load_balancer_active_at(delays: Delays, lb: Any) -> float | None:
    """When a load balancer turns (or turned) "active": load_balancer_provisioning after its
    creation; None when the emulation did not see it created (it is active)."""
    created = getattr(lb, "_ecsup_created", None)
    return None if created is None else float(created) + delays.load_balancer_provisioning


def load_balancer_is_active(em: Emulation, lb: Any) -> bool:
    at = load_balancer_active_at(em.delays, lb)
    return at is None or em.now() >= at


def load_balancer_provisions_for_a_while(em: Emulation, lb: Any, proceed: Callable[[], Any]) -> Any:
    """CreateLoadBalancer answers State "provisioning", and DescribeLoadBalancers keeps saying so
    until the load balancer "is fully set up and ready to route traffic" (ELB API reference,
    LoadBalancerState; Delays.load_balancer_provisioning). moto turns it "active" on the first
    describe (FakeLoadBalancer.activate): only once that time has passed, here."""
    if load_balancer_is_active(em, lb):
        return proceed()
    return None


def reversed_forward_groups(actions: list[Any]) -> None:
    for action in actions:
        groups = (getattr(action, "data", None) or {}).get("ForwardConfig", {}).get("TargetGroups")
        if groups and len(groups) > 1:
            groups.reverse()


def listener_order_is_not_promised(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """AWS promises no order for a forward action's target groups: store them reversed, so
    code that compares them in order fails every time rather than sometimes."""
    result = proceed()
    listener = result.result["Listeners"][0]
    reversed_forward_groups(listener.default_actions)
    return result


def rule_order_is_not_promised(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    for rule in result.result.get("Rules", []):
        reversed_forward_groups(rule.actions)
    return result


def rules_listed_in_no_promised_order(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    result.result["Rules"] = list(reversed(result.result["Rules"]))
    return result


def _listener_certificates(listener: Any) -> list[str]:
    return [c for c in getattr(listener, "certificates", []) or [] if c]


def _release_certificates(em: Emulation, account: str, arns: list[str]) -> None:
    for arn in arns:
        if ":acm:" in arn:
            _state(_acm(account, arn.split(":")[3]), "released")[arn] = em.now()


def listener_certificate_must_be_usable(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateListener/ModifyListener with an ACM certificate: refused while it is not ISSUED,
    and for a moment right after (see Delays.certificate_usable)."""
    params = _params(resp)
    for item in params.get("Certificates") or []:
        arn = item.get("CertificateArn") or ""
        if ":acm:" not in arn:
            continue
        parts = arn.split(":")
        cert = _acm(parts[4], parts[3])._certificates.get(arn)
        if cert is None:
            raise AwsFault("CertificateNotFound", f"Certificate '{arn}' not found")
        status, issued_at = certificate_state(em, cert)
        if status != "ISSUED" or not _settled(em, issued_at, em.delays.certificate_usable):
            raise AwsFault(
                "UnsupportedCertificate",
                f"The certificate '{arn}' must have a fully-qualified domain name, a supported signature, "
                "and a supported key size.",
            )
    before: list[str] = []
    if resp._get_param("ListenerArn"):  # ModifyListener: the certificate it had may be released
        for lb in _elbv2(resp.current_account, resp.region).load_balancers.values():
            if resp._get_param("ListenerArn") in lb.listeners:
                before = _listener_certificates(lb.listeners[resp._get_param("ListenerArn")])
    result = proceed()
    after = {i.get("CertificateArn") for i in params.get("Certificates") or []}
    _release_certificates(em, resp.current_account, [c for c in before if c not in after and after])
    return result


def deleted_listener_releases_its_certificate(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    arn = resp._get_param("ListenerArn")
    certs = [
        c
        for lb in _elbv2(resp.current_account, resp.region).load_balancers.values()
        if arn in lb.listeners
        for c in _listener_certificates(lb.listeners[arn])
    ]
    result = proceed()
    _release_certificates(em, resp.current_account, certs)
    return result


def deleted_load_balancer_releases_slowly(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """Deleting a load balancer deletes its listeners (their certificates are released with a
    delay) and leaves its network interfaces, which hold its security groups, for minutes."""
    arn = resp._get_param("LoadBalancerArn")
    elb = _elbv2(resp.current_account, resp.region)
    lb = elb.load_balancers.get(arn)
    result = proceed()
    if lb is not None:
        _release_certificates(
            em, resp.current_account, [c for li in lb.listeners.values() for c in _listener_certificates(li)]
        )
        released = _state(_ec2(resp.current_account, resp.region), "released")
        for group in lb.security_groups or []:
            released[group] = em.now()
    return result


# -- EC2 ----------------------------------------------------------------------------------
def security_group_in_use_is_a_dependency_violation(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteSecurityGroup: "DependencyViolation: resource sg-... has a dependent object"
    while a load balancer, a service's tasks or another group's rule use it, and while the
    network interfaces of deleted ones are released (lianghong/delete_vpc#10)."""
    gid = resp._get_param("GroupId")
    account, region = resp.current_account, resp.region
    if gid:
        in_use = any(gid in (lb.security_groups or []) for lb in _elbv2(account, region).load_balancers.values())
        ecs = _ecs(account, region)
        advance_draining(em, ecs)
        in_use = in_use or any(
            gid in _service_groups(svc) for svc in ecs.services.values() if svc.status in ("ACTIVE", "DRAINING")
        )
        ec2 = _ec2(account, region)
        in_use = in_use or any(
            rule.source_group.get("GroupId") == gid
            for groups in ec2.groups.values()
            for group in groups.values()
            if group.id != gid
            for rule in [*group.ingress_rules, *group.egress_rules]
        )
        released_at = _state(ec2, "released").get(gid)
        if in_use or not _settled(em, released_at, em.delays.eni_release):
            raise AwsFault("DependencyViolation", f"resource {gid} has a dependent object")
    return proceed()


def ingress_rules_in_no_promised_order(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    gid = resp._get_param("GroupId")
    group = _ec2(resp.current_account, resp.region).get_security_group_from_id(gid) if gid else None
    if group is not None:
        group.ingress_rules.reverse()
    return result


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


_original_describe: Callable[[Any], dict[str, Any]] = lambda cert: {}  # noqa: E731 (set by install)


def describe_certificate_as_aws(em: Emulation, cert: Any, proceed: Callable[[], Any]) -> Any:
    """DescribeCertificate: no validation records for a few seconds after the request, and
    PENDING_VALIDATION until the records are in DNS."""
    out = proceed()
    if cert.type != "AMAZON_ISSUED":
        return out
    c = out["Certificate"]
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
    API reference, RequestCertificate)."""
    domain = resp._get_param("DomainName") or ""
    if len(domain) > 64:
        raise AwsFault(
            "ValidationException",
            f"1 validation error detected: Value '{domain}' at 'domainName' failed to satisfy constraint: "
            "Member must have length less than or equal to 64",
        )
    result = proceed()
    cert = _acm(resp.current_account, resp.region)._certificates[result.result["CertificateArn"]]
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


# -- IAM ----------------------------------------------------------------------------------
SERVICE_LINKED_ROLE = "AWSServiceRoleForECS"


def created_role(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    _state(_iam(resp.current_account), "created")[result.result["Role"].name] = em.now()
    return result


def service_linked_role_taken(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateServiceLinkedRole for a role that exists: "InvalidInput: Service role name
    AWSServiceRoleForECS has been taken in this account, please try a different suffix."
    (Rayraegah/terraform-aws-hasura#17)."""
    service = resp._get_param("AWSServiceName") or ""
    name = SERVICE_LINKED_ROLE if service == "ecs.amazonaws.com" else None
    if name and _role(resp.current_account, name) is not None:
        raise AwsFault(
            "InvalidInput", f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    return created_role(em, resp, proceed)


def role_read_right_after_create(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    name = resp._get_param("RoleName")
    created = _state(_iam(resp.current_account), "created").get(name)
    if not _settled(em, created, em.delays.iam_read):
        raise AwsFault("NoSuchEntity", f"The role with name {name} cannot be found.")
    return proceed()


def role_permissions_changed(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    _state(_iam(resp.current_account), "permissions")[resp._get_param("RoleName")] = em.now()
    return result


def _role(account: str, name: str) -> Any:
    return next((r for r in _iam(account).roles.values() if r.name == name), None)


# -- ECS ----------------------------------------------------------------------------------
def _service_groups(svc: Any) -> list[str]:
    config = (svc.network_configuration or {}).get("awsvpcConfiguration") or {}
    return list(config.get("securityGroups") or [])


def advance_draining(em: Emulation, ecs: Any) -> None:
    """A deleted service turns INACTIVE once its tasks have stopped; their network interfaces
    (and so the security groups) are released some time after."""
    for svc in ecs.services.values():
        until = getattr(svc, "_ecsup_draining_until", None)
        if svc.status == "DRAINING" and until is not None and em.now() >= until:
            svc.status = "INACTIVE"
            released = _state(_ec2(svc._account_id, svc.region_name), "released")
            for group in _service_groups(svc):
                released[group] = until  # from when its tasks stopped, not from when someone looked


def deleted_service_drains(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    svc = result.result["service"]
    if svc.status == "INACTIVE":
        svc.status = "DRAINING"
        svc.running_count = svc.pending_count = 0
        svc._ecsup_draining_until = em.now() + em.delays.service_draining
    return result


def services_drain_over_time(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    advance_draining(em, _ecs(resp.current_account, resp.region))
    return proceed()


def cluster_with_services_cannot_be_deleted(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteCluster: "ClusterContainsServicesException" while a service is ACTIVE or DRAINING."""
    ecs = _ecs(resp.current_account, resp.region)
    advance_draining(em, ecs)
    name = (resp._get_param("cluster") or "default").split("/")[-1]
    if any(s.cluster_name == name and s.status in ("ACTIVE", "DRAINING") for s in ecs.services.values()):
        raise AwsFault(
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        )
    return proceed()


def _service_linked_role_usable(em: Emulation, account: str) -> bool:
    if _role(account, SERVICE_LINKED_ROLE) is None:
        return False
    return _settled(em, _state(_iam(account), "created").get(SERVICE_LINKED_ROLE), em.delays.service_linked_role)


def _needs_service_linked_role(em: Emulation, account: str) -> None:
    if not _service_linked_role_usable(em, account):
        raise AwsFault(
            "InvalidParameterException",
            "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
        )


def cluster_creates_the_service_linked_role(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateCluster creates ECS's service-linked role when it is missing (ECS Developer Guide,
    "Using service-linked roles"), but with capacity providers it needs the role usable
    already: a brand-new account fails the first time (cloudformation-coverage-roadmap#818)."""
    account = resp.current_account
    if resp._get_param("capacityProviders") or resp._get_param("defaultCapacityProviderStrategy"):
        _needs_service_linked_role(em, account)
    elif _role(account, SERVICE_LINKED_ROLE) is None:
        _iam(account).create_service_linked_role("ecs.amazonaws.com", "", "")
        _state(_iam(account), "created")[SERVICE_LINKED_ROLE] = em.now()
    return proceed()


def capacity_providers_need_the_service_linked_role(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    _needs_service_linked_role(em, resp.current_account)
    return proceed()


def create_service_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateService: needs the service-linked role; a name that is ACTIVE is "Creation of
    service was not idempotent." (TF#2283), one still DRAINING "Unable to Start a service that
    is still Draining." (spinnaker/spinnaker#5476) -- moto silently replaces both."""
    account, region = resp.current_account, resp.region
    _needs_service_linked_role(em, account)
    ecs = _ecs(account, region)
    advance_draining(em, ecs)
    cluster = (resp._get_param("cluster") or "default").split("/")[-1]
    existing = ecs.services.get(f"{cluster}:{resp._get_param('serviceName')}")
    if existing is not None and existing.status == "ACTIVE":
        raise AwsFault("InvalidParameterException", "Creation of service was not idempotent.")
    if existing is not None and existing.status == "DRAINING":
        raise AwsFault("InvalidParameterException", "Unable to Start a service that is still Draining.")
    result = proceed()
    _tasks_start(em, resp, result.result["service"])
    return result


def update_service_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    starts = resp._get_param("taskDefinition") or resp._get_param("forceNewDeployment")
    result = proceed()
    if starts:
        _tasks_start(em, resp, result.result["service"])
    return result


def _tasks_start(em: Emulation, resp: Any, svc: Any) -> None:
    """Tasks that start within seconds of a change to their execution role's permissions
    cannot read their secrets; enough of them failing trips the circuit breaker."""
    ecs = _ecs(resp.current_account, resp.region)
    try:
        td = ecs.describe_task_definition(svc.task_definition)
    except Exception:
        return
    role = str(getattr(td, "execution_role_arn", None) or "").split("/")[-1]
    changed = _state(_iam(resp.current_account), "permissions").get(role)
    if role and not _settled(em, changed, em.delays.iam_permissions):
        for deployment in svc.deployments[:1]:
            deployment.update(
                rolloutState="FAILED",
                rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
                runningCount=0,
                failedTasks=3,
            )
        svc.running_count = 0


def fargate_task_size_must_be_valid(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """RegisterTaskDefinition for FARGATE with a cpu/memory pair Fargate has not: "ClientException:
    Invalid 'cpu' setting for task." (STACK.md) -- after everything before it was created."""
    if "FARGATE" in (resp._get_param("requiresCompatibilities") or []):
        cpu, memory = resp._get_param("cpu"), resp._get_param("memory")
        try:
            ok = int(memory) in FARGATE_MEMORY.get(int(cpu), [])
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise AwsFault("ClientException", "Invalid 'cpu' setting for task.")
    return proceed()


def environment_in_no_promised_order(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    result = proceed()
    for container in result.result["taskDefinition"].container_definitions:
        env = container.get("environment")
        if env and len(env) > 1:
            env.reverse()
    return result


def service_capacity_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateService/UpdateService with a capacityProviderStrategy: moto drops it on create (and
    reports launch type EC2). On AWS it replaces the launch type, and every provider in it must
    be associated with the cluster: "The specified capacity provider strategy cannot contain a
    capacity provider that is not associated with the cluster." (ECS API reference,
    CapacityProviderStrategyItem; Fargate capacity providers, ECS Developer Guide)."""
    strategy = resp._get_param("capacityProviderStrategy")
    if strategy:
        ecs = _ecs(resp.current_account, resp.region)
        name = (resp._get_param("cluster") or "default").split("/")[-1]
        cluster = ecs.clusters.get(name)
        associated = set(getattr(cluster, "capacity_providers", None) or [])
        if any(item.get("capacityProvider") not in associated for item in strategy):
            raise AwsFault(
                "InvalidParameterException",
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
                "with the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
                "provider and try again.",
            )
    result = proceed()
    if strategy:
        svc = result.result["service"]
        svc.capacity_provider_strategy = strategy
        svc.launch_type = None
    return result


# -- Application Auto Scaling ---------------------------------------------------------------------
def _autoscaling(account: str, region: str) -> Any:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account][region]


def deregistering_a_target_deletes_its_policies(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeregisterScalableTarget: "Deregistering a scalable target deletes the scaling policies
    and the scheduled actions that are associated with it." (Application Auto Scaling API
    reference) -- moto keeps them."""
    result = proceed()
    backend = _autoscaling(resp.current_account, resp.region)
    rid, dim = resp._get_param("ResourceId"), resp._get_param("ScalableDimension")
    for key, policy in list(backend.policies.items()):
        if policy.resource_id == rid and policy.scalable_dimension == dim:
            del backend.policies[key]
    return result


def registering_moves_the_count_into_range(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """RegisterScalableTarget for an ECS service moves its desired count into [min, max] at
    once (Application Auto Scaling User Guide, "Scalable targets"); moto leaves it."""
    result = proceed()
    rid = str(resp._get_param("ResourceId") or "")
    low, high = resp._get_param("MinCapacity"), resp._get_param("MaxCapacity")
    if resp._get_param("ServiceNamespace") == "ecs" and rid.startswith("service/") and rid.count("/") == 2:
        _, cluster, name = rid.split("/")
        svc = _ecs(resp.current_account, resp.region).services.get(f"{cluster}:{name}")
        if svc is not None:
            count = svc.desired_count
            if low is not None:
                count = max(count, int(low))
            if high is not None:
                count = min(count, int(high))
            if count != svc.desired_count:
                _record_activity(
                    resp,
                    rid,
                    f"Setting desired count to {count}.",
                    f"the service's desired count was outside [{low}, {high}]",
                )
                svc.desired_count = svc.running_count = count
    return result


def _record_activity(resp: Any, rid: str, description: str, cause: str) -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    activities = _state(_autoscaling(resp.current_account, resp.region), "activities").setdefault(rid, [])
    now = datetime.now(UTC)
    activities.insert(
        0,
        {
            "ActivityId": str(uuid4()),
            "ServiceNamespace": "ecs",
            "ResourceId": rid,
            "ScalableDimension": "ecs:service:DesiredCount",
            "Description": description,
            "Cause": cause,
            "StartTime": now.timestamp(),
            "EndTime": now.timestamp(),
            "StatusCode": "Successful",
        },
    )


def describe_scaling_activities(self: Any) -> str:
    """DescribeScalingActivities, which moto lacks: the activities the emulation recorded
    (newest first, as the API returns them)."""
    import json

    if ACTIVE is None or not ACTIVE.strict:
        raise NotImplementedError("DescribeScalingActivities")
    rid = self._get_param("ResourceId")
    activities = _state(_autoscaling(self.current_account, self.region), "activities")
    found = activities.get(rid, []) if rid else [a for acts in activities.values() for a in acts]
    limit = self._get_int_param("MaxResults") or 50
    return json.dumps({"ScalingActivities": found[:limit]})


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


# -- CloudWatch Logs ---------------------------------------------------------------------------
def retention_must_be_a_value_cloudwatch_accepts(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    days = resp._get_param("retentionInDays")
    if days not in LOG_RETENTION_DAYS:
        raise AwsFault(
            "InvalidParameterException",
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            "Member must satisfy enum value set: [" + ", ".join(map(str, LOG_RETENTION_DAYS)) + "]",
        )
    return proceed()


# -- installation ------------------------------------------------------------------------------
def install() -> None:
    """Patch moto's handlers once per process; with no active emulation they pass through."""
    global _INSTALLED, _original_describe
    if _INSTALLED:
        return
    _INSTALLED = True
    from moto.acm.models import CertBundle
    from moto.acm.responses import AWSCertificateManagerResponse as ACM
    from moto.ec2.models.vpcs import VPCBackend
    from moto.ec2.responses import EC2Response as EC2
    from moto.ecs.responses import EC2ContainerServiceResponse as ECS
    from moto.elbv2.responses import ELBV2Response as ELB
    from moto.iam import models as iam_models
    from moto.iam.responses import IamResponse as IAM
    from moto.logs.responses import LogsResponse as LOGS
    from moto.route53.models import Route53Backend

    _around(VPCBackend, "create_default_vpc", default_vpc_has_an_internet_gateway, always=True)
    # moto names ECS's service-linked role "AWSServiceRoleForecs"; AWS: AWSServiceRoleForECS.
    iam_models.SERVICE_NAME_CONVERSION.setdefault("ecs", "ECS")

    _around(ELB, "create_load_balancer", internet_facing_load_balancer_needs_an_internet_gateway)
    _around(ELB, "create_listener", listener_certificate_must_be_usable)
    _around(ELB, "create_listener", listener_order_is_not_promised)
    _around(ELB, "modify_listener", listener_certificate_must_be_usable)
    _around(ELB, "modify_listener", listener_order_is_not_promised)
    _around(ELB, "create_rule", rule_order_is_not_promised)
    _around(ELB, "modify_rule", rule_order_is_not_promised)
    _around(ELB, "describe_rules", rules_listed_in_no_promised_order)
    _around(ELB, "delete_listener", deleted_listener_releases_its_certificate)
    _around(ELB, "delete_load_balancer", deleted_load_balancer_releases_slowly)
    from moto.elbv2.models import FakeLoadBalancer

    _around(FakeLoadBalancer, "activate", load_balancer_provisions_for_a_while)

    _around(EC2, "delete_security_group", security_group_in_use_is_a_dependency_violation)
    _around(EC2, "authorize_security_group_ingress", ingress_rules_in_no_promised_order)

    _original_describe = CertBundle.describe
    _around(CertBundle, "describe", describe_certificate_as_aws)
    _around(ACM, "request_certificate", requested_certificate)
    _around(ACM, "delete_certificate", certificate_in_use_cannot_be_deleted)

    _around(IAM, "create_role", created_role)
    _around(IAM, "create_service_linked_role", service_linked_role_taken)
    for read in ("get_role", "list_attached_role_policies", "get_role_policy", "list_role_policies", "list_role_tags"):
        _around(IAM, read, role_read_right_after_create)
    for change in ("put_role_policy", "delete_role_policy", "attach_role_policy", "detach_role_policy"):
        _around(IAM, change, role_permissions_changed)

    _around(ECS, "create_cluster", cluster_creates_the_service_linked_role)
    _around(ECS, "put_cluster_capacity_providers", capacity_providers_need_the_service_linked_role)
    _around(ECS, "create_service", create_service_as_aws)
    _around(ECS, "update_service", update_service_as_aws)
    _around(ECS, "delete_service", deleted_service_drains)
    _around(ECS, "describe_services", services_drain_over_time)
    _around(ECS, "list_services", services_drain_over_time)
    _around(ECS, "delete_cluster", cluster_with_services_cannot_be_deleted)
    _around(ECS, "register_task_definition", fargate_task_size_must_be_valid)
    _around(ECS, "register_task_definition", environment_in_no_promised_order)

    _around(Route53Backend, "change_resource_record_sets", change_batch_as_aws)

    _around(LOGS, "put_retention_policy", retention_must_be_a_value_cloudwatch_accepts)

    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as AAS

    _around(ECS, "create_service", service_capacity_as_aws)
    _around(ECS, "update_service", service_capacity_as_aws)
    _around(AAS, "deregister_scalable_target", deregistering_a_target_deletes_its_policies)
    _around(AAS, "register_scalable_target", registering_moves_the_count_into_range)
    AAS.describe_scaling_activities = describe_scaling_activities  # type: ignore[attr-defined]  # moto lacks it

    from . import deployments

    deployments.install(_around)
