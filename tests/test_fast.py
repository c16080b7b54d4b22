"""Issue 13: the service starts while ACM validates (behind a listener no client can reach),
planning reads independent resources at once, destroy deletes independent resources at once
-- with the same results and the same output as one step at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET_GIVEN, Recorder, client, config_text
from moto import settings
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app
from ecsup.steps.loadbalancer import STAGING_PORT


def admitted(ports_open: list[tuple[str, int, int]], port: int) -> bool:
    return any(proto == "-1" or low <= port <= high for proto, low, high in ports_open)


def http_exposure() -> list[str]:
    """Every way a client could reach the service over plain HTTP right now: an HTTP listener
    on a port the load balancer's security groups admit, whose default action or rules forward."""
    elb, ec2 = client("elbv2"), client("ec2")
    found = []
    for lb in elb.describe_load_balancers()["LoadBalancers"]:
        groups = ec2.describe_security_groups(GroupIds=lb.get("SecurityGroups", []))["SecurityGroups"]
        ports_open = [
            (p.get("IpProtocol", "-1"), p.get("FromPort", 0), p.get("ToPort", 65535))
            for g in groups
            for p in g.get("IpPermissions", [])
        ]
        for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
            if listener["Protocol"] != "HTTP" or not admitted(ports_open, listener["Port"]):
                continue
            rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            for rule in rules:
                if any(a["Type"] == "forward" for a in rule["Actions"]):
                    found.append(f"HTTP:{listener['Port']} rule {rule['Priority']} forwards")
    return found


def test_the_service_starts_while_acm_validates_and_is_never_reachable_over_plain_http(aws: Recorder, make_ctx):
    settings.ACM_VALIDATION_WAIT = 10**6  # ACM takes its time...
    exposures: list[str] = []
    certificate_at_service_start: list[str] = []
    seen = {"calls": 0}

    def watch(service: str, operation: str, params: dict[str, Any]) -> None:
        seen["calls"] += 1
        exposures.extend(f"before {operation}: {e}" for e in http_exposure())
        if operation == "CreateService":
            arn = client("acm").list_certificates()["CertificateSummaryList"][0]["CertificateArn"]
            certificate_at_service_start.append(
                client("acm").describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
            )
        if operation == "DescribeServices" and ("ecs", "CreateService") in aws.calls:
            settings.ACM_VALIDATION_WAIT = 0  # ...and issues it once the service is created

    aws.injectors.append(watch)
    engine.create(make_ctx())

    assert seen["calls"] > 40 and exposures == []  # at no point of create
    assert http_exposure() == []
    assert set(certificate_at_service_start) == {"PENDING_VALIDATION"}  # the tasks started during validation
    # the end state is today's: HTTP:80 redirect and HTTPS:443, no staging listener, no extra rule
    elb = client("elbv2")
    lb = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert sorted((lst["Port"], lst["Protocol"]) for lst in listeners) == [(80, "HTTP"), (443, "HTTPS")]
    for listener in listeners:
        assert [r["IsDefault"] for r in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]] == [True]
    calls = aws.calls
    assert calls.index(("ecs", "CreateService")) < calls.index(("elbv2", "ModifyListener"))


def test_the_plan_shows_the_staging_step(aws, make_ctx, tmp_path):
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    out = CliRunner().invoke(app, ["plan", "-c", str(path)], env=SECRET_GIVEN).stdout
    staging = out.index(f"listener web-dev staging HTTP:{STAGING_PORT}")
    assert staging < out.index("ECS service web-dev") < out.index("listener web-dev HTTPS:443")


def test_a_security_group_admitting_the_staging_port_waits_for_the_certificate_instead(aws, make_ctx):
    engine.create(make_ctx())
    ec2 = client("ec2")
    alb_sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web-dev-alb"]}])[
        "SecurityGroups"
    ][0]
    ec2.authorize_security_group_ingress(
        GroupId=alb_sg["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 10000, "ToPort": 20000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    elb = client("elbv2")
    lb = elb.describe_load_balancers(Names=["web-dev"])["LoadBalancers"][0]
    https = next(
        lst for lst in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if lst["Port"] == 443
    )
    elb.delete_listener(ListenerArn=https["ListenerArn"])
    from test_faults import certificate_status

    aws.injectors.append(certificate_status("PENDING_VALIDATION", ""))  # as if ACM were still validating
    ctx = make_ctx()
    ctx.mode = "plan"
    outcome = engine.make_plan(ctx)
    listeners = [a.name for a in outcome.changes() if a.resource == "listener"]
    assert listeners == ["web-dev HTTPS:443"]  # created directly, once issued
    assert any(str(STAGING_PORT) in note and "admits" in note for note in outcome.notes)


# -- observing at once ------------------------------------------------------------------------------
def test_planning_reads_at_once_and_gives_the_same_plan_as_one_step_at_a_time(aws, make_ctx, monkeypatch, tmp_path):
    engine.create(make_ctx())
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(replace={"cpu = 512": "cpu = 1024", "memory = 1024": "memory = 2048"}))
    in_flight = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow(service: str, operation: str, params: dict[str, Any]) -> None:
        with lock:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
        time.sleep(0.02)  # a round trip, so that reads made at once overlap
        with lock:
            in_flight["now"] -= 1

    aws.injectors.append(slow)
    concurrent = [CliRunner().invoke(app, ["plan", "-c", str(path)], env=SECRET_GIVEN).stdout for _ in range(3)]
    assert in_flight["most"] >= 4  # independent reads overlapped
    monkeypatch.setattr(engine, "OBSERVERS", 1)  # one step at a time
    in_flight["most"] = 0
    sequential = CliRunner().invoke(app, ["plan", "-c", str(path)], env=SECRET_GIVEN).stdout
    assert in_flight["most"] <= 3  # (the steps' own reads of independent regions/roles still overlap)
    assert concurrent == [sequential] * 3  # deterministic: the same plan, notes and order
    assert "cpu" in sequential and "monthly cost" in sequential


def test_the_first_error_in_pipeline_order_is_raised(aws, make_ctx):
    """Two steps fail while planned at once: the one a step-by-step plan meets first is raised."""
    from conftest import fail_first

    from ecsup.errors import AwsError

    aws.injectors += [
        fail_first("logs", "DescribeLogGroups", "AccessDeniedException", 10**6, "denied logs"),
        fail_first("ec2", "DescribeSubnets", "UnauthorizedOperation", 10**6, "denied ec2"),
    ]
    ctx = make_ctx()
    ctx.mode = "plan"
    with pytest.raises(AwsError) as err:
        engine.make_plan(ctx)
    assert err.value.code == "UnauthorizedOperation"  # the security groups come before the log group


# -- destroying at once -----------------------------------------------------------------------------
def test_independent_deletions_run_while_the_service_drains(aws, make_ctx):
    from test_destroy import destroy, host_records

    engine.create(make_ctx())
    dns_deleted = threading.Event()

    def gate(service: str, operation: str, params: dict[str, Any]) -> None:
        if operation == "ChangeResourceRecordSets":
            dns_deleted.set()
        if operation == "DescribeServices" and ("ecs", "DeleteService") in aws.calls:
            # the service drains until the DNS record is deleted: one at a time, it never would be
            assert dns_deleted.wait(timeout=10), "the DNS record was not deleted while the service drained"

    aws.injectors.append(gate)
    result = destroy(make_ctx())
    assert result["failed"] == [] and result["left"] == []
    assert host_records() == []
    assert dns_deleted.is_set()


def test_destroy_output_lists_every_deletion_once(aws, make_ctx, tmp_path: Path):
    engine.create(make_ctx())
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    out = CliRunner().invoke(app, ["destroy", "-c", str(path), "--yes"], env={"COLUMNS": "200"}).stdout
    deleted = [line for line in out.splitlines() if line.strip().startswith("- deleted")]
    assert len(deleted) == len(set(deleted)) >= 14
    assert "deleted 17, kept 3, failed 0" in out or "failed 0" in out
