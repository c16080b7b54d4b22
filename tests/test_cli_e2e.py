"""The CLI end to end, as a user runs it: `ecsup sandbox` in one process, `ecsup create`,
`status`, `destroy` as subprocesses against its endpoint, resources read back with boto3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

SECRET = "e2e-Secret-Value-4c1d9a"
ZONE = "shop.example.org"

CONFIG = f'''
app = "shop"
env = "prod"
region = "ap-northeast-1"

[dns]
zone = "{ZONE}"
hostname = "{ZONE}"
cloudfront_certificate = true

[network]
assign_public_ip = true

[service]
image = "ghcr.io/example/shop:1.4.2"
container_port = 3000
cpu = 1024
memory = 3072
desired_count = 1
health_check_path = "/healthz"
log_retention_days = 14

[service.environment]
NODE_ENV = "production"

[service.secrets]
STRIPE_KEY = "/shop/prod/stripe-key"
SESSION_SECRET = "/shop/prod/session"
'''


def _cli(*args: str, env: dict[str, str], cwd: Path, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "ecsup", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "ECSUP_"))}
    env["MOTO_ECS_SERVICE_RUNNING"] = "0"  # the sandbox itself makes services report their tasks running
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecsup", "sandbox", "--zone", ZONE, "--region", "ap-northeast-1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    exports: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.strip()
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            exports[key] = value
        if "Ctrl-C" in line:
            break
    try:
        assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert exports["AWS_EC2_METADATA_DISABLED"] == "true"
        yield dict(env, **exports)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _client(env: dict[str, str], service: str, region: str = "ap-northeast-1") -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_create_status_destroy_through_the_cli(sandbox: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "ecsup.toml").write_text(CONFIG)
    env = dict(sandbox, ECSUP_SECRET_STRIPE_KEY=SECRET, ECSUP_SECRET_SESSION_SECRET=SECRET + "-2")

    # status before anything exists: says so, exits 6
    before = _cli("status", env=env, cwd=tmp_path, check_rc=6)
    assert "does not exist" in before.stdout

    created = _cli("create", env=env, cwd=tmp_path)
    assert f"URL: https://{ZONE}/" in created.stdout
    assert "\x1b[" not in created.stdout  # plain output when not a terminal
    elb = _client(env, "elbv2")
    lb = elb.describe_load_balancers(Names=["shop-prod"])["LoadBalancers"][0]
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert sorted(lst["Port"] for lst in listeners) == [80, 443]
    tg = elb.describe_target_groups(Names=["shop-prod-blue"])["TargetGroups"][0]
    assert (tg["Port"], tg["HealthCheckPath"]) == (3000, "/healthz")
    td = _client(env, "ecs").describe_task_definition(taskDefinition="shop-prod")["taskDefinition"]
    assert (td["cpu"], td["memory"]) == ("1024", "3072")
    assert {s["name"] for s in td["containerDefinitions"][0]["secrets"]} == {"STRIPE_KEY", "SESSION_SECRET"}
    assert _client(env, "acm", "us-east-1").list_certificates()["CertificateSummaryList"]
    zone_id = _client(env, "route53").list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"][0]["Id"]
    apex = [
        r
        for r in _client(env, "route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        if r["Name"] == f"{ZONE}." and r["Type"] == "A"
    ]
    assert apex and apex[0]["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]
    assert (
        _client(env, "logs").describe_log_groups(logGroupNamePrefix="/ecs/shop-prod")["logGroups"][0]["retentionInDays"]
        == 14
    )

    again = _cli("create", "--json", env=env, cwd=tmp_path)
    summary = json.loads(again.stdout)
    assert summary["url"] == f"https://{ZONE}/"
    assert set(summary["counts"]) <= {"noop"}

    # ECS registers the running task in the live group (the sandbox's moto registers none yet)
    blue = elb.describe_target_groups(Names=["shop-prod-blue"])["TargetGroups"][0]
    elb.register_targets(TargetGroupArn=blue["TargetGroupArn"], Targets=[{"Id": "10.0.9.1", "Port": blue["Port"]}])
    status = _cli("status", "--json", env=env, cwd=tmp_path)
    report = json.loads(status.stdout)
    assert report["healthy"] is True and report["exists"] is True
    assert {r["resource"] for r in report["resources"]} >= {"load balancer", "listener", "ECS service", "secret"}
    assert report["service"]["running"] == report["service"]["desired"] == 1

    refused = _cli("destroy", env=env, cwd=tmp_path, check_rc=7)  # no terminal, no --yes
    assert "--yes" in refused.stderr
    assert elb.describe_load_balancers(Names=["shop-prod"])["LoadBalancers"]

    gone = _cli("destroy", "--yes", env=env, cwd=tmp_path)
    assert "--purge" in gone.stdout
    assert not elb.describe_load_balancers()["LoadBalancers"]
    ssm = _client(env, "ssm")
    assert ssm.get_parameter(Name="/shop/prod/stripe-key", WithDecryption=True)["Parameter"]["Value"] == SECRET

    for proc in (before, created, again, status, refused, gone):
        assert SECRET not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr


def test_bad_config_exits_2_with_the_key_and_no_traceback(sandbox: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "ecsup.toml").write_text(CONFIG.replace("memory = 3072", "memory = 512"))
    proc = _cli("create", env=sandbox, cwd=tmp_path, check_rc=2)
    assert "service.memory" in proc.stderr and "2048, 3072" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_and_version_are_fast_and_import_no_boto3() -> None:
    code = (
        "import sys; from ecsup.cli import app; "
        "sys.argv=['ecsup','--version']\ntry:\n app()\nexcept SystemExit: pass\n"
        "print('boto3' in sys.modules, 'botocore' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == "False False", proc.stdout + proc.stderr
    assert proc.stdout.startswith("ecsup ")
