"""AWS WAF (wafv2): associating a web ACL with a load balancer as AWS does -- one web ACL per
resource (a new association replaces the old one), only with a resource that exists, and not at
once after the load balancer is created."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import AwsFault, Emulation, _elbv2


def _load_balancer(resp: Any, arn: str) -> Any:
    return _elbv2(resp.current_account, resp.region).load_balancers.get(arn)


def association_needs_a_settled_load_balancer(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """AssociateWebACL with a load balancer that does not exist: WAFNonexistentItemException (moto
    associates any ARN: getmoto/moto#8163). Right after CreateLoadBalancer, WAF does not see the new
    load balancer yet and answers WAFUnavailableEntityException ("AWS WAF couldn't retrieve the
    resource that you requested. Retry your request."; WAF Developer Guide, "Temporary
    inconsistencies during updates"; terraform-provider-aws retries it in
    internal/service/wafv2/web_acl_association.go for its create timeout)."""
    resource = json.loads(resp.body)["ResourceArn"]
    if ":elasticloadbalancing:" in resource:
        lb = _load_balancer(resp, resource)
        if lb is None:
            raise AwsFault(
                "WAFNonexistentItemException",
                "AWS WAF couldn't perform the operation because your resource doesn't exist.",
            )
        created = getattr(lb, "_ecsup_created", None)
        if created is not None and em.now() < float(created) + em.delays.waf_resource_visible:
            raise AwsFault(
                "WAFUnavailableEntityException",
                "AWS WAF couldn't retrieve the resource that you requested. Retry your request.",
            )
    return proceed()


def one_web_acl_per_resource(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """ "A resource can have at most one web ACL association" (WAFV2 API reference,
    DisassociateWebACL): associating another web ACL replaces the association (pulumi/pulumi-aws#4782:
    the first web ACL no longer lists the load balancer). moto adds the resource to the second web
    ACL's list and keeps it in the first's, whose GetWebACLForResource then answers the old one."""
    body = json.loads(resp.body)
    resource, acl = body["ResourceArn"], body["WebACLArn"]
    answer = proceed()
    for arn, web_acl in resp.wafv2_backend.wacls.items():
        if arn != acl and resource in web_acl.associated_resources:
            web_acl.associated_resources.remove(resource)
    return answer


def install(around: Callable[..., None]) -> None:
    from moto.wafv2.responses import WAFV2Response as WAF

    around(WAF, "associate_web_acl", association_needs_a_settled_load_balancer)
    around(WAF, "associate_web_acl", one_web_acl_per_resource)
