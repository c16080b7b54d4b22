"""`ecsup deploy` and `ecsup rollback` (issue 11) on moto with ECS's deployment controller
emulated (ecsup/emulation/deployments.py): blue/green on the stack's two target groups,
linear, canary and rolling; watched, rolled back, attached to; and infrastructure that
leaves to ECS and deploys what is theirs. Waits run on the fake clock."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Recorder, client, config_text, register_task_targets
from typer.testing import CliRunner

from ecsup import deploy, engine
from ecsup.cli import app
from ecsup.context import SilentUI
from ecsup.errors import EXIT_LOCKED, EXIT_ROLLED_BACK
from ecsup.status import collect

IMAGE_1 = "public.ecr.aws/nginx/nginx:stable"
IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"
BROKEN = "public.ecr.aws/nginx/nginx:unhealthy"  # the emulation's tasks of this image never pass health checks


# -- helpers ------------------------------------------------------------------------------
def strategy(name: str, **extra: Any) -> str:
    lines = ["", "[service.deploy]", f'strategy = "{name}"'] + [f"{k} = {v}" for k, v in extra.items()]
    return config_text("\n".join(lines) + "\n")


def production() -> dict[str, int]:
    """The HTTPS listener's forward weights by target group name, read back from ELB."""
    elb = client("elbv2")
    lb = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    https = next(
        lst for lst in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if lst["Port"] == 443
    )
    groups = https["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


def service() -> dict[str, Any]:
    return dict(client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0])


def running_image() -> str:
    td = client("ecs").describe_task_definition(taskDefinition=service()["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


def revision() -> str:
    return str(service()["taskDefinition"]).split("/")[-1]


def deployments(status: list[str] | None = None) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"cluster": "web-dev", "service": "web-dev"}
    if status:
        kwargs["status"] = status
    return list(client("ecs").list_service_deployments(**kwargs)["serviceDeployments"])


class States(SilentUI):
    """A UI that records what the watch hands it."""

    def __init__(self) -> None:
        self.states: list[deploy.DeployState] = []

    def deploy_progress(self, state: deploy.DeployState) -> None:
        self.states.append(state)


def plan_changes(make_ctx: Any, text: str | None = None) -> list[Any]:
    ctx = make_ctx(text) if text else make_ctx()
    ctx.mode = "plan"
    return engine.make_plan(ctx).changes()


@pytest.fixture
def stack(aws: Recorder, make_ctx: Any) -> Recorder:
    engine.create(make_ctx())
    aws.reset()
    return aws


# -- create sets up what the strategy needs ------------------------------------------------------
def test_create_configures_ecs_blue_green(stack):
    config = service()["deploymentConfiguration"]
    assert config["strategy"] == "BLUE_GREEN" and config["bakeTimeInMinutes"] == 5
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    # the first deployment ran ECS's lifecycle into the alternate group, without bake (nothing to
    # roll back to); the configured bake applies from the next deployment on
    [first] = deployments()
    assert first["status"] == "SUCCESSFUL"
    dep = client("ecs").describe_service_deployments(serviceDeploymentArns=[first["serviceDeploymentArn"]])
    assert dep["serviceDeployments"][0]["deploymentConfiguration"]["bakeTimeInMinutes"] == 0
    assert production() == {"web-dev-blue": 0, "web-dev-green": 100}


# -- deploy ---------------------------------------------------------------------------------------
def test_deploy_ships_the_image_and_moves_production_to_the_other_group(stack, make_ctx, clock):
    ui = States()
    result = deploy.deploy(make_ctx(ui=ui), IMAGE_2)

    assert result.status == "SUCCESSFUL"
    assert (result.revision_before, result.revision_after) == ("web-dev:1", "web-dev:2")
    assert (result.image_before, result.image_after) == (IMAGE_1, IMAGE_2)
    assert running_image() == IMAGE_2 and revision() == "web-dev:2"
    assert production() == {"web-dev-blue": 100, "web-dev-green": 0}  # read back from the listener
    # the watch saw the stages, the switch and the bake
    stages = [s.stage for s in ui.states]
    assert "PRODUCTION_TRAFFIC_SHIFT" in stages or "BAKE_TIME" in stages
    assert any(s.traffic.get("web-dev-blue") == 100 for s in ui.states)
    assert any(s.bake_left is not None for s in ui.states)
    assert ui.states[-1].status == "SUCCESSFUL"
    assert clock.now >= 5 * 60  # it baked five (fake) minutes

    # infrastructure leaves ECS's weights and the deployed image alone
    assert plan_changes(make_ctx) == []


def test_deploy_sends_only_the_task_definition(stack, make_ctx):
    sent: dict[str, dict[str, Any]] = {}

    def capture(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation in ("RegisterTaskDefinition", "UpdateService"):
            sent[operation] = dict(params)

    stack.injectors.append(capture)
    deploy.deploy(make_ctx(), IMAGE_2)

    assert set(sent["UpdateService"]) == {"cluster", "service", "taskDefinition"}  # never count or load balancers
    assert sent["UpdateService"]["taskDefinition"].endswith(":2")
    before = client("ecs").describe_task_definition(taskDefinition="web-dev:1")["taskDefinition"]
    registered = sent["RegisterTaskDefinition"]
    assert registered["containerDefinitions"][0]["image"] == IMAGE_2
    same = dict(before["containerDefinitions"][0], image=IMAGE_2)
    assert {k: v for k, v in registered["containerDefinitions"][0].items()} == {
        k: v for k, v in same.items() if k in registered["containerDefinitions"][0]
    }
    for key in ("family", "cpu", "memory", "executionRoleArn", "taskRoleArn", "networkMode", "requiresCompatibilities"):
        assert registered[key] == before[key], key
    for readonly in ("taskDefinitionArn", "revision", "status", "registeredAt", "compatibilities"):
        assert readonly not in registered


def test_deploying_the_running_image_is_a_no_op(stack, make_ctx):
    deploy.deploy(make_ctx(), IMAGE_2)
    stack.reset()
    result = deploy.deploy(make_ctx(), IMAGE_2)
    assert result.status == "UNCHANGED" and "nothing to deploy" in result.message
    assert stack.mutating() == []


def test_a_failing_deployment_is_rolled_back_by_ecs(stack, make_ctx):
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(), BROKEN)
    assert err.value.exit_code == EXIT_ROLLED_BACK == 9
    assert "ROLLBACK" in err.value.message and err.value.result is not None
    assert err.value.result.rollback_reason  # why ECS rolled back
    assert revision() == "web-dev:1" and running_image() == IMAGE_1
    assert production() == {"web-dev-blue": 0, "web-dev-green": 100}


def test_rollback_of_a_deployment_in_progress(stack, make_ctx):
    started = deploy.deploy(make_ctx(), IMAGE_2, wait=False)
    assert started.deployment_arn and deployments(deploy.ONGOING)
    result = deploy.rollback(make_ctx())
    assert result.status == "ROLLBACK_SUCCESSFUL"
    assert result.revision_after == "web-dev:1" and result.image_after == IMAGE_1
    assert revision() == "web-dev:1"
    assert production() == {"web-dev-blue": 0, "web-dev-green": 100}


def test_rollback_after_a_successful_deployment_goes_back_a_revision(stack, make_ctx):
    deploy.deploy(make_ctx(), IMAGE_2)
    assert production()["web-dev-blue"] == 100
    result = deploy.rollback(make_ctx())
    assert result.status == "SUCCESSFUL"
    assert "web-dev:1" in result.message and IMAGE_1 in result.message
    assert revision() == "web-dev:1" and running_image() == IMAGE_1
    assert production() == {"web-dev-blue": 0, "web-dev-green": 100}  # production moved back
    assert plan_changes(make_ctx) == []


def test_deploy_watch_attaches_to_the_deployment_in_progress(stack, make_ctx):
    started = deploy.deploy(make_ctx(), IMAGE_2, wait=False)
    with pytest.raises(deploy.DeploymentInProgress) as err:
        deploy.deploy(make_ctx(), "public.ecr.aws/nginx/nginx:1.28")
    assert err.value.exit_code == EXIT_LOCKED
    with pytest.raises(deploy.DeploymentInProgress) as err:  # no image named: never a silent attach
        deploy.deploy(make_ctx(), None)
    assert "ecsup deploy --watch" in str(err.value.hint)
    stack.reset()
    attached = deploy.attach(make_ctx())
    assert attached.deployment_arn == started.deployment_arn and attached.status == "SUCCESSFUL"
    assert ("ecs", "RegisterTaskDefinition") not in stack.calls and ("ecs", "UpdateService") not in stack.calls


def test_a_changed_config_image_is_still_applied_by_create(stack, make_ctx):
    deploy.deploy(make_ctx(), IMAGE_2)
    ctx = make_ctx()
    assert plan_changes(make_ctx) == []  # the deployed image stays
    engine.create(ctx)
    assert running_image() == IMAGE_2
    text = config_text().replace(IMAGE_1, "public.ecr.aws/nginx/nginx:1.28")
    engine.create(make_ctx(text))
    assert running_image() == "public.ecr.aws/nginx/nginx:1.28"
    assert plan_changes(make_ctx, text) == []


# -- strategies ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, extra, config, shift",
    [
        ("linear", {"step_percent": 25.0, "step_minutes": 2}, {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}, 25),
        (
            "canary",
            {"canary_percent": 10.0, "canary_minutes": 3},
            {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3},
            10,
        ),
    ],
)
def test_linear_and_canary_move_traffic_in_steps(aws, make_ctx, name, extra, config, shift):
    text = strategy(name, **extra)
    engine.create(make_ctx(text))
    key = f"{name}Configuration"
    assert service()["deploymentConfiguration"][key] == config
    ui = States()
    result = deploy.deploy(make_ctx(text, ui=ui), IMAGE_2)
    assert result.status == "SUCCESSFUL"
    seen = {s.traffic.get("web-dev-blue") for s in ui.states}
    assert shift in seen and 100 in seen  # a partial shift was watched before all of it
    assert production()["web-dev-blue"] == 100


def test_rolling_deploys_without_moving_traffic(aws, make_ctx):
    text = strategy("rolling")
    engine.create(make_ctx(text))
    assert service()["deploymentConfiguration"]["strategy"] == "ROLLING"
    assert "advancedConfiguration" not in service()["loadBalancers"][0]
    result = deploy.deploy(make_ctx(text), IMAGE_2)
    assert result.status == "SUCCESSFUL" and running_image() == IMAGE_2
    assert production() == {"web-dev-blue": 100, "web-dev-green": 0}


def test_create_converges_the_strategy_of_an_existing_service(stack, make_ctx):
    text = strategy("canary", canary_percent=20.0)
    changes = plan_changes(make_ctx, text)
    assert [c.attribute for a in changes for c in a.changes if a.resource == "ECS service"] == ["deployment strategy"]
    engine.create(make_ctx(text))
    config = service()["deploymentConfiguration"]
    assert config["strategy"] == "CANARY" and config["canaryConfiguration"]["canaryPercent"] == 20.0
    assert plan_changes(make_ctx, text) == []


# -- status and destroy --------------------------------------------------------------------------
def test_status_shows_the_live_group_the_running_image_and_a_deployment_in_progress(stack, make_ctx):
    deploy.deploy(make_ctx(), IMAGE_2)
    register_task_targets("web-dev-green")  # as ECS does for the running tasks (moto's ECS does not)
    report = collect(make_ctx())
    assert report.service["live_target_group"] == "web-dev-blue"
    assert report.service["image"] == IMAGE_2 and report.service["task_definition"] == "web-dev:2"
    assert report.healthy, [r for r in report.rows if r.state != "OK"]  # ECS's weights are not drift

    deploy.deploy(make_ctx(), "public.ecr.aws/nginx/nginx:1.28", wait=False)
    report = collect(make_ctx())
    assert report.service["deployment_in_progress"]["status"] in deploy.ONGOING
    assert any(r.resource == "deployment" and r.state == "PENDING" for r in report.rows)


def test_destroy_rolls_back_a_deployment_in_progress_and_removes_the_infrastructure_role(stack, make_ctx):
    from test_destroy import destroy, role_exists

    deploy.deploy(make_ctx(), IMAGE_2, wait=False)
    stack.reset()
    result = destroy(make_ctx())
    assert result["failed"] == [] and result["left"] == []
    assert stack.calls.index(("ecs", "StopServiceDeployment")) < stack.calls.index(("ecs", "DeleteService"))
    assert not role_exists("web-dev-infrastructure")


# -- the CLI ----------------------------------------------------------------------------------------
@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_cli_deploy_plain_lines_and_json(stack, config_file):
    result = run("deploy", "-c", str(config_file), "--image", IMAGE_2)
    assert result.exit_code == 0, result.output
    assert "traffic web-dev-blue 100% / web-dev-green 0%" in result.stdout
    assert "deployed: web-dev:2" in result.stdout
    result = run("deploy", "-c", str(config_file), "--image", "public.ecr.aws/nginx/nginx:1.28", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "SUCCESSFUL" and doc["image_after"] == "public.ecr.aws/nginx/nginx:1.28"
    assert doc["revision_before"] == "web-dev:2" and doc["revision_after"] == "web-dev:3"
    assert doc["deployment_arn"].startswith("arn:aws:ecs:")


def test_cli_deploy_and_rollback_say_what_they_do_before_the_watch(stack, config_file):
    def first(lines: list[str], text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    lines = run("deploy", "-c", str(config_file), "--image", IMAGE_2).stdout.splitlines()
    started = first(lines, f"deploying {IMAGE_2} as web-dev:2")
    assert started < first(lines, "traffic") < first(lines, "deployed: web-dev:2"), lines
    assert sum("deploying " in line for line in lines) == 1, lines  # said once, not again at the end
    lines = run("rollback", "-c", str(config_file)).stdout.splitlines()
    assert first(lines, "back to web-dev:1") < first(lines, "traffic") < first(lines, "rolled back: web-dev:1"), lines


def test_an_emulators_shortened_bake_is_not_counted_down_in_real_minutes(stack, make_ctx, monkeypatch):
    from ecsup.context import Context
    from ecsup.render import deploy_view, make_console

    monkeypatch.setattr(Context, "endpoint", property(lambda self: "http://127.0.0.1:4566"))
    ui = States()
    assert deploy.deploy(make_ctx(ui=ui), IMAGE_2).status == "SUCCESSFUL"
    baking = [s for s in ui.states if s.stage == "BAKE_TIME"]
    assert baking and all(s.bake_left is None and s.bake_total == 300 for s in baking)
    console = make_console(io.StringIO())
    console.print(deploy_view(baking[0]))
    assert re.search(r"bake +5m00s, shortened by this endpoint \(no countdown\)", console.file.getvalue())


def test_cli_rolled_back_deployment_exits_9_with_the_reason(stack, config_file):
    result = run("deploy", "-c", str(config_file), "--image", BROKEN, "--json")
    assert result.exit_code == EXIT_ROLLED_BACK, result.output
    assert json.loads(result.stdout)["status"].startswith("ROLLBACK")
    assert "error:" in result.stderr and "Traceback" not in result.output
    # the way on is another deploy (or a rollback), with the logs to look at: not `ecsup create`
    assert "ecsup create" not in result.stderr, result.stderr
    assert "`ecsup deploy --image" in result.stderr and "ecsup logs" in result.stderr, result.stderr


def test_cli_ctrl_c_leaves_the_deployment_running_and_says_how_to_attach(stack, config_file, monkeypatch):
    from ecsup import waiting

    real = waiting.poll

    def interrupted(ctx: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        if what.startswith("deployment of"):
            raise KeyboardInterrupt
        return real(ctx, what, *args, **kwargs)

    monkeypatch.setattr(waiting, "poll", interrupted)
    result = run("deploy", "-c", str(config_file), "--image", IMAGE_2)
    assert result.exit_code == 130, result.output
    assert "ecsup deploy --watch" in result.stderr
    assert deployments(deploy.ONGOING)  # still running in ECS


def test_cli_deploy_without_a_stack_exits_6(aws, config_file):
    result = run("deploy", "-c", str(config_file), "--image", IMAGE_2)
    assert result.exit_code == 6, result.output
    assert "ecsup create" in result.stderr


def test_cli_bad_image_is_a_usage_error(stack, config_file):
    result = run("deploy", "-c", str(config_file), "--image", "not an image")
    assert result.exit_code == 2 and "--image" in result.stderr
    assert stack.mutating() == []
