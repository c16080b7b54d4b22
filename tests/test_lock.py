"""The stack lock: an SSM parameter only one writer can create, held only while changing."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import client, config_text
from test_create import assert_full_stack
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app
from ecsup.errors import EXIT_LOCKED

LOCK = "/ecsup/web-dev/lock"


def hold(host: str, pid: int) -> None:
    client("ssm").put_parameter(
        Name=LOCK,
        Type="String",
        Value=json.dumps(
            {"host": host, "pid": pid, "command": "create", "run": "other", "since": "2026-11-27T01:02:03Z"}
        ),
    )


def lock_exists() -> bool:
    return any(p["Name"] == LOCK for p in client("ssm").describe_parameters()["Parameters"])


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    return path


def cli(*args: str) -> object:
    return CliRunner().invoke(app, list(args), env={"ECSUP_SECRET_DB_PASSWORD": "lock-test-value"})


def test_a_lock_held_elsewhere_refuses_naming_the_holder_and_changes_nothing(aws, config_file):
    hold("build-agent-7", 4242)
    result = cli("create", "-c", str(config_file))
    assert result.exit_code == EXIT_LOCKED
    assert "build-agent-7" in result.stderr and "4242" in result.stderr and "2026-11-27T01:02:03Z" in result.stderr
    assert "--force-unlock" in result.stderr
    assert aws.mutating() == [("ssm", "PutParameter")]  # the attempt to take it, refused by SSM
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert lock_exists()


def test_force_unlock_breaks_it_and_the_run_releases_it(aws, config_file):
    hold("build-agent-7", 4242)
    result = cli("create", "-c", str(config_file), "--force-unlock")
    assert result.exit_code == 0, result.output
    assert client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert not lock_exists()


def test_a_lock_whose_process_is_gone_on_this_host_is_taken_over(aws, make_ctx):
    hold(socket.gethostname(), dead_pid())
    engine.create(make_ctx())
    assert client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert not lock_exists()


def test_a_live_process_on_this_host_keeps_its_lock(aws, make_ctx):
    import os

    from ecsup.lock import LockHeld

    hold(socket.gethostname(), os.getppid())  # alive, and not us
    with pytest.raises(LockHeld):
        engine.create(make_ctx())


def test_a_no_op_create_needs_no_lock(aws, make_ctx):
    engine.create(make_ctx())
    hold("build-agent-7", 4242)  # someone else is busy: a no-op run does not care
    aws.reset()
    engine.create(make_ctx())
    assert aws.mutating() == []


def test_destroy_takes_the_lock_too(aws, make_ctx, config_file):
    engine.create(make_ctx())
    hold("build-agent-7", 4242)
    aws.reset()
    result = cli("destroy", "-c", str(config_file), "--yes")
    assert result.exit_code == EXIT_LOCKED
    assert client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert [c for c in aws.mutating() if c != ("ssm", "PutParameter")] == []
    result = cli("destroy", "-c", str(config_file), "--yes", "--force-unlock")
    assert result.exit_code == 0, result.output
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert not lock_exists()


def test_taking_over_a_dead_runs_lock_plans_again(aws, make_ctx):
    """A run that died holding the lock may have changed the stack after our plan began."""
    hold(socket.gethostname(), dead_pid())
    aws.reset()
    engine.create(make_ctx())
    # two plans: one before the lock, one under it (each starts by listing hosted zones)
    assert aws.calls.count(("route53", "ListHostedZonesByName")) == 2
    assert not lock_exists()


def test_an_uncontended_create_plans_once(aws, make_ctx):
    aws.reset()
    engine.create(make_ctx())
    assert aws.calls.count(("route53", "ListHostedZonesByName")) == 1


def test_a_take_over_claim_left_by_a_dead_run_does_not_block_the_lock_for_good(aws, make_ctx):
    """A run killed between claiming a take-over and removing its claim: the next run takes the
    dead claimant's claim over in turn, then the lock, and leaves neither parameter behind; nor
    the claim that the dead holder itself (which had taken the lock over) had left."""
    dead = {"host": socket.gethostname(), "pid": dead_pid(), "command": "create", "run": "other"}
    client("ssm").put_parameter(Name=LOCK, Type="String", Value=json.dumps(dict(dead, claim=f"{LOCK}-takeover-older")))
    client("ssm").put_parameter(Name=f"{LOCK}-takeover-older", Type="String", Value=json.dumps(dead))
    claim = {"host": socket.gethostname(), "pid": dead_pid(), "command": "destroy", "run": "killed"}
    client("ssm").put_parameter(Name=f"{LOCK}-takeover-other", Type="String", Value=json.dumps(claim))

    engine.create(make_ctx())

    assert_full_stack()
    names = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    assert not [n for n in names if n.startswith(LOCK)], names


def test_a_take_over_is_claimed_by_one_run_only(aws, make_ctx):
    """Two runs that judge the same holder dead must not both take its lock: the take-over is
    claimed with a create-only parameter, and a run finding the claim taken backs off."""
    from ecsup.lock import LockHeld, _take_over, read, stack_key

    hold(socket.gethostname(), dead_pid())
    ctx = make_ctx()
    key = stack_key(ctx)
    holder = read(ctx, key)
    client("ssm").put_parameter(Name=f"{LOCK}-takeover-other", Type="String", Value="another-run")
    with pytest.raises(LockHeld, match="locked by another run just now"):
        _take_over(ctx, {"run": "me", "command": "create"}, key, holder)
    assert read(ctx, key) == holder  # the dead run's lock is untouched: the claimant replaces it
    client("ssm").delete_parameter(Name=f"{LOCK}-takeover-other")
    _take_over(ctx, {"run": "me", "command": "create"}, key, holder)
    assert (read(ctx, key) or {}).get("run") == "me"
    names = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    assert f"{LOCK}-takeover-other" not in names  # the claim goes once the lock is taken
