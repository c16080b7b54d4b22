"""What `plan` and `create` print of a plan: the changes first, the unchanged resources as a count
(each of them with --verbose); and an alarm shown as changed only with sides that differ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import SECRET_GIVEN, client, config_text, explain
from test_shared_lb import web
from typer.testing import CliRunner

from ecsup import engine
from ecsup.cli import app
from ecsup.plan import Change

RETENTION = {"health_check_path": 'health_check_path = "/health"\nlog_retention_days = 14'}
LATENCY = "\n[service.deploy.alarms]\nlatency_p95_ms = 800\n"


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=SECRET_GIVEN)


def test_plan_prints_the_change_and_counts_the_unchanged(aws: Any, make_ctx: Any, tmp_path: Path) -> None:
    engine.create(make_ctx())
    path = tmp_path / "ecsup.toml"
    path.write_text(config_text(replace={'health_check_path = "/health"': RETENTION["health_check_path"]}))
    doc = json.loads(cli("plan", "-c", str(path), "--json").stdout)
    noops = [a for a in doc["actions"] if a["kind"] in ("noop", "keep")]
    assert [(a["kind"], a["resource"]) for a in doc["actions"] if a not in noops] == [("update", "log group")]
    assert len(noops) > 10

    result = cli("plan", "-c", str(path))
    assert result.exit_code == 0, explain(result)
    lines = result.stdout.splitlines()
    assert lines[1].startswith("  ~ update    log group /ecs/web-dev"), explain(result)
    assert lines[2].strip() == "retention (days): 30 -> 14", explain(result)
    assert lines[3] == f"  = {len(noops)} unchanged (--verbose lists them)", explain(result)
    assert "unchanged " not in "\n".join(lines[4:]) and lines[4] == "Plan: 1 to update", explain(result)

    verbose = cli("plan", "-c", str(path), "--verbose").stdout.splitlines()
    assert verbose[1:3] == lines[1:3]  # the change first
    listed = [line for line in verbose if line.startswith(("  = unchanged ", "  = keep "))]
    assert len(listed) == len(noops), "\n".join(verbose)
    assert "  = unchanged log group" not in "\n".join(verbose)  # the changed one is not among them

    # create prints the same plan before applying it
    created = cli("create", "-c", str(path))
    assert created.exit_code == 0, explain(created)
    out = created.stdout.splitlines()
    start = out.index("Plan: 1 to update")
    assert out[start + 1].startswith("  ~ update    log group /ecs/web-dev")
    assert out[start + 3] == f"  = {len(noops)} unchanged (--verbose lists them)", explain(created)
    assert (
        client("logs").describe_log_groups(logGroupNamePrefix="/ecs/web-dev")["logGroups"][0]["retentionInDays"] == 14
    )


def test_an_alarm_is_an_update_only_with_sides_that_differ(aws: Any, make_ctx: Any) -> None:
    engine.create(make_ctx(config_text(LATENCY)))

    def alarm_changes(text: str) -> dict[str, list[Change]]:
        ctx = make_ctx(text)
        ctx.mode = "plan"
        return {
            a.name: a.changes
            for a in engine.make_plan(ctx).actions
            if a.resource == "CloudWatch alarm" and a.kind == "update"
        }

    assert alarm_changes(config_text(LATENCY)) == {}  # as created: no update
    # moving onto a shared load balancer: the alarms measure its target groups (the latency
    # alarm printed "2 metrics -> 2 metrics"); each change says what differs
    moved = alarm_changes(web(LATENCY))
    assert moved["ecsup-web-dev-latency"] == [
        Change("measures", "web-dev: web-dev-blue, web-dev-green", "edge: web-dev-blu2, web-dev-grn2")
    ]
    # on a shared load balancer the error rate also reads the groups' healthy hosts (its ELB 5xx
    # count is every stack's): new metrics and expressions, each named
    assert [c.attribute for c in moved["ecsup-web-dev-5xx"]] == [
        "measures",
        "metric hb",
        "metric healthy",
        "metric hg",
        "metric rate",
        "metric ratio",
    ]
    assert all(c.old != c.new for changes in moved.values() for c in changes)
    assert alarm_changes(config_text(LATENCY.replace("800", "900"))) == {
        "ecsup-web-dev-latency": [Change("threshold", "0.8", "0.9")]
    }
    engine.create(make_ctx(web(LATENCY)))
    assert alarm_changes(web(LATENCY)) == {}  # after the move: nothing left to change


def test_a_new_stack_s_plan_shows_its_full_monthly_cost_and_what_is_not_counted(
    aws: Any, make_ctx: Any, tmp_path: Path
) -> None:
    """Not only Fargate compute: the load balancer's hours and the public addresses cost more
    than one task. The total is `ecsup cost`'s estimate without what traffic makes, from the
    shipped prices: the plan makes no call for it."""
    from ecsup.cost import Usage, estimate
    from ecsup.prices import shipped_prices

    path = tmp_path / "ecsup.toml"
    path.write_text(config_text())
    result = cli("plan", "-c", str(path))
    assert result.exit_code == 0, explain(result)
    full = estimate(make_ctx().config, Usage(), shipped_prices("eu-west-1"))  # what `ecsup cost` adds up
    by_name = {line.name: line.monthly_low for line in full.lines}
    traffic = ("Load balancer LCUs", "CloudWatch Logs ingestion", "CloudWatch Logs storage")
    fixed = round(full.total_low - sum(by_name[n] for n in traffic) - by_name["Deployment overlap (blue/green)"], 2)
    compute = by_name["Fargate compute"]
    assert fixed > 2 * compute  # the load balancer and the addresses: more than the task
    lines = result.stdout.splitlines()
    money = next(i for i, line in enumerate(lines) if line.startswith("monthly cost:"))
    assert lines[money].startswith(
        f"monthly cost: nothing -> ${fixed:,.2f} (+${fixed:,.2f} a month; Fargate compute nothing -> ${compute:,.2f})"
    ), explain(result)
    assert lines[money + 1] == (
        "  not counted: load balancer LCUs, data transfer, logs ingestion and storage, deployments' overlapping "
        "tasks (they depend on traffic and use: `ecsup cost` estimates them)"
    ), explain(result)
    # the cost costs no AWS call: the CLI's plan makes exactly the calls of the plan itself
    aws.reset()
    doc = json.loads(cli("plan", "-c", str(path), "--json").stdout)
    with_cost = list(aws.calls)
    assert doc["monthly_cost"]["after"] == fixed and doc["monthly_cost"]["delta"] == fixed
    aws.reset()
    ctx = make_ctx()
    ctx.mode = "plan"
    engine.make_plan(ctx)
    assert sorted(with_cost) == sorted(aws.calls) and not any(s == "pricing" for s, _ in with_cost)
