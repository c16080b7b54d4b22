"""Requests to an Application Load Balancer, and the CloudWatch metrics ELB publishes for them.

moto has no data plane: nothing reaches a load balancer, and ELB publishes no metric. Here a test
(or the sandbox) says that ``count`` requests for ``host`` arrive now; they are routed as the ALB
routes them -- the HTTPS listener's rules by priority (host-header values, case-insensitive, with
``*`` and ``?``), else its default action; a forward's target groups by weight -- and the metrics
ELB publishes for that minute are recorded on the emulation's clock (emulation/cloudwatch.py, which
evaluates the alarms over them). ELB User Guide, "CloudWatch metrics for your Application Load
Balancer": metrics are reported "only when requests are flowing through the load balancer", counts
only when non-zero; per target group (dimensions TargetGroup + LoadBalancer):

* ``HealthyHostCount`` / ``UnHealthyHostCount`` ("Reported if health checks are enabled"), for every
  target group of the load balancer: a registered target is healthy once the load balancer is
  active (before, its health checks cannot pass: "initial", counted in neither);
* ``RequestCount`` ("only incremented for requests where the load balancer node was able to choose
  a target") and ``HTTPCode_Target_2XX_Count`` for the requests a target answered;

and per load balancer (dimension LoadBalancer): ``RequestCount``, and for requests sent to a target
group with no registered target -- the ALB answers them itself, "HTTP 503: Service unavailable ...
the target groups for the load balancer have no registered targets" (ELB User Guide, "Troubleshoot
your Application Load Balancers") -- ``HTTPCode_ELB_5XX_Count`` and ``HTTPCode_ELB_503_Count``. A
group whose registered targets are all unhealthy fails open (they all get requests: "Health checks
for Application Load Balancer target groups"); its targets answer 2xx here.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from . import Emulation, _elbv2
from .cloudwatch import evaluate_alarms, publish
from .elbv2 import load_balancer_is_active

NAMESPACE = "AWS/ApplicationELB"


def _dimension(arn: str, marker: str) -> str:
    return arn.split(":")[-1].split(marker, 1)[-1]


def _hosts(rule: Any) -> list[str]:
    hosts: list[str] = []
    for cond in rule.conditions or []:
        if cond.get("Field") == "host-header":
            hosts += (cond.get("HostHeaderConfig") or {}).get("Values") or cond.get("Values") or []
    return hosts


def _matches(rule: Any, host: str) -> bool:
    hosts = _hosts(rule)
    return bool(hosts) and any(fnmatch.fnmatchcase(host.lower(), h.lower()) for h in hosts)


def _route(elb: Any, host: str, name: str | None) -> tuple[Any, dict[str, int]]:
    """(the load balancer, target group ARN -> weight) the request for ``host`` goes to."""
    from .deployments import _forward_groups

    candidates = [lb for lb in elb.load_balancers.values() if name is None or lb.name == name]
    for lb in candidates:
        for listener in lb.listeners.values():
            if int(listener.port) != 443:
                continue
            rules = sorted(
                (r for r in listener.rules.values() if str(r.priority).isdigit()), key=lambda r: int(r.priority)
            )
            for rule in rules:
                if _matches(rule, host):
                    return lb, _forward_groups(rule) or {}
    for lb in candidates:  # no rule for the host: the default action (a stack's own load balancer forwards)
        for listener in lb.listeners.values():
            groups = _forward_groups(listener._default_rule[0]) if int(listener.port) == 443 else None
            if groups:
                return lb, groups
    raise ValueError(f"no load balancer routes {host}")


def requests(em: Emulation, account: str, region: str, host: str, count: int, load_balancer: str | None = None) -> None:
    """``count`` requests for ``host`` arrive now: route them and publish ELB's metrics."""
    evaluate_alarms(em, account, region)  # the periods that ended before these requests
    elb = _elbv2(account, region)
    lb, weights = _route(elb, host, load_balancer)
    lb_dims = {"LoadBalancer": _dimension(lb.arn, "loadbalancer/")}
    active = load_balancer_is_active(em, lb)

    def group_dims(arn: str) -> dict[str, str]:
        return {"TargetGroup": "targetgroup/" + _dimension(arn, "targetgroup/"), **lb_dims}

    for arn, tg in elb.target_groups.items():
        if lb.arn not in tg.load_balancer_arns:
            continue
        healthy = len(tg.targets) if active else 0
        publish(em, account, region, NAMESPACE, "HealthyHostCount", group_dims(arn), healthy)
        publish(em, account, region, NAMESPACE, "UnHealthyHostCount", group_dims(arn), 0)
    publish(em, account, region, NAMESPACE, "RequestCount", lb_dims, count)
    total = sum(w for w in weights.values() if w > 0)
    shares = {arn: count * w // total for arn, w in weights.items() if w > 0} if total else {}
    if shares:  # what integer division left over goes to the heaviest group
        heaviest = max(shares, key=lambda a: weights[a])
        shares[heaviest] += count - sum(shares.values())
    refused = 0
    for arn, n in shares.items():
        tg = elb.target_groups.get(arn)
        if n <= 0:
            continue
        if tg is None or not tg.targets:
            refused += n  # no registered target: the load balancer answers 503 itself
            continue
        publish(em, account, region, NAMESPACE, "RequestCount", group_dims(arn), n)
        publish(em, account, region, NAMESPACE, "HTTPCode_Target_2XX_Count", group_dims(arn), n)
    if refused:
        publish(em, account, region, NAMESPACE, "HTTPCode_ELB_5XX_Count", lb_dims, refused)
        publish(em, account, region, NAMESPACE, "HTTPCode_ELB_503_Count", lb_dims, refused)
