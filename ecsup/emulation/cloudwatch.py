"""CloudWatch alarms, as ECS's deployment controller sees them (emulation/deployments.py).

moto keeps an alarm's state (SetAlarmState changes it; moto evaluates no metrics), but not when,
on the emulation's clock, it went into ALARM: a deployment is advanced lazily (when its APIs are
called), so it must know whether an alarm fired before or after each of its steps. Every entry
into ALARM is recorded here with the emulation's time. A new alarm starts INSUFFICIENT_DATA, as
on AWS (moto says OK).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import AwsFault, Emulation, _params, _state


def _cloudwatch(account: str, region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account][region]


def alarm(account: str, region: str, name: str) -> Any:
    """moto's alarm of that name, or None."""
    return _cloudwatch(account, region).alarms.get(name)


def entered_alarm(account: str, region: str) -> dict[str, list[float]]:
    """alarm name -> the emulation times it went into ALARM."""
    return _state(_cloudwatch(account, region), "entered_alarm")


def records_entries_into_alarm(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    account, region = resp.current_account, resp.region
    name = resp._get_param("AlarmName")
    before = alarm(account, region, name)
    was = before.state_value if before is not None else None
    result = proceed()
    after = alarm(account, region, name)
    if after is not None and after.state_value == "ALARM" and was != "ALARM":
        entered_alarm(account, region).setdefault(name, []).append(em.now())
    return result


def a_new_alarm_has_insufficient_data(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """PutMetricAlarm: a new alarm starts INSUFFICIENT_DATA, "Unchecked: Initial alarm creation",
    until CloudWatch first evaluates it (CloudWatch User Guide, "Alarm states"; moto keeps the
    reason but says OK). An update keeps the state it had."""
    account, region = resp.current_account, resp.region
    name = resp._get_param("AlarmName")
    existed = alarm(account, region, name) is not None
    result = proceed()
    made = alarm(account, region, name)
    if made is not None and not existed:
        made.state_value = "INSUFFICIENT_DATA"
    return result


_METRIC_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")
_EXPRESSION_ID = re.compile(r"(?<![A-Za-z0-9_.'\"])[a-z][A-Za-z0-9_]*(?![A-Za-z0-9_(])")


def _invalid(message: str) -> AwsFault:
    return AwsFault("ValidationError", message)


def metric_math_alarms_are_checked(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """PutMetricAlarm with Metrics (metric math): moto stores any list; CloudWatch refuses
    (ValidationError) an Id that does not start with a lowercase letter ("The first character must
    be a lower-case letter", MetricDataQuery Id), a list where not exactly one query returns data
    ("Exactly one element of the metrics list should return data"), an expression naming an id
    the list does not define, and Period x EvaluationPeriods beyond a day (periods under an
    hour) or seven days (PutMetricAlarm, EvaluationPeriods). Messages worded here where the API reference gives none."""
    params = _params(resp)
    metrics = params.get("Metrics") or []
    if metrics:
        ids = [str(m.get("Id", "")) for m in metrics]
        for metric_id in ids:
            if not _METRIC_ID.fullmatch(metric_id):
                raise _invalid(f"Invalid metrics list: id {metric_id!r} must start with a lowercase letter")
        if sum(1 for m in metrics if m.get("ReturnData", True)) != 1:
            raise _invalid("Exactly one element of the metrics list should return data.")
        periods = []
        for m in metrics:
            stat = m.get("MetricStat")
            if stat is not None:  # botocore itself refuses a MetricStat without Period
                periods.append(int(stat["Period"]))
            expression = m.get("Expression")
            if expression:
                for used in _EXPRESSION_ID.findall(str(expression)):
                    if used not in ids:
                        raise _invalid(f"Error in expression '{m.get('Id')}': Unrecognized metric '{used}'")
        period = max(periods or [int(params.get("Period") or 60)])
        span = period * int(params.get("EvaluationPeriods") or 1)
        if span > (86400 if period < 3600 else 7 * 86400):
            raise _invalid(
                "The evaluation period multiplied by the number of periods must not exceed one day "
                "(seven days for periods of an hour or more)",
            )
    return proceed()


def describe_alarms_returns_the_types_asked_for(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DescribeAlarms AlarmTypes: "If you omit this parameter, only metric alarms are returned, even
    if composite alarms exist in the account" (CloudWatch API reference); moto returns both kinds
    whatever is asked."""
    params = _params(resp)
    raw = params.get("AlarmTypes") or []
    types = set(raw.values() if isinstance(raw, dict) else raw) or {"MetricAlarm"}
    result = proceed()
    body = getattr(result, "result", None)
    if isinstance(body, dict):
        for kind, key in (("MetricAlarm", "MetricAlarms"), ("CompositeAlarm", "CompositeAlarms")):
            if kind not in types:
                body[key] = []
    return result


def put_composite_alarm(self: Any) -> Any:
    """PutCompositeAlarm (moto has none): stored as moto stores an alarm with an AlarmRule (its
    PutMetricAlarm reads AlarmRule for this purpose); DescribeAlarms lists it under CompositeAlarms.
    Its state is what SetAlarmState gives it (the rule is not evaluated here)."""
    from moto.core.responses import EmptyResult

    if not self._get_param("AlarmRule"):
        raise _invalid("AlarmRule is required")
    self.cloudwatch_backend.put_metric_alarm(
        name=self._get_param("AlarmName"),
        namespace=None,
        metric_name=None,
        metric_data_queries=None,
        comparison_operator=None,
        evaluation_periods=None,
        datapoints_to_alarm=None,
        period=None,
        threshold=None,
        statistic=None,
        extended_statistic=None,
        description=self._get_param("AlarmDescription"),
        dimensions=[],
        alarm_actions=self._get_param("AlarmActions", []),
        ok_actions=self._get_param("OKActions", []),
        insufficient_data_actions=self._get_param("InsufficientDataActions", []),
        unit=None,
        actions_enabled=self._get_bool_param("ActionsEnabled"),
        treat_missing_data=None,
        evaluate_low_sample_count_percentile=None,
        threshold_metric_id=None,
        rule=self._get_param("AlarmRule"),
        tags=self._get_param("Tags", []),
    )
    made = self.cloudwatch_backend.alarms.get(self._get_param("AlarmName"))
    if made is not None:
        made.state_value = "INSUFFICIENT_DATA"
    return EmptyResult()


def install(around: Callable[..., None]) -> None:
    from moto.cloudwatch.responses import CloudWatchResponse as CW

    if not hasattr(CW, "put_composite_alarm"):
        CW.put_composite_alarm = put_composite_alarm  # type: ignore[attr-defined]
    around(CW, "describe_alarms", describe_alarms_returns_the_types_asked_for)

    around(CW, "set_alarm_state", records_entries_into_alarm, always=True)
    around(CW, "put_metric_alarm", metric_math_alarms_are_checked)
    around(CW, "put_metric_alarm", a_new_alarm_has_insufficient_data)
