"""Who may reach the service, on the stack's own load balancer: a regional AWS WAF web ACL
associated with it ([load_balancer] waf_acl). The allowlist ([load_balancer] allow_cidrs) is the
load balancer's security group's rules (steps/network.py) or, on a shared load balancer, a
source-ip condition of the stack's rule (steps/shared.py); an internal load balancer is
LoadBalancerStep's scheme, under its own name (Names.own_alb), so that changing it is a move
(steps/move.py).

The association is ecsup's when the load balancer's tag WAF_TAG names the web ACL associated: a
web ACL someone associated outside ecsup is replaced only when the config names another one, and
left alone (and named in the plan) when the config names none.

WAF is eventually consistent: right after CreateLoadBalancer, AssociateWebACL can answer
WAFUnavailableEntityException ("AWS WAF couldn't retrieve the resource that you requested. Retry
your request."; WAF Developer Guide, "Temporary inconsistencies during updates";
terraform-provider-aws retries it in internal/service/wafv2/web_acl_association.go): retried,
bounded by Timeouts.propagation.
"""

from __future__ import annotations

from .. import waiting
from ..config import waf_acl_region
from ..context import Context
from ..errors import ConfigError, doing, is_code
from ..plan import Action, Change
from . import Step

WAF_TAG = "ecsup:waf-acl"  # on the load balancer: the web ACL ecsup associated with it
UNAVAILABLE = "WAFUnavailableEntityException"
NONEXISTENT = "WAFNonexistentItemException"


def acl_label(arn: str) -> str:
    """arn:...:regional/webacl/<name>/<id> -> <name>."""
    parts = arn.split("/")
    return parts[-2] if len(parts) >= 3 else arn


def _missing_acl(ctx: Context, arn: str) -> ConfigError:
    return ConfigError(
        [("load_balancer.waf_acl", f"web ACL {arn} does not exist in {ctx.region} (WAF answered {NONEXISTENT})")],
        hint="name an existing REGIONAL web ACL of this account and region (`aws wafv2 list-web-acls --scope "
        "REGIONAL`); nothing was changed",
    )


def check_acl(ctx: Context, arn: str) -> None:
    """The web ACL exists, in the stack's region (a ConfigError naming the key otherwise)."""
    region = waf_acl_region(arn)
    if region and region != ctx.region:
        raise ConfigError(
            [("load_balancer.waf_acl", f"{arn} is in {region}: a load balancer takes a web ACL of its region")],
            hint=f"name a REGIONAL web ACL in {ctx.region}; nothing was changed",
        )
    parts = arn.split("/")
    with doing(f"look up web ACL {acl_label(arn)}"):
        try:
            ctx.client("wafv2").get_web_acl(Name=parts[-2], Id=parts[-1], Scope="REGIONAL")
        except Exception as exc:
            if is_code(exc, NONEXISTENT):
                raise _missing_acl(ctx, arn) from None
            raise


def associated_acl(ctx: Context, alb_arn: str) -> str:
    """The web ACL associated with the load balancer ("" for none)."""
    with doing(f"read the web ACL of load balancer {ctx.names.alb}"):
        found = ctx.client("wafv2").get_web_acl_for_resource(ResourceArn=alb_arn)
    return str((found.get("WebACL") or {}).get("ARN") or "")


class WafStep(Step):
    """[load_balancer] waf_acl on the stack's own load balancer."""

    title = "web ACL"
    reads = ("alb_arn", "alb_tags")
    provides = ("waf_acl_associated",)

    def plan(self, ctx: Context) -> list[Action]:
        if ctx.names.shared:  # refused by the config on a shared load balancer
            return []
        want = ctx.config.load_balancer.waf_acl
        if want and ctx.mode != "status":  # status reports what is associated, whatever the config says
            check_acl(ctx, want)
        arn = ctx.facts.get("alb_arn")
        name = ctx.names.alb
        if not arn:
            if not want:
                return []
            return [
                Action(
                    "create",
                    "web ACL association",
                    name,
                    f"{acl_label(want)} on the new load balancer",
                    run=lambda: self._associate(ctx, want),
                )
            ]
        tagged = (ctx.facts.get("alb_tags") or {}).get(WAF_TAG, "")
        if not want and not tagged and ctx.mode != "status":
            return []  # no web ACL of ecsup's, none wanted: not ecsup's business (status still shows it)
        have = associated_acl(ctx, arn)
        ctx.facts["waf_acl_associated"] = have  # status shows it on the load balancer's row
        if want:
            if have == want:
                if tagged != want:  # associated by hand with the same web ACL: ecsup's from now on
                    return [
                        Action(
                            "update",
                            "web ACL association",
                            name,
                            acl_label(want),
                            [Change(f"tag {WAF_TAG}", tagged or "-", want)],
                            run=lambda: self._tag(ctx, arn, want),
                        )
                    ]
                return [Action("noop", "web ACL association", name, acl_label(want))]
            if have and have != tagged:
                ctx.notes.append(
                    f"load balancer {name} has web ACL {have}, associated outside ecsup: replaced by "
                    f"{acl_label(want)} (load_balancer.waf_acl)"
                )
            return [
                Action(
                    "update" if have else "create",
                    "web ACL association",
                    name,
                    acl_label(want),
                    [Change("web ACL", have or "none", want)],
                    run=lambda: self._associate(ctx, want),
                )
            ]
        if have and have == tagged:
            return [
                Action(
                    "delete",
                    "web ACL association",
                    name,
                    f"{acl_label(have)} (load_balancer.waf_acl removed)",
                    run=lambda: self._disassociate(ctx, arn),
                )
            ]
        if have:
            ctx.notes.append(
                f"load balancer {name} has web ACL {have}, associated outside ecsup: left alone "
                "(load_balancer.waf_acl is not set)"
            )
        if tagged:  # ecsup's association is gone (removed by hand): forget it
            return [
                Action(
                    "update",
                    "web ACL association",
                    name,
                    "",
                    [Change(f"tag {WAF_TAG}", tagged, "-")],
                    run=lambda: self._untag(ctx, arn),
                )
            ]
        return []

    def _associate(self, ctx: Context, acl: str) -> str:
        arn = ctx.facts["alb_arn"]
        waf = ctx.client("wafv2")
        # the tag first: a run that stops between the two calls finds its own web ACL's tag and
        # associates it again (a tag without the association is ecsup's forgotten record, not a claim)
        self._tag(ctx, arn, acl)
        with doing(f"associate web ACL {acl_label(acl)} with load balancer {ctx.names.alb}"):
            try:
                waiting.retry(
                    ctx,
                    f"AWS WAF to see load balancer {ctx.names.alb}",
                    lambda: waf.associate_web_acl(WebACLArn=acl, ResourceArn=arn),
                    lambda e: is_code(e, UNAVAILABLE),
                    ctx.timeouts.propagation,
                )
            except Exception as exc:
                if is_code(exc, NONEXISTENT):  # deleted since the plan read it
                    raise _missing_acl(ctx, acl) from None
                raise
        return acl_label(acl)

    def _disassociate(self, ctx: Context, arn: str) -> str:
        with doing(f"disassociate the web ACL of load balancer {ctx.names.alb}"):
            try:
                ctx.client("wafv2").disassociate_web_acl(ResourceArn=arn)
            except Exception as exc:
                if not is_code(exc, NONEXISTENT):
                    raise
        self._untag(ctx, arn)
        return "disassociated"

    def _tag(self, ctx: Context, arn: str, acl: str) -> str:
        with doing(f"tag load balancer {ctx.names.alb}"):
            ctx.client("elbv2").add_tags(ResourceArns=[arn], Tags=[{"Key": WAF_TAG, "Value": acl}])
        return "tagged"

    def _untag(self, ctx: Context, arn: str) -> str:
        with doing(f"untag load balancer {ctx.names.alb}"):
            ctx.client("elbv2").remove_tags(ResourceArns=[arn], TagKeys=[WAF_TAG])
        return "untagged"
