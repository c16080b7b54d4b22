"""Issue 12 on moto (with the strict AWS layer): service auto scaling, Graviton (ARM64),
Fargate Spot and mixed capacity, and the monthly cost a plan changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SECRET_GIVEN, Recorder, client, config_text
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app
from ecsup.status import collect

SCALING = "\n[service.autoscaling]\nmin = 1\nmax = 4\ncpu_target = 60\nrequests_per_target = 500\n"
RID = "service/web-dev/web-dev"


def aas() -> Any:
    return client("application-autoscaling")


def target() -> dict[str, Any] | None:
    found = aas().describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[RID])["ScalableTargets"]
    return found[0] if found else None


def policies() -> dict[str, dict[str, Any]]:
    found = aas().describe_scaling_policies(ServiceNamespace="ecs", ResourceId=RID)["ScalingPolicies"]
    return {p["PolicyName"]: p for p in found}


def service() -> dict[str, Any]:
    return dict(client("ecs").describe_services(cluster="web-dev", services=["web-dev"])["services"][0])


def plan(make_ctx: Any, text: str) -> tuple[list[Any], list[str]]:
    ctx = make_ctx(text)
    ctx.mode = "plan"
    outcome = engine.make_plan(ctx)
    return outcome.changes(), outcome.notes


def with_service_keys(lines: str) -> str:
    return config_text(replace={"desired_count = 1": f"desired_count = 1\n{lines}"})


# -- auto scaling ----------------------------------------------------------------------------
def test_autoscaling_creates_the_target_and_both_policies_and_converges(aws: Recorder, make_ctx):
    engine.create(make_ctx(config_text(SCALING)))

    scalable = target()
    assert scalable is not None and (scalable["MinCapacity"], scalable["MaxCapacity"]) == (1, 4)
    found = policies()
    assert set(found) == {"ecsup-web-dev-cpu", "ecsup-web-dev-requests"}
    cpu = found["ecsup-web-dev-cpu"]["TargetTrackingScalingPolicyConfiguration"]
    assert found["ecsup-web-dev-cpu"]["PolicyType"] == "TargetTrackingScaling"
    assert cpu["TargetValue"] == 60.0
    assert cpu["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    assert (cpu["ScaleInCooldown"], cpu["ScaleOutCooldown"], cpu["DisableScaleIn"]) == (300, 60, False)
    requests = found["ecsup-web-dev-requests"]["TargetTrackingScalingPolicyConfiguration"]
    assert requests["TargetValue"] == 500.0
    metrics = requests["CustomizedMetricSpecification"]["Metrics"]
    groups = {
        d["Value"].split("/")[1]
        for m in metrics
        if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "TargetGroup"
    }
    assert groups == {"web-dev-blue", "web-dev-green"}  # both groups: right after a blue/green switch too
    assert [m["Id"] for m in metrics if m.get("ReturnData")] == ["perTask"]

    aws.reset()
    engine.create(make_ctx(config_text(SCALING)))
    assert aws.mutating() == []


def test_a_count_set_by_scaling_survives_create(aws, make_ctx):
    engine.create(make_ctx(config_text(SCALING)))
    client("ecs").update_service(cluster="web-dev", service="web-dev", desiredCount=3)  # what scaling does
    aws.reset()
    engine.create(make_ctx(config_text(SCALING)))
    assert service()["desiredCount"] == 3
    assert ("ecs", "UpdateService") not in aws.calls


def test_a_changed_target_updates_only_that_policy(aws, make_ctx):
    engine.create(make_ctx(config_text(SCALING)))
    aws.reset()
    engine.create(make_ctx(config_text(SCALING.replace("cpu_target = 60", "cpu_target = 70"))))
    assert aws.writes() == [("application-autoscaling", "PutScalingPolicy")]
    assert policies()["ecsup-web-dev-cpu"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70.0


def test_removing_the_section_removes_exactly_ecsups_policies_and_the_target(aws, make_ctx):
    engine.create(make_ctx(config_text(SCALING)))
    engine.create(make_ctx())
    assert target() is None and policies() == {}
    aws.reset()
    engine.create(make_ctx())
    assert aws.mutating() == []  # and the service's marker is gone: no read either
    assert ("application-autoscaling", "DescribeScalableTargets") not in aws.calls


def test_a_policy_ecsup_did_not_make_is_left_with_its_target(aws, make_ctx):
    engine.create(make_ctx(config_text(SCALING)))
    aas().put_scaling_policy(
        PolicyName="team-memory",
        ServiceNamespace="ecs",
        ResourceId=RID,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"},
        },
    )
    ctx = make_ctx()
    engine.create(ctx)
    assert set(policies()) == {"team-memory"}
    assert target() is not None
    assert any("team-memory" in note for note in ctx.notes)


ABOVE_ONE = SCALING.replace("min = 1", "min = 2")


def test_plan_says_when_registering_moves_the_live_count(aws, make_ctx):
    engine.create(make_ctx())
    _, notes = plan(make_ctx, config_text(ABOVE_ONE))
    assert any("moves the service's desired count 1 into [2, 4]" in n for n in notes)
    engine.create(make_ctx(config_text(ABOVE_ONE)))
    assert service()["desiredCount"] == 2  # AWS moves it (emulated)


def test_status_shows_the_range_the_count_and_the_last_activity(aws, make_ctx):
    engine.create(make_ctx(config_text(ABOVE_ONE)))
    report = collect(make_ctx(config_text(ABOVE_ONE)))
    scaling = report.service["autoscaling"]
    assert (scaling["min"], scaling["max"]) == (2, 4)
    assert "Setting desired count to 2" in scaling["last_activity"]
    row = next(r for r in report.rows if r.resource == "auto scaling")
    assert "2 to 4 tasks, now 2" in row.detail


def test_destroy_removes_the_policies_and_the_target_before_the_service(aws, make_ctx):
    from test_destroy import destroy

    engine.create(make_ctx(config_text(SCALING)))
    aws.reset()
    result = destroy(make_ctx(config_text(SCALING)))
    assert result["failed"] == []
    assert target() is None and policies() == {}
    calls = aws.calls
    assert calls.index(("application-autoscaling", "DeregisterScalableTarget")) < calls.index(("ecs", "DeleteService"))


# -- Graviton and Spot -------------------------------------------------------------------------
def test_arm64_runs_on_graviton(aws, make_ctx):
    engine.create(make_ctx(with_service_keys('cpu_architecture = "ARM64"')))
    td = client("ecs").describe_task_definition(taskDefinition=service()["taskDefinition"])["taskDefinition"]
    assert td["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}


def test_fargate_spot_in_a_fresh_account(aws, make_ctx):
    """The cluster's capacity providers need ECS's service-linked role usable: created first."""
    engine.create(make_ctx(with_service_keys('capacity = "FARGATE_SPOT"')))
    svc = service()
    assert svc["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert "launchType" not in svc
    cluster = client("ecs").describe_clusters(clusters=["web-dev"])["clusters"][0]
    assert set(cluster["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}
    assert aws.calls.index(("iam", "CreateServiceLinkedRole")) < aws.calls.index(("ecs", "CreateCluster"))


def test_graviton_on_spot(aws, make_ctx):
    """ECS API Reference, CapacityProviderStrategyItem: FARGATE_SPOT runs ARM64 tasks on
    platform version 1.4.0 or later."""
    engine.create(make_ctx(with_service_keys('cpu_architecture = "ARM64"\ncapacity = "FARGATE_SPOT"')))
    svc = service()
    td = client("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert td["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    assert svc["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert svc.get("platformVersion", "LATEST") in ("LATEST", "1.4.0")


def test_mixed_capacity_keeps_a_base_on_demand(aws, make_ctx):
    engine.create(make_ctx(with_service_keys('capacity = "mixed"\non_demand_base = 2\non_demand_percent = 25')))
    strategy = {i["capacityProvider"]: i for i in service()["capacityProviderStrategy"]}
    assert (strategy["FARGATE"]["base"], strategy["FARGATE"]["weight"]) == (2, 25)
    assert (strategy["FARGATE_SPOT"]["base"], strategy["FARGATE_SPOT"]["weight"]) == (0, 75)


def test_switching_capacity_is_a_new_deployment(aws, make_ctx):
    engine.create(make_ctx())
    # on demand is a capacity provider strategy too: moving to Spot is a transition AWS allows
    assert "launchType" not in service() or service()["launchType"] in (None, "")
    assert service()["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    cluster = client("ecs").describe_clusters(clusters=["web-dev"])["clusters"][0]
    assert set(cluster["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}
    spot = with_service_keys('capacity = "FARGATE_SPOT"')
    changes, _ = plan(make_ctx, spot)
    planned = {(a.resource, c.attribute) for a in changes for c in a.changes}
    assert planned == {("ECS service", "capacity (new deployment)")}
    sent: dict[str, Any] = {}
    aws.injectors.append(
        lambda service, operation, params: sent.update(params) if operation == "UpdateService" else None
    )
    engine.create(make_ctx(spot))
    assert sent["forceNewDeployment"] is True
    assert sent["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert service()["capacityProviderStrategy"][0]["capacityProvider"] == "FARGATE_SPOT"
    assert plan(make_ctx, spot)[0] == []


# -- the monthly cost a plan changes -------------------------------------------------------------------
def test_plan_shows_the_monthly_cost_before_and_after(aws, make_ctx, tmp_path):
    engine.create(make_ctx())
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(replace={"desired_count = 1": "desired_count = 2"}))
    result = CliRunner().invoke(app, ["plan", "-c", str(path), "--json"], env=SECRET_GIVEN)
    assert result.exit_code == 0, result.output
    money = json.loads(result.stdout)["monthly_cost"]
    compute = money["compute"]
    assert compute["after"] == pytest.approx(2 * compute["before"], abs=0.01)  # twice the tasks, twice the compute
    assert money["after"] - money["before"] == pytest.approx(compute["after"] - compute["before"], abs=0.01)
    human = CliRunner().invoke(app, ["plan", "-c", str(path)], env=SECRET_GIVEN)
    assert f"${money['before']:,.2f} -> ${money['after']:,.2f}" in human.stdout

    path.write_text(config_text())  # nothing billed changes: no line
    assert (
        json.loads(CliRunner().invoke(app, ["plan", "-c", str(path), "--json"], env=SECRET_GIVEN).stdout)[
            "monthly_cost"
        ]
        is None
    )


def test_a_service_on_the_fargate_launch_type_cannot_move_to_spot_in_place(aws, make_ctx, clock, tmp_path):
    """A service made with launch type FARGATE (by an earlier ecsup): AWS refuses the switch to a
    capacity provider strategy (UpdateService reference: not a valid transition), so the plan says
    so, before any change, instead of failing half-way."""
    engine.create(make_ctx())
    ecs = client("ecs")
    old = service()
    ecs.delete_service(cluster="web-dev", service="web-dev", force=True)
    clock.sleep(120)  # it drains
    ecs.describe_services(cluster="web-dev", services=["web-dev"])
    lb = dict(old["loadBalancers"][0])
    ecs.create_service(
        cluster="web-dev",
        serviceName="web-dev",
        taskDefinition=old["taskDefinition"],
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=old["networkConfiguration"],
        loadBalancers=[lb],
        deploymentConfiguration=old["deploymentConfiguration"],
        healthCheckGracePeriodSeconds=old.get("healthCheckGracePeriodSeconds", 60),
        tags=ecs.list_tags_for_resource(resourceArn=old["serviceArn"])["tags"],
    )
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.update_service(
            cluster="web-dev",
            service="web-dev",
            capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            forceNewDeployment=True,
        )
    assert all(a.resource != "ECS service" for a in plan(make_ctx, config_text())[0])  # on demand: as it was
    path = tmp_path / "ecsup.toml"
    path.write_text(with_service_keys('capacity = "FARGATE_SPOT"'))
    aws.reset()
    result = CliRunner().invoke(app, ["plan", "-c", str(path)])
    assert result.exit_code != 0, result.output
    assert "FARGATE launch type" in result.output and "ecsup destroy" in result.output
    assert aws.mutating() == []
