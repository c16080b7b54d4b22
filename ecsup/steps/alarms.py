"""Deployment alarms: the CloudWatch alarms ECS watches during every deployment and its bake
([service.deploy.alarms]). ECS, not ecsup, acts on them: the service names them in
``deploymentConfiguration.alarms`` with ``enable`` and ``rollback`` (steps/service.py reads the
names from here), and ECS fails and rolls back a deployment whose alarm goes into ALARM, with
no process of ours running (STACK.md, "Deployment alarms"; ECS Developer Guide, "How CloudWatch
alarms detect Amazon ECS deployment failures").

ecsup's alarms (``ecsup-<app>-<env>-5xx``, ``-latency``) are tagged ``ecsup:app``/``ecsup:env``;
the alarms named in ``names`` are the user's: they must exist (a configuration error before any
change otherwise), and ecsup never changes or deletes them.

What they measure: the production traffic whichever of the two target groups is live. Blue/green
moves production from one group to the other on every deploy, so each alarm reads both groups
and combines them with metric math.

* ``5xx``: (the targets' 5xx of both groups + the load balancer's own 5xx) / (both groups'
  requests) x 100. HTTPCode_Target_5XX_Count and RequestCount are published per target group
  (dimensions LoadBalancer + TargetGroup), so a load balancer shared with other stacks (issue 19)
  does not mix their traffic into this figure; HTTPCode_ELB_5XX_Count exists only per load
  balancer (ELB User Guide, "CloudWatch metrics for your Application Load Balancer"), and is
  included because a 502/504 the load balancer answers for a target that crashed or hung is the
  release's failure too -- but not on a shared load balancer ([load_balancer] shared), where it
  would count the other stacks' as well.
  Counts are published only when non-zero: each is FILLed with 0, the ratio is guarded against
  0 / 0 (IF(requests > 0, ...)), and with no data at all (no traffic) the alarm treats missing
  data as not breaching.
  An outage the load balancer answers itself: when the live group has no healthy target (its
  tasks crashed and were deregistered), the ALB answers 503 itself: HTTPCode_ELB_5XX_Count rises
  while the groups' RequestCount stays 0 ("only incremented for requests where the load balancer
  node was able to choose a target"), and the ratio alone reads 0 % (aws/containers-roadmap#2853).
  On a stack's own load balancer its 5xx count is the stack's own: no request reached a target
  while the load balancer answered 5xx itself makes the figure 100 (every request failed) -- also
  while the old group still has healthy targets during a bake, or for the share of a linear or
  canary step that goes to an emptied group (the ratio counts those 5xx). On a shared load
  balancer the ELB's 5xx count is every stack's, so the stack's own signal is HealthyHostCount per
  target group (dimensions TargetGroup + LoadBalancer; "Reported if health checks are enabled" --
  ELB User Guide, "CloudWatch metrics for your Application Load Balancer", metrics for targets):
  with no healthy target in either group (Maximum over the period; a group that reported no point
  is unknown, not 0, so a late or missing point never reads as an outage beside another stack's
  5xx: the figure is then the ratio) while the load balancer answers 5xx, the figure is 100; the
  ELB count serves only as the sign that requests were refused. What this cannot see on a shared
  load balancer: the live group emptied while the other still has healthy targets (during a bake)
  -- ECS's circuit breaker still counts the replaced tasks there.
* ``latency`` (only when ``latency_p95_ms`` > 0): the larger of the two groups' p95
  TargetResponseTime, MAX([FILL(pb,0), FILL(pg,0)]). A percentile of two groups' requests
  together cannot be computed from their percentiles; the larger one is an upper bound that
  is exact whenever one group serves all production (after a blue/green shift, and during the
  bake), and errs towards rolling back while a linear or canary split runs. An idle group
  reports no points (FILL 0), so it never raises the figure.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from ..config import AlarmsConfig, Config
from ..context import Context
from ..deployments import alarm_states as describe
from ..errors import ConfigError, doing, is_code
from ..names import tag_dict
from ..plan import KNOWN_AFTER_APPLY, Action, Change
from . import Step, check_owner, foreign, service_ref

NAMESPACE = "AWS/ApplicationELB"
KINDS = ("5xx", "latency")
# The metrics each alarm evaluates (its MetricStats; expressions are free): what CloudWatch bills,
# $0.10 per metric-month for a standard-resolution alarm (STACK.md; cost.py).
# 5xx: each group's target 5xx and requests (4), and the load balancer's own 5xx.
METRICS_PER_ALARM = {"5xx": 5, "latency": 2}


def metrics_per_alarm(config: Config) -> dict[str, int]:
    """METRICS_PER_ALARM for this stack: on a shared load balancer the 5xx alarm reads each group's
    HealthyHostCount too (its own sign of an outage the load balancer answers itself), so 7."""
    return METRICS_PER_ALARM | ({"5xx": 7} if config.load_balancer.shared else {})


def kinds(cfg: AlarmsConfig) -> list[str]:
    """The alarms ecsup makes with this configuration."""
    if not cfg.enabled:
        return []
    return [k for k, on in (("5xx", cfg.error_rate_percent > 0), ("latency", cfg.latency_p95_ms > 0)) if on]


def _suffix(arn: str, marker: str) -> str:
    """The part of an ELB ARN CloudWatch uses as a dimension (app/<lb>/<id>, targetgroup/<tg>/<id>)."""
    return arn.split(":")[-1].split(marker, 1)[-1] if marker in arn else arn


def our_names(ctx: Context) -> dict[str, str]:
    """kind -> name of each alarm ecsup makes with this configuration."""
    return {k: ctx.names.alarm(k) for k in kinds(ctx.config.service.deploy.alarms)}


def watched_names(ctx: Context) -> list[str]:
    """Every alarm the service's deployments are watched by: ecsup's and the user's."""
    return sorted(our_names(ctx).values()) + sorted(ctx.config.service.deploy.alarms.names)


def _stat(key: str, metric: str, dims: list[dict[str, str]], stat: str, period: int) -> dict[str, Any]:
    return {
        "Id": key,
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": False,
    }


def _dimensions(ctx: Context) -> tuple[list[dict[str, str]], dict[str, list[dict[str, str]]]]:
    lb_arn = ctx.facts.get("alb_arn") or KNOWN_AFTER_APPLY
    lb = {"Name": "LoadBalancer", "Value": _suffix(lb_arn, "loadbalancer/")}
    groups = {}
    for key, fact in (("b", "tg_blue"), ("g", "tg_green")):
        arn = ctx.facts.get(fact) or KNOWN_AFTER_APPLY
        groups[key] = [lb, {"Name": "TargetGroup", "Value": "targetgroup/" + _suffix(arn, "targetgroup/")}]
    return [lb], groups


def wanted(ctx: Context) -> dict[str, dict[str, Any]]:
    """name -> PutMetricAlarm's arguments (without tags), for each alarm ecsup makes."""
    cfg: AlarmsConfig = ctx.config.service.deploy.alarms
    names = our_names(ctx)
    lb, groups = _dimensions(ctx)
    period = cfg.period_seconds
    common = {
        "EvaluationPeriods": cfg.evaluation_periods,
        "DatapointsToAlarm": cfg.evaluation_periods,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",  # no traffic: no data, not a failure
        "ActionsEnabled": False,  # ECS reads the state; nothing is notified
    }
    out: dict[str, dict[str, Any]] = {}
    if "5xx" in names:
        metrics = []
        for key, dims in groups.items():
            metrics.append(_stat(f"t5{key}", "HTTPCode_Target_5XX_Count", dims, "Sum", period))
            metrics.append(_stat(f"rq{key}", "RequestCount", dims, "Sum", period))
        own_lb = not ctx.config.load_balancer.shared
        if not own_lb:
            for key, dims in groups.items():
                metrics.append(_stat(f"h{key}", "HealthyHostCount", dims, "Maximum", period))
        # per load balancer only: in the ratio on an own load balancer; on a shared one (every
        # stack's 5xx) only as the sign that the load balancer refused requests (module docstring)
        metrics.append(_stat("e5", "HTTPCode_ELB_5XX_Count", lb, "Sum", period))
        metrics.append(
            {
                "Id": "requests",
                "Expression": "FILL(rqb,0) + FILL(rqg,0)",
                "Label": "requests (blue + green)",
                "ReturnData": False,
            }
        )
        if not own_lb:
            # A missing HealthyHostCount point is unknown, not 0: ELB reports target metrics "only
            # when requests are flowing through the load balancer" and a point can arrive late, so
            # FILL(...,0) would read a gap as "no healthy target" and, beside another stack's ELB
            # 5xx on the shared load balancer, as a 100 % outage. FILL -1 marks the gap: the larger
            # of the two groups is 0 only when one reported 0 and neither reported a healthy target;
            # -1 (neither reported) leaves the figure to the ratio.
            metrics.append(
                {
                    "Id": "healthy",
                    "Expression": "MAX([FILL(hb,-1), FILL(hg,-1)])",
                    "Label": "healthy targets (the larger group; -1 when neither reported)",
                    "ReturnData": False,
                }
            )
        metrics.append(
            {
                "Id": "ratio",
                "Expression": "IF(requests > 0, 100 * (FILL(t5b,0) + FILL(t5g,0)"
                + (" + FILL(e5,0)" if own_lb else "")
                + ") / requests, 0)",
                "Label": "5xx per 100 requests (targets" + (" and load balancer)" if own_lb else ")"),
                "ReturnData": False,
            }
        )
        outage = "requests < 1" if own_lb else "healthy == 0"  # the stack's own sign (module docstring)
        metrics.append(
            {
                "Id": "rate",
                "Expression": f"IF({outage}, IF(FILL(e5,0) > 0, 100, ratio), ratio)",
                "Label": "5xx per 100 requests; 100 when "
                + ("no request reached a target" if own_lb else "no target is healthy")
                + " and the load balancer answers 5xx",
                "ReturnData": True,
            }
        )
        out[names["5xx"]] = {
            "AlarmDescription": f"ecsup: 5xx answers per request of {ctx.names.stack} over "
            f"{cfg.error_rate_percent:g}%; ECS rolls back a deployment while this is in ALARM",
            "Metrics": metrics,
            "Threshold": float(cfg.error_rate_percent),
            **common,
        }
    if "latency" in names:
        metrics = [_stat(f"p{key}", "TargetResponseTime", dims, "p95", period) for key, dims in groups.items()]
        metrics.append(
            {
                "Id": "latency",
                "Expression": "MAX([FILL(pb,0), FILL(pg,0)])",
                "Label": "p95 target response time, seconds (the larger of blue and green)",
                "ReturnData": True,
            }
        )
        out[names["latency"]] = {
            "AlarmDescription": f"ecsup: p95 response time of {ctx.names.stack} over {cfg.latency_p95_ms} ms; "
            "ECS rolls back a deployment while this is in ALARM",
            "Metrics": metrics,
            "Threshold": cfg.latency_p95_ms / 1000.0,  # TargetResponseTime is in seconds
            **common,
        }
    return out


def _canonical(body: dict[str, Any]) -> str:
    keys = (
        "Metrics",
        "Threshold",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "ComparisonOperator",
        "TreatMissingData",
    )
    out: dict[str, Any] = {}
    for key in keys:
        value = body.get(key)
        if key == "Threshold" and value is not None:
            value = float(value)
        if key == "Metrics":
            value = sorted(
                (
                    json.dumps(
                        dict(
                            {"ReturnData": True},
                            **{k: v for k, v in m.items() if k in ("Id", "Expression", "MetricStat", "ReturnData")},
                        ),
                        sort_keys=True,
                    )
                    for m in value or []
                ),
            )
        out[key] = value
    return json.dumps(out, sort_keys=True)


def _summary(name: str, body: dict[str, Any]) -> str:
    period = next((m["MetricStat"]["Period"] for m in body["Metrics"] if "MetricStat" in m), 60)
    what = "5xx %" if name.endswith("-5xx") else "p95 seconds"
    return (
        f"{what} > {body['Threshold']:g} for {body['EvaluationPeriods']} x {period}s, "
        f"{sum(1 for m in body['Metrics'] if 'MetricStat' in m)} metrics"
    )


def _watched(body: dict[str, Any], names: Any = None) -> str:
    """What the alarm's metrics measure: "<load balancer>: <target groups>", from their
    dimensions (app/<lb>/<id>, targetgroup/<tg>/<id>); a value known only after apply is named
    from ``names`` (the stack's load balancer and target groups this plan makes)."""
    lbs: set[str] = set()
    tgs: set[str] = set()
    for metric in body.get("Metrics") or []:
        for dim in metric.get("MetricStat", {}).get("Metric", {}).get("Dimensions", []):
            value = str(dim.get("Value", ""))
            known = KNOWN_AFTER_APPLY not in value and value.count("/") >= 2
            if dim.get("Name") == "LoadBalancer":
                lbs.add(value.split("/")[1] if known else (names.alb if names else KNOWN_AFTER_APPLY))
            elif dim.get("Name") == "TargetGroup":
                if known:
                    tgs.add(value.split("/")[1])
                else:
                    tgs.update((names.tg_blue, names.tg_green) if names else (KNOWN_AFTER_APPLY,))
    return f"{', '.join(sorted(lbs)) or '-'}: {', '.join(sorted(tgs)) or '-'}"


def _metric_text(metric: dict[str, Any] | None) -> str:
    if metric is None:
        return "-"
    if "Expression" in metric:
        return str(metric["Expression"])
    stat = metric.get("MetricStat", {})
    return f"{stat.get('Metric', {}).get('MetricName')} {stat.get('Stat')} {stat.get('Period')}s"


def differences(have: dict[str, Any], want: dict[str, Any], names: Any = None) -> list[Change]:
    """What differs between the alarm found and the one configured, each as a change whose two
    sides print differently: its threshold and periods, what it measures (a move to another load
    balancer or target groups), a metric's expression or statistic. Empty when nothing that
    _canonical compares differs."""
    if _canonical(have) == _canonical(want):
        return []
    if not have.get("Metrics"):
        return [Change("alarm", "another definition (no metric math)", _summary_of(want))]
    out: list[Change] = []
    for attribute, old, new in (
        *((key, _field(have, key), _field(want, key)) for key in _FIELDS),
        ("measures", _watched(have), _watched(want, names)),
    ):
        if old != new:
            out.append(Change(attribute, old, new))
    found = {m.get("Id"): m for m in have.get("Metrics") or []}
    wanted_ = {m.get("Id"): m for m in want.get("Metrics") or []}
    for key in sorted(set(found) | set(wanted_), key=str):
        old, new = _metric_text(found.get(key)), _metric_text(wanted_.get(key))
        if old != new:
            out.append(Change(f"metric {key}", old, new))
    if not out:  # a difference none of the above shows (a label, ReturnData): say which metrics
        differing = sorted(
            str(key)
            for key in set(found) | set(wanted_)
            if _canonical({"Metrics": [found[key]]} if key in found else {})
            != _canonical({"Metrics": [wanted_[key]]} if key in wanted_ else {})
        )
        out.append(Change("metrics", "as found: " + ", ".join(differing), "as configured"))
    return out


_FIELDS = ("threshold", "period", "evaluation periods", "datapoints to alarm", "comparison", "missing data")


def _field(body: dict[str, Any], key: str) -> str:
    value: Any = {
        "threshold": body.get("Threshold"),
        "period": next((m["MetricStat"].get("Period") for m in body.get("Metrics") or [] if "MetricStat" in m), None),
        "evaluation periods": body.get("EvaluationPeriods"),
        "datapoints to alarm": body.get("DatapointsToAlarm"),
        "comparison": body.get("ComparisonOperator"),
        "missing data": body.get("TreatMissingData"),
    }[key]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{float(value):g}"
    return "-" if value is None else str(value)


def _summary_of(body: dict[str, Any]) -> str:
    return ", ".join(f"{key} {_field(body, key)}" for key in _FIELDS)


def _tags(ctx: Context, arn: str) -> dict[str, str]:
    with doing(f"read the tags of alarm {arn.split(':')[-1]}"):
        return tag_dict(ctx.client("cloudwatch").list_tags_for_resource(ResourceARN=arn).get("Tags"))


def _state_line(alarm: dict[str, Any]) -> str:
    return f"{alarm.get('StateValue')}: {alarm.get('StateReason', '')}"


class AlarmsStep(Step):
    title = "deployment alarms"
    reads = ("alb_arn", "tg_blue", "tg_green")
    provides = ("alarms", "alarm_states")
    concurrent = True  # one alarm each

    def plan(self, ctx: Context) -> list[Action]:
        cfg = ctx.config.service.deploy.alarms
        want = wanted(ctx)
        every_ours = [ctx.names.alarm(k) for k in KINDS]
        found = describe(ctx, every_ours + list(cfg.names))
        missing = [n for n in cfg.names if n not in found]
        if missing:
            raise ConfigError(
                [
                    (
                        "service.deploy.alarms.names",
                        f"no CloudWatch alarm {n!r} in {ctx.region} (ECS refuses to watch an alarm that "
                        "does not exist)",
                    )
                    for n in missing
                ],
                hint="create the alarm first, or remove its name; nothing was changed",
            )
        actions: list[Action] = []
        states: list[dict[str, Any]] = []
        for name in every_ours:
            have = found.get(name)
            if have is not None and not check_owner(ctx, "CloudWatch alarm", name, _tags(ctx, have["AlarmArn"])):
                continue
            body = want.get(name)
            if body is None:
                if have is not None:
                    actions.append(
                        Action(
                            "delete",
                            "CloudWatch alarm",
                            name,
                            "no longer configured",
                            run=partial(self._delete, ctx, name),
                        )
                    )
                continue
            if have is None:
                actions.append(
                    Action("create", "CloudWatch alarm", name, _summary(name, body), run=partial(self._put, ctx, name))
                )
                continue
            states.append(
                {"name": name, "ours": True, "state": have.get("StateValue"), "reason": have.get("StateReason", "")}
            )
            found_changes = differences(have, body, ctx.names)
            if not found_changes:
                actions.append(Action("noop", "CloudWatch alarm", name, _state_line(have)))
            else:
                actions.append(
                    Action(
                        "update",
                        "CloudWatch alarm",
                        name,
                        _summary(name, body),
                        found_changes,
                        run=partial(self._put, ctx, name),
                    )
                )
        for name in cfg.names:
            alarm = found[name]
            states.append(
                {"name": name, "ours": False, "state": alarm.get("StateValue"), "reason": alarm.get("StateReason", "")}
            )
        ctx.facts["alarm_states"] = states
        return actions

    def _put(self, ctx: Context, name: str) -> str:
        body = wanted(ctx)[name]  # read now: the load balancer and groups exist by now
        with doing(f"put CloudWatch alarm {name}"):
            ctx.client("cloudwatch").put_metric_alarm(AlarmName=name, Tags=ctx.names.tag_list(), **body)
        return _summary(name, body)

    def _delete(self, ctx: Context, name: str) -> str:
        with doing(f"delete CloudWatch alarm {name}"):
            try:
                ctx.client("cloudwatch").delete_alarms(AlarmNames=[name])
            except Exception as exc:
                if is_code(exc, "ResourceNotFound"):
                    return "already gone"
                raise
        return "deleted"

    def plan_destroy(self, ctx: Context) -> list[Action]:
        """ecsup's alarms (never the ones in ``names``), once the service that names them is gone."""
        actions: list[Action] = []
        for name, alarm in describe(ctx, [ctx.names.alarm(k) for k in KINDS]).items():
            if not ctx.names.owns(_tags(ctx, alarm["AlarmArn"])):
                actions.append(foreign(ctx, "CloudWatch alarm", name))
                continue
            actions.append(
                Action(
                    "delete",
                    "CloudWatch alarm",
                    name,
                    _state_line(alarm),
                    run=partial(self._delete, ctx, name),
                    after=(service_ref(ctx),),
                )
            )
        return actions
