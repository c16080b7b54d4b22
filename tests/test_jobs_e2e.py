"""A scheduled job end to end on the strict layer, as a user meets it: `create` makes it, its
schedule comes due on the fake clock and the emulation runs it, `status` shows the run, a failing
command (changed in ecsup.toml, applied with `create`) makes `status` unhealthy with its exit code,
a run past its timeout shows as timed out, `deploy --image` moves the job to the release's
revision, and `destroy --yes` leaves nothing of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import FakeClock, client, config_text, explain, invoke, register_task_targets

from ecsup import engine
from ecsup.errors import EXIT_UNHEALTHY

IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:web-dev-nightly"
HOUR = 3600


def job(command: str, timeout: int = 600) -> str:
    return f"""
[jobs.nightly]
schedule = "rate(1 hour)"
command = ["sh", "-c", {json.dumps(command)}]
timeout = {timeout}
"""


def apply(make_ctx: Any, path: Path, command: str, timeout: int = 600) -> None:
    """The job as given in ecsup.toml, applied with `create`."""
    text = config_text(job(command, timeout))
    path.write_text(text)
    engine.create(make_ctx(text))


def status(path: Path) -> Any:
    return invoke("status", "-c", str(path))


def run_lines(stdout: str) -> list[str]:
    """status's lines of the job's runs, newest first ("<start>  <result>  took <n> s")."""
    return [line for line in stdout.splitlines() if re.search(r"\btook \S+ s\b", line)]


def job_revision() -> tuple[str, str]:
    """(family:revision, image) the job's state machine runs."""
    definition = json.loads(client("stepfunctions").describe_state_machine(stateMachineArn=MACHINE)["definition"])
    arn = definition["States"][definition["StartAt"]]["Parameters"]["TaskDefinition"]
    td = client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return arn.split("/")[-1], td["containerDefinitions"][0]["image"]


def test_a_job_runs_on_its_schedule_fails_is_released_and_is_destroyed(aws, make_ctx, tmp_path, clock: FakeClock):
    path = tmp_path / "ecsup.toml"
    apply(make_ctx, path, "echo cleaning up; sleep 20; echo done")
    register_task_targets("web-dev-blue")  # healthy, as ECS makes it (moto's ECS does not)

    # a rate schedule runs at once, then every hour: past its next run, two runs ended exit 0
    clock.sleep(HOUR + 120)
    fine = status(path)
    assert fine.exit_code == 0, explain(fine)
    lines = run_lines(fine.stdout)
    assert len(lines) == 2 and all("exit 0" in line for line in lines), fine.stdout
    seconds = [float(re.search(r"took (\S+) s", line).group(1)) for line in lines]  # type: ignore[union-attr]
    assert all(20 <= s < 120 for s in seconds), lines  # the command's sleep 20, and the task's start and stop

    # the command fails: changed in ecsup.toml, applied with create; the next run exits 3
    apply(make_ctx, path, "exit 3")
    assert job_revision()[0] == "web-dev-nightly:2"
    clock.sleep(HOUR)
    failed = status(path)
    assert failed.exit_code == EXIT_UNHEALTHY, explain(failed)
    assert "exit 3" in run_lines(failed.stdout)[0]
    assert "job nightly: its last run failed (exit 3)" in failed.stdout
    assert "not OK" not in failed.stdout  # the stack itself is as ecsup.toml says: only the run failed

    # deploy --image: the job follows the service's image, its state machine moves to the new revision
    released = invoke("deploy", "-c", str(path), "--image", IMAGE_2)
    assert released.exit_code == 0, explain(released)
    assert job_revision() == ("web-dev-nightly:3", IMAGE_2)

    # destroy: no schedule group, state machine, role or job family is left
    destroyed = invoke("destroy", "-c", str(path), "--yes")
    assert destroyed.exit_code == 0, explain(destroyed)
    assert [g["Name"] for g in client("scheduler").list_schedule_groups()["ScheduleGroups"]] == ["default"]
    assert client("stepfunctions").list_state_machines()["stateMachines"] == []
    roles = [r["RoleName"] for r in client("iam").list_roles()["Roles"]]
    assert [r for r in roles if r.startswith("web-dev")] == []
    ecs = client("ecs")
    for state in ("ACTIVE", "INACTIVE"):
        assert ecs.list_task_definitions(familyPrefix="web-dev-nightly", status=state)["taskDefinitionArns"] == []


def test_a_run_past_its_timeout_shows_as_timed_out(aws, make_ctx, tmp_path, clock: FakeClock):
    """The Run state's own TimeoutSeconds: Step Functions stops the task, the execution ends FAILED
    with States.Timeout (not TIMED_OUT, which is an execution's own timeout); status says timed out."""
    path = tmp_path / "ecsup.toml"
    apply(make_ctx, path, "echo working; sleep 900", timeout=60)
    register_task_targets("web-dev-blue")
    clock.sleep(180)
    (execution,) = client("stepfunctions").list_executions(stateMachineArn=MACHINE)["executions"]
    run = client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert (run["status"], run["error"]) == ("FAILED", "States.Timeout")
    timed_out = status(path)
    assert timed_out.exit_code == EXIT_UNHEALTHY, explain(timed_out)
    assert "timed out" in run_lines(timed_out.stdout)[0]
    assert "job nightly: its last run failed (timed out" in timed_out.stdout
