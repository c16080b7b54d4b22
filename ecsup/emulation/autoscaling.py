"""Application Auto Scaling: registering clamps the live count, deregistering deletes the policies,
and the scaling activities moto lacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import emulation as _emulation
from . import (
    Emulation,
    _autoscaling,
    _ecs,
    _state,
)


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

    if _emulation.ACTIVE is None or not _emulation.ACTIVE.strict:
        raise NotImplementedError("DescribeScalingActivities")
    rid = self._get_param("ResourceId")
    activities = _state(_autoscaling(self.current_account, self.region), "activities")
    found = activities.get(rid, []) if rid else [a for acts in activities.values() for a in acts]
    limit = self._get_int_param("MaxResults") or 50
    return json.dumps({"ScalingActivities": found[:limit]})


def policies_echo_defaults_in_another_order(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DescribeScalingPolicies answers with what AWS filled in (DisableScaleIn false; a metric
    query's ReturnData true -- API reference, TargetTrackingScalingPolicyConfiguration and
    TargetTrackingMetricDataQuery) and promises no order of a metric's dimensions: echoed here
    with the defaults and the dimensions reversed, so a comparison that is not canonical fails."""
    import json

    out = json.loads(proceed())
    for policy in out.get("ScalingPolicies", []):
        config = policy.get("TargetTrackingScalingPolicyConfiguration")
        if not config:
            continue
        config.setdefault("DisableScaleIn", False)
        for spec in (config.get("CustomizedMetricSpecification") or {}, config.get("PredefinedMetricSpecification")):
            for query in (spec or {}).get("Metrics") or []:
                query.setdefault("ReturnData", True)
                metric = (query.get("MetricStat") or {}).get("Metric") or {}
                if metric.get("Dimensions"):
                    metric["Dimensions"] = list(reversed(metric["Dimensions"]))
    return json.dumps(out)


def install(around: Callable[..., None]) -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as AAS

    around(AAS, "deregister_scalable_target", deregistering_a_target_deletes_its_policies)
    around(AAS, "register_scalable_target", registering_moves_the_count_into_range)
    around(AAS, "describe_scaling_policies", policies_echo_defaults_in_another_order)
    AAS.describe_scaling_activities = describe_scaling_activities  # type: ignore[attr-defined]  # moto lacks it
