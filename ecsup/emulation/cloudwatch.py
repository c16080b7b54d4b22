"""CloudWatch alarms, as ECS's deployment controller sees them (emulation/deployments.py).

moto keeps an alarm's state (SetAlarmState changes it; moto evaluates no metrics), but not when,
on the emulation's clock, it went into ALARM: a deployment is advanced lazily (when its APIs are
called), so it must know whether an alarm fired before or after each of its steps. Every entry
into ALARM is recorded here with the emulation's time. A new alarm starts INSUFFICIENT_DATA, as
on AWS (moto says OK).
"""

from __future__ import annotations

import math
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
    around(CW, "describe_alarms", alarms_are_evaluated)

    around(CW, "set_alarm_state", records_entries_into_alarm, always=True)
    around(CW, "put_metric_alarm", metric_math_alarms_are_checked)
    around(CW, "put_metric_alarm", a_new_alarm_has_insufficient_data)


# -- metrics and their evaluation ---------------------------------------------------------------
# moto stores PutMetricData but evaluates no alarm. The emulation publishes the metrics AWS's own
# services publish (emulation/traffic.py: the load balancer's, while requests flow) and evaluates
# the metric-math alarms over them as CloudWatch does: every period, the last EvaluationPeriods
# periods, DatapointsToAlarm of them breaching -> ALARM, otherwise OK, a period where none of the
# alarm's metrics has a datapoint being missing data (TreatMissingData: breaching counts it as
# breaching, anything else not; CloudWatch User Guide, "Configuring how CloudWatch alarms treat
# missing data"). An alarm none of whose metrics ever had a datapoint keeps the state it has
# (SetAlarmState's, as the tests and the demo set it): the emulation models nothing for it.
# Metric math supported: numbers, ids, + - * /, comparisons, AND/OR (&&, ||), IF, FILL, MAX, MIN,
# SUM and arrays -- what ecsup's alarms use; an expression beyond that is not evaluated.


def _points(account: str, region: str) -> list[tuple[str, str, frozenset[tuple[str, str]], float, float]]:
    """(namespace, metric, dimensions, emulation time, value) published so far."""
    store = _state(_cloudwatch(account, region), "datapoints")
    points: list[tuple[str, str, frozenset[tuple[str, str]], float, float]] = store.setdefault("points", [])
    return points


def publish(
    em: Emulation, account: str, region: str, namespace: str, metric: str, dims: dict[str, str], value: float
) -> None:
    """A datapoint of an AWS service's metric, now on the emulation's clock -- and in moto's metric
    store, stamped now, so that GetMetricStatistics and ListMetrics answer it as CloudWatch answers
    a service's metric (the acceptance kit reads them so)."""
    _points(account, region).append((namespace, metric, frozenset(dims.items()), em.now(), float(value)))
    dimensions = [{"Name": k, "Value": v} for k, v in sorted(dims.items())]
    _cloudwatch(account, region).put_metric_data(
        namespace, [{"MetricName": metric, "Value": float(value), "Dimensions": dimensions}]
    )


def _aggregate(values: list[float], stat: str) -> float | None:
    if not values:
        return None
    if stat == "Sum":
        return sum(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "SampleCount":
        return float(len(values))
    return max(values)  # Maximum, and percentiles (an upper bound: the emulation keeps no distribution)


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?)|([A-Za-z_][A-Za-z0-9_]*)|(&&|\|\||<=|>=|==|!=|[-+*/<>()\[\],]))")


class _Unsupported(Exception):
    pass


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Unsupported(text[pos:])
        out.append(match.group(0).strip())
        pos = match.end()
    return out


class _Expression:
    """A metric-math expression, evaluated for one period: ``values`` maps ids to a number or None."""

    FUNCTIONS = ("IF", "FILL", "MAX", "MIN", "SUM")

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise _Unsupported(text)

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise _Unsupported(f"expected {expected}")
        self.pos += 1
        return token

    def _binary(self, ops: tuple[str, ...], below: Callable[[], Any]) -> Any:
        node = below()
        while self._peek() in ops:
            node = ("op", self._take(), node, below())
        return node

    def _or(self) -> Any:
        return self._binary(("OR", "||"), self._and)

    def _and(self) -> Any:
        return self._binary(("AND", "&&"), self._compare)

    def _compare(self) -> Any:
        return self._binary(("<", ">", "<=", ">=", "==", "!="), self._sum)

    def _sum(self) -> Any:
        return self._binary(("+", "-"), self._product)

    def _product(self) -> Any:
        return self._binary(("*", "/"), self._unary)

    def _unary(self) -> Any:
        if self._peek() == "-":
            self._take()
            return ("neg", self._unary())
        return self._primary()

    def _args(self, close: str) -> list[Any]:
        args = []
        if self._peek() != close:
            args.append(self._or())
            while self._peek() == ",":
                self._take()
                args.append(self._or())
        self._take(close)
        return args

    def _primary(self) -> Any:
        token = self._take()
        if token == "(":
            node = self._or()
            self._take(")")
            return node
        if token == "[":
            return ("array", self._args("]"))
        if token[0].isdigit():
            return ("num", float(token))
        if token in self.FUNCTIONS:
            self._take("(")
            return ("call", token, self._args(")"))
        if token[0].islower():
            return ("id", token)
        raise _Unsupported(token)

    def value(self, values: dict[str, float | None]) -> Any:
        return self._eval(self.tree, values)

    def _eval(self, node: Any, values: dict[str, float | None]) -> Any:
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "id":
            if node[1] not in values:
                raise _Unsupported(node[1])
            return values[node[1]]
        if kind == "neg":
            inner = self._eval(node[1], values)
            return None if inner is None else -inner
        if kind == "array":
            return [self._eval(n, values) for n in node[1]]
        if kind == "call":
            return self._call(node[1], [self._eval(n, values) for n in node[2]])
        return self._operator(node[1], self._eval(node[2], values), self._eval(node[3], values))

    @staticmethod
    def _call(name: str, args: list[Any]) -> Any:
        if name == "FILL":
            return args[1] if args[0] is None else args[0]
        if name == "IF":
            condition = args[0]
            if condition is None:
                return None
            return args[1] if condition else (args[2] if len(args) > 2 else None)
        items = [v for v in (args[0] if len(args) == 1 and isinstance(args[0], list) else args) if v is not None]
        if not items:
            return None
        if name == "MAX":
            return max(items)
        if name == "MIN":
            return min(items)
        return sum(items)

    @staticmethod
    def _operator(op: str, left: Any, right: Any) -> Any:
        if left is None or right is None:
            return None
        if op in ("AND", "&&"):
            return 1.0 if left and right else 0.0
        if op in ("OR", "||"):
            return 1.0 if left or right else 0.0
        if op == "/":
            return None if right == 0 else left / right
        return float(
            {
                "+": lambda: left + right,
                "-": lambda: left - right,
                "*": lambda: left * right,
                "<": lambda: left < right,
                ">": lambda: left > right,
                "<=": lambda: left <= right,
                ">=": lambda: left >= right,
                "==": lambda: left == right,
                "!=": lambda: left != right,
            }[op]()
        )


_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def _period_value(alarm: Any, points: list[Any], start: float, end: float) -> tuple[bool, float | None]:
    """(whether any of the alarm's metrics has a datapoint in [start, end), the returned value)."""
    values: dict[str, float | None] = {}
    seen = False
    result: Any = None
    for query in alarm.metric_data_queries:
        stat = query.metric_stat
        if stat is None:
            continue
        metric = stat.metric
        dims = frozenset((d.name, d.value) for d in metric.dimensions or [])
        found = [
            p[4]
            for p in points
            if p[0] == metric.namespace and p[1] == metric.metric_name and p[2] == dims and start <= p[3] < end
        ]
        seen = seen or bool(found)
        values[query.id] = _aggregate(found, str(stat.stat))
    for query in alarm.metric_data_queries:
        if query.expression:
            values[query.id] = _Expression(query.expression).value(values)
    for query in alarm.metric_data_queries:
        if query.return_data in (True, "true", "True", None):
            result = values.get(query.id)
    return seen, (None if isinstance(result, list) else result)


def _ever_had_data(alarm: Any, points: list[Any]) -> bool:
    wanted = set()
    for query in alarm.metric_data_queries:
        if query.metric_stat is not None:
            metric = query.metric_stat.metric
            wanted.add(
                (metric.namespace, metric.metric_name, frozenset((d.name, d.value) for d in metric.dimensions or []))
            )
    return any((p[0], p[1], p[2]) in wanted for p in points)


def evaluate_alarms(em: Emulation, account: str, region: str) -> None:
    """Evaluate every metric-math alarm for each period that ended since it was last evaluated
    (lazily: when DescribeAlarms is called, and before ECS's deployment controller reads them)."""
    points = _points(account, region)
    if not points:
        return
    done = _state(_cloudwatch(account, region), "evaluated")
    now = em.now()
    for name, alarm in list(_cloudwatch(account, region).alarms.items()):
        if not alarm.metric_data_queries or not _ever_had_data(alarm, points):
            continue
        periods = [int(q.metric_stat.period) for q in alarm.metric_data_queries if q.metric_stat is not None]
        period = float(max(periods or [60]))
        last_end = math.floor(now / period) * period  # the last period that has ended
        first_end = max(done.get(name, last_end - period) + period, last_end - 100 * period)
        try:
            for end in _ends(first_end, last_end, period):
                _evaluate_at(em, account, region, alarm, points, end, period)
        except _Unsupported:
            continue
        done[name] = last_end


def _ends(first: float, last: float, period: float) -> list[float]:
    out, end = [], first
    while end <= last + 1e-9:
        out.append(end)
        end += period
    return out


def _evaluate_at(
    em: Emulation, account: str, region: str, alarm: Any, points: list[Any], end: float, period: float
) -> None:
    n = int(alarm.evaluation_periods or 1)
    m = int(alarm.datapoints_to_alarm or n)
    compare = _COMPARE.get(str(alarm.comparison_operator))
    if compare is None:
        raise _Unsupported(str(alarm.comparison_operator))
    breaching, missing = 0, 0
    for i in range(n):
        start = end - (n - i) * period
        seen, value = _period_value(alarm, points, start, start + period)
        if not seen or value is None:
            missing += 1
            breaching += 1 if alarm.treat_missing_data == "breaching" else 0
        elif compare(value, float(alarm.threshold)):
            breaching += 1
    state = "ALARM" if breaching >= m else "OK"
    if state == alarm.state_value:
        return
    reason = (
        f"Threshold Crossed: {breaching} out of the last {n} datapoints were breaching the threshold "
        f"({float(alarm.threshold):g}) (emulated evaluation)"
    )
    alarm.update_state(reason, "{}", state)
    if state == "ALARM":
        entered_alarm(account, region).setdefault(alarm.name, []).append(end)


def alarms_are_evaluated(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DescribeAlarms answers with the states CloudWatch's evaluation gives (see above)."""
    evaluate_alarms(em, resp.current_account, resp.region)
    return proceed()
