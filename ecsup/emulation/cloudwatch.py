"""CloudWatch alarms, as ECS's deployment controller sees them (emulation/deployments.py).

moto keeps an alarm's state (SetAlarmState changes it; moto evaluates no metrics), but not when,
on the emulation's clock, it went into ALARM: a deployment is advanced lazily (when its APIs are
called), so it must know whether an alarm fired before or after each of its steps. Every entry
into ALARM is recorded here with the emulation's time. A new alarm starts INSUFFICIENT_DATA, as
on AWS (moto says OK).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import Emulation, _state


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


def install(around: Callable[..., None]) -> None:
    from moto.cloudwatch.responses import CloudWatchResponse as CW

    around(CW, "set_alarm_state", records_entries_into_alarm, always=True)
    around(CW, "put_metric_alarm", a_new_alarm_has_insufficient_data)
