"""`ecsup plan` and drift convergence: plan is read-only and reports exactly the drift;
create makes exactly the writes the plan announced; afterwards the plan is empty."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET_GIVEN, ZONE, change_records, client, config_text
from test_create import _alb_arn, _listener, _revoke_alb_443, _tg_arn, assert_full_stack
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app
from ecsup.steps.loadbalancer import STAGING_PORT


class MutatingCall(Exception):
    pass


def forbid_writes(service: str, operation: str, params: dict[str, Any]) -> Any:
    from ecsup.context import is_mutating

    if is_mutating(operation):
        raise MutatingCall(f"{service}.{operation} during plan")
    return None


def run_plan(path: Path, *extra: str, env: dict[str, str] | None = SECRET_GIVEN) -> Any:
    return CliRunner().invoke(app, ["plan", "-c", str(path), "--detailed-exitcode", *extra], env=env)


def planned(path: Path) -> tuple[int, set[tuple[str, str, str]], list[dict[str, Any]]]:
    result = run_plan(path, "--json")
    assert result.exit_code in (0, 2), result.output
    doc = json.loads(result.stdout)
    changes = {(a["resource"], a["name"], a["kind"]) for a in doc["actions"] if a["kind"] not in ("noop",)}
    return result.exit_code, changes, doc["actions"]


def test_plan_on_an_empty_account_is_read_only_and_lists_everything(aws, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    aws.injectors.append(forbid_writes)
    human = run_plan(path)
    assert human.exit_code == 2, human.output
    assert "+ create    load balancer web-dev" in human.stdout
    assert "+ create    service-linked role AWSServiceRoleForECS" in human.stdout  # a fresh account has none
    assert "+ create    IAM role web-dev-infrastructure" in human.stdout  # for ECS blue/green
    assert "+ create    secret /web/dev/DB_PASSWORD" in human.stdout and "from ECSUP_SECRET_DB_PASSWORD" in human.stdout
    assert f"+ create    listener web-dev staging HTTP:{STAGING_PORT}" in human.stdout  # the service starts early
    assert "+ create    CloudWatch alarm ecsup-web-dev-5xx" in human.stdout  # the deployment alarm
    assert "Plan: 21 to create" in human.stdout, human.stdout
    code, changes, actions = planned(path)
    assert code == 2 and ("ECS service", "web-dev", "create") in changes
    assert any(a["detail"] == "(known after apply)" for a in actions)
    assert aws.mutating() == []


def test_plan_after_create_is_empty_exit_0(aws, make_ctx, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    engine.create(make_ctx())
    aws.injectors.append(forbid_writes)
    result = run_plan(path)
    assert result.exit_code == 0, result.output
    assert "Plan: no changes" in result.stdout


def _upsert_dns_elsewhere() -> None:
    change_records(
        "UPSERT", {"Name": f"www.{ZONE}", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.10"}]}
    )


def _modify_listener(port: int, **kwargs: Any) -> None:
    client("elbv2").modify_listener(ListenerArn=_listener(port), **kwargs)


TD = {("task definition", "web-dev:2", "create"), ("ECS service", "web-dev", "update")}
TD_WRITES = [("ecs", "RegisterTaskDefinition"), ("ecs", "TagResource"), ("ecs", "UpdateService")]

# (live change, config change, expected plan changes, expected writes of the converging create)
CASES: dict[str, tuple[Callable[[], None] | None, dict[str, str] | None, set[tuple[str, str, str]], list[Any]]] = {
    "image": (None, {"nginx:stable": "nginx:1.27"}, TD, TD_WRITES),
    "cpu-memory": (None, {"cpu = 512\nmemory = 1024": "cpu = 1024\nmemory = 2048"}, TD, TD_WRITES),
    "environment": (None, {'APP_ENV = "dev"': 'APP_ENV = "dev"\nFEATURE_X = "on"'}, TD, TD_WRITES),
    "desired-count": (
        None,
        {"desired_count = 1": "desired_count = 3"},
        {("ECS service", "web-dev", "update")},
        [("ecs", "TagResource"), ("ecs", "UpdateService")],
    ),
    "health-check-path": (
        None,
        {'health_check_path = "/health"': 'health_check_path = "/ready"'},
        {("target group", "web-dev-blue", "update"), ("target group", "web-dev-green", "update")},
        [("elbv2", "ModifyTargetGroup")] * 2,
    ),
    "deregistration-delay": (
        lambda: client("elbv2").modify_target_group_attributes(
            TargetGroupArn=_tg_arn("web-dev-blue"),
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}],
        ),
        None,
        {("target group", "web-dev-blue", "update")},
        [("elbv2", "ModifyTargetGroupAttributes")],
    ),
    "listener-deleted": (
        lambda: client("elbv2").delete_listener(ListenerArn=_listener(443)),
        None,
        # a new listener has a new default rule: the service's production rule follows it
        {("listener", "web-dev HTTPS:443", "create"), ("ECS service", "web-dev", "update")},
        [("elbv2", "CreateListener"), ("ecs", "UpdateService"), ("ecs", "TagResource")],
    ),
    "redirect-changed": (
        lambda: _modify_listener(
            80,
            DefaultActions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "hi"},
                }
            ],
        ),
        None,
        {("listener", "web-dev HTTP:80", "update")},
        [("elbv2", "ModifyListener")],
    ),
    "tls-policy": (
        lambda: _modify_listener(443, SslPolicy="ELBSecurityPolicy-2016-08"),
        None,
        {("listener", "web-dev HTTPS:443", "update")},
        [("elbv2", "ModifyListener")],
    ),
    "log-retention": (
        lambda: client("logs").put_retention_policy(logGroupName="/ecs/web-dev", retentionInDays=1),
        None,
        {("log group", "/ecs/web-dev", "update")},
        [("logs", "PutRetentionPolicy")],
    ),
    "sg-rule-removed": (
        _revoke_alb_443,
        None,
        {("security group", "web-dev-alb", "update")},
        [("ec2", "AuthorizeSecurityGroupIngress")],
    ),
    "alb-attribute": (
        lambda: client("elbv2").modify_load_balancer_attributes(
            LoadBalancerArn=_alb_arn(),
            Attributes=[{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"}],
        ),
        None,
        {("load balancer", "web-dev", "update")},
        [("elbv2", "ModifyLoadBalancerAttributes")],
    ),
    "dns-ours-pointing-elsewhere": (
        _upsert_dns_elsewhere,
        None,
        {("DNS record", f"www.{ZONE}", "update")},
        [("route53", "ChangeResourceRecordSets")],
    ),
    "container-port": (
        None,
        {"container_port = 8080": "container_port = 9000"},
        TD | {("security group", "web-dev-tasks", "update"), ("ECS service", "web-dev", "update")},
        [("ec2", "AuthorizeSecurityGroupIngress"), ("ec2", "RevokeSecurityGroupIngress"), *TD_WRITES],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_drift_is_planned_exactly_and_converged(aws, make_ctx, tmp_path, case):
    live, config_change, expected, writes = CASES[case]
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    engine.create(make_ctx())
    if live:
        live()
    if config_change:
        path.write_text(config_text(replace=config_change))
    aws.reset()
    aws.injectors.append(forbid_writes)
    code, changes, _ = planned(path)
    assert (code, changes) == (2, expected)
    assert aws.mutating() == []
    aws.injectors.clear()

    engine.create(make_ctx(path.read_text()))
    assert sorted(aws.writes()) == sorted(writes)
    lock_ops = [aws.calls[i][1] for i in aws.lock_calls]
    assert lock_ops == ["PutParameter", "GetParameter", "GetParameter", "PutParameter", "DeleteParameter"]
    # take it; generation unchanged (no re-plan); still ours?; new generation; release
    code, changes, _ = planned(path)
    assert (code, changes) == (0, set()), changes
    if not config_change:
        assert_full_stack()


def test_live_desired_count_is_information_not_a_change(aws, make_ctx, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    engine.create(make_ctx())
    client("ecs").update_service(cluster="web-dev", service="web-dev", desiredCount=4)
    result = run_plan(path)
    assert result.exit_code == 0, result.output
    assert "desired count 4 was changed on the live service" in result.stdout


def test_foreign_dns_record_is_reported_not_corrected(aws, tmp_path):
    change_records(
        "CREATE", {"Name": f"www.{ZONE}", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.10"}]}
    )
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    result = run_plan(path)
    assert result.exit_code == 4
    assert "192.0.2.10" in result.stderr and f"www.{ZONE}" in result.stderr


def test_alias_answered_with_the_dualstack_prefix_is_not_drift(aws, make_ctx, tmp_path):
    """Route53 answers an ALB alias target as 'dualstack.<name>.' (moto does not): same target."""
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    engine.create(make_ctx())
    lb = client("elbv2").describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    change_records(
        "UPSERT",
        {
            "Name": f"www.{ZONE}",
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": lb["CanonicalHostedZoneId"],
                "DNSName": f"dualstack.{lb['DNSName']}.".upper(),
                "EvaluateTargetHealth": True,
            },
        },
    )
    code, changes, _ = planned(path)
    assert (code, changes) == (0, set())


def test_detailed_exitcode_reports_a_config_error_as_1_not_as_changes(aws, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(replace={"memory = 1024": "memory = 100"}))
    result = run_plan(path)
    assert result.exit_code == 1
    assert "service.memory" in result.stderr
    plain = CliRunner().invoke(app, ["plan", "-c", str(path)])
    assert plain.exit_code == 2


def test_plan_reports_a_secret_create_could_not_store_as_create_does(aws, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    aws.injectors.append(forbid_writes)
    said = "service.secrets.DB_PASSWORD: SSM parameter /web/dev/DB_PASSWORD does not exist and no value was given"
    plan = run_plan(path, env={})
    assert plan.exit_code == 1, plan.output  # --detailed-exitcode: an error, not "changes"
    assert said in plan.stderr and "ECSUP_SECRET_DB_PASSWORD" in plan.stderr, plan.output
    plain = CliRunner().invoke(app, ["plan", "-c", str(path)])
    assert plain.exit_code == 2 and said in plain.stderr, plain.output
    aws.injectors.clear()
    create = CliRunner().invoke(app, ["create", "-c", str(path)])
    assert create.exit_code == 2 and said in create.stderr, create.output
    assert aws.mutating() == [] and "Traceback" not in plan.output + create.output
