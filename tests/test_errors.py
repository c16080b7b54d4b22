"""Failures that explain themselves: one line, the AWS error code, the next step, no traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import config_text, fail_first
from typer.testing import CliRunner

from ecsup.cli import app
from ecsup.errors import EXIT_AWS


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    return path


def create(config_file: Path, **env: str) -> Any:
    return CliRunner().invoke(
        app, ["create", "-c", str(config_file)], env={"ECSUP_SECRET_DB_PASSWORD": "errors-test-secret", **env}
    )


def assert_one_clear_failure(result: Any, *expected: str) -> None:
    assert result.exit_code == EXIT_AWS, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    for text in expected:
        assert text in result.stderr, (text, result.stderr)


def test_no_credentials_says_how_to_configure_them(config_file, monkeypatch):
    # no mock: botocore finds no credentials anywhere and fails before sending anything
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = create(config_file)
    assert_one_clear_failure(result, "no AWS credentials found", "aws configure", "sso login")


def test_no_region_says_where_to_set_one(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(replace={'region = "eu-west-1"\n': ""}))
    result = create(path)
    assert_one_clear_failure(result, "no AWS region configured", "--region", "AWS_REGION")


@pytest.mark.parametrize(
    "service, operation, code, message, expected",
    [
        (
            "route53",
            "ListHostedZonesByName",
            "ExpiredToken",
            "The security token included in the request is expired",
            ("ExpiredToken", "expired", "sso login"),
        ),
        (
            "iam",
            "CreateRole",
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:CreateRole on resource: x",
            ("AccessDenied", "may not perform iam:CreateRole", "IAM role web-dev-execution"),
        ),
        (
            "elbv2",
            "CreateLoadBalancer",
            "TooManyLoadBalancers",
            "You have reached the limit of load balancers",
            ("TooManyLoadBalancers", "quota", "create load balancer web-dev"),
        ),
        (
            "logs",
            "CreateLogGroup",
            "LimitExceededException",
            "Resource limit exceeded",
            ("LimitExceededException", "Service Quotas"),
        ),
    ],
    ids=["expired-token", "access-denied", "elb-quota", "logs-quota"],
)
def test_aws_refusals_name_the_code_and_the_next_step(aws, config_file, service, operation, code, message, expected):
    aws.injectors.append(fail_first(service, operation, code, 10, message))
    result = create(config_file)
    assert_one_clear_failure(result, *expected)


def test_quiet_prints_only_the_result(aws, config_file):
    result = CliRunner().invoke(
        app, ["create", "-c", str(config_file), "--quiet"], env={"ECSUP_SECRET_DB_PASSWORD": "errors-test-secret"}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "https://www.test.example.com/"


def test_stuck_certificate_hint_names_the_zones_name_servers(aws, make_ctx):
    from conftest import client
    from moto import settings

    from ecsup import engine
    from ecsup.context import Timeouts
    from ecsup.errors import WaitTimeout

    zone = client("route53").list_hosted_zones_by_name(DNSName="test.example.com.")["HostedZones"][0]
    servers = client("route53").get_hosted_zone(Id=zone["Id"])["DelegationSet"]["NameServers"]
    old = settings.ACM_VALIDATION_WAIT
    settings.ACM_VALIDATION_WAIT = 10**6
    try:
        with pytest.raises(WaitTimeout) as err:
            engine.create(make_ctx(timeouts=Timeouts(certificate=60)))
    finally:
        settings.ACM_VALIDATION_WAIT = old
    assert servers and all(ns in (err.value.hint or "") for ns in servers)
    assert "CAA" in (err.value.hint or "")


def test_demo_without_moto_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "moto.server", None)  # as if the [sandbox] extra were missing
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 2
    assert "pip install 'ecsup[sandbox]'" in result.stderr and "Traceback" not in result.output
