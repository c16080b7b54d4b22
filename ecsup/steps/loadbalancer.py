"""Elastic Load Balancing: the internet-facing ALB, the blue and green target
groups, and (later in the pipeline, once the certificate is needed) the HTTPS and
HTTP-redirect listeners."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .. import waiting
from ..config import DEFAULT_TLS_POLICY
from ..context import Context
from ..errors import doing, is_code
from ..names import tag_dict
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from . import Step, both, check_owner, foreign, listeners_ref, resolve, service_ref
from .certificate import wait_issued

TLS_POLICY = DEFAULT_TLS_POLICY  # [load_balancer] tls_policy changes it (config.py says why this one)
# Starting the service while ACM validates: ECS accepts a target group only once a listener
# rule of the load balancer forwards to it, and the HTTPS listener needs the issued
# certificate. So create first makes the listener that will become HTTPS:443 as plain HTTP on
# this port, which the load balancer's security group does not admit (it admits 80 and 443):
# it forwards to blue/green, so ECS starts the tasks and they pass their health checks (those
# go from the load balancer to the tasks, not through a listener), and no client can connect
# to it. Once the certificate is ISSUED, ModifyListener turns the same listener into HTTPS:443
# (Port, Protocol, SslPolicy, Certificates; "If you change the protocol from HTTP to HTTPS ...
# you must add the security policy and default certificate properties" -- ELB API reference,
# ModifyListener): its ARN, and so the default rule ECS uses as production rule, stay the same.
STAGING_PORT = 18443
CERTIFICATE = ("cert_arn", "cert_arn_issued")  # what HTTPS:443's actions read when they run


def early_start(ctx: Context) -> bool:
    """Whether the staging listener can be used: no ingress rule of the load balancer's
    security group admits its port (someone else's rule could)."""
    for proto, low, high, _source in ctx.facts.get("alb_ingress", []):
        if proto == "-1" or (proto == "tcp" and low <= STAGING_PORT <= high):
            ctx.notes.append(
                f"the load balancer's security group admits port {STAGING_PORT}: the service is started only "
                "after the certificate is issued (the staging listener would be reachable)"
            )
            return False
    return True


ALB_ATTRIBUTES = {"routing.http.drop_invalid_header_fields.enabled": "true"}


def alb_attributes(ctx: Context) -> dict[str, str]:
    """The attributes ecsup sets: ALB_ATTRIBUTES, and deletion protection as configured."""
    protect = "true" if ctx.config.load_balancer.deletion_protection else "false"
    return ALB_ATTRIBUTES | {"deletion_protection.enabled": protect}


def scheme(ctx: Context) -> str:
    """The own load balancer's Scheme: [load_balancer] internal."""
    return "internal" if ctx.config.load_balancer.internal else "internet-facing"


def tls_policy(ctx: Context) -> str:
    return ctx.config.load_balancer.tls_policy


def ip_address_type(ctx: Context) -> str:
    """The load balancer's IpAddressType: "dualstack" with [network] ipv6 (clients reach it on IPv4
    and IPv6; its subnets need IPv6 CIDR blocks: network.resolve_network checks), else "ipv4"."""
    return "dualstack" if ctx.config.network.ipv6 else "ipv4"


IP_ADDRESS_TYPE = "IP address type"  # the plan's name for the change SetIpAddressType makes


TG_ATTRIBUTES = {"deregistration_delay.timeout_seconds": "30"}
CERTIFICATE_SETTLING = ("UnsupportedCertificate", "CertificateNotFound")


def health_check(ctx: Context) -> dict[str, Any]:
    return {
        "HealthCheckProtocol": "HTTP",
        "HealthCheckPath": ctx.config.service.health_check_path,
        "HealthCheckPort": "traffic-port",
        "HealthCheckIntervalSeconds": 15,
        "HealthCheckTimeoutSeconds": 5,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 3,
        "Matcher": {"HttpCode": "200-399"},
    }


def _diff(want: dict[str, Any], have: dict[str, Any]) -> list[Change]:
    return [Change(k, str(have.get(k)), str(v)) for k, v in want.items() if have.get(k) != v]


def elb_tags(ctx: Context, arns: list[str]) -> dict[str, dict[str, str]]:
    if not arns:
        return {}
    with doing("read load balancer tags"):
        resp = ctx.client("elbv2").describe_tags(ResourceArns=arns)
    return {d["ResourceArn"]: tag_dict(d.get("Tags")) for d in resp["TagDescriptions"]}


def find_load_balancer(ctx: Context) -> dict[str, Any] | None:
    """The stack's own load balancer (a shared one: steps/shared.py)."""
    with doing(f"look up load balancer {ctx.names.own_alb}"):
        try:
            lbs = ctx.client("elbv2").describe_load_balancers(Names=[ctx.names.own_alb])["LoadBalancers"]
        except Exception as exc:
            if is_code(exc, "LoadBalancerNotFound"):
                return None
            raise
    return lbs[0] if lbs else None


def find_target_groups(ctx: Context, one_by_one: bool = True, batch_failed: bool = False) -> dict[str, dict[str, Any]]:
    """The stack's pair (ctx.names.pair), read in one call; when one of them is missing (which
    fails the call), one by one -- unless ``one_by_one`` is False: then none is reported.
    ``batch_failed``: the one call was made already and failed."""
    elb = ctx.client("elbv2")
    names = [ctx.names.tg_blue, ctx.names.tg_green]
    groups: list[dict[str, Any]] | None = None
    with doing("look up target groups"):
        if not batch_failed:
            try:
                groups = list(elb.describe_target_groups(Names=names)["TargetGroups"])
            except Exception as exc:  # one missing fails the batch
                if not is_code(exc, "TargetGroupNotFound"):
                    raise
        if groups is None:
            if not one_by_one:
                return {}
            groups = []
            for name in names:
                try:
                    groups += elb.describe_target_groups(Names=[name])["TargetGroups"]
                except Exception as inner:
                    if not is_code(inner, "TargetGroupNotFound"):
                        raise
    return {g["TargetGroupName"]: g for g in groups}


def own_load_balancer(ctx: Context) -> dict[str, Any] | None:
    """The stack's own load balancer; on a shared one, none is read (one its stack left behind
    while moving onto the shared one is steps/move.py's)."""
    return None if ctx.names.shared else find_load_balancer(ctx)


def seen_target_groups(ctx: Context) -> dict[str, dict[str, Any]]:
    """The stack's target groups (of ``ctx.names.pair``), as move.detect read them before the
    plan, or read now."""
    seen = ctx.facts.get("target_groups_seen")
    if seen is not None and seen[0] == ctx.names.pair:
        return dict(seen[1])
    return find_target_groups(ctx)


def lb_name(arn: str) -> str:
    """arn:...:loadbalancer/app/<name>/<id> -> <name>."""
    parts = arn.split("/")
    return parts[-2] if len(parts) >= 3 else arn


class LoadBalancerStep(Step):
    """ALB and target groups (no listeners: see ListenersStep)."""

    title = "load balancer"
    reads = ("vpc_id", "alb_subnets", "sg_alb", "target_groups_seen")
    provides = ("alb_arn", "alb_dns", "alb_zone", "alb_attributes", "alb_tags", "alb_scheme", "tg_blue", "tg_green")
    concurrent = True  # the load balancer and each target group: independent

    def plan(self, ctx: Context) -> list[Action]:
        n = ctx.names
        elb = ctx.client("elbv2")
        lb, tgs = both(ctx, partial(own_load_balancer, ctx), partial(seen_target_groups, ctx))
        tags = elb_tags(ctx, [x["LoadBalancerArn"] for x in [lb] if x] + [g["TargetGroupArn"] for g in tgs.values()])
        actions: list[Action | Callable[[], Action]] = []  # the callables read attributes: at once, below
        # -- load balancer
        if n.shared:
            pass  # the shared part is steps/shared.py's (an own one left by a move: steps/move.py's)
        elif lb is None:
            detail = f"{scheme(ctx)}, application" + (" in the tasks' subnets" if scheme(ctx) == "internal" else "")
            detail += ", dual-stack" if ctx.config.network.ipv6 else ""
            actions.append(Action("create", "load balancer", n.alb, detail, run=lambda: self._create_lb(ctx)))
        elif check_owner(ctx, "load balancer", n.alb, tags.get(lb["LoadBalancerArn"], {})):
            ctx.learn_account(lb["LoadBalancerArn"])
            ctx.facts.update(alb_arn=lb["LoadBalancerArn"], alb_dns=lb["DNSName"], alb_zone=lb["CanonicalHostedZoneId"])
            ctx.facts["alb_tags"] = tags.get(lb["LoadBalancerArn"], {})
            ctx.facts["alb_scheme"] = str(lb.get("Scheme", ""))
            actions.append(partial(self._plan_lb, ctx, lb))
        # -- target groups
        for name in (n.tg_blue, n.tg_green):
            fact = "tg_blue" if name == n.tg_blue else "tg_green"
            tg = tgs.get(name)
            if tg is None:
                actions.append(
                    Action(
                        "create",
                        "target group",
                        name,
                        f"ip, HTTP:{ctx.config.service.container_port}, health {ctx.config.service.health_check_path}",
                        run=partial(self._create_tg, ctx, name, fact),
                    )
                )
                continue
            if not check_owner(ctx, "target group", name, tags.get(tg["TargetGroupArn"], {})):
                continue
            ctx.facts[fact] = tg["TargetGroupArn"]
            actions.append(partial(self._plan_tg, ctx, tg, name, elb))
        return resolve(ctx, actions)

    # -- load balancer ---------------------------------------------------------
    def _plan_lb(self, ctx: Context, lb: dict[str, Any]) -> Action:
        arn = lb["LoadBalancerArn"]
        with doing(f"read attributes of load balancer {ctx.names.alb}"):
            attrs = {
                a["Key"]: a["Value"]
                for a in ctx.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
            }
        ctx.facts["alb_attributes"] = attrs  # the access logs' step reads them too (accesslogs.py)
        changes = _diff(alb_attributes(ctx), attrs)
        have_subnets = sorted(az["SubnetId"] for az in lb.get("AvailabilityZones", []))
        if have_subnets != ctx.facts["alb_subnets"]:
            changes.append(Change("subnets", ",".join(have_subnets), ",".join(ctx.facts["alb_subnets"])))
        have_type, want_type = lb.get("IpAddressType", "ipv4"), ip_address_type(ctx)
        ctx.facts["alb_ip_type"] = have_type  # what the plan's cost line takes as "before"
        if have_type != want_type:
            changes.append(Change(IP_ADDRESS_TYPE, have_type, want_type))
        want_sg = ctx.facts.get("sg_alb", KNOWN_AFTER_APPLY)
        if lb.get("SecurityGroups", []) != [want_sg]:
            changes.append(Change("security groups", ",".join(lb.get("SecurityGroups", [])), want_sg))
        if lb.get("Scheme") != scheme(ctx):  # the name says the scheme (Names.own_alb): made by hand
            ctx.conflicts.append(
                f"load balancer {ctx.names.alb} is {lb.get('Scheme')}, not {scheme(ctx)}: ecsup will not replace it; "
                "destroy the stack and create it again"
            )
        state = lb.get("State", {}).get("Code", "?")
        if not changes:
            return Action("noop", "load balancer", ctx.names.alb, f"{state}, {lb['DNSName']}")
        return Action(
            "update",
            "load balancer",
            ctx.names.alb,
            lb["DNSName"],
            changes,
            run=lambda: self._converge_lb(ctx, changes),
        )

    def _create_lb(self, ctx: Context) -> str:
        elb = ctx.client("elbv2")
        with doing(f"create load balancer {ctx.names.alb}"):
            lb = elb.create_load_balancer(
                Name=ctx.names.alb,
                Subnets=ctx.facts["alb_subnets"],
                SecurityGroups=[ctx.facts["sg_alb"]],
                Scheme=scheme(ctx),
                Type="application",
                IpAddressType=ip_address_type(ctx),
                Tags=ctx.names.tag_list(),
            )["LoadBalancers"][0]
        ctx.facts.update(alb_arn=lb["LoadBalancerArn"], alb_dns=lb["DNSName"], alb_zone=lb["CanonicalHostedZoneId"])
        self._converge_lb(ctx, _diff(alb_attributes(ctx), {}))
        return str(lb["DNSName"])

    def _converge_lb(self, ctx: Context, changes: list[Change]) -> str:
        elb = ctx.client("elbv2")
        arn = ctx.facts["alb_arn"]
        attrs = [{"Key": c.attribute, "Value": c.new} for c in changes if c.attribute in alb_attributes(ctx)]
        with doing(f"configure load balancer {ctx.names.alb}"):
            if attrs:
                elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=attrs)
            # SetIpAddressType "dualstack" needs IPv6 blocks on the subnets it is in, and SetSubnets of
            # a dual-stack one needs them on the new subnets: to dualstack after the subnets, to ipv4 before
            retype = any(c.attribute == IP_ADDRESS_TYPE for c in changes)
            if retype and ip_address_type(ctx) == "ipv4":
                elb.set_ip_address_type(LoadBalancerArn=arn, IpAddressType="ipv4")
            if any(c.attribute == "subnets" for c in changes):
                elb.set_subnets(LoadBalancerArn=arn, Subnets=ctx.facts["alb_subnets"])
            if retype and ip_address_type(ctx) != "ipv4":
                elb.set_ip_address_type(LoadBalancerArn=arn, IpAddressType=ip_address_type(ctx))
            if any(c.attribute == "security groups" for c in changes):
                elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=[ctx.facts["sg_alb"]])
        return ", ".join(c.attribute for c in changes)

    # -- target groups -----------------------------------------------------------
    def _plan_tg(self, ctx: Context, tg: dict[str, Any], name: str, elb: Any) -> Action:
        arn = tg["TargetGroupArn"]
        with doing(f"read attributes of target group {name}"):
            attrs = {
                a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
            }
        hc_changes = _diff(health_check(ctx), tg)
        attr_changes = _diff(TG_ATTRIBUTES, attrs)
        if tg.get("VpcId") != ctx.facts["vpc_id"] or tg.get("TargetType") != "ip" or tg.get("Protocol") != "HTTP":
            ctx.conflicts.append(
                f"target group {name} has VPC/target type/protocol {tg.get('VpcId')}/"
                f"{tg.get('TargetType')}/{tg.get('Protocol')}, which cannot be changed in place; "
                "destroy the stack and create it again"
            )
        if not hc_changes and not attr_changes:
            return Action("noop", "target group", name, f"health {tg.get('HealthCheckPath')}")
        return Action(
            "update",
            "target group",
            name,
            arn,
            hc_changes + attr_changes,
            run=lambda: self._converge_tg(ctx, arn, bool(hc_changes), attr_changes),
        )

    def _create_tg(self, ctx: Context, name: str, fact: str) -> str:
        elb = ctx.client("elbv2")
        with doing(f"create target group {name}"):
            tg = elb.create_target_group(
                Name=name,
                Protocol="HTTP",
                ProtocolVersion="HTTP1",
                Port=ctx.config.service.container_port,
                VpcId=ctx.facts["vpc_id"],
                TargetType="ip",
                Tags=ctx.names.tag_list(),
                **health_check(ctx),
            )["TargetGroups"][0]
        ctx.facts[fact] = tg["TargetGroupArn"]
        self._converge_tg(ctx, tg["TargetGroupArn"], False, _diff(TG_ATTRIBUTES, {}))
        return str(tg["TargetGroupArn"])

    def _converge_tg(self, ctx: Context, arn: str, health: bool, attrs: list[Change]) -> str:
        elb = ctx.client("elbv2")
        with doing(f"configure target group {arn}"):
            if health:
                elb.modify_target_group(TargetGroupArn=arn, **health_check(ctx))
            if attrs:
                elb.modify_target_group_attributes(
                    TargetGroupArn=arn, Attributes=[{"Key": c.attribute, "Value": c.new} for c in attrs]
                )
        return "configured"

    # -- destroy -------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        """Listeners, then target groups, then the load balancer (STACK.md order)."""
        n = ctx.names
        lb, tgs = both(ctx, partial(own_load_balancer, ctx), partial(seen_target_groups, ctx))
        tags = elb_tags(ctx, [x["LoadBalancerArn"] for x in [lb] if x] + [g["TargetGroupArn"] for g in tgs.values()])
        first: list[Action] = []
        last: list[Action] = []
        if lb is not None and not n.shared:
            arn = lb["LoadBalancerArn"]
            if ctx.names.owns(tags.get(arn, {})):
                ctx.facts.update(alb_arn=arn, alb_dns=lb["DNSName"], alb_zone=lb["CanonicalHostedZoneId"])
                first.append(
                    Action(
                        "delete",
                        "listeners",
                        n.alb,
                        "HTTPS:443, HTTP:80",
                        run=lambda: self._delete_listeners(ctx, arn),
                        after=(service_ref(ctx),),
                    )
                )
                last.append(
                    Action(
                        "delete",
                        "load balancer",
                        n.alb,
                        lb["DNSName"]
                        + (", deletion protection off first" if ctx.config.load_balancer.deletion_protection else ""),
                        run=lambda: self._delete_lb(ctx, arn),
                        after=(service_ref(ctx), listeners_ref(ctx)),
                    )
                )
            else:
                last.append(foreign(ctx, "load balancer", n.alb))
        for name in (n.tg_blue, n.tg_green):
            tg = tgs.get(name)
            if tg is None:
                continue
            if not ctx.names.owns(tags.get(tg["TargetGroupArn"], {})):
                first.append(foreign(ctx, "target group", name))
                continue
            first.append(
                Action(
                    "delete",
                    "target group",
                    name,
                    "",
                    run=partial(self._delete_tg, ctx, tg["TargetGroupArn"]),
                    after=(service_ref(ctx), listeners_ref(ctx)),
                )
            )
        return first + last

    def _delete_listeners(self, ctx: Context, arn: str) -> str:
        elb = ctx.client("elbv2")
        with doing(f"delete the listeners of {ctx.names.alb}"):
            try:
                listeners = elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]
            except Exception as exc:
                if is_code(exc, "LoadBalancerNotFound"):
                    return "already gone"
                raise
            for listener in listeners:
                try:
                    elb.delete_listener(ListenerArn=listener["ListenerArn"])
                except Exception as exc:
                    if not is_code(exc, "ListenerNotFound"):
                        raise
        return f"deleted {len(listeners)}"

    def _delete_lb(self, ctx: Context, arn: str) -> str:
        elb = ctx.client("elbv2")
        with doing(f"delete load balancer {ctx.names.alb}"):
            try:
                elb.delete_load_balancer(LoadBalancerArn=arn)
            except Exception as exc:
                if is_code(exc, "OperationNotPermitted"):  # deletion protection: destroy was confirmed
                    elb.modify_load_balancer_attributes(
                        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
                    )
                    elb.delete_load_balancer(LoadBalancerArn=arn)
                elif not is_code(exc, "LoadBalancerNotFound"):
                    raise

            def gone() -> tuple[bool, str]:
                try:
                    lbs = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
                except Exception as exc:
                    if is_code(exc, "LoadBalancerNotFound"):
                        return True, "deleted"
                    raise
                return not lbs, lbs[0]["State"]["Code"] if lbs else "deleted"

            waiting.poll(ctx, f"load balancer {ctx.names.alb} to be deleted", gone, ctx.timeouts.load_balancer)
        return "deleted"

    def _delete_tg(self, ctx: Context, arn: str) -> str:
        elb = ctx.client("elbv2")

        def attempt() -> None:
            try:
                elb.delete_target_group(TargetGroupArn=arn)
            except Exception as exc:
                if not is_code(exc, "TargetGroupNotFound"):
                    raise

        with doing(f"delete target group {arn}"):
            waiting.retry(
                ctx,
                "the target group to be released by its load balancer",
                attempt,
                lambda e: is_code(e, "ResourceInUse"),
                ctx.timeouts.release,
            )
        return "deleted"


class HttpsStep(Step):
    """The staging listener becomes HTTPS:443 once the certificate is issued: after the
    service, which started behind it meanwhile (see STAGING_PORT)."""

    title = "HTTPS listener"
    # not after the service: the promotion keeps the default action (ECS's weights) as it is
    reads = ("promote", "https_listener_arn", "cert_arn")

    def plan(self, ctx: Context) -> list[Action]:
        if not ctx.facts.get("promote"):
            return []
        n = ctx.names
        return [
            Action(
                "create",
                "listener",
                f"{n.alb} HTTPS:443",
                f"the staging listener, once the certificate is issued: {tls_policy(ctx)}",
                run=lambda: self._promote(ctx),
            )
        ]

    def _promote(self, ctx: Context) -> str:
        elb = ctx.client("elbv2")
        wait_issued(ctx)
        arn = ctx.facts["https_listener_arn"]
        with doing(f"turn the staging listener of {ctx.names.alb} into HTTPS:443"):
            ListenersStep()._call(
                ctx,
                "modify",
                elb.modify_listener,
                ListenerArn=arn,
                **ListenersStep()._settings(ctx, 443, keep_action=True),  # ECS's weights stay as they are
            )
        return str(arn)


def _forward(ctx: Context) -> list[dict[str, Any]]:
    """The production forward: blue 100 / green 0 when created; a repair's weights otherwise
    (ctx.facts["production_weights"], see repaired_weights)."""
    blue, green = ctx.facts["tg_blue"], ctx.facts["tg_green"]
    weights = ctx.facts.get("production_weights") or {blue: 100, green: 0}
    return [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": arn, "Weight": int(weights.get(arn, 0))} for arn in (blue, green)],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }
    ]


def serving_targets(ctx: Context, arn: str) -> int:
    """How many healthy targets a target group has (ELB DescribeTargetHealth)."""
    with doing(f"read the target health of {arn.split('/')[-2]}"):
        found = ctx.client("elbv2").describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return sum(1 for t in found if (t.get("TargetHealth") or {}).get("State") == "healthy")


def repaired_weights(ctx: Context, actions: list[dict[str, Any]]) -> tuple[dict[str, int], str]:
    """The weights a repair of the production forward writes, and why.

    ECS checks no weights before its next traffic shift (aws/containers-roadmap#2853; CDK's
    aws/aws-cdk#36649 is this bug): 100 on the idle group sends every request to a group with no
    tasks. So the group whose targets serve the running revision keeps (or gets back) 100; when
    that cannot be told (targets in both groups: a deployment between its shift and its clean-up;
    or in neither), the weights blue and green have now are kept."""
    blue, green = ctx.facts["tg_blue"], ctx.facts["tg_green"]
    names = {blue: ctx.names.tg_blue, green: ctx.names.tg_green}
    counts = ctx.in_parallel({arn: partial(serving_targets, ctx, arn) for arn in (blue, green)})
    serving = [arn for arn in (blue, green) if counts[arn][1] is None and counts[arn][0]]
    if len(serving) == 1:
        live = serving[0]
        return {blue: 100 * (live == blue), green: 100 * (live == green)}, (
            f"100 on {names[live]}: its targets serve the running revision"
        )
    current = forward_weights(actions)
    kept = {arn: int(current.get(arn, 0)) for arn in (blue, green)}
    which = "both groups have" if serving else "neither group has"
    if not any(kept.values()):  # neither is in the forward now: nothing serves through it either way
        kept = {blue: 100, green: 0}
        return kept, f"100 on {names[blue]}: {which} healthy targets and neither was in the forward"
    return kept, (
        f"kept {names[blue]}={kept[blue]} {names[green]}={kept[green]}: {which} healthy targets, so which one "
        "serves the running revision cannot be told"
    )


REDIRECT = [
    {
        "Type": "redirect",
        "RedirectConfig": {
            "Protocol": "HTTPS",
            "Port": "443",
            "Host": "#{host}",
            "Path": "/#{path}",
            "Query": "#{query}",
            "StatusCode": "HTTP_301",
        },
    }
]


def _forward_summary(actions: list[dict[str, Any]]) -> str:
    out = []
    for a in actions:
        if a.get("Type") == "forward":
            groups = a.get("ForwardConfig", {}).get("TargetGroups") or [
                {"TargetGroupArn": a.get("TargetGroupArn"), "Weight": 100}
            ]
            out.append(  # by name: AWS promises no order for the groups of a forward
                "forward "
                + ", ".join(
                    sorted(
                        f"{g['TargetGroupArn'].split('/')[-2]}={g.get('Weight', 1)}"
                        for g in groups
                        if g.get("TargetGroupArn")
                    )
                )
            )
        elif a.get("Type") == "redirect":
            rc = a.get("RedirectConfig", {})
            out.append(f"redirect {rc.get('Protocol')}:{rc.get('Port')} {rc.get('StatusCode')}")
        else:
            out.append(str(a.get("Type")))
    return "; ".join(out)


def forward_weights(actions: list[dict[str, Any]]) -> dict[str, int]:
    """Target group ARN -> weight of a pure forward action ({} for anything else)."""
    if len(actions) != 1 or actions[0].get("Type") != "forward":
        return {}
    groups = actions[0].get("ForwardConfig", {}).get("TargetGroups") or [
        {"TargetGroupArn": actions[0].get("TargetGroupArn"), "Weight": 1}
    ]
    return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups if g.get("TargetGroupArn")}


def _forward_groups(actions: list[dict[str, Any]]) -> str:
    """What ecsup owns of the HTTPS default action: a pure forward, and to which groups. The
    weights are ECS's: a blue/green, linear or canary deployment rewrites them (not drift)."""
    weights = forward_weights(actions)
    if not weights:
        return _forward_summary(actions)
    return "forward " + ", ".join(sorted(arn.split("/")[-2] for arn in weights))


class ListenersStep(Step):
    """HTTPS:443 (modern TLS, forward blue 100 / green 0 when created) and HTTP:80 (301 to HTTPS).

    Late in the pipeline on purpose: creating the HTTPS listener is what needs the
    certificate ISSUED, so everything else is built while ACM validates. Once it exists,
    the forward's weights are ECS's to move (deployments), never "repaired" here."""

    title = "listeners"
    reads = ("alb_arn", "tg_blue", "tg_green", "alb_ingress")
    # the certificate: read to plan; HTTPS:443's own actions wait for it (Action.reads), while the
    # staging listener and HTTP:80 -- what the service needs -- do not
    plan_reads = ("cert_arn", "cert_arn_issued")
    # made in the task definition's round at the earliest: what needs the listener (the service)
    # waits for IAM to apply the roles' permissions after that anyway
    after = ("TaskDefinitionStep",)
    provides = ("https_listener_arn", "promote", "live_target_group_arn", "live_target_group", "production_weights")
    concurrent = True  # HTTP:80 does not wait for the certificate

    def plan(self, ctx: Context) -> list[Action]:
        n = ctx.names
        if n.shared:  # HTTPS:443 and HTTP:80 are the shared load balancer's (steps/shared.py)
            return []
        listeners: dict[int, dict[str, Any]] = {}
        if ctx.facts.get("alb_arn"):
            with doing(f"read the listeners of {n.alb}"):
                for page in (
                    ctx.client("elbv2")
                    .get_paginator("describe_listeners")
                    .paginate(LoadBalancerArn=ctx.facts["alb_arn"])
                ):
                    for listener in page["Listeners"]:
                        listeners[listener["Port"]] = listener
        actions = []
        https = listeners.get(443)
        staging = listeners.get(STAGING_PORT)
        if staging is not None and staging.get("Protocol") != "HTTP":
            staging = None  # not ours to promote
        if https is None and staging is not None:
            # an earlier create started the service behind it while ACM validated
            self._learn_https(ctx, staging)
            ctx.facts["promote"] = staging["ListenerArn"]
            actions.append(
                Action("noop", "listener", f"{n.alb} staging HTTP:{STAGING_PORT}", "becomes HTTPS:443 once issued")
            )
        elif https is None and not ctx.facts.get("cert_arn_issued") and early_start(ctx):
            ctx.facts["promote"] = KNOWN_AFTER_APPLY
            actions.append(
                Action(
                    "create",
                    "listener",
                    f"{n.alb} staging HTTP:{STAGING_PORT}",
                    "port closed by the security group; forwards to blue/green so that the service starts "
                    "while ACM validates; becomes HTTPS:443 once the certificate is issued",
                    run=lambda: self._create(ctx, STAGING_PORT),
                )
            )
        elif https is None:
            actions.append(
                Action(
                    "create",
                    "listener",
                    f"{n.alb} HTTPS:443",
                    f"{tls_policy(ctx)}, forward {n.tg_blue}=100 {n.tg_green}=0",
                    run=lambda: self._create(ctx, 443),
                    reads=CERTIFICATE,
                )
            )
        else:
            changes = []
            if https.get("Protocol") != "HTTPS":
                changes.append(Change("protocol", str(https.get("Protocol")), "HTTPS"))
            if https.get("SslPolicy") != tls_policy(ctx):
                changes.append(Change("TLS policy", str(https.get("SslPolicy")), tls_policy(ctx)))
            have_cert = (https.get("Certificates") or [{}])[0].get("CertificateArn", "-")
            want_cert = ctx.facts.get("cert_arn", KNOWN_AFTER_APPLY)
            if have_cert != want_cert:
                changes.append(Change("certificate", have_cert, want_cert))
            self._learn_https(ctx, https)
            if staging is not None:  # left by a run that died between two steps: not needed now
                actions.append(
                    Action(
                        "delete",
                        "listener",
                        f"{n.alb} staging HTTP:{STAGING_PORT}",
                        "left over; HTTPS:443 exists",
                        run=partial(self._delete_listener, ctx, staging["ListenerArn"]),
                    )
                )
            have = _forward_groups(https.get("DefaultActions", []))
            want = (
                f"forward {', '.join(sorted([n.tg_blue, n.tg_green]))}"
                if ctx.facts.get("tg_blue") and ctx.facts.get("tg_green")
                else KNOWN_AFTER_APPLY
            )
            if have != want and want != KNOWN_AFTER_APPLY:
                weights, why = repaired_weights(ctx, https.get("DefaultActions", []))
                ctx.facts["production_weights"] = weights
                changes.append(Change("default action", have, f"{want} ({why})"))
                if why.startswith("kept"):
                    ctx.notes.append(f"listener {n.alb} HTTPS:443: the forward is repaired with the weights {why}")
            elif have != want:
                changes.append(Change("default action", have, want))
            if changes:
                actions.append(
                    Action(
                        "update",
                        "listener",
                        f"{n.alb} HTTPS:443",
                        "",
                        changes,
                        run=partial(
                            self._modify,
                            ctx,
                            https["ListenerArn"],
                            443,
                            keep_action=not any(c.attribute == "default action" for c in changes),
                        ),
                        reads=CERTIFICATE,
                    )
                )
            else:
                actions.append(Action("noop", "listener", f"{n.alb} HTTPS:443", f"{tls_policy(ctx)}, {have}"))
        http = listeners.get(80)
        if http is None:
            actions.append(
                Action(
                    "create",
                    "listener",
                    f"{n.alb} HTTP:80",
                    "redirect to HTTPS (301)",
                    run=lambda: self._create(ctx, 80),
                )
            )
        else:
            have = _forward_summary(http.get("DefaultActions", []))
            want = _forward_summary(REDIRECT)
            if http.get("Protocol") != "HTTP" or have != want:
                actions.append(
                    Action(
                        "update",
                        "listener",
                        f"{n.alb} HTTP:80",
                        "",
                        [Change("default action", have, want)],
                        run=partial(self._modify, ctx, http["ListenerArn"], 80),
                    )
                )
            else:
                actions.append(Action("noop", "listener", f"{n.alb} HTTP:80", want))
        # HTTP:80 first: it does not need the certificate, so it exists even while ACM validates
        return actions[-1:] + actions[:-1]

    def _learn_https(self, ctx: Context, listener: dict[str, Any]) -> None:
        ctx.facts["https_listener_arn"] = listener["ListenerArn"]
        weights = forward_weights(listener.get("DefaultActions", []))
        if weights:  # the live group: ECS moves production between blue and green
            live = max(weights, key=lambda arn: weights[arn])
            ctx.facts["live_target_group_arn"] = live
            ctx.facts["live_target_group"] = live.split("/")[-2]

    def _delete_listener(self, ctx: Context, arn: str) -> str:
        with doing(f"delete listener {arn}"):
            try:
                ctx.client("elbv2").delete_listener(ListenerArn=arn)
            except Exception as exc:
                if not is_code(exc, "ListenerNotFound"):
                    raise
        return "deleted"

    def _settings(self, ctx: Context, port: int, keep_action: bool = False) -> dict[str, Any]:
        if port == STAGING_PORT:  # plain HTTP, on a port the load balancer's security group keeps shut
            return {"Protocol": "HTTP", "Port": STAGING_PORT, "DefaultActions": _forward(ctx)}
        if port == 443:
            settings: dict[str, Any] = {
                "Protocol": "HTTPS",
                "Port": 443,
                "SslPolicy": tls_policy(ctx),
                "Certificates": [{"CertificateArn": ctx.facts["cert_arn"]}],
            }
            if not keep_action:  # leave ECS's weights alone unless the action itself is wrong
                settings["DefaultActions"] = _forward(ctx)
            return settings
        return {"Protocol": "HTTP", "Port": 80, "DefaultActions": REDIRECT}

    def _call(self, ctx: Context, what: str, fn: Any, **kwargs: Any) -> Any:
        # Called only once ACM said ISSUED: ELB can still answer "UnsupportedCertificate: The
        # certificate '...' must have a fully-qualified domain name, a supported signature, and a
        # supported key size." (terraform-provider-aws#41789) or CertificateNotFound (#11334)
        # for a moment. Before ISSUED the same answers are final, so they are not retried there.
        return waiting.retry(
            ctx,
            "the new certificate to reach the load balancer",
            lambda: fn(**kwargs),
            lambda e: is_code(e, *CERTIFICATE_SETTLING),
            ctx.timeouts.propagation,
        )

    def _create(self, ctx: Context, port: int) -> str:
        elb = ctx.client("elbv2")
        if port == 443:
            wait_issued(ctx)
        with doing(f"create listener {port} on {ctx.names.alb}"):
            listener = self._call(
                ctx,
                "create",
                elb.create_listener,
                LoadBalancerArn=ctx.facts["alb_arn"],
                Tags=ctx.names.tag_list(),
                **self._settings(ctx, port),
            )["Listeners"][0]
        if port in (443, STAGING_PORT):
            ctx.facts["https_listener_arn"] = listener["ListenerArn"]
        return str(listener["ListenerArn"])

    def _modify(self, ctx: Context, arn: str, port: int, keep_action: bool = False) -> str:
        elb = ctx.client("elbv2")
        if port == 443:
            wait_issued(ctx)
        with doing(f"update listener {port} on {ctx.names.alb}"):
            self._call(ctx, "modify", elb.modify_listener, ListenerArn=arn, **self._settings(ctx, port, keep_action))
        return "updated"
