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
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..config import AutoscalingConfig
from ..context import Context
from ..errors import doing, is_code
from ..plan import Action, Change
from ..workloads import WorkerScaling
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


def resource_id(ctx: Context, service: str = "") -> str:
    return f"service/{ctx.names.cluster}/{service or ctx.names.service}"


def policy_names(ctx: Context, service: str = "") -> dict[str, str]:
    """ecsup's policies on a service of the stack (the web service's: ecsup-<app>-<env>-cpu, a
    worker's: ecsup-<app>-<env>-<worker>-cpu)."""
    name = service or ctx.names.stack
    return {"cpu": f"ecsup-{name}-cpu", "requests": f"ecsup-{name}-requests"}


Scaling = AutoscalingConfig | WorkerScaling


@dataclass(frozen=True)
class Scaled:
    """A service of the stack that auto scaling may keep between min and max: the web service
    ([service.autoscaling]) or a worker ([workers.<name>.autoscaling]; CPU only, no load balancer)."""

    service: str  # the ECS service's name
    cfg: Scaling | None
    section: str  # the config section, as notes name it
    svc: dict[str, Any] | None  # the service as this plan saw it
    configured_count: int  # the desired count in ecsup.toml

    @property
    def web(self) -> bool:
        return self.section == "[service.autoscaling]"


def web_scaled(ctx: Context) -> Scaled:
    svc_cfg = ctx.config.service
    return Scaled(
        ctx.names.service, svc_cfg.autoscaling, "[service.autoscaling]", seen_service(ctx), svc_cfg.desired_count
    )


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


def wanted_policies(ctx: Context, cfg: Scaling, service: str = "") -> dict[str, dict[str, Any]]:
    names = policy_names(ctx, service)
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
    requests = getattr(cfg, "requests_per_target", None)  # a worker has no load balancer
    if requests is not None:
        out[names["requests"]] = {
            "TargetValue": requests,
            "CustomizedMetricSpecification": requests_metric(ctx, requests)
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


def scalable_target(ctx: Context, service: str = "") -> dict[str, Any] | None:
    with doing(f"look up the scalable target of service {service or ctx.names.service}"):
        found = ctx.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(ctx, service)], ScalableDimension=DIMENSION
        )["ScalableTargets"]
    return found[0] if found else None


def scaling_policies(ctx: Context, service: str = "") -> dict[str, dict[str, Any]]:
    aas = ctx.client("application-autoscaling")
    with doing(f"look up the scaling policies of service {service or ctx.names.service}"):
        pages = aas.get_paginator("describe_scaling_policies").paginate(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id(ctx, service), ScalableDimension=DIMENSION
        )
        return {p["PolicyName"]: p for page in pages for p in page["ScalingPolicies"]}


def worker_scaled(ctx: Context) -> list[Scaled]:
    """The stack's workers as auto scaling sees them: each configured one (steps/workloads.py)."""
    from .workloads import worker_services

    found = worker_services(ctx)
    return [
        Scaled(
            ctx.names.workload(w.name),
            w.autoscaling,
            f"[workers.{w.name}.autoscaling]",
            found.get(w.name),
            w.desired_count,
        )
        for w in ctx.config.workers
    ]


class AutoscalingStep(Step):
    """The web service's auto scaling and each worker's, by the same code."""

    title = "auto scaling"
    reads = ("service", "service_seen", "alb_arn", "tg_blue", "tg_green")
    provides = ("autoscaling",)
    needs = ("WorkerServiceStep",)  # each worker's scalable target names its service

    def plan(self, ctx: Context) -> list[Action]:
        actions = self._plan_one(ctx, web_scaled(ctx))
        for scaled in worker_scaled(ctx):
            actions += self._plan_one(ctx, scaled)
        return actions

    def _plan_one(self, ctx: Context, t: Scaled) -> list[Action]:
        cfg = t.cfg
        svc = t.svc
        marked = svc is not None and _tags(svc.get("tags")).get(MARKER_TAG) == "true"
        if cfg is None and not marked:
            return []
        target = scalable_target(ctx, t.service) if svc is not None else None
        policies = scaling_policies(ctx, t.service) if target is not None else {}
        ours = {n for n in policy_names(ctx, t.service).values() if n in policies}
        if cfg is None:  # the section was removed: take away what ecsup made, nothing else
            return self._plan_removal(ctx, t, target, policies, ours)
        name = resource_id(ctx, t.service)
        actions: list[Action] = []
        live = svc.get("desiredCount") if svc else t.configured_count
        if live is not None and not cfg.min <= live <= cfg.max:
            whose = "the service's" if t.web else f"service {t.service}'s"
            ctx.notes.append(
                f"registering the scalable target moves {whose} desired count {live} into [{cfg.min}, {cfg.max}]"
            )
        if target is None:
            actions.append(
                Action(
                    "create",
                    "scalable target",
                    name,
                    f"desired count {cfg.min} to {cfg.max}",
                    run=partial(self._register, ctx, t),
                )
            )
        elif (target.get("MinCapacity"), target.get("MaxCapacity")) != (cfg.min, cfg.max) and _tags(
            (svc or {}).get("tags")
        ).get(RANGE_TAG) == range_text(cfg.min, cfg.max):
            live_range = f"{target.get('MinCapacity')} to {target.get('MaxCapacity')}"
            ctx.notes.append(
                f"service {t.service}: auto scaling's range {live_range} was changed on the live "
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
                    run=partial(self._register, ctx, t),
                )
            )
        else:
            actions.append(Action("noop", "scalable target", name, f"desired count {cfg.min} to {cfg.max}"))
        wanted = wanted_policies(ctx, cfg, t.service)
        for policy, body in wanted.items():
            have = policies.get(policy)
            if have is None:
                actions.append(
                    Action(
                        "create",
                        "scaling policy",
                        policy,
                        _summary(policy, body),
                        run=partial(self._put, ctx, t, policy),
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
                        run=partial(self._put, ctx, t, policy),
                    )
                )
        for policy in sorted(ours - set(wanted)):
            actions.append(
                Action(
                    "delete",
                    "scaling policy",
                    policy,
                    "no longer configured",
                    run=partial(self._delete_policy, ctx, t, policy),
                )
            )
        if ctx.mode == "status" and target is not None:
            scaling = {"min": target.get("MinCapacity"), "max": target.get("MaxCapacity")}
            if t.web:
                ctx.facts["autoscaling"] = scaling
            else:
                ctx.facts.setdefault("worker_autoscaling", {})[t.service] = scaling
        return actions

    def _plan_removal(
        self, ctx: Context, t: Scaled, target: dict[str, Any] | None, policies: dict[str, Any], ours: set[str]
    ) -> list[Action]:
        actions = [
            Action("delete", "scaling policy", p, f"{t.section} removed", run=partial(self._delete_policy, ctx, t, p))
            for p in sorted(ours)
        ]
        others = sorted(set(policies) - ours)
        if target is not None and not others:
            actions.append(
                Action(
                    "delete",
                    "scalable target",
                    resource_id(ctx, t.service),
                    f"{t.section} removed; the desired count stays where scaling left it",
                    run=partial(self._deregister, ctx, t),
                    after=tuple(f"scaling policy {p}" for p in sorted(ours)),
                )
            )
        elif others:
            ctx.notes.append(
                f"the scalable target of {t.service} also has policies ecsup did not make "
                f"({', '.join(others)}): it stays, with them"
            )
        if target is None and not ours:  # only the marker is left
            actions.append(
                Action(
                    "update",
                    "ECS service",
                    t.service,
                    "",
                    [Change(f"tag {MARKER_TAG}", "true", "-")],
                    run=partial(self._unmark, ctx, t),
                )
            )
        return actions

    # -- changes --------------------------------------------------------------------------
    def _register(self, ctx: Context, t: Scaled) -> str:
        cfg = t.cfg
        assert cfg is not None
        with doing(f"register the scalable target of service {t.service}"):
            ctx.client("application-autoscaling").register_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(ctx, t.service),
                ScalableDimension=DIMENSION,
                MinCapacity=cfg.min,
                MaxCapacity=cfg.max,
                Tags=ctx.names.tags(),
            )
            self._mark(ctx, t)
        return f"{cfg.min} to {cfg.max}"

    def _put(self, ctx: Context, t: Scaled, policy: str) -> str:
        assert t.cfg is not None
        body = wanted_policies(ctx, t.cfg, t.service)[policy]
        with doing(f"put scaling policy {policy}"):
            ctx.client("application-autoscaling").put_scaling_policy(
                PolicyName=policy,
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(ctx, t.service),
                ScalableDimension=DIMENSION,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=body,
            )
        return _summary(policy, body)

    def _delete_policy(self, ctx: Context, t: Scaled, policy: str) -> str:
        return delete_policy(ctx, t.service, policy)

    def _deregister(self, ctx: Context, t: Scaled) -> str:
        deregister(ctx, t.service)
        if ctx.mode != "destroy":
            self._unmark(ctx, t)
        return "deregistered"

    def _service_arn(self, ctx: Context, t: Scaled) -> str | None:
        if t.svc is not None:
            return str(t.svc["serviceArn"])
        with doing(f"look up service {t.service}"):
            found = ctx.client("ecs").describe_services(cluster=ctx.names.cluster, services=[t.service])
        return str(found["services"][0]["serviceArn"]) if found.get("services") else None

    def _mark(self, ctx: Context, t: Scaled) -> None:
        assert t.cfg is not None
        arn = self._service_arn(ctx, t)
        if arn:
            ctx.client("ecs").tag_resource(
                resourceArn=arn,
                tags=[
                    {"key": MARKER_TAG, "value": "true"},
                    {"key": RANGE_TAG, "value": range_text(t.cfg.min, t.cfg.max)},
                ],
            )

    def _unmark(self, ctx: Context, t: Scaled) -> str:
        arn = self._service_arn(ctx, t)
        if arn:
            with doing(f"untag service {t.service}"):
                ctx.client("ecs").untag_resource(resourceArn=arn, tagKeys=[MARKER_TAG, RANGE_TAG])
        return "untagged"

    # -- destroy ------------------------------------------------------------------------
    def plan_destroy(self, ctx: Context) -> list[Action]:
        """Before each service goes: ecsup's policies, then the target (if no one else's policy is on it)."""
        from .workloads import worker_services

        svc = seen_service(ctx)
        actions = self._destroy_one(ctx, web_scaled(ctx)) if svc is not None else []
        for name, found in sorted(worker_services(ctx).items()):
            service = found["serviceName"]
            actions += self._destroy_one(ctx, Scaled(service, None, f"[workers.{name}.autoscaling]", found, 0))
        return actions

    def _destroy_one(self, ctx: Context, t: Scaled) -> list[Action]:
        svc = t.svc
        if (
            svc is None
            or _tags(svc.get("tags")).get(MARKER_TAG) != "true"
            or not ctx.names.owns(_tags(svc.get("tags")))
        ):
            return []
        target = scalable_target(ctx, t.service)
        policies = scaling_policies(ctx, t.service) if target is not None else {}
        ours = {n for n in policy_names(ctx, t.service).values() if n in policies}
        return [a for a in self._plan_removal(ctx, t, target, policies, ours) if a.resource != "ECS service"]


def delete_policy(ctx: Context, service: str, policy: str) -> str:
    with doing(f"delete scaling policy {policy}"):
        try:
            ctx.client("application-autoscaling").delete_scaling_policy(
                PolicyName=policy,
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(ctx, service),
                ScalableDimension=DIMENSION,
            )
        except Exception as exc:
            if is_code(exc, "ObjectNotFoundException"):
                return "already gone"
            raise
    return "deleted"


def deregister(ctx: Context, service: str) -> str:
    """Deregister a service's scalable target (Application Auto Scaling deletes its policies with it)."""
    with doing(f"deregister the scalable target of service {service}"):
        try:
            ctx.client("application-autoscaling").deregister_scalable_target(
                ServiceNamespace=NAMESPACE, ResourceId=resource_id(ctx, service), ScalableDimension=DIMENSION
            )
        except Exception as exc:
            if not is_code(exc, "ObjectNotFoundException", "ValidationException"):
                raise
    return "deregistered"
