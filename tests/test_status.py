"""`ecsup status`: full, partial, missing and unhealthy stacks; human and JSON output; exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET_VALUE, aws_error, client, config_text, register_task_targets
from moto import settings
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app
from ecsup.errors import EXIT_UNHEALTHY


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    return path


def status(config_file: Path, *extra: str) -> Any:
    return CliRunner().invoke(app, ["status", "-c", str(config_file), *extra])


def rows(result: Any) -> dict[tuple[str, str], dict[str, str]]:
    report = json.loads(result.stdout)
    return {(r["resource"], r["name"]): r for r in report["resources"]}


def test_full_stack_is_healthy_exit_0_and_read_only(aws, make_ctx, config_file):
    engine.create(make_ctx())
    register_task_targets("web-dev-blue")  # as ECS does for the running task (moto's ECS does not)
    aws.reset()
    human = status(config_file)
    assert human.exit_code == 0, human.output
    assert "https://www.test.example.com/" in human.stdout and "healthy" in human.stdout
    for expected in (
        "load balancer",
        "listener",
        "target health",
        "service health",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "retention 30 days",
        "web-dev:1",
        "running 1/1",
        "SecureString, version 1",
    ):
        assert expected in human.stdout, expected
    assert "MISSING" not in human.stdout and "DRIFT" not in human.stdout
    assert "\x1b[" not in human.stdout
    as_json = status(config_file, "--json")
    assert as_json.exit_code == 0
    report = json.loads(as_json.stdout)
    assert report["healthy"] is True and report["exists"] is True
    assert report["service"]["desired"] == report["service"]["running"] == 1
    assert report["service"]["deployments"][0]["rollout"] == "COMPLETED"
    assert {r["state"] for r in report["resources"]} == {"OK"}
    assert aws.mutating() == []
    assert SECRET_VALUE not in human.output + as_json.output


def test_no_stack_says_so_and_exits_unhealthy(aws, config_file):
    result = status(config_file)
    assert result.exit_code == EXIT_UNHEALTHY
    assert "does not exist" in result.stdout
    report = json.loads(status(config_file, "--json").stdout)
    assert report["exists"] is False and report["healthy"] is False
    assert aws.mutating() == []


def test_partial_and_drifted_stack(aws, make_ctx, config_file):
    engine.create(make_ctx())
    elb = client("elbv2")
    lb = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    http = next(
        lst for lst in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if lst["Port"] == 80
    )
    elb.delete_listener(ListenerArn=http["ListenerArn"])
    client("logs").put_retention_policy(logGroupName="/ecs/web-dev", retentionInDays=7)
    aws.reset()
    result = status(config_file, "--json")
    assert result.exit_code == EXIT_UNHEALTHY
    found = rows(result)
    assert found[("listener", "web-dev HTTP:80")]["state"] == "MISSING"
    assert found[("log group", "/ecs/web-dev")]["state"] == "DRIFT"
    assert "7 -> 30" in found[("log group", "/ecs/web-dev")]["detail"]
    assert found[("listener", "web-dev HTTPS:443")]["state"] == "OK"
    assert aws.mutating() == []


def test_pending_certificate_shows_each_domain_validation(aws, make_ctx, config_file):
    old = settings.ACM_VALIDATION_WAIT
    settings.ACM_VALIDATION_WAIT = 10**6
    try:
        client("acm").request_certificate(  # an ecsup certificate still validating
            DomainName="test.example.com",
            SubjectAlternativeNames=["*.test.example.com"],
            ValidationMethod="DNS",
            Tags=[
                {"Key": "ecsup:app", "Value": "web"},
                {"Key": "ecsup:env", "Value": "dev"},
                {"Key": "ManagedBy", "Value": "ecsup"},
            ],
        )
        result = status(config_file, "--json")
    finally:
        settings.ACM_VALIDATION_WAIT = old
    found = rows(result)
    assert found[("certificate", "test.example.com (eu-west-1)")]["state"] == "PENDING"
    validations = {k: v for k, v in found.items() if k[0] == "domain validation"}
    assert {k[1] for k in validations} == {"test.example.com (eu-west-1)", "*.test.example.com (eu-west-1)"}
    assert {v["detail"] for v in validations.values()} == {"PENDING_VALIDATION"}


def test_failing_service_shows_events_and_stopped_reasons(aws, make_ctx, config_file, monkeypatch):
    engine.create(make_ctx())
    reason = "ResourceInitializationError: unable to pull secrets or registry auth"
    real = client("ecs").describe_services(cluster="web-dev", services=["web-dev"], include=["TAGS"])["services"][0]
    failing = dict(
        real,
        runningCount=0,
        pendingCount=1,
        deployments=[dict(real["deployments"][0], runningCount=0, pendingCount=1, rolloutState="IN_PROGRESS")],
        events=[{"id": "e1", "message": "(service web-dev) has started 1 tasks: (task abc)."}],
    )

    def inject(service: str, operation: str, params: dict[str, Any]) -> Any:
        from botocore.awsrequest import AWSResponse

        ok = AWSResponse("https://injected.invalid", 200, {}, None)
        if (service, operation) == ("ecs", "ListTasks"):
            return ok, {"taskArns": ["arn:aws:ecs:eu-west-1:123456789012:task/web-dev/abc"]}
        if (service, operation) == ("ecs", "DescribeTasks"):
            return ok, {
                "tasks": [{"taskArn": "arn:aws:ecs:eu-west-1:123456789012:task/web-dev/abc", "stoppedReason": reason}]
            }
        if (service, operation) == ("ecs", "DescribeServices"):
            return ok, {"services": [failing], "failures": []}
        return None

    aws.injectors.append(inject)
    aws.reset()
    human = status(config_file)
    assert human.exit_code == EXIT_UNHEALTHY
    assert "FAILING" in human.stdout and reason in human.stdout and "has started 1 tasks" in human.stdout
    report = json.loads(status(config_file, "--json").stdout)
    assert report["stopped_reasons"] == [reason]
    assert report["service"]["running"] == 0
    assert aws.mutating() == []


def test_foreign_resource_is_reported(aws, config_file):
    client("ecs").create_cluster(clusterName="web-dev")
    result = status(config_file, "--json")
    assert result.exit_code == EXIT_UNHEALTHY
    report = json.loads(result.stdout)
    assert any(r["state"] == "FOREIGN" and "ECS cluster 'web-dev'" in r["detail"] for r in report["resources"])


def test_access_denied_is_one_clear_line(aws, config_file):
    aws.injectors.append(
        lambda s, op, p: aws_error("AccessDeniedException", "not allowed") if op == "DescribeClusters" else None
    )
    result = status(config_file)
    assert result.exit_code == 3
    assert "AccessDeniedException" in result.stderr and "DescribeClusters" in result.stderr
    assert "Traceback" not in result.output


def test_target_health_is_what_the_load_balancer_reports_for_the_live_group(aws, make_ctx, config_file):
    engine.create(make_ctx())  # the first deployment made green live, its task its target
    elb = client("elbv2")
    for arn in (tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]):
        for target in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
            elb.deregister_targets(TargetGroupArn=arn, Targets=[target["Target"]])  # none, whoever registered
    none = status(config_file, "--json")
    assert none.exit_code == EXIT_UNHEALTHY, none.output
    live = rows(none)[("target health", "web-dev-green")]
    assert live["state"] == "FAILING", live
    assert "live: no targets registered while the service runs 1 task(s)" in live["detail"]
    idle = rows(none)[("target health", "web-dev-blue")]
    assert (idle["state"], idle["detail"]) == ("OK", "idle: no targets registered")  # the idle group may be empty

    register_task_targets("web-dev-green", 2)
    registered = status(config_file)
    assert registered.exit_code == 0, registered.output
    assert "live: 2 healthy" in registered.stdout and "no targets" not in registered.stdout.split("web-dev-blue")[0]


def test_target_health_shows_the_reason_elb_gives(aws, make_ctx):
    from ecsup.status import FAILING, OK, PENDING, target_health_row

    unhealthy = {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch", "Description": "Health checks failed"}
    row = target_health_row("web-dev-blue", [{"TargetHealth": unhealthy}], is_live=True, running=1, desired=1)
    assert row.state == FAILING
    assert row.detail == "live: 1 unhealthy (Target.ResponseCodeMismatch: Health checks failed)"
    initial = {"State": "initial", "Reason": "Elb.RegistrationInProgress"}
    assert target_health_row("g", [{"TargetHealth": initial}], True, 1, 1).state == PENDING  # registering
    assert target_health_row("g", [], True, 0, 1).state == PENDING  # tasks still starting
    assert target_health_row("g", [{"TargetHealth": {"State": "draining"}}], False, 1, 1).state == OK
