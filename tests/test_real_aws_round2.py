"""Real AWS, second round: releases and scaling. A listener repair that keeps production on
the group that serves, requests per task that stays right through a deployment, a new
service's first deployment (ECS's whole lifecycle, without a bake), the infrastructure role
settling before ECS uses it, destroy mid-rollback, every page of the deployments, a laptop
clock that is off, a rollback racing the end of a deployment. The strict layer is on for
every test (ecsup/emulation/); waits run on the fake clock."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from typing import Any

import pytest
from conftest import Recorder, aws_error, client, config_text

from ecsup import deploy, emulation, engine
from ecsup.cli import run_destroy
from ecsup.render import ConsoleUI, make_console
from ecsup.status import collect

IMAGE_1 = "public.ecr.aws/nginx/nginx:stable"
IMAGE_2 = "public.ecr.aws/nginx/nginx:1.27"
BROKEN = "public.ecr.aws/nginx/nginx:unhealthy"


def https_listener() -> dict[str, Any]:
    elb = client("elbv2")
    lb = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    found = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    return next(x for x in found if x["Port"] == 443)


def production() -> dict[str, int]:
    groups = https_listener()["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


def group_arn(name: str) -> str:
    return str(client("elbv2").describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"])


def healthy(name: str) -> int:
    found = client("elbv2").describe_target_health(TargetGroupArn=group_arn(name))["TargetHealthDescriptions"]
    return sum(1 for t in found if t["TargetHealth"]["State"] == "healthy")


def set_forward(groups: dict[str, int]) -> None:
    """Someone edits the production forward behind ecsup's back."""
    client("elbv2").modify_listener(
        ListenerArn=https_listener()["ListenerArn"],
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": group_arn(n), "Weight": w} for n, w in groups.items()]
                },
            }
        ],
    )


def service() -> dict[str, Any]:
    return dict(client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0])


def revision() -> str:
    return str(service()["taskDefinition"]).split("/")[-1]


def plan(make_ctx: Any, text: str | None = None) -> Any:
    ctx = make_ctx(text) if text else make_ctx()
    ctx.mode = "plan"
    return engine.make_plan(ctx)


def strategy(name: str, **extra: Any) -> str:
    lines = ["", "[service.deploy]", f'strategy = "{name}"'] + [f"{k} = {v}" for k, v in extra.items()]
    return config_text("\n".join(lines) + "\n")


@pytest.fixture
def stack(aws: Recorder, make_ctx: Any) -> Recorder:
    engine.create(make_ctx())
    aws.reset()
    return aws


# -- 1. a listener repair never sends production to an idle group ----------------------------
def test_a_listener_repair_keeps_production_on_the_group_that_serves(stack, make_ctx):
    # the first deployment made green live; its task is green's target, blue has none
    assert production() == {"web-dev-blue": 0, "web-dev-green": 100}
    assert (healthy("web-dev-green"), healthy("web-dev-blue")) == (1, 0)
    set_forward({"web-dev-blue": 1})  # someone removed green from the forward
    changes = plan(make_ctx).changes()
    [listener] = [a for a in changes if a.resource == "listener"]
    assert "100 on web-dev-green: its targets serve the running revision" in listener.changes[0].new
    engine.create(make_ctx())
    assert production() == {"web-dev-blue": 0, "web-dev-green": 100}  # not 100 on the idle blue
    assert plan(make_ctx).changes() == []


def test_a_listener_repair_keeps_the_weights_it_cannot_judge_and_says_so(stack, make_ctx):
    client("ecs").update_service(cluster="web-dev", service="web-dev", desiredCount=0)  # no targets anywhere
    assert (healthy("web-dev-green"), healthy("web-dev-blue")) == (0, 0)
    set_forward({"web-dev-green": 100, "web-dev-blue": 0})
    client("elbv2").create_target_group(
        Name="someone-else", Protocol="HTTP", Port=80, VpcId=service_vpc(), TargetType="ip"
    )
    set_forward({"web-dev-green": 100, "someone-else": 0})  # a foreign group in, blue out
    outcome = plan(make_ctx)
    assert any("kept web-dev-blue=0 web-dev-green=100" in n and "cannot be told" in n for n in outcome.notes)
    engine.create(make_ctx())
    assert production() == {"web-dev-blue": 0, "web-dev-green": 100}


def service_vpc() -> str:
    return str(client("elbv2").describe_target_groups(Names=["web-dev-blue"])["TargetGroups"][0]["VpcId"])


# -- 2. requests per task, at every stage of a deployment ------------------------------------------
def evaluate(policy: dict[str, Any], data: dict[str, dict[str, float | None]]) -> float:
    """The value CloudWatch computes for the policy's metric math, given each group's metrics
    for the period ({"blue": {"RequestCountPerTarget": ..., "RequestCount": ..., "HealthyHostCount": ...}}):
    a metric with no data point is None (ELB publishes counts only when non-zero)."""
    spec = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    values: dict[str, float | None] = {}
    expression = ""
    for query in spec["Metrics"]:
        if "Expression" in query:
            expression = query["Expression"]
            continue
        metric = query["MetricStat"]["Metric"]
        group = next(d["Value"] for d in metric["Dimensions"] if d["Name"] == "TargetGroup").split("/")[1]
        values[query["Id"]] = data["blue" if group.endswith("blue") else "green"].get(metric["MetricName"])

    def fill(x: float | None, default: float) -> float:
        return default if x is None else x

    def if_(cond: bool, a: float, b: float) -> float:
        return a if cond else b

    code = re.sub(r"\bFILL\(", "fill(", expression)
    code = re.sub(r"\bIF\(", "if_(", code)
    return float(eval(code, {"fill": fill, "if_": if_}, dict(values)))


def stage_data(share_new: float, new_tasks: int, old_tasks: int, requests: float) -> dict[str, dict[str, Any]]:
    """What ELB publishes for a minute: production split share_new / 1 - share_new between the
    new group (green) and the old one (blue)."""

    def group(share: float, tasks: int) -> dict[str, Any]:
        count = requests * share
        return {
            "RequestCount": count or None,
            "HealthyHostCount": float(tasks) if tasks else None,
            "RequestCountPerTarget": (count / tasks if tasks else count) or None,
        }

    return {"green": group(share_new, new_tasks), "blue": group(1 - share_new, old_tasks)}


def test_requests_per_task_is_requests_per_serving_task_at_every_stage(aws, make_ctx):
    text = config_text(extra="\n[service.autoscaling]\nmin = 1\nmax = 10\nrequests_per_target = 1000\n")
    engine.create(make_ctx(text))
    [policy] = [
        p
        for p in client("application-autoscaling").describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
        if p["PolicyName"] == "ecsup-web-dev-requests"
    ]
    requests, n = 8000.0, 4  # 8,000 requests a minute on 4 tasks: 2,000 per task
    stages = {
        "steady": stage_data(0.0, 0, n, requests),
        "scaled up, before the shift": stage_data(0.0, n, n, requests),
        "linear 30 %": stage_data(0.3, n, n, requests),
        "canary 5 %": stage_data(0.05, n, n, requests),
        "shifted, baking": stage_data(1.0, n, n, requests),
        "cleaned up": stage_data(1.0, n, 0, requests),
    }
    for name, data in stages.items():
        assert evaluate(policy, data) == pytest.approx(requests / n), name
    assert evaluate(policy, stage_data(0.0, 0, n, 0.0)) == 0  # no traffic: 0, not 0 / 0


# -- 3. the first deployment ------------------------------------------------------------------
def test_create_runs_the_first_deployment_without_its_bake_and_plans_no_change(aws, make_ctx, clock):
    text = strategy("blue_green", bake_minutes=60)
    result = engine.create(make_ctx(text))
    assert clock.now < 10 * 60  # not an hour of baking with nothing to roll back to
    config = service()["deploymentConfiguration"]
    assert (config["strategy"], config["bakeTimeInMinutes"]) == ("BLUE_GREEN", 60)  # for the next deployments
    assert production() == {"web-dev-blue": 0, "web-dev-green": 100}  # as ECS leaves it
    assert plan(make_ctx, text).changes() == []
    report = collect(make_ctx(text))
    assert report.service["live_target_group"] == "web-dev-green" and report.healthy
    assert any(a.resource == "ECS service" and "then BLUE_GREEN, bake 60 min" in a.result for a in result.actions)


@pytest.mark.parametrize("name, extra", [("linear", {"step_percent": 20.0}), ("canary", {"canary_percent": 10.0})])
def test_a_linear_or_canary_service_starts_with_one_shift_then_keeps_its_steps(aws, make_ctx, name, extra):
    text = strategy(name, **extra)
    engine.create(make_ctx(text))
    [first] = client("ecs").list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
    dep = client("ecs").describe_service_deployments(serviceDeploymentArns=[first["serviceDeploymentArn"]])
    assert dep["serviceDeployments"][0]["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert service()["deploymentConfiguration"]["strategy"] == name.upper()
    assert plan(make_ctx, text).changes() == []


def test_a_crash_between_the_first_deployment_and_the_strategy_converges(aws, make_ctx):
    text = strategy("blue_green", bake_minutes=30)

    def crash(service_: str, operation: str, params: dict[str, Any]) -> Any:
        if operation == "UpdateService" and "deploymentConfiguration" in params:
            raise KeyboardInterrupt  # killed right before the strategy is set
        return None

    aws.injectors.append(crash)
    with pytest.raises(KeyboardInterrupt):
        engine.create(make_ctx(text))
    aws.injectors.clear()
    [action] = [a for a in plan(make_ctx, text).changes() if a.resource == "ECS service"]
    assert [c.attribute for c in action.changes] == ["deployment strategy"]
    aws.reset()
    engine.create(make_ctx(text))
    assert ("ecs", "UpdateService") in aws.calls and ("ecs", "ListServiceDeployments") not in aws.calls
    assert service()["deploymentConfiguration"]["bakeTimeInMinutes"] == 30
    assert plan(make_ctx, text).changes() == []


# -- 4. the infrastructure role settles before ECS uses it --------------------------------------------
def test_switching_to_blue_green_lets_the_infrastructure_role_settle_first(aws, make_ctx, clock):
    # tasks that start fast: the first traffic shift comes seconds after UpdateService
    emulation.activate(emulation.ACTIVE.with_delays(task_start=0.5))
    engine.create(make_ctx(strategy("rolling")))
    attached: list[float] = []
    updated: list[float] = []

    def when(service_: str, operation: str, params: dict[str, Any]) -> Any:
        if operation == "AttachRolePolicy" and params.get("RoleName") == "web-dev-infrastructure":
            attached.append(clock.now)
        if operation == "UpdateService" and params.get("loadBalancers"):
            updated.append(clock.now)
        return None

    aws.injectors.append(when)
    engine.create(make_ctx(strategy("blue_green")))  # raises if ECS rolled the switch back
    assert attached and updated and updated[0] >= attached[0] + 5.0
    assert service()["loadBalancers"][0]["advancedConfiguration"]["roleArn"].endswith("/web-dev-infrastructure")
    deployments = client("ecs").list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
    assert {d["status"] for d in deployments} == {"SUCCESSFUL"}


# -- 5. destroy during a rollback -------------------------------------------------------------------
def test_destroy_mid_rollback_finishes_when_every_other_call_is_refused(stack, make_ctx, clock):
    deploy.deploy(make_ctx(), BROKEN, wait=False)
    ecs = client("ecs")
    for _ in range(40):  # until the circuit breaker has ECS roll it back
        clock.sleep(5)
        [brief] = [
            b
            for b in ecs.list_service_deployments(cluster="web-dev", service="web-dev")["serviceDeployments"]
            if b["status"] != "SUCCESSFUL"
        ]
        if brief["status"] == "ROLLBACK_IN_PROGRESS":
            break
    assert brief["status"] == "ROLLBACK_IN_PROGRESS"
    with pytest.raises(ecs.exceptions.InvalidParameterException):  # ECS owns the service meanwhile
        ecs.update_service(cluster="web-dev", service="web-dev", desiredCount=0)

    def refuse(service_: str, operation: str, params: dict[str, Any]) -> Any:
        if service_ == "ecs" and operation in ("StopServiceDeployment", "UpdateService"):
            return aws_error("AccessDeniedException", "refused mid-rollback")
        return None

    stack.injectors.append(refuse)
    ui = ConsoleUI(make_console(io.StringIO()), interactive=False)
    result = run_destroy(make_ctx(), ui, False)
    assert result["failed"] == [] and result["left"] == []
    assert ("ecs", "DeleteService") in stack.calls
    assert (
        service()["status"] in ("INACTIVE",)
        or not ecs.describe_services(cluster="web-dev", services=["web-dev"])["services"]
    )


# -- 6. every page of the deployments -----------------------------------------------------------
def test_rollback_finds_the_previous_revision_beyond_the_first_page(stack, make_ctx, clock):
    ecs = client("ecs")
    base = ecs.describe_task_definition(taskDefinition="web-dev:1")["taskDefinition"]
    keys = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities", "cpu", "memory")
    for i in range(22):  # 23 deployments with the first: more than one page of 20
        td = ecs.register_task_definition(
            **{k: base[k] for k in keys},
            containerDefinitions=[dict(base["containerDefinitions"][0], image=f"public.ecr.aws/nginx/nginx:1.{i}")],
            tags=[{"key": "ecsup:app", "value": "web"}, {"key": "ecsup:env", "value": "dev"}],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.update_service(cluster="web-dev", service="web-dev", taskDefinition=td)
        clock.sleep(600)  # through its bake
        ecs.describe_services(cluster="web-dev", services=["web-dev"])
    assert revision() == "web-dev:23"
    result = deploy.rollback(make_ctx())
    assert result.status == "SUCCESSFUL" and revision() == "web-dev:22"
    assert "back to web-dev:22" in result.message


# -- 7. a laptop clock that is off -----------------------------------------------------------------------
@pytest.mark.parametrize("offset", [-600.0, 600.0])
def test_a_deploy_is_watched_to_its_end_whatever_the_local_clock_says(aws, make_ctx, clock, offset):
    # AWS's clock 10 minutes behind this machine's (a laptop clock ahead), or ahead of it
    emulation.activate(replace(emulation.ACTIVE, aws_clock_offset=offset))
    engine.create(make_ctx())
    started = clock.now
    result = deploy.deploy(make_ctx(), IMAGE_2)
    assert result.deployment_arn and result.status == "SUCCESSFUL"
    dep = client("ecs").describe_service_deployments(serviceDeploymentArns=[result.deployment_arn])
    target = dep["serviceDeployments"][0]["targetServiceRevision"]["arn"]
    revision_ = client("ecs").describe_service_revisions(serviceRevisionArns=[target])["serviceRevisions"][0]
    assert revision_["taskDefinition"].endswith("web-dev:2")  # the deployment it started, not an older one
    assert clock.now - started >= 5 * 60  # watched through its bake


# -- 8. a rollback racing the end of the deployment ------------------------------------------------------
def test_a_rollback_that_arrives_after_the_deployment_succeeded_goes_back_a_revision(stack, make_ctx, clock):
    deploy.deploy(make_ctx(), IMAGE_2, wait=False)

    def finishes_first(service_: str, operation: str, params: dict[str, Any]) -> Any:
        if operation == "StopServiceDeployment":
            clock.sleep(3600)  # the deployment ends between the look and the request
        return None

    stack.injectors.append(finishes_first)
    result = deploy.rollback(make_ctx())
    assert "ended SUCCESSFUL before the rollback request reached it" in result.message
    assert result.status == "SUCCESSFUL" and revision() == "web-dev:1"


def test_a_rollback_that_arrives_after_ecs_rolled_back_does_nothing_more(stack, make_ctx, clock):
    deploy.deploy(make_ctx(), BROKEN, wait=False)

    def rolled_back_first(service_: str, operation: str, params: dict[str, Any]) -> Any:
        if operation == "StopServiceDeployment":
            clock.sleep(3600)  # the circuit breaker rolled it back meanwhile
        return None

    stack.injectors.append(rolled_back_first)
    stack.reset()
    result = deploy.rollback(make_ctx())
    assert "ended ROLLBACK_SUCCESSFUL" in result.message and revision() == "web-dev:1"
    assert ("ecs", "UpdateService") not in stack.calls


# -- found this session: a bound a float clock never reaches exactly --------------------------------
@pytest.mark.parametrize("start", [28.1051, 0.1 + 0.2, 1e9 + 0.3])
def test_a_wait_ends_at_its_bound_whatever_float_the_clock_started_at(make_ctx, clock, start):
    from ecsup import waiting
    from ecsup.errors import WaitTimeout

    clock.now = start
    ctx = make_ctx()
    calls: list[float] = []

    def refused() -> None:
        calls.append(clock.now)
        assert len(calls) < 1000, "retried without end"  # not retryable: fails instead of hanging
        raise RuntimeError("still settling")

    with pytest.raises(WaitTimeout):
        waiting.retry(ctx, "something", refused, lambda e: isinstance(e, RuntimeError), 60.0, cap=15.0)
    assert len(calls) < 20 and calls[-1] - start == pytest.approx(60.0)
    calls.clear()
    clock.now = start
    with pytest.raises(WaitTimeout):
        waiting.poll(ctx, "something", lambda: (len(calls.append(0) or calls) > 2000, "not yet"), 60.0, cap=3.0)
    assert len(calls) < 200


def test_a_bad_ecsup_iam_settle_is_one_line_and_exit_2(aws, tmp_path, monkeypatch):
    from conftest import explain, invoke

    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    monkeypatch.setenv("ECSUP_IAM_SETTLE", "soon")
    for command in ("create", "plan"):
        aws.reset()
        result = invoke(command, "-c", str(path))
        assert result.exit_code == 2, explain(result)
        assert "ECSUP_IAM_SETTLE: 'soon' must be a number of seconds from 0 to 300" in result.stderr
        assert "Traceback" not in result.output + result.stderr and aws.mutating() == []
    monkeypatch.setenv("ECSUP_IAM_SETTLE", "1.5")
    from ecsup.context import Timeouts

    assert Timeouts().iam_settle == 1.5


def test_a_bad_ecsup_log_quiet_is_one_line_and_exit_2_and_a_good_one_is_the_wait(aws, tmp_path, monkeypatch):
    from conftest import explain, invoke

    from ecsup.context import log_quiet_from_environment

    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    monkeypatch.setenv("ECSUP_LOG_QUIET", "-1")
    result = invoke("run", "-c", str(path), "--", "true")
    assert result.exit_code == 2, explain(result)
    assert "ECSUP_LOG_QUIET: '-1' must be a number of seconds from 0 to 300" in result.stderr
    assert "Traceback" not in result.output + result.stderr and aws.mutating() == []
    monkeypatch.setenv("ECSUP_LOG_QUIET", "0.5")
    assert log_quiet_from_environment() == 0.5
    monkeypatch.delenv("ECSUP_LOG_QUIET")
    assert log_quiet_from_environment() == 5.0
