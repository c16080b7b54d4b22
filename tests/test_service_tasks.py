"""A service's tasks on the strict layer as a newcomer meets them in the sandbox: they write log
lines (`ecsup logs` after `create` shows the service at work), an image ECS cannot pull fails a
deploy the way it fails `run` (CannotPullContainerError, stopped tasks, the circuit breaker's
rollback), and a rollback names the stopped tasks' reasons. Waits run on the fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import client, config_text, explain, invoke

from ecsup import deploy, engine
from ecsup.errors import EXIT_ROLLED_BACK

IMAGE_1 = "public.ecr.aws/nginx/nginx:stable"
UNPULLABLE = "public.ecr.aws/nope/unpullable:1"  # the emulation cannot pull it (as `run`'s tasks)
BROKEN = "public.ecr.aws/nginx/nginx:unhealthy"  # its tasks never pass the health checks


def running_image() -> str:
    ecs = client("ecs")
    svc = ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


def stopped(**filters: Any) -> list[dict[str, Any]]:
    ecs = client("ecs")
    arns = [
        arn
        for page in ecs.get_paginator("list_tasks").paginate(cluster="web-dev", desiredStatus="STOPPED", **filters)
        for arn in page["taskArns"]
    ]
    return list(ecs.describe_tasks(cluster="web-dev", tasks=arns)["tasks"]) if arns else []


# -- the service's tasks write log lines -------------------------------------------------------------
def test_logs_after_create_show_the_service_starting_and_its_health_checks(stack, config_file, clock):
    result = invoke("logs", "-c", str(config_file), "--since", "5m")
    assert result.exit_code == 0, explain(result)
    lines = result.stdout.splitlines()
    assert any(f"starting {IMAGE_1}" in line for line in lines), lines
    assert any("listening on 0.0.0.0:8080" in line for line in lines), lines
    checks = [line for line in lines if '"GET /health HTTP/1.1" 200' in line and "ELB-HealthChecker/2.0" in line]
    assert checks, lines  # the target group's health check path, answered
    # every line carries its task (the awslogs stream ecs/<container>/<task id>)
    task = client("ecs").list_tasks(cluster="web-dev", serviceName="web-dev")["taskArns"][0].split("/")[-1]
    assert all(line.startswith(f"[{task[:8]}]") for line in lines), lines

    clock.sleep(60)  # four health checks later (interval 15 s)
    again = invoke("logs", "-c", str(config_file), "--since", "5m").stdout.splitlines()
    assert len([line for line in again if "ELB-HealthChecker" in line]) == len(checks) + 4, again
    assert len([line for line in again if "starting " in line]) == 1  # started once


# -- an image ECS cannot pull ---------------------------------------------------------------------------
def test_deploying_an_unpullable_image_fails_like_run_and_is_rolled_back(stack, make_ctx):
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(), UNPULLABLE)
    assert err.value.exit_code == EXIT_ROLLED_BACK
    assert running_image() == IMAGE_1  # the circuit breaker rolled it back
    # its tasks stopped as run's do: TaskFailedToStart, CannotPullContainerError, no exit code
    failed = [t for t in stopped() if t["taskDefinitionArn"].endswith(":2")]
    assert len(failed) == 3, failed  # the breaker's threshold
    for task in failed:
        assert task["stopCode"] == "TaskFailedToStart" and task["group"] == "service:web-dev"
        assert task["stoppedReason"].startswith("CannotPullContainerError:") and UNPULLABLE in task["stoppedReason"]
        [container] = task["containers"]
        assert container["reason"] == task["stoppedReason"] and "exitCode" not in container
        assert task["startedBy"].startswith("ecs-svc/")
    # the message names the stopped tasks' reason, not only "tasks failed to start"
    message = err.value.message
    assert (
        f"stopped tasks: CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
        f"resolve ref {UNPULLABLE}: not found (3 tasks)" in message
    ), message
    assert err.value.result is not None and len(err.value.result.stopped_reasons) == 1
    assert "could not be pulled" in (err.value.hint or "")


def test_cli_deploy_of_an_unpullable_image_exits_9_with_the_pull_error(stack, config_file):
    import json

    result = invoke("deploy", "-c", str(config_file), "--image", UNPULLABLE, "--json")
    assert result.exit_code == EXIT_ROLLED_BACK, explain(result)
    doc = json.loads(result.stdout)
    assert doc["status"] == "ROLLBACK_SUCCESSFUL"
    assert doc["stopped_reasons"] and doc["stopped_reasons"][0].startswith("CannotPullContainerError:")
    assert "CannotPullContainerError" in result.stderr and "Traceback" not in result.output


def test_run_and_deploy_of_the_same_unpullable_image_agree(stack, config_file):
    ran = invoke("run", "-c", str(config_file), "--image", UNPULLABLE, "--", "migrate")
    deployed = invoke("deploy", "-c", str(config_file), "--image", UNPULLABLE)
    assert ran.exit_code != 0 and deployed.exit_code == EXIT_ROLLED_BACK, explain(deployed)
    assert "CannotPullContainerError" in ran.output and "CannotPullContainerError" in deployed.output


# -- a rollback names the stopped tasks' reasons ---------------------------------------------------------
def test_a_rollback_names_the_health_check_failures_of_the_deployments_tasks(stack, make_ctx):
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(), BROKEN)
    message = err.value.message
    assert "stopped tasks: Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:" in message
    assert "(3 tasks)" in message, message
    assert "health check" in (err.value.hint or "")
    # only the failed deployment's tasks: ListTasks by its startedBy (ecs-svc/<revision number>)
    result = err.value.result
    assert result is not None and result.deployment_arn
    dep = client("ecs").describe_service_deployments(serviceDeploymentArns=[result.deployment_arn])
    number = dep["serviceDeployments"][0]["targetServiceRevision"]["arn"].split("/")[-1]
    assert {t["startedBy"] for t in stopped(startedBy=f"ecs-svc/{number}")} == {f"ecs-svc/{number}"}


def test_a_rollback_reads_every_page_of_stopped_tasks(stack, make_ctx, monkeypatch):
    from ecsup.emulation import tasks

    monkeypatch.setattr(tasks, "LIST_TASKS_PAGE", 1)  # ECS answers pages of one task
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(), BROKEN)
    assert "(3 tasks)" in err.value.message, err.value.message  # all three pages were read
    assert stack.calls.count(("ecs", "ListTasks")) >= 3


def test_the_emulation_pages_list_tasks(stack, make_ctx):
    with pytest.raises(deploy.RolledBack):
        deploy.deploy(make_ctx(), UNPULLABLE)
    ecs = client("ecs")
    first = ecs.list_tasks(cluster="web-dev", desiredStatus="STOPPED", maxResults=2)
    assert len(first["taskArns"]) == 2 and first["nextToken"]
    rest = ecs.list_tasks(cluster="web-dev", desiredStatus="STOPPED", maxResults=2, nextToken=first["nextToken"])
    assert len(rest["taskArns"]) == 1 and "nextToken" not in rest


def test_create_with_an_unpullable_image_says_the_image_could_not_be_pulled(aws, make_ctx):
    from ecsup.errors import EcsupError

    with pytest.raises(EcsupError) as err:
        engine.create(make_ctx(config_text(replace={f'image = "{IMAGE_1}"': f'image = "{UNPULLABLE}"'})))
    assert "CannotPullContainerError" in err.value.message, err.value.message
    assert "could not be pulled" in (err.value.hint or ""), err.value.hint
