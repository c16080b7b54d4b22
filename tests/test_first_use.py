"""Issue 20: what a first-time user trips over -- each stumble with its outcome: the output,
the exit code, no traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

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
    assert result.exit_code == EXIT_CONFIG, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output and "ModuleNotFoundError" not in result.output, explain(result)
    # one line: what is missing and how to add it, into the environment ecsup runs in or as a tool
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: the sandbox needs moto's server, which is not installed: "), explain(result)
    assert "pip install 'ecsup[sandbox]'" in line and "uv tool install 'ecsup[sandbox]'" in line, explain(result)


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


def test_cost_against_an_endpoint_without_the_price_list_api_uses_the_table_at_once(
    aws: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    result = invoke("cost", "-c", str(path), "--endpoint-url", "http://127.0.0.1:9")  # nothing listens there
    assert result.exit_code == 0, explain(result)
    assert "note: http://127.0.0.1:9 has no AWS Price List API: prices from the shipped table" in result.stdout
    assert "prices: table shipped with ecsup" in result.stdout and "Traceback" not in result.output
    assert aws.calls == []  # no Price List call at all: quick, and nothing in the sandbox's log
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the sandbox's exports
    result = invoke("cost", "-c", str(path), "--json")
    assert json.loads(result.stdout)["prices"]["note"].startswith("http://127.0.0.1:9 has no AWS Price List API")
    assert aws.calls == []


def test_the_first_line_says_which_account_or_which_endpoint(
    aws: Recorder, tmp_path: Path, make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    real = CliRunner().invoke(app, ["plan", "-c", str(path)], env=SECRET_GIVEN)
    assert real.exit_code == 0, explain(real)
    # moto's account: on AWS, the account the credentials belong to
    assert real.stdout.splitlines()[0] == "ecsup plan web-dev in eu-west-1 in account 123456789012", explain(real)
    status = invoke("status", "-c", str(path))
    assert status.stdout.splitlines()[0].startswith("web-dev (eu-west-1 in account 123456789012)"), explain(status)
    aws.reset()  # an endpoint that is not AWS is named, with no call to learn it
    assert make_ctx(endpoint_url="http://127.0.0.1:4566").whereabouts() == " at http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")  # the sandbox's exports
    assert make_ctx().whereabouts() == " at http://127.0.0.1:5000" and aws.calls == []


def test_help_is_consistent() -> None:
    import re

    from ecsup import emulation
    from ecsup.cli import SANDBOX_DELAY_DEFAULTS

    top = invoke("--help").stdout
    commands = re.findall(r"^  (\w+)  ", top.split("Commands:")[1], re.M)
    assert commands[0] == "init" and commands[-2:] == ["sandbox", "demo"], commands
    for command in commands:
        text = invoke(command, "--help").stdout
        assert not re.search(r"<(str|int|float)>", text), f"`ecsup {command} --help` has a type placeholder:\n{text}"
        assert "/ --no-" not in text, f"`ecsup {command} --help` mixes boolean styles:\n{text}"
    sandbox = invoke("sandbox", "--help").stdout
    assert sandbox.count("SECONDS") == 5 and sandbox.count("[default: ") >= 8, sandbox
    assert {k: getattr(emulation.SANDBOX, k) for k in SANDBOX_DELAY_DEFAULTS} == SANDBOX_DELAY_DEFAULTS


def test_sandbox_exports_can_be_pasted_or_sourced(tmp_path: Path) -> None:
    import subprocess
    import time

    env_file = tmp_path / "sandbox.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecsup", "sandbox", "--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert env_file.exists(), proc.stderr.read() if proc.poll() is not None else "no env file"
        sourced = subprocess.run(
            ["bash", "-c", f". {env_file} && echo $AWS_ENDPOINT_URL $AWS_DEFAULT_REGION"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert sourced[0].startswith("http://127.0.0.1:") and sourced[1] == "eu-west-1"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    pasted = [line for line in out.splitlines() if line.startswith("export ")]
    assert pasted == env_file.read_text().splitlines()  # what is printed is what the file holds
    assert f"export AWS_ENDPOINT_URL={sourced[0]}" in pasted and "Traceback" not in err
