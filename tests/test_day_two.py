"""Day two on the strict layer: a deploy that never ships an image nobody named (and
infrastructure that never rolls a deploy back), `deploy --watch`, and the commands for a
running stack -- `secrets`, `scale`, `restart`. Each asserts what AWS holds afterwards, what was
printed and the exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Recorder, client, config_text
from typer.testing import CliRunner

from ecsup import deploy, engine
from ecsup.cli import app
from ecsup.errors import EXIT_CONFIG, EXIT_LOCKED, EXIT_REFUSED

IMAGE_1 = "public.ecr.aws/nginx/nginx:stable"  # service.image in ecsup.toml
IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"


def service() -> dict[str, Any]:
    found = client("ecs").describe_services(cluster="web-dev", services=["web-dev"], include=["TAGS"])["services"]
    return dict(found[0])


def running_image() -> str:
    td = client("ecs").describe_task_definition(taskDefinition=service()["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


def revision() -> str:
    return str(service()["taskDefinition"]).split("/")[-1]


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


@pytest.fixture
def stack(aws: Recorder, make_ctx: Any) -> Recorder:
    engine.create(make_ctx())
    aws.reset()
    return aws


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    return path


@pytest.fixture
def deployed(stack: Recorder, make_ctx: Any) -> Recorder:
    """The stack after `deploy --image IMAGE_2`: ecsup.toml's service.image is now the older one."""
    deploy.deploy(make_ctx(), IMAGE_2)
    assert running_image() == IMAGE_2
    stack.reset()
    return stack


# -- deploy never ships an image nobody named ---------------------------------------------------
def test_deploy_without_image_and_without_a_terminal_refuses_and_changes_nothing(deployed, config_file):
    result = run("deploy", "-c", str(config_file))
    assert result.exit_code == EXIT_REFUSED, result.output
    assert f"refusing to replace the running image {IMAGE_2} with service.image {IMAGE_1}" in result.stderr
    assert f"ecsup deploy --image {IMAGE_1}" in result.stderr and "ecsup deploy --watch" in result.stderr
    assert "Traceback" not in result.output
    assert deployed.mutating() == []  # not even the lock
    assert running_image() == IMAGE_2 and revision() == "web-dev:2"


def test_deploy_without_image_asks_and_ships_service_image_only_on_yes(deployed, make_ctx):
    questions: list[str] = []

    def no(question: str) -> bool:
        questions.append(question)
        return False

    with pytest.raises(deploy.NotNamed):
        deploy.deploy(make_ctx(), None, confirm=no)
    assert running_image() == IMAGE_2 and deployed.mutating() == []
    assert questions and IMAGE_2 in questions[0] and IMAGE_1 in questions[0], questions
    result = deploy.deploy(make_ctx(), None, confirm=lambda q: True)
    assert result.status == "SUCCESSFUL" and (result.image_before, result.image_after) == (IMAGE_2, IMAGE_1)
    assert running_image() == IMAGE_1 and revision() == "web-dev:3"


def test_deploy_says_what_it_replaces(stack, config_file):
    result = run("deploy", "-c", str(config_file), "--image", IMAGE_2)
    assert result.exit_code == 0, result.output
    assert f"deploying {IMAGE_2} as web-dev:2, replacing {IMAGE_1}" in result.stdout
    # service.image runs already: nothing to ask, nothing to do
    result = run("deploy", "-c", str(config_file), "--image", IMAGE_1)
    assert result.exit_code == 0
    result = run("deploy", "-c", str(config_file))
    assert result.exit_code == 0, result.output
    assert f"already runs {IMAGE_1}: nothing to deploy" in result.stdout


def test_deploy_watch_follows_the_deployment_in_progress_and_ships_nothing(stack, config_file):
    result = run("deploy", "-c", str(config_file), "--watch", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "NONE" and doc["image_after"] == IMAGE_1
    assert "no deployment in progress: web-dev:1 runs" in doc["message"]
    started = run("deploy", "-c", str(config_file), "--image", IMAGE_2, "--no-wait")
    assert started.exit_code == 0, started.output
    # a deploy without --image while one is in progress: never attaches silently, says how to watch
    busy = run("deploy", "-c", str(config_file))
    assert busy.exit_code == EXIT_LOCKED and "ecsup deploy --watch" in busy.stderr, busy.output
    stack.reset()
    result = run("deploy", "-c", str(config_file), "--watch")
    assert result.exit_code == 0, result.output
    assert "attached to the deployment in progress" in result.stdout
    assert "deployed: web-dev:2" in result.stdout and running_image() == IMAGE_2
    assert ("ecs", "RegisterTaskDefinition") not in stack.calls and ("ecs", "UpdateService") not in stack.calls
    both = run("deploy", "-c", str(config_file), "--watch", "--image", IMAGE_2)
    assert both.exit_code == EXIT_CONFIG and "--watch" in both.stderr


# -- infrastructure never reverts a deploy ------------------------------------------------------
def plan_of(make_ctx: Any, text: str) -> Any:
    ctx = make_ctx(text)
    ctx.mode = "plan"
    return engine.make_plan(ctx)


def test_create_keeps_the_deployed_image_and_says_so(deployed, make_ctx):
    outcome = plan_of(make_ctx, config_text())
    assert outcome.changes() == []
    assert any(f"runs {IMAGE_2}" in n and "kept" in n for n in outcome.notes), outcome.notes
    engine.create(make_ctx())
    assert running_image() == IMAGE_2 and deployed.writes() == []


def test_a_config_change_that_registers_a_revision_keeps_the_live_image(deployed, make_ctx):
    text = config_text(replace={"memory = 1024": "memory = 2048"})
    engine.create(make_ctx(text))
    td = client("ecs").describe_task_definition(taskDefinition=service()["taskDefinition"])["taskDefinition"]
    assert td["memory"] == "2048" and revision() == "web-dev:3"
    assert running_image() == IMAGE_2


def test_create_after_the_image_tag_was_removed_keeps_the_live_image(deployed, make_ctx):
    """Drift: someone removed the service's ecsup:image tag, so what create applied last is not
    known -- the running image stays (and the tag is written back)."""
    client("ecs").untag_resource(resourceArn=service()["serviceArn"], tagKeys=["ecsup:image"])
    outcome = plan_of(make_ctx, config_text())
    assert any(f"runs {IMAGE_2}" in n and "kept" in n for n in outcome.notes), outcome.notes
    engine.create(make_ctx())
    assert running_image() == IMAGE_2
    assert {t["key"]: t["value"] for t in service()["tags"]}["ecsup:image"] == IMAGE_1


def test_a_move_onto_a_shared_load_balancer_keeps_the_live_image(deployed, make_ctx):
    from test_shared_lb import web

    engine.create(make_ctx(web()))
    assert running_image() == IMAGE_2


def test_an_edited_service_image_is_deployed_by_create_and_the_plan_says_what_it_replaces(deployed, make_ctx):
    text = config_text(replace={IMAGE_1: "public.ecr.aws/nginx/nginx:1.28"})
    outcome = plan_of(make_ctx, text)
    assert any(f"runs {IMAGE_2}" in n and "create deploys public.ecr.aws/nginx/nginx:1.28" in n for n in outcome.notes)
    engine.create(make_ctx(text))
    assert running_image() == "public.ecr.aws/nginx/nginx:1.28"
