"""Issue 20: what a first-time user trips over -- each stumble with its outcome: the output,
the exit code, no traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import REGION, SECRET_GIVEN, Recorder, config_text, explain, invoke
from typer.testing import CliRunner

from ecsup.cli import app
from ecsup.errors import EXIT_CONFIG


@pytest.mark.parametrize("command", [["sandbox"], ["sandbox", "--service-delay", "1"], ["demo"]])
def test_without_the_sandbox_extra_every_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    for module in ("moto", "moto.server"):  # a plain `pip install .`: no moto
        monkeypatch.setitem(sys.modules, module, None)
    result = invoke(*command)
    assert result.exit_code == 1, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output and "ModuleNotFoundError" not in result.output, explain(result)
    assert "the sandbox needs moto's server, which is not installed" in result.stderr, explain(result)
    assert "pip install 'ecsup[sandbox]'" in result.stderr, explain(result)


def test_global_aws_options_work_after_the_command_too(aws: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(replace={f'region = "{REGION}"\n': ""}))  # the region from the command line
    after = CliRunner().invoke(app, ["plan", "-c", str(path), "--region", REGION, "--json"], env=SECRET_GIVEN)
    assert after.exit_code == 0, explain(after)
    assert json.loads(after.stdout)["changes"] > 0  # it planned the stack in that region
    assert ("elbv2", "DescribeLoadBalancers") in aws.calls

    before = invoke("--region", "us-east-1", "status", "-c", str(path), "--region", "ap-south-1")
    assert before.exit_code == EXIT_CONFIG, explain(before)
    assert "--region is given twice, as 'us-east-1' and 'ap-south-1'" in before.stderr, explain(before)

    path.write_text(config_text())  # ecsup.toml says eu-west-1
    clash = invoke("destroy", "-c", str(path), "--yes", "--region", "us-east-1")
    assert clash.exit_code == EXIT_CONFIG and "--region says 'us-east-1'" in clash.stderr, explain(clash)
    assert aws.mutating() == [] and "Traceback" not in before.output + clash.output


@pytest.mark.parametrize("command", ["create", "plan", "status", "destroy", "deploy", "rollback", "logs", "cost"])
def test_every_aws_command_lists_the_global_options(command: str) -> None:
    text = invoke(command, "--help").stdout
    for option in ("--profile NAME", "--region REGION", "--endpoint-url URL", "--config PATH"):
        assert option in text, f"{option} not in `ecsup {command} --help`:\n{text}"
