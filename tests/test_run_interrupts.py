"""A one-off task (`ecsup run`, the [service.deploy] before task) is never left running unwatched,
whenever the interrupt (Ctrl-C, SIGTERM) comes: before RunTask is sent, while its answer is in
flight (botocore's before-parse: the task exists in ECS), in the retry around it, while it is
watched; and a before task keeps the stack locked until it is stopped."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from conftest import Recorder, client, config_text, explain, fail_first, invoke

from ecsup import context as context_module
from ecsup import deploy
from ecsup.errors import EXIT_INTERRUPTED
from ecsup.lock import LockHeld
from ecsup.run import TOKEN_TAG, Interrupted

IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"
IMAGE_3 = "public.ecr.aws/nginx/nginx:1.28"
LOCK = "/ecsup/web-dev/lock"


def before(command: list[str]) -> str:
    return config_text(f"\n[service.deploy]\nbefore = {json.dumps(command)}\n")


def all_tasks(status: str) -> list[dict[str, Any]]:
    ecs = client("ecs")
    arns = [
        arn
        for started_by in ("ecsup-run", "ecsup-before")
        for arn in ecs.list_tasks(cluster="web-dev", desiredStatus=status, startedBy=started_by)["taskArns"]
    ]
    return list(ecs.describe_tasks(cluster="web-dev", tasks=arns, include=["TAGS"])["tasks"]) if arns else []


def lock_value() -> dict[str, Any] | None:
    try:
        return dict(json.loads(client("ssm").get_parameter(Name=LOCK)["Parameter"]["Value"]))
    except client("ssm").exceptions.ParameterNotFound:
        return None


def on_event(
    monkeypatch: pytest.MonkeyPatch, recorder: Recorder, event: str, action: Callable[[], None], times: int = 1
) -> None:
    """Call ``action`` from a botocore handler of ``event`` (e.g. before-parse.ecs.RunTask: the
    request reached AWS -- moto -- and its answer is not read yet), the first ``times`` times."""
    left = {"n": times}

    def handler(**kwargs: Any) -> None:
        if left["n"] > 0:
            left["n"] -= 1
            action()

    def hook(session: Any) -> None:
        session.events.register(event, handler)

    monkeypatch.setattr(context_module, "SESSION_HOOKS", [recorder.hook, hook])


def ctrl_c() -> None:
    raise KeyboardInterrupt


def not_listed_at_first(times: int = 1) -> Callable[[str, str, dict[str, Any]], Any]:
    """ListTasks right after RunTask may not show the new task yet (the ECS API is eventually
    consistent: RunTask's API reference)."""
    left = {"n": times}

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        if (service, operation) == ("ecs", "ListTasks") and left["n"] > 0:
            left["n"] -= 1
            return AWSResponse("https://injected.invalid", 200, {}, None), {"taskArns": []}
        return None

    return inject


def interrupt_sleep_once(clock: Any, after: float = 0.0) -> Callable[[float], None]:
    state = {"done": False}

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if not state["done"] and clock.now > after:
            state["done"] = True
            raise KeyboardInterrupt

    return sleep


# -- ecsup run: an interrupt at each moment -------------------------------------------------------
def test_run_interrupted_at_each_moment_leaves_no_task_running(stack, config_file, clock, monkeypatch):
    # 1. before RunTask is sent: nothing to stop, and nothing started
    stack.injectors.append(lambda s, op, p: ctrl_c() if (s, op) == ("ecs", "RunTask") else None)
    result = invoke("run", "-c", str(config_file), "--", "sh", "-c", "sleep 600")
    assert result.exit_code == EXIT_INTERRUPTED, explain(result)
    assert "before RunTask was sent: no task was started" in result.stderr
    assert all_tasks("RUNNING") == [] and all_tasks("STOPPED") == []
    stack.injectors.clear()

    # 2. while RunTask's answer is in flight: the task exists in ECS (PROVISIONING) but ecsup never
    # saw its ARN; it is found by the token it was tagged with (not listed at first) and stopped
    stack.injectors.append(not_listed_at_first())
    on_event(monkeypatch, stack, "before-parse.ecs.RunTask", ctrl_c)
    result = invoke("run", "-c", str(config_file), "--", "sh", "-c", "sleep 600")
    assert result.exit_code == EXIT_INTERRUPTED, explain(result)
    assert all_tasks("RUNNING") == []
    [task] = all_tasks("STOPPED")
    task_id = task["taskArn"].split("/")[-1]
    assert task["stopCode"] == "UserInitiated" and "interrupted (Ctrl-C)" in task["stoppedReason"]
    assert any(t["key"] == TOKEN_TAG for t in task["tags"])
    assert "while RunTask was in flight" in result.stdout
    assert f"task {task_id} was stopped (StopTask; it is STOPPED)" in result.stderr
    assert "Traceback" not in result.output
    stack.injectors.clear()

    # 3. in the retry around RunTask: an answer ECS gives while a new role settles, then the
    # interrupt while waiting to retry -- nothing was started; and one in the retried call's flight
    stack.reset()
    monkeypatch.setattr(context_module, "SESSION_HOOKS", [stack.hook])
    settling = "ECS was unable to assume the role 'arn:aws:iam::123456789012:role/web-dev-execution'"
    stack.injectors.append(fail_first("ecs", "RunTask", "InvalidParameterException", 1, settling))
    monkeypatch.setattr(context_module.CLOCK, "sleep", interrupt_sleep_once(clock))
    result = invoke("run", "-c", str(config_file), "--", "sh", "-c", "sleep 600")
    assert result.exit_code == EXIT_INTERRUPTED, explain(result)
    assert "before RunTask was sent: no task was started" in result.stderr
    assert [c for c in stack.calls if c == ("ecs", "RunTask")] == [("ecs", "RunTask")]
    assert all_tasks("RUNNING") == [] and len(all_tasks("STOPPED")) == 1  # the one of 2.
    monkeypatch.setattr(context_module.CLOCK, "sleep", clock.sleep)
    stack.injectors[:] = [fail_first("ecs", "RunTask", "InvalidParameterException", 1, settling)]
    on_event(monkeypatch, stack, "before-parse.ecs.RunTask", ctrl_c, times=2)  # the failed call's too
    result = invoke("run", "-c", str(config_file), "--", "sh", "-c", "sleep 600")
    assert result.exit_code == EXIT_INTERRUPTED, explain(result)
    assert all_tasks("RUNNING") == [] and len(all_tasks("STOPPED")) == 2
    assert "was stopped (StopTask; it is STOPPED)" in result.stderr
    stack.injectors.clear()
    monkeypatch.setattr(context_module, "SESSION_HOOKS", [stack.hook])

    # 4. while the task is watched
    monkeypatch.setattr(context_module.CLOCK, "sleep", interrupt_sleep_once(clock, after=clock.now + 60))
    result = invoke("run", "-c", str(config_file), "--", "sh", "-c", "echo working; sleep 600")
    assert result.exit_code == EXIT_INTERRUPTED, explain(result)
    assert "working" in result.stdout and "was stopped (StopTask; it is STOPPED)" in result.stderr
    assert all_tasks("RUNNING") == [] and len(all_tasks("STOPPED")) == 3
    # while the last log lines are read, after STOPPED: nothing to stop
    monkeypatch.setattr(context_module.CLOCK, "sleep", interrupt_sleep_once(clock, after=clock.now + 40))
    result = invoke("run", "-c", str(config_file), "--", "sh", "-c", "sleep 15; echo done")
    assert result.exit_code == EXIT_INTERRUPTED, explain(result)
    assert "had already stopped" in result.stderr
    monkeypatch.setattr(context_module.CLOCK, "sleep", clock.sleep)
    stopped = all_tasks("STOPPED")
    assert len(stopped) == 4 and sum(t["stopCode"] == "EssentialContainerExited" for t in stopped) == 1
    # ListTasks pages as AWS does (at most maxResults, 100 by default): the look-up follows nextToken
    ecs = client("ecs")
    query = {"cluster": "web-dev", "desiredStatus": "STOPPED", "startedBy": "ecsup-run"}
    first = ecs.list_tasks(**query, maxResults=2)
    rest = ecs.list_tasks(**query, nextToken=first["nextToken"])
    assert len(first["taskArns"]) == 2 and len(rest["taskArns"]) == 2 and "nextToken" not in rest


def test_sigterm_is_handled_as_ctrl_c(stack, config_file, monkeypatch):
    """CI cancelling a job sends SIGTERM: the task RunTask was starting is stopped, exit 130."""
    on_event(monkeypatch, stack, "before-parse.ecs.RunTask", lambda: os.kill(os.getpid(), signal.SIGTERM))
    before_handler = signal.getsignal(signal.SIGTERM)
    result = invoke("run", "-c", str(config_file), "--", "sh", "-c", "sleep 600")
    assert result.exit_code == EXIT_INTERRUPTED, explain(result)
    assert "(SIGTERM)" in result.stderr and "was stopped" in result.stderr
    assert all_tasks("RUNNING") == []
    [task] = all_tasks("STOPPED")
    assert "interrupted (SIGTERM)" in task["stoppedReason"]
    assert signal.getsignal(signal.SIGTERM) == before_handler  # the CLI's handler is gone after it


# -- the before task: the stack's lock until the task is settled ---------------------------------
def test_an_interrupted_before_task_is_stopped_before_the_lock_is_released(stack, make_ctx, monkeypatch):
    live = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]["taskDefinition"]
    released_with: list[list[dict[str, Any]]] = []

    def lock_released(service: str, operation: str, params: dict[str, Any]) -> None:
        if (service, operation) == ("ssm", "DeleteParameter") and params.get("Name") == LOCK:
            released_with.append(all_tasks("RUNNING"))

    stack.injectors.append(lock_released)
    on_event(monkeypatch, stack, "before-parse.ecs.RunTask", ctrl_c)
    with pytest.raises(Interrupted) as caught:
        deploy.deploy(make_ctx(before(["sh", "-c", "sleep 600"])), IMAGE_2)
    assert caught.value.exit_code == EXIT_INTERRUPTED
    assert "was stopped" in caught.value.message and "was not rolled out" in caught.value.message
    assert released_with == [[]]  # the lock was released once the task was no longer running
    assert all_tasks("RUNNING") == [] and lock_value() is None
    assert ("ecs", "UpdateService") not in stack.calls
    svc = client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    assert svc["taskDefinition"] == live


def test_a_before_task_that_cannot_be_stopped_keeps_the_stack_locked(stack, make_ctx, monkeypatch, clock):
    """StopTask refused: the output names the task and the command that stops it, and the stack
    stays locked -- the next deploy cannot start a second migration beside it -- until it stopped."""
    stack.injectors.append(fail_first("ecs", "StopTask", "AccessDeniedException", 1, "not authorized"))
    on_event(monkeypatch, stack, "before-parse.ecs.RunTask", ctrl_c)
    config = before(["sh", "-c", "echo migrating; sleep 600"])
    with pytest.raises(Interrupted) as caught:
        deploy.deploy(make_ctx(config), IMAGE_2)
    [task] = all_tasks("RUNNING")
    task_id = task["taskArn"].split("/")[-1]
    assert f"task {task_id} may still be running" in caught.value.message
    hint = caught.value.hint or ""
    assert f"aws ecs stop-task --cluster web-dev --task {task_id} --region eu-west-1" in hint
    assert "stays locked until it has stopped" in hint
    assert (lock_value() or {}).get("left") == {"task": task["taskArn"]}

    stack.reset()
    with pytest.raises(LockHeld) as held:
        deploy.deploy(make_ctx(config), IMAGE_2)
    assert task_id in held.value.message and "aws ecs stop-task" in held.value.message
    assert ("ecs", "RunTask") not in stack.calls  # no second migration
    assert len(all_tasks("RUNNING")) == 1

    client("ecs").stop_task(cluster="web-dev", task=task["taskArn"], reason="stopped by hand")
    clock.sleep(10)
    result = deploy.deploy(make_ctx(before(["sh", "-c", "echo migrated"])), IMAGE_2)
    assert result.status == "SUCCESSFUL"
    assert lock_value() is None

    # RunTask in flight, and its task never listed while ecsup looked: the lock names the token
    # the task was tagged with, and the next run finds it by that token
    stack.injectors[:] = [not_listed_at_first(times=1000)]
    on_event(monkeypatch, stack, "before-parse.ecs.RunTask", ctrl_c)
    with pytest.raises(Interrupted) as caught:
        deploy.deploy(make_ctx(config), IMAGE_3)
    assert "ECS lists no task of this run after 20 s" in caught.value.message
    assert "aws ecs list-tasks --cluster web-dev --started-by ecsup-before" in (caught.value.hint or "")
    [task] = all_tasks("RUNNING")  # (it was there: ListTasks did not show it)
    token = next(t["value"] for t in task["tags"] if t["key"] == TOKEN_TAG)
    assert (lock_value() or {}).get("left") == {"token": token, "purpose": "before"}
    assert token in (caught.value.hint or "")
    stack.injectors.clear()
    with pytest.raises(LockHeld) as held:
        deploy.deploy(make_ctx(config), IMAGE_3)
    assert task["taskArn"].split("/")[-1] in held.value.message
