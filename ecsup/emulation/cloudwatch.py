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


def install(around: Callable[..., None]) -> None:
    from moto.cloudwatch.responses import CloudWatchResponse as CW

    around(CW, "set_alarm_state", records_entries_into_alarm, always=True)
    around(CW, "put_metric_alarm", metric_math_alarms_are_checked)
    around(CW, "put_metric_alarm", a_new_alarm_has_insufficient_data)
