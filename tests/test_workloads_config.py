"""[workers.<name>] and [jobs.<name>]: read with [service]'s defaults and variables underneath,
and every bad key refused with its key path (exit 2, no mutating AWS call, no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Recorder, client, config_text, explain, invoke
from typer.testing import Result

from ecsup.config import parse
from ecsup.errors import EXIT_CONFIG, ConfigError
from ecsup.workloads import schedule_problem, timezone_problem

WORKER = """
[workers.mailer]
command = ["bundle", "exec", "sidekiq"]
"""
JOB = """
[jobs.nightly]
schedule = "cron(0 3 * * ? *)"
command = ["python", "manage.py", "cleanup"]
"""


def test_defaults_come_from_the_service_and_variables_merge() -> None:
    config = parse(
        config_text(
            extra=WORKER
            + """
capacity = "FARGATE_SPOT"
stop_timeout = 120
[workers.mailer.environment]
QUEUES = "mailers"
[workers.mailer.autoscaling]
min = 1
max = 4
cpu_target = 60
"""
            + JOB
            + """
timezone = "Asia/Tokyo"
memory = 2048
alarm = true
[jobs.nightly.environment]
DB_PASSWORD = "plain here"
"""
        )
    )
    service = config.service
    (worker,) = config.workers
    (job,) = config.jobs
    assert (worker.name, worker.cpu, worker.memory, worker.image) == ("mailer", service.cpu, service.memory, "")
    assert worker.follows_service_image and worker.capacity == "FARGATE_SPOT" and worker.stop_timeout == 120
    assert worker.capacity_provider_strategy == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert dict(worker.environment) == dict(service.environment) | {"QUEUES": "mailers"}
    assert worker.secrets == service.secrets
    assert worker.autoscaling is not None and worker.autoscaling.cpu_target == 60.0
    assert (job.schedule, job.timezone, job.memory, job.timeout, job.alarmed) == (
        "cron(0 3 * * ? *)",
        "Asia/Tokyo",
        2048,
        3600,
        True,
    )
    # the job's plain DB_PASSWORD replaces the service's secret of that name
    assert dict(job.environment)["DB_PASSWORD"] == "plain here"
    assert "DB_PASSWORD" not in dict(job.secrets)
    assert config.worker("mailer") is worker and config.job("nightly") is job and config.job("x") is None


def test_every_workload_secret_is_one_the_execution_role_may_read() -> None:
    config = parse(config_text(extra=WORKER + '[workers.mailer.secrets]\nSMTP = "/web/dev/smtp"\n'))
    parameters = {parameter for _, parameter in config.all_secrets}
    assert parameters == {p for _, p in config.service.secrets} | {"/web/dev/smtp"}


BAD = [
    ("worker-named-web", '[workers.web]\ncommand = ["x"]\n', "workers.web:"),
    ("bad-name", '[workers.Mailer]\ncommand = ["x"]\n', "workers.Mailer:"),
    ("same-name", WORKER + '[jobs.mailer]\nschedule = "rate(1 hour)"\ncommand = ["x"]\n', "jobs.mailer:"),
    ("no-command", "[workers.mailer]\ncpu = 256\n", "workers.mailer.command:"),
    ("empty-command", "[workers.mailer]\ncommand = []\n", "workers.mailer.command:"),
    ("unknown-key", WORKER + "replicas = 2\n", "workers.mailer.replicas:"),
    ("cpu", WORKER + "cpu = 300\n", "workers.mailer.cpu:"),
    ("memory", WORKER + "cpu = 256\nmemory = 4096\n", "workers.mailer.memory:"),
    ("capacity", WORKER + 'capacity = "SPOT"\n', "workers.mailer.capacity:"),
    ("architecture", WORKER + 'cpu_architecture = "arm"\n', "workers.mailer.cpu_architecture:"),
    ("stop-timeout", WORKER + "stop_timeout = 300\n", "workers.mailer.stop_timeout:"),
    ("count", WORKER + "desired_count = -1\n", "workers.mailer.desired_count:"),
    ("env-name", WORKER + '[workers.mailer.environment]\n"1X" = "a"\n', "workers.mailer.environment.1X:"),
    ("secret-name", WORKER + '[workers.mailer.secrets]\nX = "aws/x"\n', "workers.mailer.secrets.X:"),
    (
        "requests-target",
        WORKER + "[workers.mailer.autoscaling]\nmin = 1\nmax = 2\ncpu_target = 50\nrequests_per_target = 100\n",
        "workers.mailer.autoscaling.requests_per_target:",
    ),
    ("scaling-min", WORKER + "[workers.mailer.autoscaling]\nmin = 3\nmax = 2\ncpu_target = 50\n", "autoscaling.min:"),
    ("no-schedule", '[jobs.nightly]\ncommand = ["x"]\n', "jobs.nightly.schedule:"),
    ("cron-5-fields", JOB.replace("? *)", "?)"), "jobs.nightly.schedule:"),
    (
        "cron-minute-99",
        JOB.replace("cron(0 3", "cron(99 3"),
        "jobs.nightly.schedule: 'cron(99 3 * * ? *)': cron() minutes: 99 is outside 0-59",
    ),
    (
        "cron-hour-25",
        JOB.replace("cron(0 3", "cron(0 25"),
        "schedule: 'cron(0 25 * * ? *)': cron() hours: 25 is outside 0-23",
    ),
    (
        "cron-month-13",
        JOB.replace("* * ? *)", "* 13 ? *)"),
        "schedule: 'cron(0 3 * 13 ? *)': cron() month: 13 is outside 1-12",
    ),
    (
        "cron-day-of-week-9",
        JOB.replace("* * ? *)", "? * 9 *)"),
        "schedule: 'cron(0 3 ? * 9 *)': cron() day-of-week: 9 is outside 1-7",
    ),
    (
        "cron-year-1800",
        JOB.replace("? *)", "? 1800)"),
        "schedule: 'cron(0 3 * * ? 1800)': cron() year: 1800 is outside 1970-2199",
    ),
    (
        "at-month-13",
        JOB.replace("cron(0 3 * * ? *)", "at(2026-13-45T99:00:00)"),
        "jobs.nightly.schedule: 'at(2026-13-45T99:00:00)': at() needs a date and time that exists",
    ),
    ("timezone", JOB + 'timezone = "Mars/Olympus"\n', "jobs.nightly.timezone:"),
    ("timeout", JOB + "timeout = 5\n", "jobs.nightly.timeout:"),
    ("notify", JOB + 'notify = "my-topic"\n', "jobs.nightly.notify:"),
    (
        "notify-without-alarm",
        JOB + 'alarm = false\nnotify = "arn:aws:sns:eu-west-1:123456789012:ops"\n',
        "jobs.nightly.notify:",
    ),
    ("expected-minutes", JOB + "timeout = 600\nexpected_minutes = 20\n", "jobs.nightly.expected_minutes:"),
    ("long-name", "[workers." + "a" * 60 + ']\ncommand = ["x"]\n', "the service name"),
    (
        "job-name-past-started-by",
        JOB.replace("[jobs.nightly]", "[jobs." + "n" * 27 + "]"),
        "jobs." + "n" * 27 + ": a job's name is at most 26 characters",
    ),
    ("not-a-table", 'workers = "mailer"\n', "workers:"),
]


@pytest.mark.parametrize(("extra", "expect"), [(extra, expect) for _, extra, expect in BAD], ids=[c[0] for c in BAD])
def test_bad_workload_keys_are_refused_with_their_key_path(
    extra: str, expect: str, aws: Recorder, tmp_path: Path
) -> None:
    text = config_text(extra="\n" + extra) if not extra.startswith("workers =") else extra + config_text()
    path = tmp_path / "ecsup.toml"
    path.write_text(text, encoding="utf-8")
    result: Result = invoke("plan", "-c", str(path))
    why = explain(result)
    assert result.exit_code == EXIT_CONFIG, why
    assert "Traceback" not in result.output, why
    assert expect in result.stderr, why
    assert aws.mutating() == [], why


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("cron(0 3 * * ? *)", True),
        ("cron(0/15 9-17 ? * MON-FRI *)", True),
        ("cron(0 3 L * ? *)", True),
        ("cron(0 3 * * * *)", False),  # neither day field is "?"
        ("cron(0 3 ? * ? *)", False),  # both are
        ("rate(1 hour)", True),
        ("rate(5 minutes)", True),
        ("rate(1 hours)", False),
        ("rate(2 day)", False),
        ("rate(0 minutes)", False),
        ("at(2027-01-01T03:00:00)", True),
        ("at(2026-13-45T99:00:00)", False),
        ("at(2027-02-29T03:00:00)", False),  # not a leap year
        ("at(2028-02-29T03:00:00)", True),
        ("cron(99 3 * * ? *)", False),
        ("cron(0 25 * * ? *)", False),
        ("cron(0 3 32 * ? *)", False),
        ("cron(0 3 * 13 ? *)", False),
        ("cron(0 3 ? * 9 *)", False),
        ("cron(0 3 ? * 8-9 *)", False),
        ("cron(0 3 * * ? 1800)", False),
        ("cron(0 3 * FOO ? *)", False),
        ("cron(0 3 ? * MON#6 *)", False),
        ("cron(0 3 * * ? 2026-2199)", True),
        ("cron(59 23 31 DEC ? *)", True),
        ("cron(0 3 ? * 7 *)", True),
        ("cron(0 3 ? * 2#5 *)", True),
        ("cron(0 3 15W * ? *)", True),
        ("cron(0 3 ? * L-2 *)", True),  # not computed here: AWS judges it
        ("every day", False),
    ],
)
def test_schedule_expressions(expression: str, ok: bool) -> None:
    assert (schedule_problem(expression) is None) == ok, schedule_problem(expression)


def test_time_zones() -> None:
    assert timezone_problem("UTC") is None
    assert timezone_problem("Asia/Tokyo") is None
    assert timezone_problem("Not/AZone") is not None


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse(config_text(extra="\n[workers.mailer]\ncpu = 300\nstop_timeout = 1\n" + JOB + "timeout = 1\n"))
    keys = {key for key, _ in info.value.problems}
    assert {
        "workers.mailer.command",
        "workers.mailer.cpu",
        "workers.mailer.stop_timeout",
        "jobs.nightly.timeout",
    } <= keys


def test_a_job_name_of_the_limit_makes_a_started_by_ecs_takes() -> None:
    """ECS takes startedBy up to 36 characters (RunTask, ListTasks' filter): the longest job name allowed
    makes exactly that; the strict layer refuses one more, as ECS does."""
    from ecsup.emulation.tasks import STARTED_BY_LIMIT
    from ecsup.steps.jobs import started_by
    from ecsup.workloads import JOB_NAME_LIMIT

    config = parse(config_text(extra="\n" + JOB.replace("[jobs.nightly]", "[jobs." + "n" * JOB_NAME_LIMIT + "]")))
    (job,) = config.jobs
    assert len(started_by(job.name)) == STARTED_BY_LIMIT == 36


def test_the_strict_layer_refuses_a_started_by_past_36_characters(aws: Recorder) -> None:
    from botocore.exceptions import ClientError

    ecs = client("ecs")
    ecs.create_cluster(clusterName="web-dev")
    with pytest.raises(ClientError) as caught:
        ecs.list_tasks(cluster="web-dev", startedBy="ecsup-job/" + "n" * 27)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert ecs.list_tasks(cluster="web-dev", startedBy="ecsup-job/" + "n" * 26)["taskArns"] == []
