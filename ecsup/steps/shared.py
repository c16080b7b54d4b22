"""A load balancer shared by several stacks ([load_balancer] shared = "<name>").

Two owners, kept apart by their tags (names.py):

- the shared part -- the ALB named <name>, its security group ``ecsup-shared-<name>``, HTTP:80
  (301 to HTTPS) and HTTPS:443 (the configured TLS policy, default action 404 for hosts no stack
  serves) -- is tagged ``ecsup:shared-lb=<name>``: it belongs to the shared load balancer, not to a
  stack. It is created by the first stack that needs it and deleted by the last one out;
- a stack owns (``ecsup:app``/``ecsup:env``) only its rule on HTTPS:443 (host header -> forward to
  its blue/green groups: ECS's ``productionListenerRule``), its target groups, its tasks' group
  and the attachment of its certificate to the listener (SNI).

Every change to the shared part -- its creation and deletion, a rule's priority, the listener's
certificate list -- is made under the shared load balancer's own lock (lock.shared_key), after
reading again what is there: two stacks joining or leaving at once see each other's changes, and
the last stack out is decided under it. A rule's priority, once chosen, never changes.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from .. import lock, waiting
from ..context import Context
from ..cost import Sharing
from ..errors import AwsError, ConfigError, EcsupError, doing, is_code
from ..names import TAG_APP, TAG_CERTIFICATE, TAG_ENV, TAG_SHARED, Names, tag_dict
from ..plan import FOUND, KNOWN_AFTER_APPLY, Action, Change
from . import Step, listeners_ref, service_ref
from .certificate import covers, wait_issued
from .loadbalancer import (
    IP_ADDRESS_TYPE,
    REDIRECT,
    _forward,
    _forward_groups,
    elb_tags,
    forward_weights,
    ip_address_type,
    repaired_weights,
    tls_policy,
)
from .network import ALB_RULES, _permissions, _rules, resolve_network

# ALB quotas ("Quotas for your Application Load Balancers", ELB User Guide): 100 rules per load
# balancer (default rules not counted), 25 certificates per load balancer (the default not counted).
RULES_LIMIT = 100
# "Target groups per Application Load Balancer: 100" (ELB User Guide, "Quotas for your Application
# Load Balancers"): with two groups a stack, this binds before the rules quota (50 stacks).
TARGET_GROUPS_LIMIT = 100
CERTIFICATES_LIMIT = 25
# "Targets per Application Load Balancer: 1,000" (same page; adjustable): check_targets.
TARGETS_LIMIT = 1000
PRIORITY_MAX = 50000  # CreateRule Priority: 1-50000
PRIORITY_ATTEMPTS = 5
NOT_FOUND_BODY = "No service at this host name."
NOT_FOUND = [
    {
        "Type": "fixed-response",
        "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": NOT_FOUND_BODY},
    }
]
LOCK_WAIT = 300.0  # another stack's join or leave holds the shared lock for seconds


def shared_lock(ctx: Context, command: str) -> Any:
    return lock.held(ctx, command, key=lock.shared_key(ctx), wait=LOCK_WAIT)


# -- reading the shared part -------------------------------------------------------------------
def find_shared(ctx: Context) -> tuple[dict[str, Any] | None, dict[str, str]]:
    name = ctx.names.shared
    with doing(f"look up shared load balancer {name}"):
        try:
            lbs = ctx.client("elbv2").describe_load_balancers(Names=[name])["LoadBalancers"]
        except Exception as exc:
            if is_code(exc, "LoadBalancerNotFound"):
                return None, {}
            raise
    if not lbs:
        return None, {}
    return lbs[0], elb_tags(ctx, [lbs[0]["LoadBalancerArn"]]).get(lbs[0]["LoadBalancerArn"], {})


def find_shared_group(ctx: Context) -> dict[str, Any] | None:
    with doing(f"look up security group {ctx.names.sg_alb}"):
        groups = ctx.client("ec2").describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [ctx.facts["vpc_id"]]},
                {"Name": "group-name", "Values": [ctx.names.sg_alb]},
            ]
        )["SecurityGroups"]
    return groups[0] if groups else None


def admitting(ctx: Context, group_id: str) -> list[str]:
    """The names of the security groups whose ingress rules name ``group_id`` as their source."""
    with doing(f"look up the security groups that admit {group_id}"):
        found = ctx.client("ec2").describe_security_groups(
            Filters=[{"Name": "ip-permission.group-id", "Values": [group_id]}]
        )["SecurityGroups"]
    return sorted(g["GroupName"] for g in found if g["GroupId"] != group_id)


def admitting_groups(ctx: Context, group_id: str) -> list[dict[str, Any]]:
    """The security groups (described, with their tags) whose ingress rules name ``group_id``."""
    with doing(f"look up the security groups that admit {group_id}"):
        pages = (
            ctx.client("ec2")
            .get_paginator("describe_security_groups")
            .paginate(Filters=[{"Name": "ip-permission.group-id", "Values": [group_id]}])
        )
        found = [g for page in pages for g in page["SecurityGroups"] if g["GroupId"] != group_id]
    return sorted(found, key=lambda g: str(g.get("GroupName")))


def kept_for(ctx: Context, groups: list[dict[str, Any]]) -> str:
    """Why the last stack out keeps the shared part: other stacks' tasks' groups still admit its
    group. What each of those stacks is doing is read from its stack lock (lock.py): `destroy`
    is a stack leaving at the same time (its rule gone, its group not yet: it goes last and
    deletes the shared part), another command a stack joining (its rule not made yet), no lock
    a join or leave that stopped half-way."""
    from ..lock import LockKey, read

    leaving, joining, stopped, foreign = [], [], [], []
    for group in groups:
        tags = tag_dict(group.get("Tags"))
        if not (tags.get(TAG_APP) and tags.get(TAG_ENV)):
            foreign.append(f"{group.get('GroupName')} (not ecsup's)")
            continue
        other = Names(tags[TAG_APP], tags[TAG_ENV])
        holder = read(ctx, LockKey(other.lock_parameter, "", other.stack, ()))
        if holder is None:
            stopped.append(other.stack)
        elif holder.get("command") == "destroy":
            leaving.append(other.stack)
        else:
            joining.append(other.stack)
    names = ", ".join(str(g.get("GroupName")) for g in groups)
    parts = []
    if leaving:
        parts.append(f"{', '.join(leaving)} {'is' if len(leaving) == 1 else 'are'} leaving at the same time")
    if joining:
        parts.append(f"{', '.join(joining)} {'is' if len(joining) == 1 else 'are'} joining")
    if stopped:
        parts.append(
            f"{', '.join(stopped)} {'has' if len(stopped) == 1 else 'have'} no run under way (a join or leave that "
            "stopped half-way: `ecsup create` there finishes joining, `ecsup destroy` there leaves and deletes it)"
        )
    if foreign:
        parts.append(", ".join(foreign) + " admits it")
    text = f"kept: {'; '.join(parts)} (security group {names} still admits {ctx.names.sg_alb})"
    if leaving and not (joining or stopped or foreign):
        text += ": the last one out deletes it"
    text += "; its HTTPS listener, with no rule left on it, went with this stack's certificate"
    if joining:
        text += ", the joining stack makes it again"
    return text


def forget_shared(ctx: Context) -> None:
    """The shared part is gone: so is its lock's generation parameter, which ecsup versions before
    this one wrote at every release (it holds no data: nothing reads it). The lock parameter itself
    is deleted as the lock is released."""
    with doing(f"remove {ctx.names.shared_generation_parameter}"):
        try:
            ctx.client("ssm").delete_parameter(Name=ctx.names.shared_generation_parameter)
        except Exception as exc:
            if not is_code(exc, "ParameterNotFound"):
                raise


def release_certificates(ctx: Context, https: dict[str, Any] | None) -> str:
    """This stack's certificates still on the shared listener that stays (a stack joined after
    this one's certificate step judged it the last: the listener kept them), handed over."""
    n = ctx.names
    ours = set(ctx.facts.get("owned_cert_arns", [])) | ({ctx.config.dns.certificate_arn} - {""})
    if https is None or not ours:
        return ""
    said = []
    for cert in sorted(ours - set(ctx.facts.get("kept_certs", {}))):  # those kept are said already
        listed = listener_certificates(ctx, https["ListenerArn"])
        if cert not in [c["CertificateArn"] for c in listed]:
            continue
        others = [r for r in listener_rules(ctx, https["ListenerArn"]) if not n.owns(r.get("Tags") or {})]
        said.append(f"certificate {cert}: {hand_over(ctx, https['ListenerArn'], listed, cert, others)}")
    return "; " + "; ".join(said) if said else ""


def shared_listeners(ctx: Context, alb_arn: str) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    with doing(f"read the listeners of {ctx.names.shared}"):
        try:
            for page in ctx.client("elbv2").get_paginator("describe_listeners").paginate(LoadBalancerArn=alb_arn):
                for listener in page["Listeners"]:
                    found[listener["Port"]] = listener
        except Exception as exc:
            if not is_code(exc, "LoadBalancerNotFound", "ListenerNotFound"):
                raise
    return found


def listener_rules(ctx: Context, listener_arn: str) -> list[dict[str, Any]]:
    """The listener's non-default rules, each with its tags under "Tags" (a dict)."""
    elb = ctx.client("elbv2")
    rules: list[dict[str, Any]] = []
    with doing(f"read the rules of listener {listener_arn}"):
        try:
            for page in elb.get_paginator("describe_rules").paginate(ListenerArn=listener_arn):
                rules += [r for r in page["Rules"] if not r.get("IsDefault")]
        except Exception as exc:
            if not is_code(exc, "ListenerNotFound"):
                raise
        arns = [r["RuleArn"] for r in rules]
        tags: dict[str, dict[str, str]] = {}
        for i in range(0, len(arns), 20):  # DescribeTags: at most 20 resources a call
            tags |= elb_tags(ctx, arns[i : i + 20])
    for r in rules:
        r["Tags"] = tags.get(r["RuleArn"], {})
    return rules


def rule_hosts(rule: dict[str, Any]) -> list[str]:
    hosts: list[str] = []
    for cond in rule.get("Conditions", []):
        if cond.get("Field") == "host-header":
            hosts += (cond.get("HostHeaderConfig") or {}).get("Values") or cond.get("Values") or []
    return [h.lower() for h in hosts]


def attached_target_groups(ctx: Context, alb_arn: str) -> int:
    with doing(f"list the target groups of {ctx.names.shared}"):
        pages = ctx.client("elbv2").get_paginator("describe_target_groups").paginate(LoadBalancerArn=alb_arn)
        try:
            return sum(len(page.get("TargetGroups", [])) for page in pages)
        except Exception as exc:
            if is_code(exc, "TargetGroupNotFound"):  # none attached yet (moto answers so; AWS: an empty list)
                return 0
            raise


def _rules_elsewhere(ctx: Context) -> int:
    """The non-default rules on the shared load balancer's listeners other than HTTPS:443 (someone's
    on HTTP:80, say): the quota is per load balancer. Read only when a stack joins."""
    count = 0
    elb = ctx.client("elbv2")
    for port, listener in ctx.facts.get("shared_listeners", {}).items():
        if port == 443:
            continue
        with doing(f"read the rules of {ctx.names.shared} port {port}"):
            for page in elb.get_paginator("describe_rules").paginate(ListenerArn=listener["ListenerArn"]):
                count += sum(1 for r in page["Rules"] if not r.get("IsDefault"))
    return count


def _captures(rule: dict[str, Any], host: str, priority: int) -> bool:
    """Whether another rule's wildcard host (`*` any characters, `?` one; ELB User Guide,
    "Host conditions") matches this stack's hostname and is evaluated before this stack's rule
    (a lower priority number): the stack's requests would go to that rule, never to its own."""
    from fnmatch import fnmatchcase

    try:
        theirs = int(rule.get("Priority", ""))
    except ValueError:  # the default rule
        return False
    wild = [h for h in rule_hosts(rule) if "*" in h or "?" in h]
    return theirs < priority and any(fnmatchcase(host, pattern) for pattern in wild)


def rule_owner(rule: dict[str, Any]) -> str:
    """The stack a rule belongs to ("app-env"), or "" for a rule that is not ecsup's."""
    tags = rule.get("Tags") or {}
    return f"{tags[TAG_APP]}-{tags[TAG_ENV]}" if tags.get(TAG_APP) and tags.get(TAG_ENV) else ""


def stacks_on(rules: list[dict[str, Any]]) -> list[str]:
    return sorted({rule_owner(r) or f"(a rule not ecsup's, priority {r.get('Priority')})" for r in rules})


def listener_certificates(ctx: Context, listener_arn: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with doing(f"read the certificates of listener {listener_arn}"):
        for page in (
            ctx.client("elbv2").get_paginator("describe_listener_certificates").paginate(ListenerArn=listener_arn)
        ):
            out += page["Certificates"]
    return out


def certificate_names(ctx: Context, arn: str) -> list[str]:
    with doing(f"describe certificate {arn}"):
        try:
            cert = ctx.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
        except Exception as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return []
            raise
    return [n.lower() for n in [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])] if n]


def covering(ctx: Context, certs: list[str], host: str) -> str | None:
    """The first of ``certs`` whose names cover ``host`` (the listener picks it by SNI)."""
    for arn in certs:
        if any(covers(n, host.lower()) for n in certificate_names(ctx, arn)):
            return arn
    return None


def free_priority(rules: list[dict[str, Any]]) -> int:
    used = {int(r["Priority"]) for r in rules if str(r.get("Priority", "")).isdigit()}
    return next(p for p in range(1, PRIORITY_MAX + 1) if p not in used)


def sharing(ctx: Context, offline: bool = False) -> Sharing:
    """For `ecsup cost`: how many stacks share the load balancer (this one counted whether or not
    it is on it yet). Offline, nothing can be read: this stack alone is assumed, and said."""
    name = ctx.names.shared
    if offline:
        return Sharing(name, 1, known=False)
    lb, tags = find_shared(ctx)
    if lb is None or not ctx.names.owns_shared(tags):
        return Sharing(name, 1)
    https = shared_listeners(ctx, lb["LoadBalancerArn"]).get(443)
    rules = listener_rules(ctx, https["ListenerArn"]) if https else []
    others = tuple(s for s in stacks_on(rules) if s != ctx.names.stack)
    return Sharing(name, len(others) + 1, others)


def certificate_tag(ctx: Context) -> list[dict[str, str]]:
    """The tag that names, on the stack's rule, the certificate the stack serves with."""
    return [{"Key": TAG_CERTIFICATE, "Value": ctx.facts["cert_arn"]}]


def host_condition(ctx: Context) -> list[dict[str, Any]]:
    """The stack's rule's conditions: its hostname, and with [load_balancer] allow_cidrs the
    clients' addresses (a source-ip condition: requests from elsewhere fall to the listener's
    default action, 404; the shared load balancer's group stays open to all)."""
    conditions: list[dict[str, Any]] = [
        {"Field": "host-header", "HostHeaderConfig": {"Values": [ctx.config.dns.hostname]}}
    ]
    allow = ctx.config.load_balancer.allow_cidrs
    if allow:
        conditions.append({"Field": "source-ip", "SourceIpConfig": {"Values": list(allow)}})
    return conditions


def _only_from(ctx: Context) -> str:
    allow = ctx.config.load_balancer.allow_cidrs
    return f" from {', '.join(allow)} only" if allow else ""


def rule_sources(rule: dict[str, Any]) -> list[str]:
    """The CIDRs of a rule's source-ip condition ([] for none), normalised and sorted."""
    import ipaddress

    found: list[str] = []
    for cond in rule.get("Conditions", []):
        if cond.get("Field") == "source-ip":
            found += (cond.get("SourceIpConfig") or {}).get("Values") or cond.get("Values") or []
    return sorted(str(ipaddress.ip_network(v, strict=False)) for v in found)


def _shared_ip_address_type(ctx: Context, lb: dict[str, Any]) -> list[Change]:
    """How a shared load balancer's IP address type is settled: it is made dual-stack by the stack
    that creates it with [network] ipv6 = true, or later by any stack on it that sets ipv6 (a planned
    change of the shared part, made under its lock: a dual-stack load balancer still serves every stack
    on IPv4, so no other stack loses anything). A stack without ipv6 never turns it back to IPv4 (others
    on it may serve IPv6 clients): it says so, and its hostname simply gets no AAAA record."""
    have = lb.get("IpAddressType", "ipv4")
    ctx.facts["alb_ip_type"] = have
    if ctx.config.network.ipv6 and have == "ipv4":
        return [Change(IP_ADDRESS_TYPE, have, "dualstack")]
    if not ctx.config.network.ipv6 and have != "ipv4":
        ctx.notes.append(
            f"shared load balancer {ctx.names.shared} is {have} (a stack on it has [network] ipv6 = true): it serves "
            "this stack on IPv4 as before, and this stack's hostname gets no AAAA record; it stays so while "
            "stacks are on it"
        )
    return []


def same_network(ctx: Context, lb: dict[str, Any]) -> None:
    """A shared load balancer and its stacks are on one network: its targets (the stacks' tasks)
    are in its VPC. Refused before any change otherwise."""
    mine = ctx.facts.get("vpc_id")
    if lb.get("VpcId") == mine:
        return
    own = ctx.config.network.shared
    where = f"ecsup's network {own} ({mine if mine != KNOWN_AFTER_APPLY else 'not made yet'})" if own else f"VPC {mine}"
    raise ConfigError(
        [
            (
                "network.shared" if own else "load_balancer.shared",
                f"shared load balancer {ctx.names.shared} is in {lb.get('VpcId')}, this stack's network is {where}: "
                "a shared load balancer and its stacks must be on the same network (give every stack on it the "
                "same [network])",
            )
        ]
    )


# -- the shared part ---------------------------------------------------------------------------
class SharedLoadBalancerStep(Step):
    """The shared part: found by its name and tags, created (under its lock) by the first stack
    that needs it; HTTPS:443 is made by SharedRuleStep, which has the certificate."""

    title = "shared load balancer"
    reads = ("vpc_id",)  # [network] shared: ecsup's network (steps/vpc.py), where the load balancer is made
    provides = (
        "vpc_id",
        "subnets",
        "alb_subnets",
        "sg_alb",
        "alb_arn",
        "alb_dns",
        "alb_zone",
        "shared_listeners",
        "shared_rules",
        "shared_others",
    )

    def plan(self, ctx: Context) -> list[Action]:
        n = ctx.names
        if not n.shared:
            return []
        resolve_network(ctx)
        lb, tags = find_shared(ctx)
        group = find_shared_group(ctx)
        if group is not None and not n.owns_shared(tag_dict(group.get("Tags"))):
            ctx.conflicts.append(
                f"security group {n.sg_alb!r} exists but is not ecsup's shared load balancer {n.shared!r}'s "
                f"(tag ecsup:shared-lb={n.shared})"
            )
            return []
        if group is not None:
            ctx.facts["sg_alb"] = group["GroupId"]
        if lb is None:
            return [
                Action(
                    "create",
                    "load balancer",
                    n.shared,
                    "shared, created: internet-facing"
                    + (", dual-stack" if ctx.config.network.ipv6 else "")
                    + ", its security group, HTTP:80 -> HTTPS; 1 stack on it (this one)",
                    run=lambda: self._ensure(ctx),
                )
            ]
        if not n.owns_shared(tags):
            ctx.conflicts.append(
                f"load balancer {n.shared!r} exists but is not ecsup's shared load balancer (it lacks the tag "
                f"ecsup:shared-lb={n.shared}): ecsup will not put a stack on it"
            )
            return []
        same_network(ctx, lb)
        self._learn(ctx, lb)
        https = shared_listeners(ctx, lb["LoadBalancerArn"])
        ctx.facts["shared_listeners"] = https
        rules = listener_rules(ctx, https[443]["ListenerArn"]) if 443 in https else []
        ctx.facts["shared_rules"] = rules
        others = [s for s in stacks_on(rules) if s != n.stack]
        ctx.facts["shared_others"] = others
        on_it = any(n.owns(r.get("Tags") or {}) for r in rules)
        count = len(others) + on_it
        detail = f"shared, found: {count} stack{'s' if count != 1 else ''} on it"
        if on_it:
            detail += f" (with {', '.join(others)})" if others else " (this one alone)"
        else:
            detail += (f" ({', '.join(others)})" if others else "") + "; this stack joins"
        changes = []
        if group is None or lb.get("SecurityGroups") != [group["GroupId"]]:
            ctx.notes.append(
                f"shared load balancer {n.shared}: its security groups are {lb.get('SecurityGroups')}, not "
                f"[{n.sg_alb}]: not changed (the shared part is not this stack's alone)"
            )
        if lb.get("Scheme") != "internet-facing":
            ctx.notes.append(f"shared load balancer {n.shared} is {lb.get('Scheme')}, not internet-facing: not changed")
        if 80 not in https:
            changes.append(Change("HTTP:80", "-", "redirect to HTTPS"))
        changes += _shared_ip_address_type(ctx, lb)
        if group is not None and ALB_RULES - _rules(group):
            changes.append(Change("security group ingress", "-", "80/443 from anywhere"))
        if changes:
            return [Action("update", "load balancer", n.shared, detail, changes, run=lambda: self._ensure(ctx))]
        return [Action("noop", "load balancer", n.shared, detail)]

    def _learn(self, ctx: Context, lb: dict[str, Any]) -> None:
        ctx.learn_account(lb["LoadBalancerArn"])
        ctx.facts.update(alb_arn=lb["LoadBalancerArn"], alb_dns=lb["DNSName"], alb_zone=lb["CanonicalHostedZoneId"])

    def _ensure(self, ctx: Context) -> str:
        """Under the shared lock, read again and make what is missing: security group, load
        balancer, HTTP:80. A same-named resource that appeared meanwhile and is not the shared
        load balancer's is refused, not adopted."""
        n = ctx.names
        ec2, elb = ctx.client("ec2"), ctx.client("elbv2")
        made = []
        with shared_lock(ctx, "create"):
            group = find_shared_group(ctx)
            if group is None:
                with doing(f"create security group {n.sg_alb}"):
                    gid = ec2.create_security_group(
                        GroupName=n.sg_alb,
                        Description=f"ecsup shared load balancer {n.shared}: HTTP/HTTPS from anywhere",
                        VpcId=ctx.facts["vpc_id"],
                        TagSpecifications=[
                            {
                                "ResourceType": "security-group",
                                "Tags": [*n.shared_tag_list(), {"Key": "Name", "Value": n.sg_alb}],
                            }
                        ],
                    )["GroupId"]
                group = {"GroupId": gid, "IpPermissions": []}
                made.append("security group")
            elif not n.owns_shared(tag_dict(group.get("Tags"))):
                raise ConfigError([("load_balancer.shared", f"security group {n.sg_alb} is not ecsup's")])
            ctx.facts["sg_alb"] = group["GroupId"]
            missing = ALB_RULES - _rules(group)
            if missing:
                with doing(f"set the ingress rules of {group['GroupId']}"):
                    waiting.retry(
                        ctx,
                        f"security group {group['GroupId']} to be visible",
                        lambda: ec2.authorize_security_group_ingress(
                            GroupId=group["GroupId"], IpPermissions=_permissions(missing)
                        ),
                        lambda e: is_code(e, "InvalidGroup.NotFound"),
                        ctx.timeouts.propagation,
                    )
            lb, tags = find_shared(ctx)
            if lb is None:
                with doing(f"create shared load balancer {n.shared}"):
                    lb = elb.create_load_balancer(
                        Name=n.shared,
                        Subnets=ctx.facts["alb_subnets"],
                        SecurityGroups=[group["GroupId"]],
                        Scheme="internet-facing",
                        Type="application",
                        IpAddressType=ip_address_type(ctx),
                        Tags=n.shared_tag_list(),
                    )["LoadBalancers"][0]
                    elb.modify_load_balancer_attributes(
                        LoadBalancerArn=lb["LoadBalancerArn"],
                        Attributes=[{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}],
                    )
                made.append("load balancer")
            elif not n.owns_shared(tags):
                raise ConfigError(
                    [
                        (
                            "load_balancer.shared",
                            f"load balancer {n.shared} exists but is not ecsup's shared load balancer",
                        )
                    ]
                )
            self._learn(ctx, lb)
            if ctx.config.network.ipv6 and lb.get("IpAddressType", "ipv4") == "ipv4":  # _shared_ip_address_type
                with doing(f"make shared load balancer {n.shared} dual-stack"):
                    elb.set_ip_address_type(LoadBalancerArn=lb["LoadBalancerArn"], IpAddressType="dualstack")
                made.append("dual-stack")
            if 80 not in shared_listeners(ctx, lb["LoadBalancerArn"]):
                with doing(f"create listener 80 on {n.shared}"):
                    elb.create_listener(
                        LoadBalancerArn=lb["LoadBalancerArn"],
                        Protocol="HTTP",
                        Port=80,
                        DefaultActions=REDIRECT,
                        Tags=n.shared_tag_list(),
                    )
                made.append("HTTP:80")
        return ("created " + ", ".join(made)) if made else f"{FOUND}: made by another stack meanwhile"

    # -- leaving ---------------------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        n = ctx.names
        if not n.shared:
            return []
        try:
            if not ctx.facts.get("vpc_id"):  # known already when a move leaves it (steps/move.py)
                resolve_network(ctx)
        except ConfigError:
            return []
        lb, tags = find_shared(ctx)
        if lb is None:
            # a destroy interrupted after deleting the load balancer but before its security group
            # (retried while the load balancer's interfaces are released): finish what it began
            group = find_shared_group(ctx)
            if group is None or not n.owns_shared(tag_dict(group.get("Tags"))):
                return []
            return [
                Action(
                    "delete",
                    "security group",
                    n.sg_alb,
                    f"shared load balancer {n.shared}'s: the load balancer is gone (an interrupted destroy)",
                    run=lambda: self._leave_last(ctx),
                    after=(f"security group {n.sg_tasks}",),
                )
            ]
        if not n.owns_shared(tags):
            return []
        self._learn(ctx, lb)
        listeners = shared_listeners(ctx, lb["LoadBalancerArn"])
        ctx.facts["shared_listeners"] = listeners
        rules = [r for li in listeners.values() for r in listener_rules(ctx, li["ListenerArn"])]
        ctx.facts["shared_rules"] = rules
        mine = [r for r in rules if n.owns(r.get("Tags") or {})]
        others = [s for s in stacks_on([r for r in rules if r not in mine])]
        if others and not mine:
            return [Action("keep", "load balancer", n.shared, f"shared: other rules remain ({', '.join(others)})")]
        return [
            Action(
                "delete",
                "load balancer",
                n.shared,
                "shared: only if no other rule remains on its listeners (decided under its lock)"
                + (f"; now: {', '.join(others)}" if others else "; this is the last stack on it"),
                run=lambda: self._leave_last(ctx),
                after=(
                    service_ref(ctx),
                    listeners_ref(ctx),
                    f"listener certificate {n.rule}",
                    f"security group {n.sg_tasks}",
                ),
            )
        ]

    def _leave_last(self, ctx: Context) -> str:
        """Under the shared lock: delete the shared part only when no rule remains on any of its
        listeners and no other stack's tasks' group admits its group; otherwise keep it and say
        why (KEPT). Once it is gone and its lock released, so is a generation parameter an earlier
        version left (forget_shared): after the release, so that a run dying before it leaves no
        lock behind (the run after it would have nothing shared left to take it over with)."""
        said = self._leave_last_locked(ctx)
        if not said.startswith("kept"):  # engine.KEPT: the shared part stays
            forget_shared(ctx)
        return said

    def _leave_last_locked(self, ctx: Context) -> str:
        n = ctx.names
        elb = ctx.client("elbv2")
        with shared_lock(ctx, "destroy"):
            lb, _ = find_shared(ctx)
            if lb is None:  # deleted by another run, or by one interrupted before its security group
                group = find_shared_group(ctx)
                if group is None or not n.owns_shared(tag_dict(group.get("Tags"))) or admitting(ctx, group["GroupId"]):
                    return "already gone"
                self._delete_group(ctx, group)
                return "deleted its security group (the load balancer was already gone)"
            listeners = shared_listeners(ctx, lb["LoadBalancerArn"])
            rules = [r for li in listeners.values() for r in listener_rules(ctx, li["ListenerArn"])]
            if rules:
                said = release_certificates(ctx, listeners.get(443))
                return f"kept: other rules remain on its listeners ({', '.join(stacks_on(rules))})" + said
            group = find_shared_group(ctx)
            staying = admitting_groups(ctx, group["GroupId"]) if group is not None else []
            if staying:
                # a stack joining right now: its tasks' group admits the shared one (SecurityGroupsStep)
                # before its rule exists (SharedRuleStep, under this lock): deleting the load balancer
                # would strand it, and its group's reference would keep the shared group forever. Its
                # HTTPS listener (no rule on it) goes: it carries this stack's certificate, which is
                # being deleted; the joining stack makes it again with its own (_https_or_new). A stack
                # leaving at the same time has its rule gone and its group not yet: the last one out
                # deletes the load balancer (its own group goes before its leave).
                https = listeners.get(443)
                if https is not None:
                    with doing(f"delete listener 443 of {n.shared}"):
                        try:
                            elb.delete_listener(ListenerArn=https["ListenerArn"])
                        except Exception as exc:
                            if not is_code(exc, "ListenerNotFound"):
                                raise
                return kept_for(ctx, staying)
            with doing(f"delete shared load balancer {n.shared}"):
                for li in listeners.values():
                    try:
                        elb.delete_listener(ListenerArn=li["ListenerArn"])
                    except Exception as exc:
                        if not is_code(exc, "ListenerNotFound"):
                            raise
                try:
                    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
                except Exception as exc:
                    if not is_code(exc, "LoadBalancerNotFound"):
                        raise

                def gone() -> tuple[bool, str]:
                    found, _ = find_shared(ctx)
                    return found is None, "deleted" if found is None else found["State"]["Code"]

                waiting.poll(ctx, f"load balancer {n.shared} to be deleted", gone, ctx.timeouts.load_balancer)
            if group is not None and n.owns_shared(tag_dict(group.get("Tags"))):
                self._delete_group(ctx, group)
        return "deleted (the last stack left it): listeners, load balancer, security group"

    def _delete_group(self, ctx: Context, group: dict[str, Any]) -> None:
        """The shared load balancer's security group, once the load balancer is gone: retried while
        its network interfaces are released."""
        ec2 = ctx.client("ec2")

        def attempt() -> None:
            try:
                ec2.delete_security_group(GroupId=group["GroupId"])
            except Exception as exc:
                if not is_code(exc, "InvalidGroup.NotFound"):
                    raise

        with doing(f"delete security group {group['GroupId']}"):
            waiting.retry(
                ctx,
                f"network interfaces to release security group {group['GroupId']}",
                attempt,
                lambda e: is_code(e, "DependencyViolation"),
                ctx.timeouts.release,
                first=1.0,
                cap=15.0,
            )


# -- the stack's part on it --------------------------------------------------------------------
class SharedRuleStep(Step):
    """HTTPS:443 of the shared load balancer (made by the first stack, with its certificate as
    the default), this stack's certificate on it (SNI) unless one there covers the hostname, and
    this stack's host rule forwarding to its blue/green groups -- ECS's production rule."""

    title = "listener rule"
    reads = ("alb_arn", "shared_listeners", "shared_rules", "tg_blue", "tg_green", "cert_arn", "owned_cert_arns")
    provides = (
        "https_listener_arn",
        "production_rule_arn",
        "rule_priority",
        "live_target_group_arn",
        "live_target_group",
        "production_weights",
        "listener_certificates",
        "listener_certificate",
    )

    def plan(self, ctx: Context) -> list[Action]:
        n = ctx.names
        if not n.shared:
            return []
        if ctx.facts.get("alb_arn") is None:  # the shared load balancer is made by this run
            check_targets(ctx, [])  # this stack alone could pass it
            return self._plan_new(ctx)
        host = ctx.config.dns.hostname.lower()
        https = ctx.facts.get("shared_listeners", {}).get(443)
        rules: list[dict[str, Any]] = ctx.facts.get("shared_rules", [])
        mine = [r for r in rules if n.owns(r.get("Tags") or {})]
        others = [r for r in rules if r not in mine]
        ours = int(mine[0]["Priority"]) if mine and str(mine[0].get("Priority", "")).isdigit() else None
        ours = ours if ours is not None else free_priority(rules)
        taken = [r for r in others if host in rule_hosts(r) or _captures(r, host, ours)]
        if taken:
            NOT_ECSUPS = "a rule not ecsup's"
            raise ConfigError(
                [
                    (
                        "dns.hostname",
                        f"{host} is already served by {rule_owner(taken[0]) or NOT_ECSUPS} on "
                        f"shared load balancer {n.shared} (priority {taken[0].get('Priority')})",
                    )
                ],
                hint="pick another hostname or another shared load balancer; nothing was changed",
            )
        count = 0 if mine else len(rules) + _rules_elsewhere(ctx)
        if not mine and count >= RULES_LIMIT:
            raise ConfigError(
                [
                    (
                        "load_balancer.shared",
                        f"{n.shared} has {count} rules: AWS's default quota is {RULES_LIMIT} "
                        "rules per load balancer (its listeners' default rules not counted)",
                    )
                ],
                hint="use another shared load balancer (or ask AWS for a higher quota); nothing was changed",
            )
        if not mine:
            self._check_target_groups(ctx)
            check_targets(ctx, rules)
        actions: list[Action] = []
        if https is None:
            return self._plan_new(ctx)
        ctx.facts["https_listener_arn"] = https["ListenerArn"]
        # the listener itself is the shared load balancer's: drift is reported, not repaired
        if https.get("SslPolicy") != tls_policy(ctx):
            ctx.notes.append(
                f"shared load balancer {n.shared} HTTPS:443 has TLS policy {https.get('SslPolicy')}, not "
                f"{tls_policy(ctx)}: not changed (the shared part is not this stack's alone)"
            )
        actions.append(self._plan_certificate(ctx, https))
        if not mine:
            actions.append(
                Action(
                    "create",
                    "listener rule",
                    n.rule,
                    f"host {host}{_only_from(ctx)} -> forward {n.tg_blue}=100 {n.tg_green}=0, "
                    "priority chosen under the shared lock",
                    run=lambda: self._create_rule(ctx),
                )
            )
            return actions
        rule = mine[0]
        self._learn_rule(ctx, rule)
        changes = []
        if rule_hosts(rule) != [host]:
            changes.append(Change("host", ",".join(rule_hosts(rule)), host))
        sources = sorted(ctx.config.load_balancer.allow_cidrs)
        if rule_sources(rule) != sources:
            changes.append(Change("source-ip", ",".join(rule_sources(rule)) or "any", ",".join(sources) or "any"))
        have = _forward_groups(rule.get("Actions", []))
        want = (
            f"forward {', '.join(sorted([n.tg_blue, n.tg_green]))}"
            if ctx.facts.get("tg_blue") and ctx.facts.get("tg_green")
            else KNOWN_AFTER_APPLY
        )
        repair = have != want and want != KNOWN_AFTER_APPLY
        if repair:
            weights, why = repaired_weights(ctx, rule.get("Actions", []))
            ctx.facts["production_weights"] = weights
            changes.append(Change("action", have, f"{want} ({why})"))
        modify = bool(changes)
        named = (rule.get("Tags") or {}).get(TAG_CERTIFICATE, "")
        serving = ctx.facts.get("cert_arn", KNOWN_AFTER_APPLY)
        if named != serving:  # what a stack leaving the listener hands the default over to
            changes.append(Change(f"tag {TAG_CERTIFICATE}", named or "-", serving))
        if changes:
            actions.append(
                Action(
                    "update",
                    "listener rule",
                    n.rule,
                    f"priority {rule.get('Priority')}",
                    changes,
                    run=partial(self._modify_rule, ctx, rule["RuleArn"], repair, modify, named),
                )
            )
        else:
            actions.append(
                Action(
                    "noop",
                    "listener rule",
                    n.rule,
                    f"priority {rule.get('Priority')}, host {host}{_only_from(ctx)}, {have}",
                )
            )
        return actions

    def _plan_new(self, ctx: Context) -> list[Action]:
        n = ctx.names
        return [
            Action(
                "create",
                "listener",
                f"{n.shared} HTTPS:443",
                f"shared, {tls_policy(ctx)}, this stack's certificate as the default, 404 for unknown hosts",
                run=lambda: self._ensure_https(ctx),
            ),
            Action(
                "create",
                "listener rule",
                n.rule,
                f"host {ctx.config.dns.hostname}{_only_from(ctx)} -> forward {n.tg_blue}=100 {n.tg_green}=0, "
                "priority chosen under the shared lock",
                run=lambda: self._create_rule(ctx),
            ),
        ]

    def _learn_rule(self, ctx: Context, rule: dict[str, Any]) -> None:
        ctx.facts["production_rule_arn"] = rule["RuleArn"]
        ctx.facts["rule_priority"] = rule.get("Priority")
        weights = forward_weights(rule.get("Actions", []))
        if weights:
            live = max(weights, key=lambda arn: weights[arn])
            ctx.facts["live_target_group_arn"] = live
            ctx.facts["live_target_group"] = live.split("/")[-2]

    def _plan_certificate(self, ctx: Context, https: dict[str, Any]) -> Action:
        n = ctx.names
        cert = ctx.facts.get("cert_arn", KNOWN_AFTER_APPLY)
        certs = [c["CertificateArn"] for c in listener_certificates(ctx, https["ListenerArn"])]
        ctx.facts["listener_certificates"] = certs
        name = f"{n.shared} HTTPS:443 {ctx.config.dns.hostname}"
        if cert in certs:
            ctx.facts["listener_certificate"] = cert
            return Action("noop", "listener certificate", name, f"{cert} on the listener")
        other = covering(ctx, certs, ctx.config.dns.hostname)
        if other is not None:
            ctx.facts["listener_certificate"] = other
            return Action("noop", "listener certificate", name, f"covered by {other}, already on the listener")
        if len(certs) - 1 >= CERTIFICATES_LIMIT:
            raise ConfigError(
                [
                    (
                        "load_balancer.shared",
                        f"{n.shared} HTTPS:443 has {len(certs) - 1} certificates besides its default: "
                        f"AWS's default quota is {CERTIFICATES_LIMIT} per load balancer",
                    )
                ],
                hint="use another shared load balancer, or a hostname an attached certificate covers; "
                "nothing was changed",
            )
        return Action("create", "listener certificate", name, f"{cert} (SNI)", run=lambda: self._attach(ctx))

    def _check_target_groups(self, ctx: Context) -> None:
        """Joining adds the stack's two target groups to the load balancer's."""
        count = attached_target_groups(ctx, ctx.facts["alb_arn"])
        if count + 2 > TARGET_GROUPS_LIMIT:
            raise ConfigError(
                [
                    (
                        "load_balancer.shared",
                        f"{ctx.names.shared} has {count} target groups: this stack's 2 would pass AWS's default "
                        f"quota of {TARGET_GROUPS_LIMIT} per load balancer",
                    )
                ],
                hint="use another shared load balancer (or ask AWS for a higher quota); nothing was changed",
            )

    # -- apply -------------------------------------------------------------------------------
    def _https(self, ctx: Context) -> dict[str, Any] | None:
        return shared_listeners(ctx, ctx.facts["alb_arn"]).get(443)

    def _ensure_https(self, ctx: Context) -> str:
        wait_issued(ctx)  # before the lock: ACM can take minutes
        with shared_lock(ctx, "create"):
            https = self._https(ctx)
            if https is not None:
                ctx.facts["https_listener_arn"] = https["ListenerArn"]
                attached = self._attach_locked(ctx, https)
                return f"{FOUND}: made by another stack meanwhile" + (
                    "; this stack's certificate added to it (SNI)" if attached.startswith("added") else ""
                )
            https = self._new_https(ctx)
        return str(https["ListenerArn"])

    def _https_or_new(self, ctx: Context) -> dict[str, Any]:
        """Under the shared lock: HTTPS:443, made again with this stack's certificate when the last
        other stack left while this one was joining (it keeps the load balancer for a stack joining
        and deletes the listener, which carried its certificate: SharedLoadBalancerStep._leave_last)."""
        https = self._https(ctx)
        if https is not None:
            return https
        lb, _ = find_shared(ctx)
        if lb is None:
            raise _gone_meanwhile(ctx)
        wait_issued(ctx)
        return self._new_https(ctx)

    def _new_https(self, ctx: Context) -> dict[str, Any]:
        elb = ctx.client("elbv2")
        with doing(f"create listener 443 on {ctx.names.shared}"):
            https: dict[str, Any] = waiting.retry(
                ctx,
                "the new certificate to reach the load balancer",
                lambda: elb.create_listener(
                    LoadBalancerArn=ctx.facts["alb_arn"],
                    Protocol="HTTPS",
                    Port=443,
                    SslPolicy=tls_policy(ctx),
                    Certificates=[{"CertificateArn": ctx.facts["cert_arn"]}],
                    DefaultActions=NOT_FOUND,
                    Tags=ctx.names.shared_tag_list(),
                )["Listeners"][0],
                lambda e: is_code(e, "UnsupportedCertificate", "CertificateNotFound"),
                ctx.timeouts.propagation,
            )
        ctx.facts["https_listener_arn"] = https["ListenerArn"]
        return https

    def _attach(self, ctx: Context) -> str:
        wait_issued(ctx)
        with shared_lock(ctx, "create"):
            return self._attach_locked(ctx, self._https_or_new(ctx))

    def _attach_locked(self, ctx: Context, https: dict[str, Any]) -> str:
        certs = [c["CertificateArn"] for c in listener_certificates(ctx, https["ListenerArn"])]
        cert = ctx.facts["cert_arn"]
        if cert in certs:
            return "on the listener"
        other = covering(ctx, certs, ctx.config.dns.hostname)
        if other is not None:
            return f"covered by {other}"
        elb = ctx.client("elbv2")
        with doing(f"add certificate {cert} to {ctx.names.shared} HTTPS:443"):
            waiting.retry(
                ctx,
                "the new certificate to reach the load balancer",
                lambda: elb.add_listener_certificates(
                    ListenerArn=https["ListenerArn"], Certificates=[{"CertificateArn": cert}]
                ),
                lambda e: is_code(e, "UnsupportedCertificate", "CertificateNotFound"),
                ctx.timeouts.propagation,
            )
        return "added (SNI)"

    def _create_rule(self, ctx: Context) -> str:
        n = ctx.names
        elb = ctx.client("elbv2")
        with shared_lock(ctx, "create"):
            https = self._https_or_new(ctx)
            ctx.facts["https_listener_arn"] = https["ListenerArn"]
            rules = listener_rules(ctx, https["ListenerArn"])
            mine = [r for r in rules if n.owns(r.get("Tags") or {})]
            if mine:  # made by an earlier run that stopped before it could say so
                self._learn_rule(ctx, mine[0])
                return f"priority {mine[0]['Priority']}"
            priority = free_priority(rules)
            with doing(f"create the rule of {n.stack} on {n.shared} HTTPS:443"):
                tried: set[int] = set()
                for _ in range(PRIORITY_ATTEMPTS):
                    try:
                        rule = elb.create_rule(
                            ListenerArn=https["ListenerArn"],
                            Priority=priority,
                            Conditions=host_condition(ctx),
                            Actions=_forward(ctx),
                            Tags=[*n.tag_list(), *certificate_tag(ctx)],
                        )["Rules"][0]
                        break
                    except Exception as exc:
                        # PriorityInUse: someone who does not take ecsup's lock (the console, another
                        # tool) took it since the rules were read: the next free one after it
                        if not is_code(exc, "PriorityInUse"):
                            raise
                        tried.add(priority)
                        taken = [{"Priority": str(p)} for p in tried]
                        priority = free_priority([*listener_rules(ctx, https["ListenerArn"]), *taken])
                else:
                    raise AwsError(
                        f"{n.shared} HTTPS:443: every rule priority ecsup tried was taken meanwhile", "PriorityInUse"
                    )
        self._learn_rule(ctx, rule)
        return f"priority {priority}"

    def _modify_rule(self, ctx: Context, arn: str, repair: bool, modify: bool = True, named: str = "") -> str:
        kwargs: dict[str, Any] = {"RuleArn": arn, "Conditions": host_condition(ctx)}
        if repair:
            kwargs["Actions"] = _forward(ctx)
        with doing(f"update the rule of {ctx.names.stack} on {ctx.names.shared}"):
            if modify:
                ctx.client("elbv2").modify_rule(**kwargs)
            if named != ctx.facts["cert_arn"]:
                ctx.client("elbv2").add_tags(ResourceArns=[arn], Tags=certificate_tag(ctx))
        return "updated"

    # -- leaving -----------------------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        n = ctx.names
        if not n.shared or "shared_listeners" not in ctx.facts:
            return []
        actions: list[Action] = []
        mine = [r for r in ctx.facts.get("shared_rules", []) if n.owns(r.get("Tags") or {})]
        for rule in mine:
            actions.append(
                Action(
                    "delete",
                    "listener rule",
                    n.rule,
                    f"priority {rule.get('Priority')}",
                    run=partial(self._delete_rule, ctx, rule["RuleArn"]),
                    after=(service_ref(ctx),),
                )
            )
        https = ctx.facts["shared_listeners"].get(443)
        ours = set(ctx.facts.get("owned_cert_arns", [])) | ({ctx.config.dns.certificate_arn} - {""})
        if https is not None and ours:
            certs = [c["CertificateArn"] for c in listener_certificates(ctx, https["ListenerArn"])]
            for cert in sorted(ours & set(certs)):
                actions.append(
                    Action(
                        "delete",
                        "listener certificate",
                        n.rule,
                        f"{cert} from {n.shared} HTTPS:443 (another stack's certificate takes over where needed)",
                        run=partial(self._detach, ctx, cert),
                        after=(listeners_ref(ctx),),
                    )
                )
        return actions

    def _delete_rule(self, ctx: Context, arn: str) -> str:
        with doing(f"delete the rule of {ctx.names.stack} on {ctx.names.shared}"):
            try:
                ctx.client("elbv2").delete_rule(RuleArn=arn)
            except Exception as exc:
                if not is_code(exc, "RuleNotFound"):
                    raise
        return "deleted"

    def _detach(self, ctx: Context, cert: str) -> str:
        """Under the shared lock: take this stack's certificate off the listener (hand_over)."""
        n = ctx.names
        with shared_lock(ctx, "destroy"):
            lb, _ = find_shared(ctx)
            https = shared_listeners(ctx, lb["LoadBalancerArn"]).get(443) if lb else None
            if https is None:
                return "already gone"
            arn = https["ListenerArn"]
            listed = listener_certificates(ctx, arn)
            if cert not in [c["CertificateArn"] for c in listed]:
                return "already removed"
            rules = [r for r in listener_rules(ctx, arn) if not n.owns(r.get("Tags") or {})]
            if not rules:  # the last stack out: the listener goes with the shared part
                return "kept: the listener goes with the shared load balancer (no other rule on it)"
            return hand_over(ctx, arn, listed, cert, rules)


def hand_over(
    ctx: Context, listener_arn: str, listed: list[dict[str, Any]], cert: str, rules: list[dict[str, Any]]
) -> str:
    """Under the shared lock: take ``cert`` (this stack's) off the listener while ``rules`` (the
    other stacks') stay. Each of their hostnames that only ``cert`` covered gets a certificate that
    covers it first (serving_certificate: the one the stack's rule names, else its own); when
    ``cert`` is the listener's default, the certificate covering most of their hostnames becomes the
    default (ModifyListener). When a hostname would be left without one, ``cert`` stays where it is
    and is not deleted (ctx.facts["kept_certs"]): the remaining stacks keep serving."""
    elb = ctx.client("elbv2")
    name = f"{ctx.names.shared} HTTPS:443"
    rest = list(dict.fromkeys(c["CertificateArn"] for c in listed if c["CertificateArn"] != cert))
    added: list[str] = []
    # ecsup stacks' rules first: the certificate one of them serves with may cover a host of a rule
    # not ecsup's too (a *.zone), which has none of its own to bring
    for rule in sorted(rules, key=lambda r: not rule_owner(r)):
        for host in rule_hosts(rule):
            if covering(ctx, rest, host) is not None:
                continue
            if (rule.get("Tags") or {}).get(TAG_CERTIFICATE) == cert:  # the same dns.certificate_arn
                return keep_certificate(ctx, cert, f"{rule_owner(rule)} serves {host} with it too")
            theirs = serving_certificate(ctx, rule, host, exclude={cert})
            if theirs is None:
                whose = rule_owner(rule) or "a rule not ecsup's"
                return keep_certificate(
                    ctx,
                    cert,
                    f"it is the only certificate on {name} for {host} ({whose}), "
                    f"and no other issued certificate in {ctx.region} that ecsup may use covers it",
                )
            with doing(f"add certificate {theirs} to {name} for {host}"):
                waiting.retry(
                    ctx,
                    "the certificate to reach the load balancer",
                    partial(
                        elb.add_listener_certificates,
                        ListenerArn=listener_arn,
                        Certificates=[{"CertificateArn": theirs}],
                    ),
                    lambda e: is_code(e, "UnsupportedCertificate", "CertificateNotFound"),
                    ctx.timeouts.propagation,
                )
            rest.append(theirs)
            added.append(f"{theirs} for {host}")
    default = next((c["CertificateArn"] for c in listed if c.get("IsDefault")), None)
    said = [f"added {', '.join(added)}"] if added else []
    if default == cert:
        if not rest:
            return keep_certificate(
                ctx,
                cert,
                f"it is the default certificate of {name} and no other certificate serves the rules left on it",
            )
        hosts = [h for r in rules for h in rule_hosts(r)]
        new = max(rest, key=lambda arn: sum(1 for h in hosts if covering(ctx, [arn], h)))  # the first of the best
        with doing(f"make {new} the default certificate of {name}"):
            waiting.retry(
                ctx,
                "the certificate to reach the load balancer",
                lambda: elb.modify_listener(ListenerArn=listener_arn, Certificates=[{"CertificateArn": new}]),
                lambda e: is_code(e, "UnsupportedCertificate", "CertificateNotFound"),
                ctx.timeouts.propagation,
            )
        said.append(f"the default handed over to {new}")
    with doing(f"remove certificate {cert} from {name}"):
        try:
            elb.remove_listener_certificates(ListenerArn=listener_arn, Certificates=[{"CertificateArn": cert}])
        except Exception as exc:
            if not is_code(exc, "CertificateNotFound", "ListenerNotFound"):
                raise
    return "removed" + (f" ({'; '.join(said)})" if said else "")


def keep_certificate(ctx: Context, cert: str, why: str) -> str:
    """``cert`` stays on the shared listener: the certificate step keeps it too, with its
    validation records (it needs them to renew), rather than retrying its deletion in vain."""
    ctx.facts.setdefault("kept_certs", {})[cert] = f"it stays on {ctx.names.shared} HTTPS:443: {why}"
    return f"kept: {why}; the certificate is not deleted (a later `ecsup destroy` of this stack retries)"


def serving_certificate(ctx: Context, rule: dict[str, Any], host: str, exclude: set[str]) -> str | None:
    """An ISSUED certificate in this region covering ``host`` that the stack owning ``rule`` serves
    with: the one its rule names (tag ecsup:certificate: its own, or its dns.certificate_arn); else,
    for a rule made before ecsup named it, the stack's own (its ecsup tags), else one no ecsup stack
    owns (what dns.certificate_arn brings). Another ecsup stack's certificate is never taken: that
    stack could not delete it. Every key type is read: ListCertificates lists only RSA_1024 and
    RSA_2048 certificates unless Includes.keyTypes names the others (ACM API reference, Filters)."""
    from .certificate import ALL_KEY_TYPES

    tags = rule.get("Tags") or {}
    named = tags.get(TAG_CERTIFICATE, "")
    skip = exclude | set(ctx.facts.get("deleted_certs", set())) | set(ctx.facts.get("owned_cert_arns", []))
    if named and named not in skip and named.split(":")[3:4] == [ctx.region] and _issued_covering(ctx, named, host):
        return str(named)
    acm = ctx.client("acm")
    own: list[tuple[str, str]] = []
    foreign: list[tuple[str, str]] = []
    with doing(f"look up a certificate for {host}"):
        pages = acm.get_paginator("list_certificates").paginate(CertificateStatuses=["ISSUED"], Includes=ALL_KEY_TYPES)
        for page in pages:
            for summary in page["CertificateSummaryList"]:
                arn = summary["CertificateArn"]
                if arn in skip or not _issued_covering(ctx, arn, host):
                    continue
                try:
                    found = tag_dict(acm.list_tags_for_certificate(CertificateArn=arn).get("Tags"))
                except Exception as exc:  # deleted between list and read
                    if is_code(exc, "ResourceNotFoundException"):
                        continue
                    raise
                when = str(summary.get("NotAfter", ""))
                if (
                    tags.get(TAG_APP)
                    and found.get(TAG_APP) == tags[TAG_APP]
                    and found.get(TAG_ENV) == tags.get(TAG_ENV)
                ):
                    own.append((when, arn))
                elif not (found.get(TAG_APP) or found.get(TAG_SHARED)):
                    foreign.append((when, arn))
    for found_ in (own, foreign):
        if found_:
            return max(found_)[1]  # the one valid longest
    return None


def _issued_covering(ctx: Context, arn: str, host: str) -> bool:
    with doing(f"describe certificate {arn}"):
        try:
            cert = ctx.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
        except Exception as exc:
            if is_code(exc, "ResourceNotFoundException"):
                return False
            raise
    names = [n.lower() for n in [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])] if n]
    return cert.get("Status") == "ISSUED" and any(covers(n, host.lower()) for n in names)


def _capacities(ctx: Context, stacks: list[Names]) -> dict[str, tuple[int, str]]:
    """Per stack: the most tasks its service may run, and what says so -- its auto scaling
    maximum when a scalable target is registered, else its live desired count."""
    out: dict[str, tuple[int, str]] = {}
    ecs = ctx.client("ecs")
    for other in stacks:
        with doing(f"describe service {other.service}"):
            try:
                found = ecs.describe_services(cluster=other.cluster, services=[other.service])["services"]
            except Exception as exc:
                if not is_code(exc, "ClusterNotFoundException"):
                    raise
                found = []
        live = [s for s in found if s.get("status") != "INACTIVE"]
        if live:
            out[other.stack] = (int(live[0].get("desiredCount", 0)), "desired count")
    ids = {f"service/{s.cluster}/{s.service}": s.stack for s in stacks}
    aas = ctx.client("application-autoscaling")
    keys = sorted(ids)
    with doing("look up the scalable targets of the stacks on the shared load balancer"):
        for i in range(0, len(keys), 50):
            pages = aas.get_paginator("describe_scalable_targets").paginate(
                ServiceNamespace="ecs", ResourceIds=keys[i : i + 50], ScalableDimension="ecs:service:DesiredCount"
            )
            for page in pages:
                for target in page["ScalableTargets"]:
                    stack = ids.get(target["ResourceId"])
                    if stack is not None:
                        out[stack] = (int(target["MaxCapacity"]), "auto scaling max")
    return out


def targets_quota(ctx: Context) -> int:
    """This account's "Targets per Application Load Balancer" (DescribeAccountLimits:
    targets-per-application-load-balancer; adjustable), else AWS's default."""
    with doing("read the Elastic Load Balancing quotas of the account"):
        for page in ctx.client("elbv2").get_paginator("describe_account_limits").paginate():
            for limit in page["Limits"]:
                if limit.get("Name") == "targets-per-application-load-balancer":
                    try:
                        return int(float(limit["Max"]))
                    except (KeyError, TypeError, ValueError):
                        return TARGETS_LIMIT
    return TARGETS_LIMIT


def check_targets(ctx: Context, rules: list[dict[str, Any]]) -> None:
    """Joining: ELB's "Targets per Application Load Balancer" quota (1,000 by default, every
    target group the load balancer forwards to counted; ELB User Guide, "Quotas for your
    Application Load Balancers"), with blue/green in mind: during a deployment a stack's new
    tasks are registered beside its old ones, so each stack on it can have twice its tasks
    registered (its auto scaling maximum, else its desired count). Target groups no ecsup stack
    on it owns count with what is registered in them now. Refused before any change."""
    n = ctx.names
    elb = ctx.client("elbv2")
    stacks: dict[str, Names] = {}
    for rule in rules:
        tags = rule.get("Tags") or {}
        if tags.get(TAG_APP) and tags.get(TAG_ENV) and not n.owns(tags):
            other = Names(tags[TAG_APP], tags[TAG_ENV])
            stacks[other.stack] = other
    caps = _capacities(ctx, [*stacks.values(), n])
    theirs = {
        name
        for s in stacks.values()
        for pair in (1, 2)
        for name in (replace(s, pair=pair).tg_blue, replace(s, pair=pair).tg_green)
    }
    foreign = 0
    with doing(f"count the targets of {n.shared}"):
        alb = ctx.facts.get("alb_arn")
        pages = elb.get_paginator("describe_target_groups").paginate(LoadBalancerArn=alb) if alb else []
        try:
            groups = [g for page in pages for g in page.get("TargetGroups", [])]
        except Exception as exc:
            if not is_code(exc, "TargetGroupNotFound"):
                raise
            groups = []
        for group in groups:
            if group["TargetGroupName"] in theirs or n.pair_of(group["TargetGroupName"]) is not None:
                continue
            foreign += len(
                elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
            )
    cfg = ctx.config.service
    mine, why = cfg.desired_count, "desired_count"
    if cfg.autoscaling is not None and cfg.autoscaling.max > mine:
        mine, why = cfg.autoscaling.max, "autoscaling.max"
    live, said = caps.get(n.stack, (0, ""))
    if live > mine:
        mine, why = live, f"live {said}"
    parts = [
        f"{stack} up to {2 * caps[stack][0]} (2 x {caps[stack][1]} {caps[stack][0]})"
        for stack in sorted(stacks)
        if stack in caps
    ]
    if foreign:
        parts.append(f"{foreign} in target groups of no ecsup stack")
    total = sum(2 * caps[s][0] for s in stacks if s in caps) + foreign + 2 * mine
    # the account's quota is read only past the default (a quota is raised, never lowered)
    quota = targets_quota(ctx) if total > TARGETS_LIMIT else TARGETS_LIMIT
    if total > quota:
        raise ConfigError(
            [
                (
                    "load_balancer.shared",
                    f"{n.shared} could have {total} targets registered during blue/green deployments, past this "
                    f"account's quota of {quota} per load balancer: this stack up to {2 * mine} "
                    f"(2 x {why} {mine})" + (f", {', '.join(parts)}" if parts else ""),
                )
            ],
            hint="lower service.desired_count (or service.autoscaling.max), use another shared load balancer, or ask "
            "AWS for a higher quota (Targets per Application Load Balancer: ecsup reads it); nothing was changed",
        )


def _gone_meanwhile(ctx: Context) -> EcsupError:
    """The shared load balancer this run planned to join lost its HTTPS listener: the last other
    stack left it meanwhile (its leave, under the shared lock, deletes the shared part). What this
    run made so far is its own; running create again makes the shared part anew."""
    return EcsupError(
        f"shared load balancer {ctx.names.shared} has no HTTPS:443 listener any more: the last other stack "
        "left it while this run was joining",
        hint="run `ecsup create` again: it creates the shared load balancer anew and joins it",
    )
