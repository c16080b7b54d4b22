"""Day two on the strict layer: a deploy that never ships an image nobody named (and
infrastructure that never rolls a deploy back), `deploy --watch`, and the commands for a
running stack -- `secrets`, `scale`, `restart`. Each asserts what AWS holds afterwards, what was
printed and the exit code."""

from __future__ import annotations

import json
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


# -- secrets ----------------------------------------------------------------------------------
PARAM = "/web/dev/DB_PASSWORD"
NEW_VALUE = "n3w-Secr3t-value-42"


def parameter() -> dict[str, Any]:
    ssm = client("ssm")
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [PARAM]}])
    return dict(found["Parameters"][0]) if found["Parameters"] else {}


def stored_value() -> str:
    return str(client("ssm").get_parameter(Name=PARAM, WithDecryption=True)["Parameter"]["Value"])


def tags_of(name: str) -> dict[str, str]:
    tags = client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    return {t["Key"]: t["Value"] for t in tags}


def test_secrets_set_from_stdin_writes_a_new_version_with_the_same_key_and_tags(stack, config_file):
    before, tags = parameter(), tags_of(PARAM)
    result = run("secrets", "set", "DB_PASSWORD", "-c", str(config_file), stdin=NEW_VALUE + "\n")
    assert result.exit_code == 0, result.output
    after = parameter()
    assert stored_value() == NEW_VALUE  # the trailing newline of `echo` is not part of it
    assert after["Version"] == before["Version"] + 1 and after["Type"] == "SecureString"
    assert after["KeyId"] == before["KeyId"] and tags_of(PARAM) == tags
    assert f"updated {PARAM} (DB_PASSWORD): version 1 -> version 2" in result.stdout
    # the running task still holds the old value: said, with the way to replace it
    assert "running task(s) still hold the previous value" in result.stdout and "ecsup restart" in result.stdout
    assert NEW_VALUE not in result.output
    assert ("ssm", "PutParameter") in stack.calls and ("ecs", "UpdateService") not in stack.calls


def test_secrets_set_from_the_environment_and_restart_replaces_the_tasks(stack, config_file):
    deployments_before = len(
        client("ecs").list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
    )
    result = run(
        "secrets",
        "set",
        "DB_PASSWORD",
        "-c",
        str(config_file),
        "--restart",
        "--json",
        env={"ECSUP_SECRET_DB_PASSWORD": NEW_VALUE},
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["secret"]["version"] == 2 and doc["secret"]["action"] == "updated"
    assert doc["restart"]["status"] == "SUCCESSFUL" and doc["restart"]["revision_after"] == "web-dev:1"
    assert stored_value() == NEW_VALUE and NEW_VALUE not in result.output
    briefs = client("ecs").list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
    assert len(briefs) == deployments_before + 1 and revision() == "web-dev:1"


def test_status_shows_a_secret_changed_after_the_tasks_started_until_a_restart(stack, config_file):
    assert run("status", "-c", str(config_file)).exit_code == 0
    assert run("secrets", "set", "DB_PASSWORD", "-c", str(config_file), stdin=NEW_VALUE).exit_code == 0
    status = run("status", "-c", str(config_file), "--json")
    assert status.exit_code == 6, status.output
    doc = json.loads(status.stdout)
    assert doc["service"]["secrets_changed_after_tasks_started"] == ["DB_PASSWORD"]
    [row] = [r for r in doc["resources"] if r["resource"] == "secret" and r["state"] == "PENDING"]
    assert "after the running tasks started" in row["detail"] and "ecsup restart" in row["detail"]
    listed = run("secrets", "list", "-c", str(config_file))
    assert listed.exit_code == 0 and "version 2" in listed.stdout and "after the running tasks started" in listed.stdout
    restarted = run("restart", "-c", str(config_file))
    assert restarted.exit_code == 0, restarted.output
    status = run("status", "-c", str(config_file), "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["service"]["secrets_changed_after_tasks_started"] == []


def test_secrets_list_never_prints_values(stack, config_file):
    from conftest import SECRET_VALUE

    result = run("secrets", "list", "-c", str(config_file), "--json")
    assert result.exit_code == 0, result.output
    [secret] = json.loads(result.stdout)["secrets"]
    assert secret["name"] == "DB_PASSWORD" and secret["parameter"] == PARAM and secret["version"] == 1
    assert secret["type"] == "SecureString" and secret["last_changed"] and secret["newer_than_tasks"] is False
    assert SECRET_VALUE not in result.output
    assert stack.mutating() == []


def test_secrets_set_refuses_a_name_not_configured_and_a_missing_value(stack, config_file):
    result = run("secrets", "set", "API_KEY", "-c", str(config_file), stdin="x" * 12)
    assert result.exit_code == EXIT_CONFIG and "API_KEY is not a secret of web-dev" in result.stderr
    assert "DB_PASSWORD" in result.stderr
    result = run("secrets", "set", "DB_PASSWORD", "-c", str(config_file))  # empty stdin, no variable
    assert result.exit_code == EXIT_CONFIG and "no value for DB_PASSWORD" in result.stderr
    assert "ECSUP_SECRET_DB_PASSWORD" in result.stderr and "Traceback" not in result.output
    assert stack.mutating() == [] and parameter()["Version"] == 1


def test_secrets_unset_says_what_to_remove_and_purge_deletes_only_when_confirmed(stack, config_file):
    result = run("secrets", "unset", "DB_PASSWORD", "-c", str(config_file))
    assert result.exit_code == 0, result.output
    assert f'remove `DB_PASSWORD = "{PARAM}"` from [service.secrets]' in result.stdout
    assert "--purge" in result.stdout and parameter() and stack.mutating() == []
    refused = run("secrets", "unset", "DB_PASSWORD", "-c", str(config_file), "--purge")
    assert refused.exit_code == EXIT_REFUSED and "--yes" in refused.stderr, refused.output
    assert parameter() and stack.mutating() == []
    deleted = run("secrets", "unset", "DB_PASSWORD", "-c", str(config_file), "--purge", "--yes", "--json")
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(deleted.stdout)["action"] == "deleted" and parameter() == {}


def test_secrets_unset_purge_leaves_a_parameter_ecsup_did_not_create(aws, make_ctx, config_file):
    client("ssm").put_parameter(Name=PARAM, Value="theirs-1234", Type="SecureString")
    engine.create(make_ctx())
    result = run("secrets", "unset", "DB_PASSWORD", "-c", str(config_file), "--purge", "--yes")
    assert result.exit_code == 4 and "not created by ecsup" in result.stderr, result.output
    assert parameter()


# -- scale ------------------------------------------------------------------------------------
def test_scale_count_is_a_live_change_kept_by_create_and_shown_by_status(stack, make_ctx, config_file):
    result = run("scale", "-c", str(config_file), "--count", "3")
    assert result.exit_code == 0, result.output
    assert "changed desired count 1 -> 3" in result.stdout and "desired_count = 1" in result.stdout
    assert service()["desiredCount"] == 3
    engine.create(make_ctx())
    assert service()["desiredCount"] == 3  # create keeps the live count while the file says 1
    status = run("status", "-c", str(config_file), "--json")
    rows = [r for r in json.loads(status.stdout)["resources"] if r["resource"] == "scale"]
    assert rows and "desired count 3 set on the live service; ecsup.toml says 1" in rows[0]["detail"]
    assert json.loads(status.stdout)["service"]["desired_in_config"] == 1
    again = run("scale", "-c", str(config_file), "--count", "3", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["changes"] == []


SCALING = "\n[service.autoscaling]\nmin = 1\nmax = 4\ncpu_target = 60\n"


def scalable() -> tuple[int, int]:
    [target] = client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=["service/web-dev/web-dev"]
    )["ScalableTargets"]
    return target["MinCapacity"], target["MaxCapacity"]


def test_scale_min_max_changes_auto_scaling_and_create_keeps_it(aws, make_ctx, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(SCALING))
    engine.create(make_ctx(config_text(SCALING)))
    aws.reset()
    outside = run("scale", "-c", str(path), "--count", "9")
    assert outside.exit_code == EXIT_CONFIG and "outside auto scaling's range 1 to 4" in outside.stderr
    assert aws.mutating() == []
    result = run("scale", "-c", str(path), "--min", "2", "--max", "8", "--count", "5", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["min_after"], doc["max_after"], doc["desired_after"]) == (2, 8, 5)
    assert scalable() == (2, 8) and service()["desiredCount"] == 5
    ctx = make_ctx(config_text(SCALING))
    engine.create(ctx)
    assert scalable() == (2, 8) and service()["desiredCount"] == 5  # kept
    assert any("auto scaling's range 2 to 8 was changed on the live service" in n for n in ctx.notes)
    # a change of the file is applied
    engine.create(make_ctx(config_text(SCALING.replace("max = 4", "max = 6"))))
    assert scalable() == (1, 6)


def test_scale_min_max_without_auto_scaling_is_a_usage_error(stack, config_file):
    result = run("scale", "-c", str(config_file), "--min", "2")
    assert result.exit_code == EXIT_CONFIG and "[service.autoscaling]" in result.stderr, result.output
    nothing = run("scale", "-c", str(config_file))
    assert nothing.exit_code == EXIT_CONFIG and "--count" in nothing.stderr
    assert stack.mutating() == []


def test_day_two_commands_take_the_stack_lock(stack, config_file):
    held = {"host": "ci-runner-7", "pid": 4242, "command": "create", "run": "someone", "since": "2026-12-07T10:00:00Z"}
    client("ssm").put_parameter(Name="/ecsup/web-dev/lock", Value=json.dumps(held), Type="String")
    stack.reset()
    for args in (("scale", "--count", "2"), ("restart",), ("secrets", "set", "DB_PASSWORD")):
        result = run(*args, "-c", str(config_file), stdin=NEW_VALUE)
        assert result.exit_code == EXIT_LOCKED and "ci-runner-7" in result.stderr, (args, result.output)
    assert service()["desiredCount"] == 1 and parameter()["Version"] == 1
    assert [c for c in stack.mutating() if c != ("ssm", "PutParameter")] == []


# -- restart ----------------------------------------------------------------------------------
def test_restart_replaces_every_task_with_a_deployment_of_the_same_revision(stack, config_file):
    from ecsup.emulation import tasks as emulated_tasks  # noqa: F401  (the service's tasks are listed)

    def task_ids() -> set[str]:
        arns = client("ecs").list_tasks(cluster="web-dev", serviceName="web-dev")["taskArns"]
        return {a.split("/")[-1] for a in arns}

    before = task_ids()
    assert before
    result = run("restart", "-c", str(config_file))
    assert result.exit_code == 0, result.output
    assert f"restarting web-dev:1 ({IMAGE_1}): 1 task(s) replaced through a new BLUE_GREEN deployment" in result.stdout
    assert "restarted: web-dev:1" in result.stdout
    after = task_ids()
    assert after and not after & before and revision() == "web-dev:1" and running_image() == IMAGE_1
    assert ("ecs", "RegisterTaskDefinition") not in stack.calls


def test_restart_while_a_deployment_is_in_progress_is_refused(stack, config_file):
    assert run("deploy", "-c", str(config_file), "--image", IMAGE_2, "--no-wait").exit_code == 0
    result = run("restart", "-c", str(config_file), "--json")
    assert result.exit_code == EXIT_LOCKED and "ecsup deploy --watch" in result.stderr, result.output


def test_secrets_set_keeps_a_customer_managed_key(aws, make_ctx, tmp_path):
    """AWS encrypts an overwritten SecureString with alias/aws/ssm unless the key is given again
    (the strict layer does too): `set` gives the parameter's own key."""
    key = client("kms").create_key(Description="app secrets")["KeyMetadata"]
    text = config_text(replace={"health_check_path": f'secrets_kms_key = "{key["KeyId"]}"\nhealth_check_path'})
    engine.create(make_ctx(text))
    path = tmp_path / "ecsup.toml"
    path.write_text(text)
    before = parameter()["KeyId"]
    assert before != "alias/aws/ssm"
    result = run("secrets", "set", "DB_PASSWORD", "-c", str(path), stdin=NEW_VALUE)
    assert result.exit_code == 0, result.output
    assert parameter()["KeyId"] == before and parameter()["Version"] == 2 and stored_value() == NEW_VALUE


def test_the_strict_layer_encrypts_an_overwrite_without_a_key_with_the_default_key(aws):
    ssm = client("ssm")
    key = client("kms").create_key()["KeyMetadata"]["KeyId"]
    ssm.put_parameter(Name="/x/y", Value="first-value", Type="SecureString", KeyId=key)
    ssm.put_parameter(Name="/x/y", Value="second-value", Type="SecureString", Overwrite=True)
    [found] = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["/x/y"]}])["Parameters"]
    assert found["KeyId"] == "alias/aws/ssm"


def test_a_service_deleted_by_hand_is_created_again_and_the_note_names_the_last_image(deployed, make_ctx, clock):
    client("ecs").delete_service(cluster="web-dev", service="web-dev", force=True)
    clock.sleep(3600)  # past DRAINING: the service is gone, its revisions stay
    outcome = plan_of(make_ctx, config_text())
    assert any(
        "does not exist: it is created with service.image" in n
        and f"web-dev:2, ran {IMAGE_2}" in n
        and f"ecsup deploy --image {IMAGE_2}" in n
        for n in outcome.notes
    ), outcome.notes


def test_cli_deploy_without_image_ships_service_image_once_confirmed(deployed, config_file, monkeypatch):
    import ecsup.cli

    asked: list[str] = []
    monkeypatch.setattr(ecsup.cli, "_ask", lambda q: asked.append(q) or True)  # a terminal that says yes
    result = run("deploy", "-c", str(config_file))
    assert result.exit_code == 0, result.output
    assert asked and f"runs {IMAGE_2}" in asked[0] and IMAGE_1 in asked[0]
    assert f"deploying {IMAGE_1} as web-dev:3, replacing {IMAGE_2}" in result.stdout
    assert running_image() == IMAGE_1


# -- what a review of the day-two commands found ------------------------------------------------
def test_secrets_set_refuses_a_piped_value_beside_the_exported_variable(stack, config_file):
    """`export ECSUP_SECRET_DB_PASSWORD=...` is how a first `create` takes the value, and it stays
    exported: a value piped afterwards must not lose silently to it."""
    from conftest import SECRET_VALUE

    env = {"ECSUP_SECRET_DB_PASSWORD": "old-value-from-create"}
    result = run("secrets", "set", "DB_PASSWORD", "-c", str(config_file), env=env, stdin=NEW_VALUE)
    assert result.exit_code == EXIT_CONFIG, result.output
    err = " ".join(result.stderr.split())
    assert "a value is piped on stdin and ECSUP_SECRET_DB_PASSWORD is set too" in err
    assert "unset ECSUP_SECRET_DB_PASSWORD" in err and "< /dev/null" in err
    assert NEW_VALUE not in result.output and "old-value-from-create" not in result.output
    assert stored_value() == SECRET_VALUE and parameter()["Version"] == 1 and stack.mutating() == []
    # nothing on stdin: the variable is the value
    result = run("secrets", "set", "DB_PASSWORD", "-c", str(config_file), env=env)
    assert result.exit_code == 0, result.output
    assert stored_value() == "old-value-from-create" and parameter()["Version"] == 2


def test_stdin_is_a_given_value_only_when_something_is_piped_or_redirected(tmp_path, monkeypatch):
    """On real file descriptors: a pipe counts without being read (it may be a CI runner's own
    stdin), /dev/null and an empty file do not, a file with data does."""
    import os
    import sys

    from ecsup.cli import _stdin_piped

    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"value\n")
    os.close(write_fd)
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.write_text("")
    full.write_text("value\n")
    with open(read_fd) as pipe, open(os.devnull) as null, open(empty) as e, open(full) as f:
        for stream, piped in ((pipe, True), (null, False), (e, False), (f, True)):
            monkeypatch.setattr(sys, "stdin", stream)
            assert _stdin_piped() is piped, stream.name
        assert pipe.read() == "value\n"  # not consumed by the look


def test_secrets_set_checks_the_name_before_asking_for_a_value(stack, config_file):
    result = run("secrets", "set", "NOPE", "-c", str(config_file))  # nothing on stdin, no variable
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "NOPE is not a secret of web-dev" in result.stderr and "no value" not in result.stderr
    assert stack.mutating() == []


def test_day_two_commands_name_a_stopped_endpoint(tmp_path, monkeypatch):
    """`secrets` wrapped every error of DescribeParameters, ecsup's own included: a stopped
    sandbox read `look up SSM parameters: EndpointConnectionError` with no hint."""
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    dead = "http://127.0.0.1:9"  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    for args in (
        ("secrets", "list"),
        ("secrets", "set", "DB_PASSWORD"),
        ("secrets", "unset", "DB_PASSWORD"),
        ("scale", "--count", "2"),
        ("restart",),
    ):
        result = run(*args, "-c", str(path), stdin=NEW_VALUE)
        assert result.exit_code == 3, (args, result.output)
        first = result.stderr.splitlines()[0]
        assert first.startswith(f"error: the endpoint {dead} does not answer"), (args, result.stderr)
        assert "hint: start the sandbox again" in result.stderr and NEW_VALUE not in result.output


def test_deploy_of_the_image_that_runs_says_how_to_roll_out_a_pushed_again_tag(stack, config_file):
    result = run("deploy", "-c", str(config_file), "--image", IMAGE_1)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert f"web-dev:1 already runs {IMAGE_1}: nothing to deploy" in out
    assert "pushed again" in out and "`ecsup restart` starts a new deployment" in out
    assert stack.mutating() == [] and revision() == "web-dev:1"


def test_commands_without_a_service_say_what_they_would_do(aws, config_file):
    for args, what in (
        (("restart",), "to restart"),
        (("scale", "--count", "2"), "to scale"),
        (("run", "--", "true"), "to run a task beside"),
        (("deploy", "--image", IMAGE_2), "to deploy to"),
    ):
        result = run(args[0], "-c", str(config_file), *args[1:])
        assert result.exit_code == 6, (args, result.output)
        assert f"there is no service web-dev in eu-west-1 {what}" in result.stderr, (args, result.stderr)
        assert "hint: `ecsup create` builds the stack first" in result.stderr
    assert aws.mutating() == []


def test_bad_options_of_day_two_and_release_commands_have_a_hint_line(stack, config_file):
    for args, said in (
        (("scale", "--count", "-1"), "--count -1 must be between 0 and 1000"),
        (("run", "--env-var", "A", "--", "true"), "--env-var 'A' has no '='"),
        (("run", "--env-var", "1A=b", "--", "true"), "a variable name is letters"),
        (("run", "--env", "A=b", "--", "true"), "--env A=b: a variable for the task is --env-var"),
        (("run", "--cpu", "300", "--", "true"), "--cpu 300: Fargate has no such size"),
        (("run", "--timeout", "0", "--", "true"), "--timeout 0: must be more than 0 seconds"),
        (("run",), "no command to run"),
        (("deploy", "--watch", "--image", IMAGE_2), "--watch watches the deployment in progress"),
    ):
        result = run(args[0], "-c", str(config_file), *args[1:])
        assert result.exit_code == EXIT_CONFIG, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert said in lines[0] and lines[-1].startswith("hint: "), (args, result.stderr)
    assert stack.mutating() == [] and service()["desiredCount"] == 1


def test_a_secret_value_over_4096_characters_is_refused_before_any_change(stack, config_file):
    """SSM's Standard tier holds 4,096 characters (the strict layer refuses more, as AWS does):
    `secrets set` says so in one line, without the value, and writes nothing."""
    from conftest import SECRET_VALUE

    big = "s3cr3t-" * 715  # 5,005 characters
    result = run("secrets", "set", "DB_PASSWORD", "-c", str(config_file), stdin=big)
    assert result.exit_code == EXIT_CONFIG, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: DB_PASSWORD: the value for /web/dev/DB_PASSWORD is 5005 characters")
    assert "at most 4096" in lines[0] and lines[1].startswith("hint: ") and len(lines) == 2
    assert "s3cr3t-" not in result.output
    assert ("ssm", "PutParameter") not in stack.calls and stored_value() == SECRET_VALUE
    ok = run("secrets", "set", "DB_PASSWORD", "-c", str(config_file), stdin="x" * 4096)
    assert ok.exit_code == 0, ok.output
    assert parameter()["Version"] == 2


def test_create_refuses_a_secret_value_over_4096_characters_before_any_change(aws, make_ctx):
    from ecsup.errors import ConfigError

    big = "y" * 4097
    plan_ctx = make_ctx(secrets={"DB_PASSWORD": big})
    plan_ctx.mode = "plan"
    with pytest.raises(ConfigError) as planned:
        engine.make_plan(plan_ctx)
    with pytest.raises(ConfigError) as created:
        engine.create(make_ctx(secrets={"DB_PASSWORD": big}))
    for err in (planned, created):
        text = str(err.value)
        assert "service.secrets.DB_PASSWORD" in text and "4097 characters" in text and big not in text
    assert parameter() == {} and aws.writes() == []  # nothing but the stack's lock


def test_the_strict_layer_refuses_a_standard_parameter_over_4096_characters(aws):
    ssm = client("ssm")
    with pytest.raises(ssm.exceptions.ClientError) as refused:
        ssm.put_parameter(Name="/x/big", Value="v" * 5000, Type="SecureString")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "4096 characters" in refused.value.response["Error"]["Message"]
    ssm.put_parameter(Name="/x/edge", Value="v" * 4096, Type="SecureString")
    ssm.put_parameter(Name="/x/advanced", Value="v" * 5000, Type="SecureString", Tier="Advanced")
    ssm.put_parameter(Name="/x/advanced", Value="w" * 5000, Type="SecureString", Overwrite=True)  # stays Advanced
    assert len(ssm.get_parameter(Name="/x/advanced", WithDecryption=True)["Parameter"]["Value"]) == 5000
