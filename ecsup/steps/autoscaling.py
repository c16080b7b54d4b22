"""Application Auto Scaling: the service's desired count between [service.autoscaling] min
and max, by target tracking on average CPU and/or on requests per task.

Requests per task and blue/green: the predefined ALBRequestCountPerTarget metric is tied to
one target group, and a blue/green deployment moves production to the other one -- after
the first switch the policy would follow an idle group. The requests policy therefore
uses metric math over both groups: each group's RequestCountPerTarget, summed. Dividing both
groups' requests by both groups' healthy hosts would halve the figure during a deployment
(the new tasks are healthy in the idle group before traffic moves, the old ones stay until
clean-up), and scale out only at twice the target for the whole bake.

Ownership: ecsup's policies are named ``ecsup-<app>-<env>-cpu`` / ``-requests`` and it
never touches another; the scalable target is the stack's service's. The service carries
``ecsup:autoscaling`` while ecsup keeps a target on it, so a stack without autoscaling
costs no read.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from ..config import AutoscalingConfig
from ..context import Context
from ..errors import doing, is_code
from ..plan import Action, Change
from . import Step
from .ecs import _tags, seen_service

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
MARKER_TAG = "ecsup:autoscaling"
# on the service: the [service.autoscaling] min-max `create` last applied; a range changed on the
# live target since (`ecsup scale --min/--max`) is kept while the file's stays this one
RANGE_TAG = "ecsup:autoscaling-range"


def range_text(minimum: int, maximum: int) -> str:
    return f"{minimum}-{maximum}"


def resource_id(ctx: Context) -> str:
    return f"service/{ctx.names.cluster}/{ctx.names.service}"


def policy_names(ctx: Context) -> dict[str, str]:
    return {"cpu": f"ecsup-{ctx.names.stack}-cpu", "requests": f"ecsup-{ctx.names.stack}-requests"}


def _suffix(arn: str, marker: str) -> str:
    """The part of an ELB ARN CloudWatch uses as a dimension (app/<lb>/<id>, targetgroup/<tg>/<id>)."""
    return arn.split(":")[-1].split(marker, 1)[-1] if marker in arn else arn


def requests_metric(ctx: Context, target: float) -> dict[str, Any]:
    """Requests per serving task per minute, over both target groups (see the module docstring):
    each group's RequestCountPerTarget (its requests / its healthy targets), summed -- AWS's sample
    aws-samples/ecs-bluegreen-autoscaling does the same. A group that serves no production traffic
    adds 0 whatever its healthy targets, so the figure stays right at every stage: new tasks healthy
    in the idle group before the shift, old ones kept through the bake, and the split of a linear or
    canary step (each group's share over its own tasks; both groups run the full count)."""
    lb = _suffix(ctx.facts["alb_arn"], "loadbalancer/")
    metrics: list[dict[str, Any]] = []
    for key, fact in (("b", "tg_blue"), ("g", "tg_green")):
        group = "targetgroup/" + _suffix(ctx.facts[fact], "targetgroup/")
        metrics.append(
            {
                "Id": f"r{key}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": "RequestCountPerTarget",
                        "Dimensions": [{"Name": "LoadBalancer", "Value": lb}, {"Name": "TargetGroup", "Value": group}],
                    },
                    "Stat": "Sum",  # the only statistic RequestCountPerTarget has (ELB User Guide, CloudWatch metrics)
                },
                "ReturnData": False,
            }
        )
    metrics.append(
        {
            # published only when non-zero (STACK.md): an idle group's missing points count as 0
            "Id": "perTask",
            "Expression": "FILL(rb,0) + FILL(rg,0)",
            "Label": "requests per serving task per minute (blue + green)",
            "ReturnData": True,
        }
    )
    return {"Metrics": metrics}


def wanted_policies(ctx: Context, cfg: AutoscalingConfig) -> dict[str, dict[str, Any]]:
    names = policy_names(ctx)
    common = {
        "ScaleInCooldown": cfg.scale_in_cooldown,
        "ScaleOutCooldown": cfg.scale_out_cooldown,
        "DisableScaleIn": cfg.disable_scale_in,
    }
    out: dict[str, dict[str, Any]] = {}
    if cfg.cpu_target is not None:
        out[names["cpu"]] = {
            "TargetValue": cfg.cpu_target,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            **common,
        }
    if cfg.requests_per_target is not None:
        out[names["requests"]] = {
            "TargetValue": cfg.requests_per_target,
            "CustomizedMetricSpecification": requests_metric(ctx, cfg.requests_per_target)
            if ctx.facts.get("alb_arn") and ctx.facts.get("tg_blue") and ctx.facts.get("tg_green")
            else {},
            **common,
        }
    return out


def _summary(name: str, body: dict[str, Any]) -> str:
    kind = "cpu" if "PredefinedMetricSpecification" in body else "requests per task"
    parts = [f"{kind} {body.get('TargetValue'):g}"]
    parts.append(f"cooldown in {body.get('ScaleInCooldown')}s / out {body.get('ScaleOutCooldown')}s")
    if body.get("DisableScaleIn"):
        parts.append("no scale-in")
    return ", ".join(parts)


# What PutScalingPolicy fills in when it is not given, echoed back by DescribeScalingPolicies
# (Application Auto Scaling API reference: TargetTrackingScalingPolicyConfiguration.DisableScaleIn
# "The default value is false"; TargetTrackingMetricDataQuery.ReturnData "the default value is true").
POLICY_DEFAULTS = {"DisableScaleIn": False}
QUERY_DEFAULTS = {"ReturnData": True}


def _query(metric: dict[str, Any]) -> str:
    """One metric query in a canonical form: defaults filled in, dimensions in name order (AWS
    promises no order of dimensions, metrics or keys)."""
    out = dict(QUERY_DEFAULTS, **metric)
    stat = out.get("MetricStat")
    if stat:
        inner = dict(stat.get("Metric") or {})
        inner["Dimensions"] = sorted(inner.get("Dimensions") or [], key=lambda d: (d.get("Name"), d.get("Value")))
        out["MetricStat"] = dict(stat, Metric=inner)
    return json.dumps(out, sort_keys=True)


def _same(have: dict[str, Any], want: dict[str, Any]) -> bool:
    keys = ("TargetValue", "ScaleInCooldown", "ScaleOutCooldown", "DisableScaleIn", "PredefinedMetricSpecification")
    have, want = dict(POLICY_DEFAULTS, **have), dict(POLICY_DEFAULTS, **want)
    if any(_num(have.get(k)) != _num(want.get(k)) for k in keys):
        return False
    if "CustomizedMetricSpecification" in want:
        have_metrics = (have.get("CustomizedMetricSpecification") or {}).get("Metrics") or []
        want_metrics = want["CustomizedMetricSpecification"].get("Metrics") or []
        return sorted(map(_query, have_metrics)) == sorted(map(_query, want_metrics))
    return True


def _num(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def scalable_target(ctx: Context) -> dict[str, Any] | None:
    with doing(f"look up the scalable target of service {ctx.names.service}"):
        found = ctx.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(ctx)], ScalableDimension=DIMENSION
        )["ScalableTargets"]
    return found[0] if found else None


def scaling_policies(ctx: Context) -> dict[str, dict[str, Any]]:
    aas = ctx.client("application-autoscaling")
    with doing(f"look up the scaling policies of service {ctx.names.service}"):
        pages = aas.get_paginator("describe_scaling_policies").paginate(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id(ctx), ScalableDimension=DIMENSION
        )
        return {p["PolicyName"]: p for page in pages for p in page["ScalingPolicies"]}


class AutoscalingStep(Step):
    title = "auto scaling"
    reads = ("service", "service_seen", "alb_arn", "tg_blue", "tg_green")
    provides = ("autoscaling",)

    def plan(self, ctx: Context) -> list[Action]:
        cfg = ctx.config.service.autoscaling
        svc = seen_service(ctx)
        marked = svc is not None and _tags(svc.get("tags")).get(MARKER_TAG) == "true"
        if cfg is None and not marked:
            return []
        target = scalable_target(ctx) if svc is not None else None
        policies = scaling_policies(ctx) if target is not None else {}
        ours = {n for n in policy_names(ctx).values() if n in policies}
        if cfg is None:  # the section was removed: take away what ecsup made, nothing else
            return self._plan_removal(ctx, target, policies, ours)
        name = resource_id(ctx)
        actions: list[Action] = []
        live = svc.get("desiredCount") if svc else ctx.config.service.desired_count
        if live is not None and not cfg.min <= live <= cfg.max:
            ctx.notes.append(
                f"registering the scalable target moves the service's desired count {live} into [{cfg.min}, {cfg.max}]"
            )
        if target is None:
            actions.append(
                Action(
                    "create",
                    "scalable target",
                    name,
                    f"desired count {cfg.min} to {cfg.max}",
                    run=partial(self._register, ctx, cfg),
                )
            )
        elif (target.get("MinCapacity"), target.get("MaxCapacity")) != (cfg.min, cfg.max) and _tags(
            (svc or {}).get("tags")
        ).get(RANGE_TAG) == range_text(cfg.min, cfg.max):
            live_range = f"{target.get('MinCapacity')} to {target.get('MaxCapacity')}"
            ctx.notes.append(
                f"service {ctx.names.service}: auto scaling's range {live_range} was changed on the live "
                f"service (config says {cfg.min} to {cfg.max}); left as it is"
            )
            actions.append(Action("noop", "scalable target", name, f"desired count {live_range} (live)"))
        elif (target.get("MinCapacity"), target.get("MaxCapacity")) != (cfg.min, cfg.max):
            actions.append(
                Action(
                    "update",
                    "scalable target",
                    name,
                    "",
                    [
                        Change(
                            "min/max",
                            f"{target.get('MinCapacity')}/{target.get('MaxCapacity')}",
                            f"{cfg.min}/{cfg.max}",
                        )
                    ],
                    run=partial(self._register, ctx, cfg),
                )
            )
        else:
            actions.append(Action("noop", "scalable target", name, f"desired count {cfg.min} to {cfg.max}"))
        wanted = wanted_policies(ctx, cfg)
        for policy, body in wanted.items():
            have = policies.get(policy)
            if have is None:
                actions.append(
                    Action(
                        "create",
                        "scaling policy",
                        policy,
                        _summary(policy, body),
                        run=partial(self._put, ctx, policy, cfg),
                    )
                )
                continue
            current = have.get("TargetTrackingScalingPolicyConfiguration") or {}
            if _same(current, body):
                actions.append(Action("noop", "scaling policy", policy, _summary(policy, body)))
            else:
                actions.append(
                    Action(
                        "update",
                        "scaling policy",
                        policy,
                        "",
                        [Change("target tracking", _summary(policy, current), _summary(policy, body))],
                        run=partial(self._put, ctx, policy, cfg),
                    )
                )
        for policy in sorted(ours - set(wanted)):
            actions.append(
                Action(
                    "delete",
                    "scaling policy",
                    policy,
                    "no longer configured",
                    run=partial(self._delete_policy, ctx, policy),
                )
            )
        if ctx.mode == "status" and target is not None:
            ctx.facts["autoscaling"] = {"min": target.get("MinCapacity"), "max": target.get("MaxCapacity")}
        return actions

    def _plan_removal(
        self, ctx: Context, target: dict[str, Any] | None, policies: dict[str, Any], ours: set[str]
    ) -> list[Action]:
        actions = [
            Action(
                "delete", "scaling policy", p, "[service.autoscaling] removed", run=partial(self._delete_policy, ctx, p)
            )
            for p in sorted(ours)
        ]
        others = sorted(set(policies) - ours)
        if target is not None and not others:
            actions.append(
                Action(
                    "delete",
                    "scalable target",
                    resource_id(ctx),
                    "[service.autoscaling] removed; the desired count stays where scaling left it",
                    run=lambda: self._deregister(ctx),
                    after=tuple(f"scaling policy {p}" for p in sorted(ours)),
                )
            )
        elif others:
            ctx.notes.append(
                f"the scalable target of {ctx.names.service} also has policies ecsup did not make "
                f"({', '.join(others)}): it stays, with them"
            )
        if target is None and not ours:  # only the marker is left
            actions.append(
                Action(
                    "update",
                    "ECS service",
                    ctx.names.service,
                    "",
                    [Change(f"tag {MARKER_TAG}", "true", "-")],
                    run=lambda: self._unmark(ctx),
                )
            )
        return actions

    # -- changes --------------------------------------------------------------------------
    def _register(self, ctx: Context, cfg: AutoscalingConfig) -> str:
        with doing(f"register the scalable target of service {ctx.names.service}"):
            ctx.client("application-autoscaling").register_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(ctx),
                ScalableDimension=DIMENSION,
                MinCapacity=cfg.min,
                MaxCapacity=cfg.max,
                Tags=ctx.names.tags(),
            )
            self._mark(ctx, cfg)
        return f"{cfg.min} to {cfg.max}"

    def _put(self, ctx: Context, policy: str, cfg: AutoscalingConfig) -> str:
        body = wanted_policies(ctx, cfg)[policy]
        with doing(f"put scaling policy {policy}"):
            ctx.client("application-autoscaling").put_scaling_policy(
                PolicyName=policy,
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(ctx),
                ScalableDimension=DIMENSION,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=body,
            )
        return _summary(policy, body)

    def _delete_policy(self, ctx: Context, policy: str) -> str:
        with doing(f"delete scaling policy {policy}"):
            try:
                ctx.client("application-autoscaling").delete_scaling_policy(
                    PolicyName=policy,
                    ServiceNamespace=NAMESPACE,
                    ResourceId=resource_id(ctx),
                    ScalableDimension=DIMENSION,
                )
            except Exception as exc:
                if is_code(exc, "ObjectNotFoundException"):
                    return "already gone"
                raise
        return "deleted"

    def _deregister(self, ctx: Context) -> str:
        with doing(f"deregister the scalable target of service {ctx.names.service}"):
            try:
                ctx.client("application-autoscaling").deregister_scalable_target(
                    ServiceNamespace=NAMESPACE, ResourceId=resource_id(ctx), ScalableDimension=DIMENSION
                )
            except Exception as exc:
                if not is_code(exc, "ObjectNotFoundException", "ValidationException"):
                    raise
        if ctx.mode != "destroy":
            self._unmark(ctx)
        return "deregistered"

    def _service_arn(self, ctx: Context) -> str | None:
        svc = seen_service(ctx)
        if svc is not None:
            return str(svc["serviceArn"])
        with doing(f"look up service {ctx.names.service}"):
            found = ctx.client("ecs").describe_services(cluster=ctx.names.cluster, services=[ctx.names.service])
        return str(found["services"][0]["serviceArn"]) if found.get("services") else None

    def _mark(self, ctx: Context, cfg: AutoscalingConfig) -> None:
        arn = self._service_arn(ctx)
        if arn:
            ctx.client("ecs").tag_resource(
                resourceArn=arn,
                tags=[
                    {"key": MARKER_TAG, "value": "true"},
                    {"key": RANGE_TAG, "value": range_text(cfg.min, cfg.max)},
                ],
            )

    def _unmark(self, ctx: Context) -> str:
        arn = self._service_arn(ctx)
        if arn:
            with doing(f"untag service {ctx.names.service}"):
                ctx.client("ecs").untag_resource(resourceArn=arn, tagKeys=[MARKER_TAG, RANGE_TAG])
        return "untagged"

    # -- destroy ------------------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        """Before the service goes: ecsup's policies, then the target (if no one else's policy is on it)."""
        from .ecs import seen_service

        svc = seen_service(ctx)
        if (
            svc is None
            or _tags(svc.get("tags")).get(MARKER_TAG) != "true"
            or not ctx.names.owns(_tags(svc.get("tags")))
        ):
            return []
        ctx.facts["service_seen"] = svc
        target = scalable_target(ctx)
        policies = scaling_policies(ctx) if target is not None else {}
        ours = {n for n in policy_names(ctx).values() if n in policies}
        return [a for a in self._plan_removal(ctx, target, policies, ours) if a.resource != "ECS service"]
