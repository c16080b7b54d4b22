"""What knows about workers and jobs besides create, status and deploy: `ecsup cost` (a line per
workload, jobs priced by their runs a month), the plan's cost delta, `ecsup logs --workload`,
`ecsup exec --workload` and `ecsup init`'s commented examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import config_text, explain, invoke
from test_exec import plugin  # noqa: F401  (the stand-in session-manager-plugin fixture)

from ecsup.config import parse
from ecsup.cost import HOURS_PER_MONTH, TRANSITIONS_PER_RUN, Usage, estimate, runs_per_month
from ecsup.prices import STEP_FUNCTIONS_TRANSITION, shipped_prices

pytestmark = pytest.mark.usefixtures("plain_output")

WORKER = """
[workers.mailer]
command = ["bundle", "exec", "sidekiq"]
cpu = 512
memory = 1024
desired_count = 2
capacity = "FARGATE_SPOT"
"""
JOB = """
[jobs.nightly]
schedule = "cron(0 3 * * ? *)"
timezone = "Asia/Tokyo"
command = ["python", "manage.py", "cleanup"]
timeout = 3600
expected_minutes = 12
"""
JOB_AT_TIMEOUT = """
[jobs.sync]
schedule = "rate(6 hours)"
command = ["sync"]
timeout = 1800
"""


def line(est: Any, name: str) -> Any:
    return next(item for item in est.lines if item.name == name)


# -- the runs a month of a schedule ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(1 day)", 30),
        ("rate(6 hours)", 120),
        ("rate(1 hour)", 720),
        ("rate(15 minutes)", 2880),
        ("rate(1 minute)", 43200),
        ("at(2027-01-01T03:00:00)", 1),
        ("cron(0 3 * * ? *)", 30),
        ("cron(0/15 * * * ? *)", 2880),
        ("cron(*/30 9-17 * * ? *)", 2 * 9 * 30),
        ("cron(0 3 1 * ? *)", 1),
        ("cron(0 3 1,15 * ? *)", 2),
        ("cron(0 3 L * ? *)", 1),
        ("cron(0 3 ? * MON-FRI *)", 5 * 30 / 7),
        ("cron(0 3 ? * FRI-MON *)", 4 * 30 / 7),  # a range across the week's end
        ("cron(0 3 ? * 2#1 *)", 1),  # the first Monday
        ("cron(0 3 ? * 6L *)", 1),  # the last Friday
        ("cron(0 0 1 JAN ? *)", 1 / 12),  # once a year
        ("cron(0 0 1 1,7 ? *)", 2 / 12),
        ("cron(0 0 31 * ? *)", 7 / 12),  # only the months that have a 31st
    ],
)
def test_runs_a_month_are_counted_in_a_30_day_month(expression: str, runs: float) -> None:
    assert runs_per_month(expression) == pytest.approx(runs)


# -- ecsup cost: a line per workload -----------------------------------------------------------------
def test_cost_has_a_line_per_worker_and_job_and_for_the_jobs_services() -> None:
    prices = shipped_prices("eu-west-1")
    plain = estimate(parse(config_text()), Usage(), prices)
    est = estimate(parse(config_text(WORKER + JOB + JOB_AT_TIMEOUT)), Usage(), prices)
    names = [item.name for item in est.lines]
    assert names[:6] == [
        "Fargate compute (web)",
        "Worker mailer",
        "Job nightly",
        "Job sync",
        "Step Functions state transitions",
        "EventBridge Scheduler invocations",
    ]
    # the web service's line is today's
    assert line(est, "Fargate compute (web)").monthly_low == line(plain, "Fargate compute").monthly_low
    # a worker: its own size and capacity x its desired count, all month
    worker = line(est, "Worker mailer")
    vcpu, gb = prices.fargate("X86_64", True)
    assert worker.quantity == "2 tasks x (0.5 vCPU + 1 GB) x 730 h"
    assert worker.monthly_low == pytest.approx(2 * (0.5 * vcpu + 1 * gb) * HOURS_PER_MONTH)
    assert worker.unit_price.startswith("Spot ") and worker.workload == "mailer"
    # a job: runs a month x a run's minutes; expected_minutes when given, else the timeout, said which
    nightly = line(est, "Job nightly")
    od_vcpu, od_gb = prices.fargate("X86_64", False)
    task_hour = 0.5 * od_vcpu + 1 * od_gb  # [service]'s size (the base config's 512 / 1024)
    assert nightly.quantity == "30 runs x 12 min x (0.5 vCPU + 1 GB) = 6 task-h"
    assert nightly.monthly_low == pytest.approx(6 * task_hour)
    assert "30 runs in a 30-day month" in nightly.note and "expected_minutes (12 min)" in nightly.note
    assert "(Asia/Tokyo)" in nightly.note
    sync = line(est, "Job sync")
    assert sync.quantity == "120 runs x 30 min x (0.5 vCPU + 1 GB) = 60 task-h"
    assert "timeout (1800 s)" in sync.note and "expected_minutes gives a closer figure" in sync.note
    # Step Functions: a handful of transitions a run, at the shipped price; Scheduler: within its free tier
    sfn = line(est, "Step Functions state transitions")
    assert sfn.quantity == f"{150 * TRANSITIONS_PER_RUN} transitions (150 runs x {TRANSITIONS_PER_RUN})"
    assert sfn.monthly_low == pytest.approx(150 * TRANSITIONS_PER_RUN * STEP_FUNCTIONS_TRANSITION)
    assert sfn.unit_price == "$0.025/1,000 transitions" and "4,000 transitions a month are free" in sfn.note
    scheduler = line(est, "EventBridge Scheduler invocations")
    assert scheduler.quantity == "150 invocations" and scheduler.monthly_low == 0
    assert "14 million invocations a month" in scheduler.note
    # the workers' and the jobs' tasks have public addresses too
    ipv4 = line(est, "Public IPv4 addresses")
    jobs_addresses = (6 + 60) / HOURS_PER_MONTH
    assert ipv4.monthly_low == pytest.approx(
        line(plain, "Public IPv4 addresses").monthly_low + (2 + jobs_addresses) * HOURS_PER_MONTH * 0.005
    )
    assert "+ 2 worker tasks + 0.09 for the jobs' runs" in ipv4.quantity
    assert est.total_low > plain.total_low


def test_a_worker_with_auto_scaling_is_a_range() -> None:
    scaled = WORKER + "[workers.mailer.autoscaling]\nmin = 1\nmax = 4\ncpu_target = 60\n"
    est = estimate(parse(config_text(scaled)), Usage(), shipped_prices("eu-west-1"))
    worker = line(est, "Worker mailer")
    assert worker.quantity.startswith("1 to 4 tasks")
    assert worker.monthly_high == pytest.approx(4 * worker.monthly_low)
    assert est.is_range and "to" in worker.monthly_text


def test_container_insights_count_each_worker_s_service_metrics_and_tasks() -> None:
    insights = 'health_check_path = "/health"\ncontainer_insights = true'
    prices = shipped_prices("eu-west-1")
    alone = line(
        estimate(parse(config_text(replace={'health_check_path = "/health"': insights})), Usage(), prices),
        "Container Insights",
    )
    both = line(
        estimate(parse(config_text(WORKER, replace={'health_check_path = "/health"': insights})), Usage(), prices),
        "Container Insights",
    )
    assert alone.quantity == "19 metrics + performance logs of 1 task"
    assert both.quantity == "30 metrics + performance logs of 3 tasks"  # 8 of the cluster, 11 per service
    assert both.monthly_low > alone.monthly_low


def test_cost_json_names_each_line_s_workload_and_the_jobs_runs(tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(WORKER + JOB + JOB_AT_TIMEOUT))
    result = invoke("cost", "-c", str(path), "--offline", "--json")
    assert result.exit_code == 0, explain(result)
    doc = json.loads(result.stdout)
    by_workload = {item["workload"]: item["item"] for item in doc["items"] if item["workload"]}
    assert by_workload == {
        "web": "Fargate compute (web)",
        "mailer": "Worker mailer",
        "nightly": "Job nightly",
        "sync": "Job sync",
    }
    assert doc["jobs"] == [
        {
            "job": "nightly",
            "schedule": "cron(0 3 * * ? *)",
            "runs_per_month": 30,
            "minutes_per_run": 12,
            "minutes_from": "expected_minutes",
        },
        {
            "job": "sync",
            "schedule": "rate(6 hours)",
            "runs_per_month": 120,
            "minutes_per_run": 30,
            "minutes_from": "timeout",
        },
    ]
    assert doc["total"] == round(sum(item["monthly"] for item in doc["items"]), 2)
    table = invoke("cost", "-c", str(path), "--offline")
    assert table.exit_code == 0, explain(table)
    for name in ("Worker mailer", "Job nightly", "Job sync", "Step Functions state transitions"):
        assert name in table.stdout


# -- the plan's cost delta ---------------------------------------------------------------------------
def test_the_plan_s_cost_delta_counts_a_new_worker_and_job(aws: Any, make_ctx: Any) -> None:
    from ecsup import engine
    from ecsup.plan import Action

    engine.create(make_ctx())
    ctx = make_ctx(config_text(WORKER + JOB))
    outcome = engine.make_plan(ctx)
    # the plan creates the worker's service and the job's state machine, each named <app>-<env>-<name>
    created = [Action("create", "ECS service", "web-dev-mailer"), Action("create", "state machine", "web-dev-nightly")]
    outcome.planned.append(engine.Planned(outcome.planned[0].step, created))
    money = engine.cost_change(ctx, outcome)
    assert money is not None
    zero = Usage(requests_per_month=0, log_gb_per_month=0, deploys_per_month=0)
    prices = shipped_prices("eu-west-1")
    before = estimate(parse(config_text()), zero, prices)
    after = estimate(parse(config_text(WORKER + JOB)), zero, prices)
    assert money["before"] == before.total_low and money["after"] == after.total_low
    assert money["delta"] == pytest.approx(after.total_low - before.total_low, abs=0.005) and money["delta"] > 0
    assert money["compute"]["before"] == money["compute"]["after"]  # the web service's is unchanged
    assert money["new_workloads"] == [
        {"workload": "mailer", "kind": "worker", "after": round(line(after, "Worker mailer").monthly_low, 2)},
        {"workload": "nightly", "kind": "job", "after": round(line(after, "Job nightly").monthly_low, 2)},
    ]
    text = engine.cost_line(money)
    assert f"${money['before']:,.2f} -> ${money['after']:,.2f}" in text
    assert "new worker mailer $" in text and "new job nightly $" in text
    # once they exist, a plan that creates neither and changes nothing billed has no cost line
    outcome.planned.pop()
    outcome.planned = [
        engine.Planned(p.step, [a for a in p.actions if a.name not in ("web-dev-mailer", "web-dev-nightly")])
        for p in outcome.planned
    ]
    assert engine.cost_change(ctx, outcome) is None


# -- logs --workload ---------------------------------------------------------------------------------
TASK_WEB = "0123456789abcdef0123456789abcdef"
TASK_WORKER = "abcdef0123456789abcdef0123456789"
TASK_JOB = "fedcba9876543210fedcba9876543210"


def put(stream: str, *messages: str) -> None:
    """Events as the awslogs driver writes them: ``<prefix>/<container>/<task id>`` in the stack's group."""
    import time

    from conftest import client

    logs = client("logs")
    logs.create_log_stream(logGroupName="/ecs/web-dev", logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/ecs/web-dev",
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    )


@pytest.fixture
def workload_logs(aws: Any, tmp_path: Path) -> Path:
    from conftest import client

    client("logs").create_log_group(logGroupName="/ecs/web-dev")
    put(f"ecs/web/{TASK_WEB}", "GET / 200")
    put(f"mailer/mailer/{TASK_WORKER}", "sent 3 mails", "queue empty")
    put(f"nightly/nightly/{TASK_JOB}", "cleaned 12 rows")
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(WORKER + JOB))
    return path


def test_logs_of_every_workload_are_prefixed_by_its_name(workload_logs: Path) -> None:
    result = invoke("logs", "-c", str(workload_logs), "--since", "5m")
    assert result.exit_code == 0, explain(result)
    assert sorted(result.stdout.splitlines()) == sorted(
        [
            "web     [01234567] GET / 200",
            "mailer  [abcdef01] sent 3 mails",
            "mailer  [abcdef01] queue empty",
            "nightly [fedcba98] cleaned 12 rows",
        ]
    )


@pytest.mark.parametrize(
    ("workload", "lines"),
    [
        ("web", ["[01234567] GET / 200"]),
        ("mailer", ["[abcdef01] sent 3 mails", "[abcdef01] queue empty"]),
        ("nightly", ["[fedcba98] cleaned 12 rows"]),
    ],
)
def test_logs_of_one_workload_read_only_its_streams(
    workload_logs: Path, aws: Any, workload: str, lines: list[str]
) -> None:
    seen: list[dict[str, Any]] = []
    aws.injectors.append(lambda svc, op, params: seen.append(params) if op == "FilterLogEvents" else None)
    result = invoke("logs", "-c", str(workload_logs), "--since", "5m", "--workload", workload)
    assert result.exit_code == 0, explain(result)
    assert result.stdout.splitlines() == lines
    prefix = "ecs/web/" if workload == "web" else f"{workload}/{workload}/"
    assert seen and all(p["logStreamNamePrefix"] == prefix for p in seen)  # filtered by CloudWatch Logs


def test_logs_of_an_unknown_workload_is_exit_2_listing_them(workload_logs: Path, aws: Any) -> None:
    aws.reset()
    result = invoke("logs", "-c", str(workload_logs), "--workload", "mailr")
    assert result.exit_code == 2, explain(result)
    assert "--workload mailr: no such workload" in result.stderr
    assert "web, mailer, nightly" in result.stderr and "Traceback" not in result.output
    assert aws.calls == [] and result.stdout == ""


def test_a_stack_without_workers_or_jobs_keeps_its_log_lines(workload_logs: Path) -> None:
    workload_logs.write_text(config_text())
    result = invoke("logs", "-c", str(workload_logs), "--since", "5m")
    assert result.exit_code == 0, explain(result)
    assert "[01234567] GET / 200" in result.stdout.splitlines()  # no workload column for the web alone
    result = invoke("logs", "-c", str(workload_logs), "--since", "5m", "--workload", "web")
    assert result.stdout.splitlines() == ["[01234567] GET / 200"], explain(result)


def test_filter_log_events_takes_a_stream_prefix_or_names_not_both(workload_logs: Path) -> None:
    from botocore.exceptions import ClientError
    from conftest import client

    logs = client("logs")
    page = logs.filter_log_events(logGroupName="/ecs/web-dev", logStreamNamePrefix="mailer/")
    assert {e["logStreamName"] for e in page["events"]} == {f"mailer/mailer/{TASK_WORKER}"}
    with pytest.raises(ClientError) as caught:
        logs.filter_log_events(
            logGroupName="/ecs/web-dev", logStreamNamePrefix="mailer/", logStreamNames=[f"ecs/web/{TASK_WEB}"]
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


# -- exec --workload ---------------------------------------------------------------------------------
# the worker on one task (the strict layer runs one task of a service: conftest's MOTO_ECS_SERVICE_RUNNING)
EXEC_WORKER = WORKER.replace("desired_count = 2", "desired_count = 1")
EXEC_ON = config_text(
    EXEC_WORKER + JOB, replace={'health_check_path = "/health"': 'health_check_path = "/health"\nexec = true'}
)
EXEC_WITHOUT_WORKER = config_text(
    JOB, replace={'health_check_path = "/health"': 'health_check_path = "/health"\nexec = true'}
)


def running_worker_task(clock: Any) -> str:
    """The id of a running task of the worker's service that `create` made, once ECS Exec's agent
    runs in it (the emulation starts both on the clock)."""
    from conftest import client

    ecs = client("ecs")
    for _ in range(20):
        arns = ecs.list_tasks(cluster="web-dev", serviceName="web-dev-mailer")["taskArns"]
        if arns:
            task = ecs.describe_tasks(cluster="web-dev", tasks=arns)["tasks"][0]
            agents = [a for c in task["containers"] for a in c.get("managedAgents", [])]
            if agents and agents[0]["lastStatus"] == "RUNNING":
                return str(task["taskArn"].split("/")[-1])
        clock.sleep(15)
        ecs.describe_services(cluster="web-dev", services=["web-dev-mailer"])
    raise AssertionError("the worker's task did not start")


def test_exec_workload_reaches_a_running_task_of_the_worker(aws, make_ctx, clock, tmp_path, plugin):  # noqa: F811
    from conftest import client

    from ecsup import engine

    engine.create(make_ctx(EXEC_ON))  # makes the worker's service, ECS Exec on as [service] exec says
    worker = client("ecs").describe_services(cluster="web-dev", services=["web-dev-mailer"])["services"][0]
    assert worker["enableExecuteCommand"] is True
    task_id = running_worker_task(clock)
    path = tmp_path / "ecsup.toml"
    path.write_text(EXEC_ON)
    seen: list[dict[str, Any]] = []
    aws.injectors.append(lambda svc, op, params: seen.append(dict(params)) if op == "ExecuteCommand" else None)
    result = invoke("exec", "-c", str(path), "--workload", "mailer", "--", "bundle", "exec", "rails", "c")
    assert result.exit_code == 0, explain(result)
    assert seen[-1]["container"] == "mailer" and seen[-1]["task"].endswith(task_id)
    assert seen[-1]["command"] == "bundle exec rails c"
    handed = json.loads(plugin.read_text())
    assert json.loads(handed["argv"][4])["Target"].startswith(f"ecs:web-dev_{task_id}_")
    assert f"in task {task_id}" in result.stdout
    # without --workload: the web service's task, its container
    result = invoke("exec", "-c", str(path))
    assert result.exit_code == 0, explain(result)
    assert seen[-1]["container"] == "web" and not seen[-1]["task"].endswith(task_id)


def test_exec_into_a_job_or_an_unknown_workload_is_exit_2_before_any_call(aws, tmp_path, plugin):  # noqa: F811
    path = tmp_path / "ecsup.toml"
    path.write_text(EXEC_ON)
    aws.reset()
    result = invoke("exec", "-c", str(path), "--workload", "nightly")
    assert result.exit_code == 2, explain(result)
    assert "nightly is a job: it has no task running to exec into" in result.stderr
    assert "ecsup run --job nightly" in result.stderr
    result = invoke("exec", "-c", str(path), "--workload", "mailr")
    assert result.exit_code == 2, explain(result)
    assert "--workload mailr: no such workload" in result.stderr and "web, mailer" in result.stderr
    assert aws.calls == [] and "Traceback" not in result.output


def test_exec_into_a_worker_that_is_not_built_says_so(aws, make_ctx, tmp_path, plugin):  # noqa: F811
    from ecsup import engine
    from ecsup.errors import EXIT_UNHEALTHY

    # [workers.mailer] is in ecsup.toml, but the stack was created before it was added
    engine.create(make_ctx(EXEC_WITHOUT_WORKER))
    path = tmp_path / "ecsup.toml"
    path.write_text(EXEC_ON)
    aws.reset()
    result = invoke("exec", "-c", str(path), "--workload", "mailer")
    assert result.exit_code == EXIT_UNHEALTHY, explain(result)
    assert "there is no service web-dev-mailer (worker mailer)" in result.stderr, explain(result)
    assert "ecsup create" in result.stderr and "Traceback" not in result.output
    assert aws.writes() == []


# -- init ------------------------------------------------------------------------------------------
def test_init_writes_a_commented_worker_and_job_that_validate_once_uncommented(tmp_path: Path) -> None:
    from ecsup.config import load

    path = tmp_path / "ecsup.toml"
    result = invoke("init", "-c", str(path), "--app", "web", "--env", "dev", "--zone", "example.com", "--image", "i")
    assert result.exit_code == 0, explain(result)
    text = path.read_text()
    cfg = load(path)  # as written: the examples are comments, nothing changes
    assert cfg.workers == () and cfg.jobs == ()
    lines = text.splitlines()
    start = lines.index("# [workers.mailer]")
    for key in ("environment", "secrets", "autoscaling"):
        assert any(line.startswith(f"# [workers.mailer.{key}]") for line in lines), key
    for key in ("schedule", "timezone", "command", "timeout", "alarm", "expected_minutes"):
        assert any(line.startswith(f"# {key} = ") for line in lines[lines.index("# [jobs.nightly]") :]), key
    assert any(line.startswith('# # notify = "arn:aws:sns:') for line in lines)
    # remove the first "# " of each line of the examples: a valid configuration with a worker and a job
    end = lines.index("", start)
    uncommented = [line[2:] if line.startswith("# ") else "" for line in lines[start:end]]
    path.write_text("\n".join(lines[:start] + uncommented + lines[end:]))
    cfg = load(path)
    (worker,) = cfg.workers
    (job,) = cfg.jobs
    assert (worker.name, worker.command, worker.capacity, worker.desired_count) == (
        "mailer",
        ("bundle", "exec", "sidekiq"),
        "FARGATE_SPOT",
        1,
    )
    assert worker.stop_timeout == 120 and worker.autoscaling is not None and worker.autoscaling.max == 4
    assert ("QUEUES", "mailers") in worker.environment
    assert ("SMTP_PASSWORD", "/web/dev/SMTP_PASSWORD") in worker.secrets
    assert (job.name, job.schedule, job.timezone, job.timeout) == ("nightly", "cron(0 3 * * ? *)", "UTC", 3600)
    assert job.alarm is True and job.expected_minutes == 10 and job.notify == ""
