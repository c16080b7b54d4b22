"""The sandbox as a user runs it from a terminal: `ecsup demo --keep` leaves the sandbox up with
the demo's stack in it (its exports printed as `ecsup sandbox` prints them), and Ctrl-C -- the
documented way to stop a sandbox -- ends it with a clean line and exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

EXPORTED = {
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "ECSUP_IAM_SETTLE",
    "ECSUP_LOG_QUIET",
}


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "ECSUP_"))}
    env["MOTO_ECS_SERVICE_RUNNING"] = "0"  # the sandbox itself makes services report their tasks running
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Foreground:
    """A command serving in the foreground: its output read line by line until a line says what
    is awaited, with a deadline (the process is killed when it passes)."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecsup", *args],
            env=_clean_env(),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []

    def read_until(self, marker: str, seconds: float = 180) -> list[str]:
        watchdog = threading.Timer(seconds, self.proc.kill)
        watchdog.start()
        try:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if marker in line:
                    return self.lines
        finally:
            watchdog.cancel()
        raise AssertionError(f"{marker!r} never printed:\n" + "\n".join(self.lines) + self.stderr())

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr and self.proc.poll() is not None else ""

    def ctrl_c(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


@pytest.fixture
def foreground(tmp_path: Path) -> Iterator[list[Foreground]]:
    started: list[Foreground] = []
    yield started
    for one in started:
        one.stop()


def exports_of(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            found[key] = value
    return found


def test_demo_keep_leaves_the_sandbox_serving_the_stack(foreground: list[Foreground], tmp_path: Path) -> None:
    demo = Foreground("demo", "--keep", cwd=tmp_path)
    foreground.append(demo)
    lines = demo.read_until("Ctrl-C stops the sandbox")
    text = "\n".join(lines)
    # create, create again, status -- then the sandbox stays, with the exports `ecsup sandbox` prints
    assert "$ ecsup create" in text and "$ ecsup status" in text and "$ ecsup destroy" not in text, text
    exports = exports_of(lines)
    assert set(exports) == EXPORTED, text
    assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert "In another shell (paste these lines):" in text
    assert demo.proc.poll() is None, "the demo returned: the sandbox died with it"

    # the endpoint answers, with the stack in it
    ecs = boto3.client(
        "ecs",
        region_name=exports["AWS_DEFAULT_REGION"],
        endpoint_url=exports["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    svc = ecs.describe_services(cluster="demo-dev", services=["demo-dev"])["services"][0]
    assert svc["status"] == "ACTIVE" and svc["runningCount"] == 2
    # and ecsup in another shell, with the exports and the printed ecsup.toml, sees it complete
    config = next(word.strip("`") for word in text.split() if word.endswith("ecsup.toml`"))
    status = subprocess.run(
        [sys.executable, "-m", "ecsup", "status", "-c", config],
        env=dict(_clean_env(), **exports),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "demo-dev" in status.stdout

    code, rest, err = demo.ctrl_c()
    assert (code, rest.strip(), err) == (0, "sandbox stopped (its state is lost)", ""), (code, rest, err)


def test_ctrl_c_stops_the_sandbox_cleanly(foreground: list[Foreground], tmp_path: Path) -> None:
    box = Foreground("sandbox", cwd=tmp_path)
    foreground.append(box)
    exports = exports_of(box.read_until("Ctrl-C stops the sandbox"))
    assert set(exports) == EXPORTED
    code, rest, err = box.ctrl_c()
    assert (code, rest.strip(), err) == (0, "sandbox stopped (its state is lost)", ""), (code, rest, err)


def test_a_stopped_sandbox_is_named_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the sandbox stopped and its exports still set, a command says the endpoint does not
    answer at its first call: no botocore retries (seconds), no hint to re-run create."""
    import time

    from conftest import config_text, explain, invoke

    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    dead = "http://127.0.0.1:9"  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    for command in ("status", "plan", "create", "destroy --yes", "deploy --image nginx:2", "run -- true"):
        start = time.monotonic()
        result = invoke(*command.split()[:1], "-c", str(path), *command.split()[1:])
        took = time.monotonic() - start
        assert result.exit_code == 3, explain(result)
        first = result.stderr.splitlines()[0]
        assert first == (
            f"error: the endpoint {dead} does not answer (is the sandbox running? unset AWS_ENDPOINT_URL to use AWS)"
        ), explain(result)
        assert "create" not in result.stderr.split("hint:")[0] and "Traceback" not in result.output
        assert took < 3, f"{command}: {took:.1f}s"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    result = invoke("status", "-c", str(path), "--endpoint-url", dead)
    assert result.exit_code == 3 and "(is the sandbox running? drop --endpoint-url to use AWS)" in result.stderr


def test_a_sandbox_without_a_default_vpc_has_none(foreground: list[Foreground], tmp_path: Path) -> None:
    """`ecsup sandbox --no-default-vpc`: the account as landing zones leave it, no VPC at all."""
    box = Foreground("sandbox", "--no-default-vpc", cwd=tmp_path)
    foreground.append(box)
    exports = exports_of(box.read_until("Ctrl-C stops the sandbox"))
    ec2 = boto3.client(
        "ec2",
        endpoint_url=exports["AWS_ENDPOINT_URL"],
        region_name=exports["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert ec2.describe_vpcs()["Vpcs"] == []
    assert ec2.describe_subnets()["Subnets"] == []
    assert ec2.describe_internet_gateways()["InternetGateways"] == []
