"""A scheduled job's runs: the next run computed from its schedule, the emulation firing schedules
and running the job's state machine, `status`'s job section and exit code, and `run --job`.

The job's resources (schedule group, schedule, state machine, task definition family) are made by
`create` from [jobs.nightly] in ecsup.toml; a test changes the job there and runs `create` again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock, client, config_text, explain, invoke, register_task_targets

from ecsup import engine, jobs_status
from ecsup.errors import EXIT_CONFIG, EXIT_UNHEALTHY
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


# -- the job's resources, as `create` makes them ------------------------------------------------------
MACHINE = f"arn:aws:states:eu-west-1:123456789012:stateMachine:{FAMILY}"


def job_toml(schedule: str, command: tuple[str, ...] | list[str], timeout: int, image: str, timezone: str) -> str:
    lines = [
        "[jobs.nightly]",
        f"schedule = {json.dumps(schedule)}",
        f"timezone = {json.dumps(timezone)}",
        f"command = {json.dumps(list(command))}",
        f"timeout = {timeout}",
    ]
    if image:
        lines.append(f"image = {json.dumps(image)}")
    return "\n" + "\n".join(lines) + "\n"


def catching(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition `create` wrote with a non-zero exit (States.TaskFailed, the task's description
    as its cause) caught and taken to its Choice on the exit code: a definition create does not write."""
    run = definition["States"]["Run"]
    run["Catch"] = [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Stopped"}]
    definition["States"]["Stopped"] = {
        "Type": "Pass",
        "Parameters": {"task.$": "States.StringToJson($.error.Cause)"},
        "Next": run["Next"],
    }
    return definition


class Job:
    """The stack with [jobs.nightly] as a test gives it, made by `create` (the schedule is created as
    given: a rate schedule counts from its creation), then changed in ecsup.toml and applied with
    `create` again (the roles create made stay: IAM has propagated them). ecsup.toml is written
    where ``job_config`` is, so that `status` and `run` read the job as created."""

    def __init__(self, aws: Any, make_ctx: Any, config: Path) -> None:
        self.aws, self.make_ctx, self.config = aws, make_ctx, config
        self.settings: dict[str, Any] = {}

    def make(
        self,
        schedule: str = "cron(0 3 * * ? *)",
        command: tuple[str, ...] = ("sh", "-c", "echo cleaning up; sleep 20; echo done; exit 0"),
        timeout: int = 600,
        image: str = "",
        timezone: str = "UTC",
        catch: bool = False,
    ) -> str:
        """The stack and its job as given, made by `create`; the job's state machine's ARN."""
        self.settings = {"schedule": schedule, "command": command, "timeout": timeout, "image": image}
        self.settings["timezone"] = timezone
        self._create()
        register_task_targets("web-dev-blue")  # healthy, as ECS makes it (moto's ECS does not)
        self.aws.reset()
        if catch:
            sfn = client("stepfunctions")
            created = json.loads(sfn.describe_state_machine(stateMachineArn=MACHINE)["definition"])
            sfn.update_state_machine(stateMachineArn=MACHINE, definition=json.dumps(catching(created)))
        return MACHINE

    def set_command(self, command: list[str]) -> None:
        """The job's command changed in ecsup.toml, applied with `create` (a new revision of its family)."""
        self.settings["command"] = tuple(command)
        self._create()

    def _create(self) -> None:
        text = config_text(job_toml(**self.settings))
        self.config.write_text(text)
        engine.create(self.make_ctx(text))


@pytest.fixture
def job(aws, make_ctx, tmp_path: Path) -> Job:
    return Job(aws, make_ctx, tmp_path / "ecsup.toml")


def executions(machine: str) -> list[dict[str, Any]]:
    sfn = client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def job_tasks() -> list[dict[str, Any]]:
    ecs = client("ecs")
    arns = []
    for desired in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=STACK, startedBy="ecsup-job/nightly", desiredStatus=desired)["taskArns"]
    return ecs.describe_tasks(cluster=STACK, tasks=arns)["tasks"] if arns else []


@pytest.fixture
def job_stack(aws, make_ctx):
    engine.create(make_ctx(config_text(JOB)))
    register_task_targets("web-dev-blue")  # healthy, as ECS makes it (moto's ECS does not)
    aws.reset()
    return aws


@pytest.fixture
def job_config(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(JOB))
    return path


# -- the emulation ----------------------------------------------------------------------------------
def test_a_due_schedule_starts_an_execution_that_runs_the_job_task(job, clock: FakeClock):
    """rate(): the first run at once (no StartDate), then every period; each run is an ECS task of the
    job's family, started by ecsup-job/nightly, whose exit 0 makes the execution SUCCEEDED."""
    machine = job.make(schedule="rate(5 minutes)")
    assert len(executions(machine)) == len(executions(machine)) == 1  # two looks at its first moment: one run
    clock.sleep(1)
    first = executions(machine)
    assert [e["status"] for e in first] == ["RUNNING"]
    clock.sleep(60)
    done = executions(machine)
    assert [e["status"] for e in done] == ["SUCCEEDED"]
    assert done[0]["stopDate"] > done[0]["startDate"]
    output = json.loads(done[0]["output"])
    assert output["task"]["Containers"][0]["ExitCode"] == 0
    assert output["task"]["StartedBy"] == "ecsup-job/nightly"
    (task,) = job_tasks()
    assert task["lastStatus"] == "STOPPED" and task["taskDefinitionArn"].split("/")[-1] == f"{FAMILY}:1"
    clock.sleep(300)
    assert [e["status"] for e in executions(machine)] == ["SUCCEEDED", "SUCCEEDED"]


def test_nothing_fires_before_the_cron_time_or_while_disabled(job, clock: FakeClock):
    hour = (datetime.now(UTC).hour + 12) % 24  # hours away from the emulation's wall clock
    machine = job.make(schedule=f"cron(0 {hour} * * ? *)")
    clock.sleep(30)
    assert executions(machine) == []
    client("scheduler").update_schedule(
        Name=FAMILY,
        GroupName=STACK,
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=client("scheduler").get_schedule(Name=FAMILY, GroupName=STACK)["Target"],
        State="DISABLED",
    )
    clock.sleep(600)
    assert executions(machine) == []


def test_a_run_that_came_due_before_a_change_ran_as_things_were(job, clock: FakeClock):
    """Nothing read the runs while the schedule fired; the state machine changed after: the run
    that came due first used the definition of its time (the emulation looks before a change)."""
    machine = job.make(schedule="rate(1 day)", command=("sh", "-c", "exit 5"))
    clock.sleep(60)
    job.set_command(["sh", "-c", "exit 0"])
    client("stepfunctions").start_execution(stateMachineArn=machine)
    clock.sleep(60)
    assert [(e["status"], e.get("error")) for e in executions(machine)] == [
        ("SUCCEEDED", None),
        ("FAILED", "States.TaskFailed"),
    ]


def test_a_non_zero_exit_fails_the_execution(job, clock: FakeClock):
    """As on AWS: the .sync state fails with States.TaskFailed, the task's description as the cause."""
    machine = job.make(schedule="rate(1 day)", command=("sh", "-c", "echo broken; exit 3"))
    clock.sleep(60)
    (run,) = executions(machine)
    assert run["status"] == "FAILED" and run["error"] == "States.TaskFailed"
    assert json.loads(run["cause"])["Containers"][0]["ExitCode"] == 3
    assert jobs_status.interpret(run, "nightly", datetime.now(UTC)).result == "exit 3"


def test_a_definition_that_catches_the_failure_ends_in_its_fail_state(job, clock: FakeClock):
    # far away: the run is started once the definition catches (a schedule due at create ran before)
    machine = job.make(schedule="cron(0 0 1 1 ? 2199)", command=("sh", "-c", "exit 4"), catch=True)
    client("stepfunctions").start_execution(stateMachineArn=machine)
    clock.sleep(60)
    (run,) = executions(machine)
    assert (run["status"], run["error"], run["cause"]) == ("FAILED", "NonZeroExit", "exit code 4")
    assert jobs_status.interpret(run, "nightly", datetime.now(UTC)).exit_code == 4


def test_the_state_timeout_stops_the_task_and_fails_the_run(job, clock: FakeClock):
    machine = job.make(schedule="rate(1 day)", command=("sh", "-c", "echo working; sleep 600"), timeout=60)
    clock.sleep(30)
    assert [e["status"] for e in executions(machine)] == ["RUNNING"]
    clock.sleep(120)
    (run,) = executions(machine)
    assert run["status"] == "FAILED" and run["error"] == "States.Timeout"
    assert 59 <= (run["stopDate"] - run["startDate"]).total_seconds() <= 61
    (task,) = job_tasks()
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "UserInitiated"
    assert task["containers"][0]["exitCode"] == 143
    assert jobs_status.interpret(run, "nightly", datetime.now(UTC)).result.startswith("timed out")


def test_a_task_that_cannot_start_fails_the_run(job, clock: FakeClock):
    machine = job.make(schedule="rate(1 day)", image="public.ecr.aws/x/unpullable:1")
    clock.sleep(60)
    (run,) = executions(machine)
    assert run["status"] == "FAILED" and run["error"] == "States.TaskFailed"
    result = jobs_status.interpret(run, "nightly", datetime.now(UTC)).result
    assert result.startswith("could not start (CannotPullContainerError")


def test_a_runtask_refusal_fails_the_run_with_the_ecs_error(job, clock: FakeClock):
    machine = job.make(schedule="cron(0 0 1 1 ? 2199)")  # far away: the run is started by hand
    client("ecs").deregister_task_definition(taskDefinition=f"{FAMILY}:1")
    client("stepfunctions").start_execution(stateMachineArn=machine)
    clock.sleep(5)
    (run,) = executions(machine)
    assert run["status"] == "FAILED" and run["error"] == "ECS.AmazonECSException"
    assert "Error Code: ClientException" in run["cause"]
    result = jobs_status.interpret(run, "nightly", datetime.now(UTC)).result
    assert result == "could not start (ClientException: TaskDefinition is inactive)"
    assert job_tasks() == []


def test_start_execution_by_a_client_runs_the_same_way(job, clock: FakeClock):
    machine = job.make(schedule="cron(0 0 1 1 ? 2199)")  # far away
    sfn = client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    clock.sleep(60)
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    sfn.stop_execution(executionArn=second)
    assert sfn.describe_execution(executionArn=second)["status"] == "ABORTED"
    clock.sleep(30)
    assert all(t["lastStatus"] == "STOPPED" for t in job_tasks())


# -- ecsup status ---------------------------------------------------------------------------------
def status(config: Path, *extra: str) -> Any:
    return invoke("status", "-c", str(config), *extra)


def test_status_shows_each_job_and_is_unhealthy_while_its_last_run_failed(
    job, job_config, clock: FakeClock, monkeypatch
):
    monkeypatch.setattr(jobs_status, "now", lambda: at("2026-03-07T12:00:00"))
    machine = job.make(schedule="cron(0 3 * * ? *)", timezone="Asia/Tokyo")
    result = status(job_config)
    assert result.exit_code == 0, explain(result)
    assert "job nightly: cron(0 3 * * ? *) (Asia/Tokyo)" in result.stdout
    assert "next run: 2026-03-08 03:00 Asia/Tokyo" in result.stdout
    assert "no runs yet" in result.stdout

    sfn = client("stepfunctions")
    job.set_command(["sh", "-c", "echo oops; sleep 12; exit 3"])
    sfn.start_execution(stateMachineArn=machine)
    clock.sleep(90)
    failed = status(job_config)
    assert failed.exit_code == EXIT_UNHEALTHY, explain(failed)
    assert "exit 3" in failed.stdout and "job nightly: its last run failed (exit 3)" in failed.stdout
    assert "took" in failed.stdout and "not OK" not in failed.stdout  # the stack itself is fine

    job.set_command(["sh", "-c", "echo fine; exit 0"])
    sfn.start_execution(stateMachineArn=machine)
    clock.sleep(5)
    running = status(job_config)  # the last FINISHED run still failed
    assert running.exit_code == EXIT_UNHEALTHY and "running" in running.stdout
    clock.sleep(90)
    fixed = status(job_config)
    assert fixed.exit_code == 0, explain(fixed)
    lines = [line for line in fixed.stdout.splitlines() if "exit " in line]
    assert "exit 0" in lines[0] and "exit 3" in lines[1]  # newest first

    as_json = status(job_config, "--json")
    assert as_json.exit_code == 0
    (job,) = json.loads(as_json.stdout)["jobs"]
    assert job["name"] == "nightly" and job["schedule"] == "cron(0 3 * * ? *)" and job["timezone"] == "Asia/Tokyo"
    assert job["next_run"] == "2026-03-07T18:00:00+00:00" and job["failing"] is False
    assert [(r["result"], r["exit_code"], r["ok"]) for r in job["runs"]] == [("exit 0", 0, True), ("exit 3", 3, False)]
    assert all(r["seconds"] is not None and r["seconds"] > 0 for r in job["runs"])


def test_status_says_see_the_schedule_for_what_it_cannot_compute(job, job_config, monkeypatch):
    job.make(schedule="cron(0 3 ? * L *)")
    result = status(job_config, "--json")
    (job,) = json.loads(result.stdout)["jobs"]
    assert job["next_run"] is None and job["next_run_note"].startswith("see the schedule")


def test_status_of_a_job_not_created_yet(aws, make_ctx, job_config):
    engine.create(make_ctx(config_text("")))  # ecsup.toml (job_config) names the job; create has not made it
    result = status(job_config, "--json")
    (job,) = json.loads(result.stdout)["jobs"]
    assert job["state"] == "MISSING" and job["runs"] == []
    assert any("does not exist" in note for note in job["notes"])


# -- ecsup run --job ------------------------------------------------------------------------------
def test_run_job_runs_the_job_task_with_its_exit_code_and_live_logs(job_stack, job_config):
    text = config_text(JOB.replace("exit 0", "exit 7"))
    job_config.write_text(text)  # not what create put in the job's family: run --job runs ecsup.toml's command
    result = invoke("run", "-c", str(job_config), "--job", "nightly")
    assert result.exit_code == 7, explain(result)
    assert "cleaning up" in result.stdout and "done" in result.stdout and "exited 7" in result.stdout
    (task,) = job_tasks()
    assert task["startedBy"] == "ecsup-job/nightly"
    assert task["taskDefinitionArn"].endswith(f"{FAMILY}:1")
    assert task["overrides"]["containerOverrides"][0]["name"] == "nightly"
    assert task["launchType"] == "FARGATE"


def test_run_job_runs_the_revision_its_state_machine_names_not_the_latest(job_stack, job_config):
    """A failed release (or a rollback) leaves a newer revision of the job's family that its state
    machine does not name: `run --job` runs the one the schedule runs."""
    ecs = client("ecs")
    found = ecs.describe_task_definition(taskDefinition=FAMILY, include=["TAGS"])
    td = found["taskDefinition"]
    body = {k: td[k] for k in ("family", "taskRoleArn", "executionRoleArn", "networkMode", "cpu", "memory")}
    body["containerDefinitions"] = [dict(td["containerDefinitions"][0], image="public.ecr.aws/nginx/nginx:broken")]
    newer = ecs.register_task_definition(**body, requiresCompatibilities=["FARGATE"], tags=found["tags"])
    assert newer["taskDefinition"]["revision"] == 2
    result = invoke("run", "-c", str(job_config), "--job", "nightly")
    assert result.exit_code == 0, explain(result)
    (task,) = job_tasks()
    assert task["taskDefinitionArn"].endswith(f"{FAMILY}:1")


def test_run_job_timeout_defaults_to_the_job_timeout(job_stack, job_config):
    job_config.write_text(config_text(JOB.replace("sleep 20", "sleep 900")))
    result = invoke("run", "-c", str(job_config), "--job", "nightly")
    assert result.exit_code == 125, explain(result)
    assert "600 s" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--job", "weekly"), "ecsup.toml has no [jobs.weekly]; its jobs: nightly"),
        (("--job", "nightly", "--", "echo", "hi"), "--job nightly runs the job's own command"),
        (("--job", "nightly", "--image", "x:1"), "--image does not apply"),
    ],
)
def test_run_job_refuses_bad_input_with_exit_2(job_stack, job_config, args, expected):
    result = invoke("run", "-c", str(job_config), *args)
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert expected in result.stderr and "Traceback" not in result.output
    assert job_stack.mutating() == []


def test_run_job_of_a_job_not_created_says_so(aws, make_ctx, job_config):
    engine.create(make_ctx(config_text("")))  # ecsup.toml (job_config) names the job; create has not made it
    result = invoke("run", "-c", str(job_config), "--job", "nightly")
    assert result.exit_code == EXIT_UNHEALTHY, explain(result)
    assert "has no active task definition web-dev-nightly" in result.stderr


# -- the sandbox ----------------------------------------------------------------------------------
def test_the_sandbox_looks_at_its_schedules_on_its_own(job, clock: FakeClock):
    """Its ticker fires a due schedule with nothing reading the runs: the job's task starts then."""
    from ecsup.sandbox import SANDBOX_ACCOUNT, _JobsTicker

    assert client("sts").get_caller_identity()["Account"] == SANDBOX_ACCOUNT
    job.make(schedule="rate(5 minutes)")
    clock.sleep(1)
    assert job_tasks() == []  # ECS reads alone do not look at the schedules
    _JobsTicker("eu-west-1").tick()
    (task,) = job_tasks()
    assert task["startedBy"] == "ecsup-job/nightly"


def test_run_job_interrupted_while_runtask_is_in_flight_stops_the_job_task(job_stack, job_config, monkeypatch):
    """run's interrupt handling: the task is found by its startedBy ecsup-job/nightly and token, and stopped."""
    from test_run_interrupts import ctrl_c, not_listed_at_first, on_event

    from ecsup.errors import EXIT_INTERRUPTED

    job_config.write_text(config_text(JOB.replace("sleep 20", "sleep 900")))
    job_stack.injectors.append(not_listed_at_first())
    on_event(monkeypatch, job_stack, "before-parse.ecs.RunTask", ctrl_c)
    result = invoke("run", "-c", str(job_config), "--job", "nightly")
    assert result.exit_code == EXIT_INTERRUPTED, explain(result)
    (task,) = job_tasks()
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "UserInitiated"
    assert "interrupted (Ctrl-C)" in task["stoppedReason"] and "ecsup run" in task["stoppedReason"]
    assert "was stopped (StopTask; it is STOPPED)" in result.stderr


def test_a_run_reads_in_utc_whatever_the_local_time_zone():
    from datetime import timedelta, timezone

    tokyo = timezone(timedelta(hours=9))
    started = datetime(2026, 3, 8, 3, 0, tzinfo=tokyo)
    run = jobs_status.interpret(
        {"name": "x", "status": "SUCCEEDED", "startDate": started, "stopDate": started + timedelta(seconds=42)},
        "nightly",
        datetime.now(UTC),
    )
    assert run.started == at("2026-03-07T18:00:00") and run.started.utcoffset() == timedelta(0)
    assert (run.result, run.seconds) == ("exit 0", 42.0)


def test_run_job_detach_and_json_as_run(job_stack, job_config):
    detached = invoke("run", "-c", str(job_config), "--job", "nightly", "--detach")
    assert detached.exit_code == 0, explain(detached)
    (task,) = job_tasks()
    assert detached.stdout.strip() == task["taskArn"].split("/")[-1]
    assert task["startedBy"] == "ecsup-job/nightly"
    as_json = invoke("run", "-c", str(job_config), "--job", "nightly", "--json", "--timeout", "120")
    assert as_json.exit_code == 0, explain(as_json)
    document = json.loads(as_json.stdout)
    assert document["status"] == 0 and document["revision"] == f"{FAMILY}:1"
    assert document["command"] == ["sh", "-c", "echo cleaning up; sleep 20; echo done; exit 0"]
    assert "cleaning up" in document["last_lines"]
