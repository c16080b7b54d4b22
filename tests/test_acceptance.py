"""The acceptance kit (scripts/acceptance, ecsup/acceptance/): its whole life on the embedded
sandbox, as a maintainer runs it in a real account, and the list of assumptions it checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ecsup.acceptance.life import CHECKS
from ecsup.emulation import deployments
from ecsup.emulation.assumptions import ASSUMPTIONS, CHECKED, DOCS_END, DOCS_START, markdown

ROOT = Path(__file__).resolve().parent.parent


def _kit(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "ECSUP_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "ecsup.acceptance", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def sandbox_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    where = tmp_path_factory.mktemp("acceptance")
    return _kit("--sandbox", "--yes", "--report-dir", str(where / "report"), cwd=where), where / "report"


def test_the_kit_lives_its_stacks_on_the_sandbox_and_reports_every_assumption(
    sandbox_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, report_dir = sandbox_run
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    doc: dict[str, Any] = json.loads((report_dir / "report.json").read_text())
    outcomes = {a["id"]: a for a in doc["assumptions"]}
    # every assumption of the registry was observed, and the sandbox behaves as the emulation assumes
    assert set(outcomes) == {a.id for a in CHECKED}
    assert {i: a["outcome"] for i, a in outcomes.items()} == {a.id: "pass" for a in CHECKED}
    assert doc["ok"] is True and doc["error"] is None and doc["counts"] == {"pass": len(CHECKED), "fail": 0, "skip": 0}
    # evidence is what the emulation reports: a deployment's status and reason, target health, weights
    alarm = outcomes["alarms-linear"]["evidence"]
    assert alarm["status"] == "ROLLBACK_SUCCESSFUL" and alarm["strategy"] == "LINEAR"
    assert alarm["statusReason"] == deployments.ALARM_ROLLBACK.format(alarm["alarms"]["alarmNames"][0])
    assert outcomes["alarms-canary"]["evidence"]["strategy"] == "CANARY"
    assert outcomes["breaker-canary"]["evidence"]["statusReason"] == deployments.BREAKER_REASON
    assert outcomes["stop-rollback"]["evidence"]["statusReason"] == deployments.REQUESTED_ROLLBACK
    bake = outcomes["move-load-balancers"]["evidence"]["during_bake"]
    assert any(n == 1 for n in bake["old"].values()) and any(n == 1 for n in bake["new"].values())
    rolled = outcomes["move-rollback"]["evidence"]
    assert rolled["groups_after"] == rolled["groups_before"]
    shared = outcomes["shared-listener-blue-green"]["evidence"]
    assert shared["listener_default_action"] == ["fixed-response"] and shared["listener_rules"] >= 3
    assert outcomes["deployment-configuration-merge"]["evidence"]["refused"]
    assert outcomes["default-rule-production"]["evidence"]["production_rule_is_default"] is True
    at_start = outcomes["alarm-in-alarm-at-start"]["evidence"]
    assert at_start["alarm_at_start"] == "ALARM" and at_start["status"] == "SUCCESSFUL"
    # ELB's HealthyHostCount, read back through CloudWatch for both of shop's groups
    points = outcomes["healthy-host-count-per-group"]["evidence"]["datapoints"]
    assert len(points) == 2 and all(points.values()), points
    assert all(name.endswith(("-blue", "-green")) for name in points), points
    # the stacks' files stay beside the report; the readable summary too
    assert {p.name for p in report_dir.glob("*.toml")} == {"own.toml", "shop.toml", "blog.toml"}
    text = (report_dir / "report.txt").read_text()
    assert all(f"[PASS] {a.id}" in text for a in CHECKED)
    assert "[PASS] move-rollback" in proc.stdout and "report: " in proc.stdout
    # the clean-up: it found the kit's resources before it, and none after it
    found = doc["cleanup"]["found_before"]
    assert any(":loadbalancer/app/acc" in arn and "-edge/" in arn for arn in found)
    assert any(":targetgroup/" in arn for arn in found) and any(":certificate/" in arn for arn in found)
    assert any(item.startswith("IAM role acc") for item in found)
    assert doc["cleanup"]["left"] == [] and doc["cleanup"]["errors"] == []
    # each step of the life is recorded, destroy last
    steps = [s["step"] for s in doc["steps"]]
    assert [s for s in steps if s.startswith("ecsup destroy")] == steps[-3:]
    assert all(s["result"] == "done" for s in doc["steps"])


def test_without_a_terminal_and_without_yes_it_refuses_before_creating_anything(tmp_path: Path) -> None:
    proc = _kit("--sandbox", "--report-dir", str(tmp_path / "report"), cwd=tmp_path, timeout=60)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert "will create" in proc.stdout and "Cost: none" in proc.stdout
    assert "refusing to create resources without confirmation" in proc.stderr and "--yes" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "report").exists()


def test_on_aws_it_needs_a_zone(tmp_path: Path) -> None:
    proc = _kit("--yes", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--zone is required" in proc.stderr and "Traceback" not in proc.stderr


def test_the_plan_prices_an_hour_of_the_stacks_with_ecsup_cost() -> None:
    from ecsup.acceptance.kit import MINUTES, cost_estimate, describe_plan, stacks_for

    stacks = stacks_for("beef", "example.com", "eu-west-1", Path("/nonexistent"))
    usd, lines = cost_estimate(stacks, 1.0)
    # two load balancers (one own, one shared by two stacks), three one-task services: cents an hour
    assert 0.03 < usd < 0.5, usd
    assert [line.split(":")[0] for line in lines] == ["accbeef-own", "accbeef-shop", "accbeef-blog"]
    plan = "\n".join(describe_plan(stacks, "AWS", "123456789012"))
    assert f"about {sum(MINUTES.values()) / 60:.1f} hours" in plan
    assert "account 123456789012" in plan and "https://accbeef-own.example.com" in plan
    assert f"Cost: about ${cost_estimate(stacks, sum(MINUTES.values()) / 60)[0]:.2f}" in plan


def test_every_check_of_the_kit_verifies_an_assumption_and_every_assumption_has_a_check() -> None:
    ids = [a.id for a in ASSUMPTIONS]
    assert len(ids) == len(set(ids))
    assert {a.check: a.id for a in CHECKED} == CHECKS
    for a in ASSUMPTIONS:
        assert a.statement and a.sources and a.emulation.startswith(("emulation/", "moto's")), a.id
        # an assumption the kit does not observe says why (and is listed so in the docs)
        assert bool(a.check) != bool(a.unchecked), a.id
    assert {a.id for a in ASSUMPTIONS if not a.check} == {"elb-503-without-a-target"}


def test_the_docs_page_lists_the_registry() -> None:
    page = (ROOT / "docs" / "acceptance.md").read_text()
    listed = page[page.index(DOCS_START) : page.index(DOCS_END) + len(DOCS_END)] + "\n"
    assert listed == markdown(), "docs/acceptance.md is stale: rewrite its list with `scripts/acceptance --assumptions`"
    assert re.findall(r"^### `([a-z0-9-]+)`", page, flags=re.M) == [a.id for a in ASSUMPTIONS]
    assert "acceptance.md" in (ROOT / "docs" / "README.md").read_text()
    assert "scripts/acceptance" in (ROOT / "docs" / "development.md").read_text()


def test_ctrl_c_stops_the_life_and_the_kit_still_cleans_up(tmp_path: Path) -> None:
    """SIGINT in the middle of the first `create` (its load balancer made, its service not yet):
    every stack is destroyed, nothing of the kit's is left, every assumption is skipped saying why."""
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "ECSUP_"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    report_dir = tmp_path / "report"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecsup.acceptance", "--sandbox", "--yes", "--report-dir", str(report_dir)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "created   load balancer" in line:
                proc.send_signal(signal.SIGINT)
                break
        rest, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(seen) + rest
    assert proc.returncode == 130, output[-4000:]
    assert "interrupted: cleaning up" in output
    doc = json.loads((report_dir / "report.json").read_text())
    assert doc["interrupted"] is True and doc["ok"] is False
    outcomes = {a["id"]: a for a in doc["assumptions"]}
    assert {a["outcome"] for a in outcomes.values()} == {"skip"}
    assert all("interrupted" in a["observed"] for a in outcomes.values())
    assert any(":loadbalancer/app/" in arn for arn in doc["cleanup"]["found_before"])
    assert doc["cleanup"]["left"] == [] and doc["cleanup"]["errors"] == []
    assert [s["step"].split("   ")[0] for s in doc["steps"] if s["step"].startswith("ecsup destroy")] == [
        f"ecsup destroy --purge --yes -c {name}.toml" for name in ("own", "shop", "blog")
    ]


def test_the_last_stack_leaving_a_shared_load_balancer_leaves_nothing_of_it_in_ssm(aws: Any, make_ctx: Any) -> None:
    """What the kit's clean-up found left: the shared load balancer's generation parameter, which
    its lock rewrote on every release, stayed after the last stack left. The shared lock no longer
    writes it (nothing read it); nothing of the shared part is left in SSM either way."""
    from conftest import ZONE, client, config_text

    from ecsup import engine

    shared = '\n[load_balancer]\nshared = "edge"\n'
    texts = [
        config_text(shared),
        config_text(
            shared, replace={'app = "web"': 'app = "api"', f'hostname = "www.{ZONE}"': f'hostname = "api.{ZONE}"'}
        ),
    ]
    for text in texts:
        engine.create(make_ctx(text))
    params = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    assert [p for p in params if p.startswith("/ecsup/shared-lb/")] == []  # only the lock, while held
    for text in texts:
        ctx = make_ctx(text)
        outcome = engine.plan_destroy(ctx)
        with engine.destroy_locked(ctx):
            result = engine.destroy(ctx, outcome)
        assert not result.failed and not result.left
    params = [p["Name"] for p in client("ssm").describe_parameters()["Parameters"]]
    assert [p for p in params if p.startswith("/ecsup/")] == []


def test_a_failure_outranks_a_pass_and_what_the_life_did_not_reach_is_skipped_with_why(tmp_path: Path) -> None:
    from ecsup.acceptance.report import FAIL, PASS, Outcome, Report

    report = Report("aws", "eu-west-1", "example.com", "beef", account="123456789012")
    report.record(Outcome("production-weights", "production_weights", PASS, "a -> b at 100", {"status": "SUCCESSFUL"}))
    report.record(Outcome("production-weights", "production_weights", FAIL, "weights {'a': 50}", {"status": "X"}))
    report.record(Outcome("production-weights", "production_weights", PASS, "b -> a at 100"))
    report.error = "ecsup deploy -c own.toml: AWS said no"
    report.finish_skips()
    doc = report.as_dict()
    by_id = {a["id"]: a for a in doc["assumptions"]}
    weights = by_id["production-weights"]
    assert weights["outcome"] == "fail" and weights["evidence"]["earlier"]["observed"] == "a -> b at 100"
    skipped = by_id["move-rollback"]
    assert skipped["outcome"] == "skip" and "ecsup deploy -c own.toml: AWS said no" in skipped["observed"]
    assert doc["ok"] is False and doc["counts"] == {"pass": 0, "fail": 1, "skip": len(CHECKED) - 1}
    json_path, text_path = report.write(tmp_path)
    assert json.loads(json_path.read_text())["error"] == report.error
    text = text_path.read_text()
    assert "[FAIL] production-weights" in text and "-> change the assumption in ecsup/emulation/assumptions.py" in text
    assert "account 123456789012" in text and "stopped early: ecsup deploy -c own.toml" in text


def test_an_alarm_rollback_keeps_its_reason_and_does_not_trip_the_circuit_breaker(aws: Any, make_ctx: Any) -> None:
    """What the kit's run showed: the next look at a deployment an alarm failed took its FAILED
    rollout for failed tasks, tripped the circuit breaker and replaced the alarm's reason."""
    from conftest import client
    from test_alarms import IMAGE_2, AlarmInBake

    from ecsup import deploy, engine

    engine.create(make_ctx())
    with pytest.raises(deploy.RolledBack) as err:
        deploy.deploy(make_ctx(ui=AlarmInBake()), IMAGE_2)
    assert err.value.result is not None
    arn = err.value.result.deployment_arn
    for _ in range(2):  # looked at again after it ended: it stays as it ended
        [dep] = client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
        assert dep["status"] == "ROLLBACK_SUCCESSFUL"
        assert dep["statusReason"] == deployments.ALARM_ROLLBACK.format("ecsup-web-dev-5xx")
        assert dep["deploymentCircuitBreaker"]["status"] == "MONITORING_COMPLETE"
        assert dep["alarms"]["status"] == "TRIGGERED"


def test_in_us_east_1_the_validation_records_have_no_other_region_to_be_compared_with(tmp_path: Path) -> None:
    from ecsup.acceptance.kit import stacks_for
    from ecsup.acceptance.life import Life, Target
    from ecsup.acceptance.report import Report
    from ecsup.render import make_console

    stacks = stacks_for("beef", "example.com", "us-east-1", tmp_path)
    report = Report("aws", "us-east-1", "example.com", "beef")
    import io

    life = Life(Target("us-east-1", "example.com"), stacks, report, make_console(io.StringIO()))
    life.check_acm(stacks[0])  # no AWS call: it says why it cannot observe this
    [outcome] = report.outcomes.values()
    assert (outcome.assumption, outcome.outcome) == ("acm-validation-record", "skip")
    assert "us-east-1" in outcome.observed
