"""`ecsup run` and the [service.deploy] before task (issue 17), on moto with ECS's one-off tasks
emulated (ecsup/emulation/tasks.py): the task's command decides its exit code and log lines
(`echo`, `sleep`, `exit N`), image words its failures (`unpullable`, `interrupted`). Waits run
on the fake clock; each test builds one stack and runs several tasks on it (a stack costs ~2 s)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SECRET_VALUE, client, config_text, explain, invoke

from ecsup import context as context_module
from ecsup import deploy, engine
from ecsup.context import SilentUI
from ecsup.errors import EXIT_BEFORE_FAILED
from ecsup.run import BeforeFailed, Interrupted

IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"


class Seen(SilentUI):
    """A UI that records the one-off task's progress and log lines."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.lines: list[str] = []

    def task_event(self, text: str) -> None:
        self.events.append(text)

    def task_log(self, task_id: str, message: str) -> None:
        self.lines.append(message)


def tasks(started_by: str = "ecsup-run", status: str = "STOPPED") -> list[dict[str, Any]]:
    ecs = client("ecs")
    arns = ecs.list_tasks(cluster="web-dev", desiredStatus=status, startedBy=started_by)["taskArns"]
    return list(ecs.describe_tasks(cluster="web-dev", tasks=arns, include=["TAGS"])["tasks"]) if arns else []


def stream_lines(stream: str) -> list[str]:
    """The messages of a stream of the stack's log group: pages are followed until the token comes
    back unchanged (an empty page does not mean the end: GetLogEvents' API reference)."""
    logs, token, out = client("logs"), None, []
    while True:
        kwargs: dict[str, Any] = {"logGroupName": "/ecs/web-dev", "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        out += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


def service() -> dict[str, Any]:
    return dict(client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0])


# -- ecsup run --------------------------------------------------------------------------------------
def test_run_passes_the_exit_code_through_and_streams_the_logs(stack, config_file):
    """0, 3 and 42 are the container's exit codes; its log lines are printed as they come; the task
    ran the service's revision where the service runs, tagged and started by ecsup."""
    for code in (0, 3, 42):
        result = invoke(
            "run", "-c", str(config_file), "--", "sh", "-c", f"echo step one; sleep 30; echo code {code}; exit {code}"
        )
        assert result.exit_code == code, explain(result)
        assert "step one" in result.stdout and f"code {code}" in result.stdout
        assert f"exited {code}" in result.stdout
    ran = tasks()
    assert len(ran) == 3
    svc = service()
    task = ran[0]
    assert task["taskDefinitionArn"] == svc["taskDefinition"]
    assert task["group"] == "family:web-dev" and task["startedBy"] == "ecsup-run"
    tags = {t["key"]: t["value"] for t in task["tags"]}
    assert tags["ecsup:app"] == "web" and tags["ecsup:env"] == "dev" and tags["ecsup:one-off"] == "run"
    assert task["capacityProviderName"] == "FARGATE"  # the service's capacity provider strategy
    override = task["overrides"]["containerOverrides"][0]
    assert override["name"] == "web" and override["command"][:2] == ["sh", "-c"]
    subnet = next(d["value"] for d in task["attachments"][0]["details"] if d["name"] == "subnetId")
    assert subnet in svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    # the logs are in the stack's log group, in the awslogs stream of the task
    task_id = task["taskArn"].split("/")[-1]
    assert stream_lines(f"ecs/web/{task_id}") == ["step one", "code 0"]
    # --env-var, --cpu/--memory and --json: the overrides AWS got, and the document
    result = invoke(
        "run",
        "-c",
        str(config_file),
        "--env-var",
        "MODE=seed",
        "--cpu",
        "1024",
        "--memory",
        "2048",
        "--json",
        "--",
        "exit",
        "0",
    )
    assert result.exit_code == 0, explain(result)
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 0 and doc["stop_code"] == "EssentialContainerExited"
    assert doc["task_arn"].startswith("arn:aws:ecs:") and doc["timings"]["startedAt"] and doc["seconds"]["total"] > 0
    task = next(t for t in tasks() if t["taskArn"] == doc["task_arn"])
    assert task["cpu"] == "1024" and task["memory"] == "2048"
    assert task["overrides"]["containerOverrides"][0]["environment"] == [{"name": "MODE", "value": "seed"}]
    assert SECRET_VALUE not in result.output


def test_run_explains_a_task_that_did_not_run_with_125(stack, config_file):
    """A pull failure and a Spot interruption have no exit code: 125, the stop code, the reason and a
    hint; --image runs a revision registered for that image, as deploy registers them."""
    live = service()["taskDefinition"]
    result = invoke(
        "run", "-c", str(config_file), "--image", "public.ecr.aws/nope/unpullable:1", "--json", "--", "migrate"
    )
    assert result.exit_code == 125, explain(result)
    doc = json.loads(result.stdout)
    assert doc["exit_code"] is None and doc["stop_code"] == "TaskFailedToStart"
    assert "CannotPullContainerError" in doc["stopped_reason"]
    assert "TaskFailedToStart" in result.stderr and "image cannot be pulled" in result.stderr
    td = client("ecs").describe_task_definition(taskDefinition=tasks()[0]["taskDefinitionArn"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"] == "public.ecr.aws/nope/unpullable:1"
    assert td["taskDefinitionArn"] != live and service()["taskDefinition"] == live  # the service is untouched
    result = invoke("run", "-c", str(config_file), "--image", "public.ecr.aws/x/interrupted:1", "--", "sleep", "60")
    assert result.exit_code == 125, explain(result)
    assert "SpotInterruption" in result.stderr and "Traceback" not in result.output
    # no capacity: RunTask starts nothing and says why in failures[] (not an error)
    result = invoke("run", "-c", str(config_file), "--image", "public.ecr.aws/x/nocapacity:1", "--", "migrate")
    assert result.exit_code == 125, explain(result)
    assert "ECS started no task: Capacity is unavailable at this time" in result.stderr
    assert "run it again in a moment" in result.stderr and "Traceback" not in result.output


def interrupted_once_later(clock: Any) -> Any:
    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 60 and not sleep.done:  # type: ignore[attr-defined]  # the task runs by then
            sleep.done = True  # type: ignore[attr-defined]
            raise KeyboardInterrupt

    sleep.done = False  # type: ignore[attr-defined]
    return sleep


def test_ctrl_c_and_the_timeout_stop_the_task(stack, config_file, clock, monkeypatch):
    monkeypatch.setattr(context_module.CLOCK, "sleep", interrupted_once_later(clock))
    result = invoke("run", "-c", str(config_file), "--", "sh", "-c", "echo working; sleep 600")
    assert result.exit_code == 130, explain(result)
    assert "was stopped (StopTask; it is STOPPED)" in result.stderr
    monkeypatch.setattr(context_module.CLOCK, "sleep", clock.sleep)
    clock.sleep(10)
    [task] = tasks()
    assert task["stopCode"] == "UserInitiated" and "Ctrl-C" in task["stoppedReason"]
    result = invoke("run", "-c", str(config_file), "--timeout", "100", "--", "sh", "-c", "sleep 600; exit 0")
    assert result.exit_code == 125, explain(result)
    assert "ran out of time" in result.stderr and "--timeout" in result.stderr
    reasons = sorted(t["stoppedReason"] for t in tasks())
    assert any("timeout (100 s)" in r for r in reasons)
    # --detach: started, not followed
    result = invoke("run", "-c", str(config_file), "--detach", "--", "sleep", "600")
    assert result.exit_code == 0, explain(result)
    assert [t["taskArn"].split("/")[-1] for t in tasks(status="RUNNING")] == [result.stdout.strip()]


def test_bad_input_starts_no_task(aws, config_file):
    cases = [
        ((), 2, "no command"),
        (("--env-var", "NOEQUALS", "--", "true"), 2, "--env-var"),
        (("-e", "DB_PASSWORD=x", "--", "true"), 2, "secret"),
        # --env is the environment's name (init's): the old spelling says the new one
        (("--env", "MODE=seed", "--", "true"), 2, "--env-var MODE=seed (or -e)"),
        (("--cpu", "300", "--memory", "512", "--", "true"), 2, "--cpu 300"),
        (("--cpu", "256", "--memory", "4096", "--", "true"), 2, "512, 1024, 2048"),
        (("--image", "bad image", "--", "true"), 2, "--image"),
        (("--", "true"), 6, "ecsup create"),  # no stack
    ]
    for args, code, said in cases:
        result = invoke("run", "-c", str(config_file), *args)
        assert result.exit_code == code, explain(result)
        assert said in result.stderr and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) <= 2  # the error and its hint
    assert aws.mutating() == []


# -- the before task ------------------------------------------------------------------------------
def before(command: list[str], extra: str = "") -> str:
    return config_text(f"\n[service.deploy]\nbefore = {json.dumps(command)}\n{extra}")


def test_deploy_runs_before_first_and_a_failing_one_stops_the_release(stack, make_ctx, clock):
    ui = Seen()
    failing = make_ctx(before(["sh", "-c", "echo applying 0002; echo relation exists; exit 3"]), ui=ui)
    live = service()["taskDefinition"]
    stack.reset()
    with pytest.raises(BeforeFailed) as caught:
        deploy.deploy(failing, IMAGE_2)
    assert caught.value.exit_code == EXIT_BEFORE_FAILED
    message = caught.value.message
    assert "exited 3" in message and "relation exists" in message and "was not rolled out" in message
    [task] = tasks("ecsup-before")
    assert task["taskArn"].split("/")[-1] in message
    assert ("ecs", "UpdateService") not in stack.calls and service()["taskDefinition"] == live
    assert task["taskDefinitionArn"] != live  # the NEW revision ran it
    assert ui.lines == ["applying 0002", "relation exists"]
    # Ctrl-C during the before task stops it, and nothing is rolled out
    slow = make_ctx(before(["sh", "-c", "sleep 600"]))
    slow.sleep = interrupted_once_later(clock)
    with pytest.raises(Interrupted) as interrupted:
        deploy.deploy(slow, IMAGE_2)
    assert interrupted.value.exit_code == 130 and "was not rolled out" in interrupted.value.message
    stopped = [t for t in tasks("ecsup-before") if t.get("stopCode") == "UserInitiated"]
    assert len(stopped) == 1 and "Ctrl-C" in stopped[0]["stoppedReason"]
    assert ("ecs", "UpdateService") not in stack.calls and service()["taskDefinition"] == live
    # a passing one: RunTask, then (and only then) UpdateService with the revision it ran
    stack.reset()
    result = deploy.deploy(make_ctx(before(["sh", "-c", "echo migrated; exit 0"])), IMAGE_2)
    assert result.status == "SUCCESSFUL"
    calls = [c[1] for c in stack.calls]
    assert calls.index("RunTask") < calls.index("UpdateService")
    ran = [t for t in tasks("ecsup-before") if t["containers"][0].get("exitCode") == 0]
    assert ran and ran[0]["taskDefinitionArn"] == service()["taskDefinition"]


def test_skip_before_skips_it_loudly(stack, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(before(["sh", "-c", "exit 1"]))
    result = invoke("deploy", "-c", str(path), "--image", IMAGE_2, "--skip-before")
    assert result.exit_code == 0, explain(result)
    assert "--skip-before" in result.stdout and "NOT run" in result.stdout
    assert ("ecs", "RunTask") not in stack.calls
    result = invoke("deploy", "-c", str(path), "--image", "public.ecr.aws/nginx/nginx:1.28")
    assert result.exit_code == EXIT_BEFORE_FAILED, explain(result)
    assert "before task" in result.stderr and "exited 1" in result.stderr


def test_first_create_runs_before_before_the_service_exists(aws, make_ctx):
    with pytest.raises(BeforeFailed):
        engine.create(make_ctx(before(["sh", "-c", "exit 2"])))
    assert ("ecs", "CreateService") not in aws.calls
    assert client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"] == []
    [task] = tasks("ecsup-before")
    assert task["containers"][0]["exitCode"] == 2
    aws.reset()
    ui = Seen()
    engine.create(make_ctx(before(["sh", "-c", "echo schema ready"]), ui=ui))
    assert ui.lines == ["schema ready"]
    assert service()["status"] == "ACTIVE"
    calls = [c[1] for c in aws.calls]
    assert calls.index("RunTask") < calls.index("CreateService")
    # a create that rolls out no new revision runs no before task
    aws.reset()
    engine.create(make_ctx(before(["sh", "-c", "echo schema ready"])))
    assert ("ecs", "RunTask") not in aws.calls


def test_before_keys_are_validated():
    from ecsup.config import parse
    from ecsup.errors import ConfigError

    cfg = parse(before(["python", "manage.py", "migrate"], "before_timeout = 60"))
    assert cfg.service.deploy.before == ("python", "manage.py", "migrate")
    assert cfg.service.deploy.before_timeout == 60
    for bad, key in (
        ('before = "migrate"', "service.deploy.before"),
        ("before = [1]", "service.deploy.before"),
        ("before_timeout = 0", "service.deploy.before_timeout"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse(config_text(f"\n[service.deploy]\n{bad}\n"))
        assert caught.value.problems[0][0] == key


def test_destroy_stops_a_detached_one_off_task_before_deleting_the_cluster(stack, config_file, make_ctx, monkeypatch):
    from test_destroy import destroy

    from ecsup.engine import plan_destroy
    from ecsup.steps.ecs import ClusterStep

    result = invoke("run", "-c", str(config_file), "--detach", "--", "sh", "-c", "sleep 86400")
    assert result.exit_code == 0, explain(result)
    task_id = result.stdout.strip()
    ctx = make_ctx()
    ctx.mode = "plan"
    planned = [(a.kind, a.resource, a.name) for a in plan_destroy(ctx).actions]
    assert ("delete", "one-off task", task_id) in planned

    # without the stop, AWS (as emulated) refuses to delete the cluster under the active task
    with monkeypatch.context() as m:
        m.setattr(ClusterStep, "_one_off_stops", lambda self, ctx: [])
        outcome = destroy(make_ctx())
    assert [(f["resource"], "ClusterContainsTasksException" in f["error"]) for f in outcome["failed"]] == [
        ("ECS cluster", True)
    ], outcome
    outcome = destroy(make_ctx())
    assert outcome["failed"] == [], outcome
    [task] = tasks(status="STOPPED")
    assert task["stoppedReason"] == "ecsup destroy"
    assert client("ecs").describe_clusters(clusters=["web-dev"])["clusters"][0]["status"] == "INACTIVE"


# -- the last log lines ---------------------------------------------------------------------------
LAST = 'ERROR: relation "users" already exists'


def test_the_last_lines_reach_the_terminal_and_the_failure_message(stack, make_ctx, config_file):
    """awslogs delivers the migration's last lines after the task is STOPPED, and GetLogEvents
    answers empty pages while events remain: the error line a user needs is still printed, and
    kept in the before task's failure."""
    ui = Seen()
    failing = make_ctx(before(["sh", "-c", f"echo applying 0002; sleep 5; echo '{LAST}'; exit 1"]), ui=ui)
    with pytest.raises(BeforeFailed) as caught:
        deploy.deploy(failing, IMAGE_2)
    assert ui.lines == ["applying 0002", LAST]
    assert LAST in caught.value.message and "exited 1" in caught.value.message

    result = invoke("run", "-c", str(config_file), "--json", "--", "sh", "-c", "echo one; echo two; echo the end")
    assert result.exit_code == 0, explain(result)
    doc = json.loads(result.stdout)
    assert doc["last_lines"] == ["one", "two", "the end"]
    printed = [line for line in result.stderr.splitlines() if "started task" not in line]
    assert any(line.rstrip().endswith("the end") for line in printed), explain(result)


def test_the_emulation_delivers_late_and_pages_empty(stack, config_file, clock):
    """What the test above meets, as AWS does it: the stream lacks the last line when the task is
    STOPPED (it comes Delays.log_delivery after it was written), and a read that would return lines
    first answers an empty page with a new token (GetLogEvents' API reference)."""
    from ecsup import emulation

    result = invoke("run", "-c", str(config_file), "--detach", "--", "sh", "-c", "echo first; sleep 3; echo last")
    assert result.exit_code == 0, explain(result)
    task_id = result.stdout.strip()
    ecs = client("ecs")
    while ecs.describe_tasks(cluster="web-dev", tasks=[task_id])["tasks"][0]["lastStatus"] != "STOPPED":
        clock.sleep(0.5)
    assert stream_lines(f"ecs/web/{task_id}") == ["first"]
    clock.sleep(emulation.STRICT.log_delivery)
    assert stream_lines(f"ecs/web/{task_id}") == ["first", "last"]
    page = client("logs").get_log_events(
        logGroupName="/ecs/web-dev", logStreamName=f"ecs/web/{task_id}", startFromHead=True
    )
    assert page["events"] == [] and page["nextForwardToken"]


class Timed(Seen):
    """Seen, with the fake clock's time of each task event."""

    def __init__(self, clock: Any) -> None:
        super().__init__()
        self.clock = clock
        self.at: list[tuple[str, float]] = []

    def task_event(self, text: str) -> None:
        super().task_event(text)
        self.at.append((text, self.clock()))


def test_the_quiet_after_the_last_line_counts_from_the_container_stopping(stack, make_ctx, clock):
    """Nothing AWS reports says awslogs' last batch has arrived, so the stream is read until it stayed
    quiet for LOG_QUIET seconds after the container stopped -- counted from the container stopping,
    not from the task reaching STOPPED: a task that deprovisions longer than that (its network
    interface detached) is done at STOPPED after one last read, with every line; one whose container
    never started waits for nothing."""
    from dataclasses import replace

    from ecsup import emulation
    from ecsup import run as run_module

    em = emulation.ACTIVE
    assert em is not None
    # DEPROVISIONING lasts task_start / 10 = 8 s (> LOG_QUIET); lines arrive 0.5 s after written
    em.delays = replace(em.delays, task_start=80.0, log_delivery=0.5)
    ui = Timed(clock)
    result = run_module.run(make_ctx(ui=ui), ["sh", "-c", "echo one; echo the end"])
    ended = clock()
    assert result.exit_code == 0 and ui.lines == ["one", "the end"]
    stopped_at = next(t for text, t in ui.at if text.endswith(")") and ": STOPPED (" in text)
    assert ended - stopped_at < 1.0, (ended, stopped_at)  # no further LOG_QUIET after STOPPED
    deprovisioning_at = next(t for text, t in ui.at if ": DEPROVISIONING (" in text)
    assert stopped_at - deprovisioning_at >= context_module.LOG_QUIET  # the quiet was kept, before STOPPED
