"""When an EventBridge Scheduler expression fires next: cron(...), rate(...) and at(...), in the
schedule's time zone. Local arithmetic (no AWS call); `ecsup status` shows it as a job's next run
and the emulation (ecsup/emulation/jobs.py) fires schedules with it.

What EventBridge Scheduler does, and is done here ("Schedule types on EventBridge Scheduler",
EventBridge Scheduler User Guide):

* cron(minutes hours day-of-month month day-of-week year) is evaluated in the schedule's time
  zone. Day-of-week 1 is Sunday (1-7 or SUN-SAT); months 1-12 or JAN-DEC. Each field takes
  ``*``, numbers, ranges ``a-b``, lists ``a,b`` and steps ``*/n`` / ``a/n`` / ``a-b/n``;
  exactly one of day-of-month and day-of-week is ``?``. Day-of-month also takes ``L`` (the last
  day of the month), ``nW`` (the weekday nearest day n, within the month) and ``LW`` (the last
  weekday); day-of-week takes ``nL`` (the last day n of the month) and ``n#k`` (the k-th day n).
* Daylight saving time: "When the time shifts forward in Spring, your schedule invocation gets
  skipped if the cron expression falls on a non-existent date and time. When the time shifts
  back in the Fall, your schedule runs only once" (ibid., and AWS re:Post "Adjust EventBridge
  schedules for daylight saving time").
* rate(n minutes|hours|days): every n units of elapsed time ("days represents a 24-hour
  duration"), from the schedule's StartDate, or from its creation when it has none ("If you do
  not provide a StartDate for a rate-based schedule, your schedule starts invoking the target
  immediately").
* at(yyyy-mm-ddThh:mm:ss): once, at that local time in the schedule's time zone.

Not supported (NotSupported; `status` then says "see the schedule" rather than a wrong time):
``L`` alone or ``L-n`` in day-of-week or day-of-month offsets, names inside steps, and time zones
this machine's time zone database does not know.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

MONTHS = {
    m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)
}
DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}  # 1 = Sunday
YEARS = (1970, 2199)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


class NotSupported(ValueError):
    """An expression (or a part of one) this evaluator does not compute: say so, never guess."""


class BadValue(NotSupported):
    """A value no cron() field takes (out of its range, or not a number or name): EventBridge
    Scheduler refuses the expression (CreateSchedule: ValidationException), so validation does."""


def zone(name: str) -> tzinfo:
    import zoneinfo

    if not name or name == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise NotSupported(f"time zone {name!r} is not in this machine's time zone database") from None


# -- cron ------------------------------------------------------------------------------------------
def _number(text: str, names: dict[str, int] | None, low: int, high: int) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        if not text.isdigit():
            raise BadValue(f"{text!r} is not a value this field takes")
        value = int(text)
    if not low <= value <= high:
        raise BadValue(f"{value} is outside {low}-{high}")
    return value


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """A plain field: * numbers names ranges lists steps."""
    out: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, _, every = part.partition("/")
            if not every.isdigit() or int(every) < 1:
                raise BadValue(f"step {every!r} is not a whole number of 1 or more")
            step = int(every)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, _, b = part.partition("-")
            start, end = _number(a, names, low, high), _number(b, names, low, high)
        else:
            start = _number(part, names, low, high)
            end = high if step > 1 or "/" in field else start
        if end < start:  # a wrapping range (FRI-MON): EventBridge accepts it
            out.update(range(start, high + 1, step))
            out.update(range(low, end + 1, step))
        else:
            out.update(range(start, end + 1, step))
    return out


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: str  # kept as text: its specials depend on the month
    months: frozenset[int]
    dow: str
    years: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Cron:
        match = _CRON.fullmatch(expression.strip())
        if not match:
            raise NotSupported(f"{expression!r} is not cron(...)")
        fields = match.group(1).split()
        if len(fields) != 6:
            raise NotSupported("cron() has six fields")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise NotSupported('exactly one of day-of-month and day-of-week is "?"')

        def field(name: str, parse: Callable[[], frozenset[int]]) -> frozenset[int]:
            try:
                return parse()
            except BadValue as exc:
                raise BadValue(f"{name}: {exc}") from None

        cron = cls(
            field("minutes", lambda: frozenset(_values(minute, 0, 59))),
            field("hours", lambda: frozenset(_values(hour, 0, 23))),
            dom,
            field("month", lambda: frozenset(_values(month, 1, 12, MONTHS))),
            dow,
            field("year", lambda: frozenset(_values(year, *YEARS))),
        )
        # the day fields' syntax and ranges, checked once (NotSupported; BadValue)
        field("day-of-month" if dom != "?" else "day-of-week", lambda: frozenset(cron.days(2024, 2)))
        return cron

    def days(self, year: int, month: int) -> list[int]:
        """The days of that month the day fields select."""
        last = calendar.monthrange(year, month)[1]
        if self.dom != "?":
            return sorted(d for d in self._dom(year, month, last) if 1 <= d <= last)
        return sorted(self._dow(year, month, last))

    def _dom(self, year: int, month: int, last: int) -> set[int]:
        out: set[int] = set()
        for part in self.dom.split(","):
            if part == "L":
                out.add(last)
            elif part == "LW":
                out.add(_nearest_weekday(year, month, last, last))
            elif part.endswith("W") and part[:-1].isdigit():
                day = int(part[:-1])
                if not 1 <= day <= 31:
                    raise BadValue(f"{part!r}: the day is outside 1-31")
                if day <= last:
                    out.add(_nearest_weekday(year, month, day, last))
            elif "L" in part or "W" in part or "#" in part:
                raise NotSupported(f"day-of-month {part!r}")
            else:
                out.update(_values(part, 1, 31))
        return out

    def _dow(self, year: int, month: int, last: int) -> set[int]:
        def weekday(day: int) -> int:  # 1 = Sunday .. 7 = Saturday
            return (date(year, month, day).weekday() + 1) % 7 + 1

        out: set[int] = set()
        for part in self.dow.split(","):
            if "#" in part:
                a, _, k = part.partition("#")
                want = _number(a, DAYS, 1, 7)
                if not k.isdigit() or not 1 <= int(k) <= 5:
                    raise BadValue(f"{part!r}: the week is outside 1-5")
                hits = [d for d in range(1, last + 1) if weekday(d) == want]
                if int(k) <= len(hits):
                    out.add(hits[int(k) - 1])
            elif part.endswith("L") and len(part) > 1:
                want = _number(part[:-1], DAYS, 1, 7)
                out.add(max(d for d in range(1, last + 1) if weekday(d) == want))
            elif "L" in part.upper() or "W" in part.upper().replace("WED", ""):
                raise NotSupported(f"day-of-week {part!r}")
            else:
                wanted = _values(part, 1, 7, DAYS)
                out.update(d for d in range(1, last + 1) if weekday(d) in wanted)
        return out

    def next_after(self, after: datetime, tz: tzinfo) -> datetime | None:
        """The first firing strictly after ``after`` (aware), in UTC; None when there is none."""
        local = after.astimezone(tz)
        start = (local.year, local.month, local.day)
        for year in sorted(y for y in self.years if y >= local.year):
            for month in sorted(self.months):
                if (year, month) < start[:2]:
                    continue
                for day in self.days(year, month):
                    if (year, month, day) < start:
                        continue
                    for hour in sorted(self.hours):
                        for minute in sorted(self.minutes):
                            wall = datetime(year, month, day, hour, minute)
                            when = wall.replace(tzinfo=tz)  # fold=0: the first of a repeated hour (runs once)
                            if when.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
                                continue  # skipped by a spring-forward change: not run
                            utc = when.astimezone(UTC)
                            if utc > after:
                                return utc
        return None


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    """Day ``day``, or the nearest Monday-Friday to it within the month (Quartz's W)."""
    wd = date(year, month, day).weekday()  # Monday 0
    if wd == 5:
        return day - 1 if day > 1 else day + 2
    if wd == 6:
        return day + 1 if day < last else day - 2
    return day


# -- the three kinds -------------------------------------------------------------------------------
def next_fire(
    expression: str,
    timezone: str,
    after: datetime,
    start: datetime | None = None,
) -> datetime | None:
    """When the schedule fires next, strictly after ``after`` (aware), in UTC. ``start``: a rate
    schedule's StartDate, else its creation time (required for rate). None: it will not fire again
    (an at() in the past, a cron whose years are over). NotSupported: not computed here."""
    expression = expression.strip()
    rate = _RATE.fullmatch(expression)
    if rate:
        if start is None:
            raise NotSupported("a rate() schedule's start (StartDate or creation time) is not known")
        period = timedelta(seconds=int(rate.group(1)) * _UNIT[rate.group(2).rstrip("s")])
        if after < start:
            return start.astimezone(UTC)
        periods = (after - start) // period + 1
        return (start + periods * period).astimezone(UTC)
    at = _AT.fullmatch(expression)
    if at:
        y, mo, d, h, mi, s = (int(x) for x in at.groups())
        when = datetime(y, mo, d, h, mi, s, tzinfo=zone(timezone)).astimezone(UTC)
        return when if when > after else None
    return Cron.parse(expression).next_after(after, zone(timezone))


def fires_between(
    expression: str,
    timezone: str,
    after: datetime,
    until: datetime,
    start: datetime | None = None,
    limit: int = 1000,
) -> list[datetime]:
    """Every firing in (after, until], oldest first (at most ``limit``, the latest ones)."""
    out: list[datetime] = []
    when = next_fire(expression, timezone, after, start)
    while when is not None and when <= until:
        out.append(when)
        if len(out) > limit:
            out.pop(0)
        when = next_fire(expression, timezone, when, start)
    return out
