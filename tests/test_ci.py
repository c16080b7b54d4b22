"""CI: the plan as a pull request comment (`plan --format markdown`), the GitHub Action
(action.yml) and its workflow, `ci init github`, and `ci bootstrap` (GitHub's OIDC provider and
the deploy role) on the strict layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import SECRET_GIVEN, SECRET_VALUE, config_text, explain
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app

ROOT = Path(__file__).resolve().parent.parent
LATENCY = "\n[service.deploy.alarms]\nlatency_p95_ms = 800\n"


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env={**SECRET_GIVEN, **(env or {})})


# -- plan --format markdown ----------------------------------------------------------------------
def test_markdown_plan_shows_the_changes_the_cost_delta_the_warnings_and_no_secret(
    aws: Any, make_ctx: Any, tmp_path: Path
) -> None:
    engine.create(make_ctx(config_text(LATENCY)))
    path = tmp_path / "ecsup.toml"
    # twice the vCPU (a cost delta) and the latency alarm turned off (a deletion: a warning)
    path.write_text(config_text(replace={"cpu = 512": "cpu = 1024", "memory = 1024": "memory = 2048"}))
    result = cli("plan", "-c", str(path), "--format", "markdown", "--detailed-exitcode")
    assert result.exit_code == 2, explain(result)  # changes pending
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == "<!-- ecsup-plan:web-dev -->"
    assert lines[1] == "### ecsup plan: `web-dev` (eu-west-1)"
    assert lines[3].startswith("**Plan: 1 to create, 1 to update, 1 to delete** ("), out
    rows = [line for line in lines if line.startswith("| `")]
    assert any(
        r.startswith("| `+` create | task definition | `web-dev:2` |") and "cpu: 512 → 1024; memory: 1024 → 2048" in r
        for r in rows
    ), out
    assert any(r.startswith("| `~` update | ECS service | `web-dev` |") for r in rows), out
    assert any(r.startswith("| `-` delete | CloudWatch alarm | `ecsup-web-dev-latency`") for r in rows), out
    cost = next(line for line in lines if line.startswith("**Monthly cost:**"))
    doc = json.loads(cli("plan", "-c", str(path), "--format", "json").stdout)
    money = doc["monthly_cost"]
    assert money["delta"] > 0
    assert f"(**+${money['delta']:,.2f}** a month" in cost, cost
    assert f"${money['before']:,.2f} → ${money['after']:,.2f}" in cost, cost
    warnings = lines[lines.index("**Warnings**") + 2 :]
    assert warnings[0].startswith("- :warning: deletes CloudWatch alarm `ecsup-web-dev-latency`"), out
    assert SECRET_VALUE not in out and "stderr" not in out
    assert "ecsup plan web-dev in eu-west-1" in result.stderr  # the heading line goes to stderr
    # --json still works, and is --format json
    assert json.loads(cli("plan", "-c", str(path), "--json").stdout)["changes"] == doc["changes"] == 3


def test_markdown_plan_without_changes_says_so(aws: Any, make_ctx: Any, tmp_path: Path) -> None:
    engine.create(make_ctx())
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    result = cli("plan", "-c", str(path), "--format", "markdown")
    assert result.exit_code == 0, explain(result)
    assert result.stdout.splitlines()[3].startswith("**No changes.**"), result.stdout
    assert "| " not in result.stdout and "Monthly cost" not in result.stdout


def test_plan_format_refuses_an_unknown_format_or_two_at_once(aws: Any, tmp_path: Path) -> None:
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    aws.reset()
    bad = cli("plan", "-c", str(path), "--format", "html")
    assert bad.exit_code == 2 and "--format 'html' is not one of text, json, markdown" in bad.stderr, explain(bad)
    both = cli("plan", "-c", str(path), "--json", "--format", "markdown")
    assert both.exit_code == 2 and "two formats" in both.stderr, explain(both)
    assert aws.calls == []
