"""Elastic Load Balancing: internet-facing load balancers need an internet gateway, provision for a
while, accept a certificate only once ACM issued it, and promise no order of forward groups or rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import (
    AwsFault,
    Delays,
    Emulation,
    _acm,
    _ec2,
    _elbv2,
    _params,
    _settled,
    _state,
)
from .acm import _listener_certificates, certificate_state
from .ec2 import route_table_of, routes_to_internet_gateway


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


# ELB's answer to a dual-stack load balancer in a subnet without an IPv6 CIDR block (CreateLoadBalancer,
# SetIpAddressType, SetSubnets): "ValidationError: You must specify subnets with an associated IPv6 CIDR
# block." (kubernetes-sigs/aws-load-balancer-controller#4852, #4865). moto accepts any subnet.
DUALSTACK_NEEDS_IPV6 = "You must specify subnets with an associated IPv6 CIDR block."


def _subnet_has_ipv6(subnet: Any) -> bool:
    return any(
        (a.get("ipv6CidrBlockState") or {}).get("State") == "associated"
        for a in getattr(subnet, "ipv6_cidr_block_associations", {}).values()
    )


def _refuse_dualstack_without_ipv6(account: str, region: str, subnet_ids: list[str]) -> None:
    ec2 = _ec2(account, region)
    if any(not _subnet_has_ipv6(ec2.get_subnet(sid)) for sid in subnet_ids):
        raise AwsFault("ValidationError", DUALSTACK_NEEDS_IPV6)


def _subnet_ids(params: dict[str, Any]) -> list[str]:
    return [*(params.get("Subnets") or []), *(m.get("SubnetId") for m in params.get("SubnetMappings") or [])]


def dualstack_needs_ipv6_subnets(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateLoadBalancer with IpAddressType dualstack (or dualstack-without-public-ipv4): every
    subnet needs an associated IPv6 CIDR block (DUALSTACK_NEEDS_IPV6)."""
    params = _params(resp)
    if str(params.get("IpAddressType", "ipv4")).startswith("dualstack"):
        _refuse_dualstack_without_ipv6(resp.current_account, resp.region, _subnet_ids(params))
    return proceed()


def set_ip_address_type_needs_ipv6_subnets(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """SetIpAddressType to dualstack: the load balancer's subnets need IPv6 CIDR blocks, as at create."""
    params = _params(resp)
    lb = _elbv2(resp.current_account, resp.region).load_balancers.get(params.get("LoadBalancerArn"))
    if lb is not None and str(params.get("IpAddressType", "")).startswith("dualstack"):
        _refuse_dualstack_without_ipv6(resp.current_account, resp.region, [s.id for s in lb.subnets])
    return proceed()


def set_subnets_of_dualstack_needs_ipv6(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """SetSubnets on a dual-stack load balancer: the new subnets need IPv6 CIDR blocks too."""
    params = _params(resp)
    lb = _elbv2(resp.current_account, resp.region).load_balancers.get(params.get("LoadBalancerArn"))
    if lb is not None and str(getattr(lb, "ip_address_type", "ipv4")).startswith("dualstack"):
        _refuse_dualstack_without_ipv6(resp.current_account, resp.region, _subnet_ids(params))
    return proceed()


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


def _release_certificates(em: Emulation, account: str, arns: list[str]) -> None:
    for arn in arns:
        if ":acm:" in arn:
            _state(_acm(account, arn.split(":")[3]), "released")[arn] = em.now()


def listener_certificate_must_be_usable(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateListener/ModifyListener with an ACM certificate: refused while it is not ISSUED,
    and for a moment right after (see Delays.certificate_usable)."""
    params = _params(resp)
    _usable(em, params)
    before: list[str] = []
    if resp._get_param("ListenerArn"):  # ModifyListener: the certificate it had may be released
        for lb in _elbv2(resp.current_account, resp.region).load_balancers.values():
            if resp._get_param("ListenerArn") in lb.listeners:
                before = _listener_certificates(lb.listeners[resp._get_param("ListenerArn")])
    result = proceed()
    after = {i.get("CertificateArn") for i in params.get("Certificates") or []}
    _release_certificates(em, resp.current_account, [c for c in before if c not in after and after])
    return result


def _usable(em: Emulation, params: dict[str, Any]) -> None:
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


def deletion_protection_refuses_delete(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteLoadBalancer with deletion_protection.enabled = true: OperationNotPermitted ("If
    deletion protection is enabled, you must disable it before you can delete the load balancer",
    ELB User Guide, "Deletion protection"); moto deletes it anyway."""
    lb = _elbv2(resp.current_account, resp.region).load_balancers.get(resp._get_param("LoadBalancerArn"))
    if lb is not None and str(lb.attrs.get("deletion_protection.enabled", "false")).lower() == "true":
        raise AwsFault(
            "OperationNotPermitted",
            f"Load balancer '{lb.arn}' cannot be deleted because deletion protection is enabled",
        )
    return proceed()


def access_logs_need_a_bucket_elb_can_write(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """ModifyLoadBalancerAttributes turning access_logs.s3.enabled on: AWS writes a test file and
    refuses with "InvalidConfigurationRequest: Access Denied for bucket: <name>. Please check
    S3bucket permission" when the bucket is missing, its policy does not let the region's ELB
    writer (its account, or logdelivery.elasticloadbalancing.amazonaws.com) put objects under
    <prefix>/AWSLogs/<account>/, or it is KMS-encrypted (aws/aws-cdk#5758,
    terraform-aws-modules/terraform-aws-alb#61, ELB User Guide's bucket requirements); moto
    stores any value. For ``Delays.bucket_policy_visible`` after PutBucketPolicy the new policy is
    not visible to ELB yet: the same refusal (what a first `create` meets right after writing it)."""
    import json

    from moto.s3.models import s3_backends

    attrs = {a["Key"]: a["Value"] for a in _params(resp).get("Attributes") or []}
    if str(attrs.get("access_logs.s3.enabled", "")).lower() == "true":
        from ..steps.accesslogs import ELB_LOG_ACCOUNTS, LOG_DELIVERY

        name = attrs.get("access_logs.s3.bucket", "")
        prefix = attrs.get("access_logs.s3.prefix", "")
        account = resp.current_account
        bucket = s3_backends[account]["aws"].buckets.get(name)
        writer = ELB_LOG_ACCOUNTS.get(resp.region)
        principal = {"AWS": f"arn:aws:iam::{writer}:root"} if writer else {"Service": LOG_DELIVERY}
        key = f"arn:aws:s3:::{name}/{prefix + '/' if prefix else ''}AWSLogs/{account}/"
        allowed = False
        if bucket is not None and bucket.policy:
            for statement in json.loads(bucket.policy.decode()).get("Statement", []):
                actions = statement.get("Action")
                actions = actions if isinstance(actions, list) else [actions]
                resources = statement.get("Resource")
                resources = resources if isinstance(resources, list) else [resources]
                allowed = allowed or (
                    statement.get("Effect") == "Allow"
                    and statement.get("Principal") == principal
                    and bool({"s3:PutObject", "s3:*"} & set(actions))
                    and any(key.startswith(str(r).removesuffix("*")) for r in resources)
                )
        kms = bucket is not None and "aws:kms" in json.dumps(bucket.encryption or {})
        from .s3 import policy_put_at

        unseen = not _settled(em, policy_put_at(account, name), em.delays.bucket_policy_visible)
        if bucket is None or not allowed or kms or bucket.region_name != resp.region or unseen:
            raise AwsFault(
                "InvalidConfigurationRequest", f"Access Denied for bucket: {name}. Please check S3bucket permission"
            )
    return proceed()


# -- a listener shared by several stacks --------------------------------------------------------
def _listener(resp: Any) -> Any:
    arn = resp._get_param("ListenerArn")
    for lb in _elbv2(resp.current_account, resp.region).load_balancers.values():
        if arn in lb.listeners:
            return lb.listeners[arn]
    return None


def modify_listener_replaces_only_the_default_certificate(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """ModifyListener's Certificates is "the default certificate for the listener" (exactly one;
    ELB API reference, ModifyListener): the SNI certificates added with AddListenerCertificates
    stay. moto replaces the whole list with the one given."""
    listener = _listener(resp)
    before = list(getattr(listener, "certificates", None) or []) if listener is not None else []
    result = proceed()
    given = [c.get("CertificateArn") for c in _params(resp).get("Certificates") or []]
    if listener is not None and given and before:
        listener.certificates = [given[0], *[c for c in before[1:] if c != given[0]]]
    return result


def default_certificate_cannot_be_removed(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """RemoveListenerCertificates: "You can't remove the default certificate for a listener. To
    replace the default certificate, call ModifyListener." (ELB API reference; error
    OperationNotPermitted). moto removes it. A removed certificate is released (for ACM's InUseBy)."""
    listener = _listener(resp)
    certs = list(getattr(listener, "certificates", None) or []) if listener is not None else []
    removing = [c.get("CertificateArn") for c in _params(resp).get("Certificates") or []]
    if certs and certs[0] in removing:
        raise AwsFault("OperationNotPermitted", "The default certificate of a listener cannot be removed")
    result = proceed()
    _release_certificates(em, resp.current_account, [c for c in removing if c in certs])
    return result


def certificates_quota_excludes_the_default(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """AddListenerCertificates: 25 certificates per load balancer, the default one not counted
    ("Quotas for your Application Load Balancers", ELB User Guide); moto counts the default
    (24 SNI certificates at most) and adds a certificate already there again, which AWS does not
    ("If the certificate in already in the certificate list, the call is successful but the
    certificate is not added again", ELB API reference, AddListenerCertificates)."""
    _usable(em, _params(resp))  # as CreateListener: an ACM certificate that exists and is ISSUED
    listener = _listener(resp)
    certs = list(getattr(listener, "certificates", None) or []) if listener is not None else []
    adding = [c.get("CertificateArn") for c in _params(resp).get("Certificates") or []]
    new = [c for c in dict.fromkeys(adding) if c not in certs]
    if len(certs) - 1 + len(new) > RULES_AND_CERTIFICATES["certificates"]:
        raise AwsFault(
            "TooManyCertificates", "You've reached the limit on the number of certificates per load balancer"
        )
    if listener is not None:
        listener.certificates = [*certs, *new]
    return _added(resp, listener)


def _added(resp: Any, listener: Any) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult({"Certificates": [{"CertificateArn": c} for c in listener.certificates[1:]]})


RULES_AND_CERTIFICATES = {"rules": 100, "certificates": 25}  # default quotas per load balancer


def rules_quota_per_load_balancer(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateRule: 100 rules per load balancer, default rules not counted (ELB User Guide, "Quotas
    for your Application Load Balancers"); AWS answers TooManyRules ("You've reached the limit on
    the number of rules per load balancer", ELB API reference, CreateRule). moto has no limit."""
    arn = resp._get_param("ListenerArn")
    for lb in _elbv2(resp.current_account, resp.region).load_balancers.values():
        if arn in lb.listeners:
            count = sum(len(li._non_default_rules) for li in lb.listeners.values())
            if count >= RULES_AND_CERTIFICATES["rules"]:
                raise AwsFault("TooManyRules", "You've reached the limit on the number of rules per load balancer")
    return proceed()


CONDITION_VALUES_PER_RULE = 5


def condition_values_per_rule(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateRule/ModifyRule: "Condition values per rule: 5" (ELB User Guide, "Quotas for your
    Application Load Balancers"), counted over all the rule's conditions: AWS answers "A rule can
    only have '5' condition values" (aws/aws-cdk#10065, aws-cloudformation/cfn-lint#3833;
    serverless/serverless#11882: the values of every condition add up). moto checks each condition
    alone."""
    conditions = _params(resp).get("Conditions") or []
    total = 0
    for condition in conditions.values() if isinstance(conditions, dict) else conditions:
        for key, value in condition.items():
            if key == "Values":
                total += len(value)
            elif key.endswith("Config") and isinstance(value, dict) and "Values" in value:
                values = value["Values"]
                total += len(values.values() if isinstance(values, dict) else values)
    if total > CONDITION_VALUES_PER_RULE:
        raise AwsFault("ValidationError", f"A rule can only have '{CONDITION_VALUES_PER_RULE}' condition values")
    return proceed()


# "Targets per Application Load Balancer: 1,000" (ELB User Guide, "Quotas for your Application Load
# Balancers"; adjustable): every registration in every target group the load balancer forwards to.
TARGETS_PER_LOAD_BALANCER = 1000


def targets_quota_per_load_balancer(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """RegisterTargets past 1,000 targets on a load balancer: AWS answers TooManyTargets ("You've
    reached the limit on the number of targets", ELB API reference, RegisterTargets); moto has no
    limit. A target already registered in the group is not a new one."""
    elb = _elbv2(resp.current_account, resp.region)
    group = elb.target_groups.get(resp._get_param("TargetGroupArn"))
    if group is not None:
        given = [t for t in _params(resp).get("Targets") or [] if isinstance(t, dict)]
        new = {t.get("Id") for t in given} - set(group.targets)
        for lb_arn in group.load_balancer_arns:
            have = sum(len(g.targets) for g in elb.target_groups.values() if lb_arn in g.load_balancer_arns)
            if have + len(new) > TARGETS_PER_LOAD_BALANCER:
                raise AwsFault("TooManyTargets", "You've reached the limit on the number of targets.")
    return proceed()


def account_limits_as_aws(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DescribeAccountLimits: AWS's default targets-per-application-load-balancer is 1,000 (moto
    says 30), and a limit's Max is a string (ELB API reference, Limit)."""
    result = proceed()
    for limit in result.result.get("Limits", []):
        if limit.get("Name") == "targets-per-application-load-balancer":
            limit["Max"] = TARGETS_PER_LOAD_BALANCER
        limit["Max"] = str(limit.get("Max"))
    return result


def _forwarded(actions: Any) -> list[str]:
    out: list[str] = []
    for action in actions or []:
        if not isinstance(action, dict):
            continue
        if action.get("TargetGroupArn"):
            out.append(str(action["TargetGroupArn"]))
        for group in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
            if isinstance(group, dict) and group.get("TargetGroupArn"):
                out.append(str(group["TargetGroupArn"]))
    return out


def target_group_belongs_to_one_load_balancer(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateListener/ModifyListener/CreateRule/ModifyRule forwarding to a target group another
    load balancer forwards to: AWS refuses it, "TargetGroupAssociationLimit: The following target
    groups cannot be associated with more than one load balancer: <arn>" (an ALB target group
    belongs to one load balancer at a time; terraform-provider-aws#22005). moto accepts it."""
    params = _params(resp)
    elb = _elbv2(resp.current_account, resp.region)
    lb_arn = params.get("LoadBalancerArn")
    listener, rule = params.get("ListenerArn"), params.get("RuleArn")
    for lb in elb.load_balancers.values():
        for li in lb.listeners.values():
            if li.arn == listener or (rule and any(r.arn == rule for r in li.rules.values())):
                lb_arn = lb.arn
    groups = _forwarded(params.get("DefaultActions")) + _forwarded(params.get("Actions"))
    taken = [
        arn
        for arn in groups
        if arn in elb.target_groups and any(a != lb_arn for a in elb.target_groups[arn].load_balancer_arns)
    ]
    if lb_arn and taken:
        raise AwsFault(
            "TargetGroupAssociationLimit",
            "The following target groups cannot be associated with more than one load balancer: " + ", ".join(taken),
        )
    return proceed()


def install(around: Callable[..., None]) -> None:
    from moto.elbv2.models import FakeLoadBalancer
    from moto.elbv2.responses import ELBV2Response as ELB

    around(ELB, "create_load_balancer", internet_facing_load_balancer_needs_an_internet_gateway)
    around(ELB, "create_load_balancer", dualstack_needs_ipv6_subnets)
    around(ELB, "set_ip_address_type", set_ip_address_type_needs_ipv6_subnets)
    around(ELB, "set_subnets", set_subnets_of_dualstack_needs_ipv6)
    around(ELB, "create_listener", listener_certificate_must_be_usable)
    around(ELB, "create_listener", listener_order_is_not_promised)
    around(ELB, "modify_listener", listener_certificate_must_be_usable)
    around(ELB, "modify_listener", listener_order_is_not_promised)
    around(ELB, "modify_listener", modify_listener_replaces_only_the_default_certificate)
    around(ELB, "remove_listener_certificates", default_certificate_cannot_be_removed)
    around(ELB, "add_listener_certificates", certificates_quota_excludes_the_default)
    for operation in ("create_listener", "modify_listener", "create_rule", "modify_rule"):
        around(ELB, operation, target_group_belongs_to_one_load_balancer)
    around(ELB, "create_rule", rules_quota_per_load_balancer)
    around(ELB, "create_rule", condition_values_per_rule)
    around(ELB, "modify_rule", condition_values_per_rule)
    around(ELB, "register_targets", targets_quota_per_load_balancer)
    around(ELB, "describe_account_limits", account_limits_as_aws)
    around(ELB, "create_rule", rule_order_is_not_promised)
    around(ELB, "modify_rule", rule_order_is_not_promised)
    around(ELB, "describe_rules", rules_listed_in_no_promised_order)
    around(ELB, "delete_listener", deleted_listener_releases_its_certificate)
    around(ELB, "delete_load_balancer", deletion_protection_refuses_delete)
    around(ELB, "modify_load_balancer_attributes", access_logs_need_a_bucket_elb_can_write)
    around(ELB, "delete_load_balancer", deleted_load_balancer_releases_slowly)
    around(FakeLoadBalancer, "activate", load_balancer_provisions_for_a_while)
