"""A scheduled job's runs: the next run computed from its schedule, the emulation firing schedules
and running the job's state machine, `status`'s job section and exit code, and `run --job`.

The job's resources (schedule group, schedule, state machine, task definition family) are made
here with boto3 as ecsup's job steps make them (the contract in names.py: the schedule targets the
state machine <app>-<env>-<job>, which runs the family's task with ecs:runTask.sync)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ecsup.schedule_times import NotSupported, next_fire

JOB = """
[jobs.nightly]
schedule = "cron(0 3 * * ? *)"
timezone = "Asia/Tokyo"
command = ["sh", "-c", "echo cleaning up; sleep 20; echo done; exit 0"]
timeout = 600
"""
STACK = "web-dev"
FAMILY = "web-dev-nightly"


# -- the next run -----------------------------------------------------------------------------------
def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "timezone", "after", "expected"),
    [
        # 03:00 in Tokyo is 18:00 UTC the day before
        ("cron(0 3 * * ? *)", "Asia/Tokyo", "2026-03-07T12:00:00", "2026-03-07T18:00:00"),
        ("cron(0 3 * * ? *)", "Asia/Tokyo", "2026-03-07T18:00:00", "2026-03-08T18:00:00"),  # strictly after
        ("cron(0/15 * * * ? *)", "UTC", "2026-03-07T12:01:00", "2026-03-07T12:15:00"),
        ("cron(0 18 ? * MON-FRI *)", "UTC", "2026-03-07T12:00:00", "2026-03-09T18:00:00"),  # a Saturday
        ("cron(0 9 ? * 2#1 *)", "UTC", "2026-03-07T12:00:00", "2026-04-06T09:00:00"),  # first Monday
        ("cron(0 9 ? * 6L *)", "UTC", "2026-03-07T12:00:00", "2026-03-27T09:00:00"),  # last Friday
        ("cron(0 9 L * ? *)", "UTC", "2026-02-07T12:00:00", "2026-02-28T09:00:00"),  # last day
        ("cron(0 9 1W * ? *)", "UTC", "2026-01-31T12:00:00", "2026-02-02T09:00:00"),  # 1 Feb is a Sunday
        ("cron(0 9 LW * ? *)", "UTC", "2026-05-01T00:00:00", "2026-05-29T09:00:00"),  # 31 May is a Sunday
        ("cron(0 12 1 JAN ? 2025)", "UTC", "2026-01-01T00:00:00", None),  # its years are over
        # Daylight saving time (America/New_York, 2026): 02:30 does not exist on 8 March, the run is
        # skipped; 01:30 happens twice on 1 November, the run is once.
        ("cron(30 2 * * ? *)", "America/New_York", "2026-03-07T12:00:00", "2026-03-09T06:30:00"),
        ("cron(30 1 * * ? *)", "America/New_York", "2026-11-01T04:00:00", "2026-11-01T05:30:00"),
        ("cron(30 1 * * ? *)", "America/New_York", "2026-11-01T05:30:00", "2026-11-02T06:30:00"),
        ("at(2026-03-08T10:00:00)", "Europe/Paris", "2026-03-07T12:00:00", "2026-03-08T09:00:00"),
        ("at(2026-03-08T10:00:00)", "Europe/Paris", "2026-03-09T00:00:00", None),
    ],
)
def test_next_fire_of_cron_and_at_in_the_schedule_time_zone(expression, timezone, after, expected):
    assert next_fire(expression, timezone, at(after)) == (at(expected) if expected else None)


def test_next_fire_of_rate_counts_from_the_start_in_elapsed_time():
    start = at("2026-03-07T11:58:00")
    assert next_fire("rate(5 minutes)", "UTC", at("2026-03-07T12:00:00"), start=start) == at("2026-03-07T12:03:00")
    assert next_fire("rate(1 hour)", "UTC", at("2026-03-07T11:00:00"), start=start) == start  # not yet started
    # a day is 24 hours, across a daylight saving change too
    paris = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_fire("rate(1 day)", "Europe/Paris", at("2026-03-29T00:00:00"), start=paris) == at("2026-03-29T12:00")
    with pytest.raises(NotSupported):
        next_fire("rate(5 minutes)", "UTC", start)  # no start known


@pytest.mark.parametrize("expression", ["cron(0 3 ? * L *)", "cron(0 3 L-2 * ? *)"])
def test_what_is_not_computed_is_said_not_guessed(expression):
    with pytest.raises(NotSupported):
        next_fire(expression, "UTC", at("2026-03-07T12:00:00"))
