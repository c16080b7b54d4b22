"""The ordered pipelines: create (plan, then apply), plan, status and destroy.

Planning is read-only for every step first -- so every validation, preflight and
ownership check happens before the first mutating call -- then the actions run in
pipeline order. Waits are deferred to the actions that need them (the certificate
is waited for by the HTTPS listener), so ACM validates while the rest is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .context import Context
from .errors import OwnershipConflict
from .plan import Action
from .steps import Step
from .steps.autoscaling import AutoscalingStep
from .steps.certificate import CertificateStep
from .steps.dns import DnsStep
from .steps.ecs import ClusterStep, TaskDefinitionStep
from .steps.iam import IamStep
from .steps.loadbalancer import ListenersStep, LoadBalancerStep
from .steps.logs import LogsStep
from .steps.network import SecurityGroupsStep
from .steps.secrets import SecretsStep
from .steps.service import ServiceStep
from .steps.zone import ZoneStep


def pipeline() -> list[Step]:
    """Create order. Listeners come late on purpose: they are what needs the certificate."""
    return [
        ZoneStep(),
        CertificateStep(),
        SecurityGroupsStep(),
        LoadBalancerStep(),
        DnsStep(),
        SecretsStep(),
        IamStep(),
        LogsStep(),
        ClusterStep(),
        TaskDefinitionStep(),
        ListenersStep(),
        ServiceStep(),
        AutoscalingStep(),
    ]


@dataclass
class Planned:
    step: Step
    actions: list[Action]


@dataclass
class Outcome:
    planned: list[Planned] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def actions(self) -> list[Action]:
        return [a for p in self.planned for a in p.actions]

    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.mutates]


Reporter = Callable[[Action], None]


def _raise_conflicts(ctx: Context) -> None:
    if ctx.conflicts:
        raise OwnershipConflict(
            "; ".join(ctx.conflicts),
            hint="ecsup only changes resources tagged ecsup:app/ecsup:env for this stack; rename or remove the "
            "other resource, or pick another app/env. Nothing was changed",
        )


def make_plan(ctx: Context, on_step: Callable[[Step], None] | None = None) -> Outcome:
    """Observe every step (read calls only) and return what create would do."""
    outcome = Outcome()
    for step in pipeline():
        if on_step:
            on_step(step)
        outcome.planned.append(Planned(step, step.plan(ctx)))
    if ctx.mode != "status":  # status reports conflicts as rows instead
        _raise_conflicts(ctx)
    outcome.notes = list(ctx.notes)
    return outcome


def apply(ctx: Context, outcome: Outcome, report: Reporter | None = None) -> Outcome:
    for planned in outcome.planned:
        for action in planned.actions:
            if action.run is not None and action.mutates:
                action.result = action.run()
            if report:
                report(action)
    if outcome.changes():  # what waits for the finished stack (a no-op run waits for nothing)
        for planned in outcome.planned:
            planned.step.after_apply(ctx)
    return outcome


def create(
    ctx: Context,
    report: Reporter | None = None,
    on_plan: Callable[[Outcome], None] | None = None,
    force_unlock: bool = False,
) -> Outcome:
    """Plan; when there is something to change, take the lock and apply -- planning again
    under the lock only if another run changed the stack since the plan began (lock.py).
    A no-op makes no mutating call."""
    from . import lock

    ctx.mode = "apply"
    before = lock.snapshot(ctx)
    outcome = make_plan(ctx)
    if not outcome.changes():
        if on_plan:
            on_plan(outcome)
        return apply(ctx, outcome, report)
    with lock.held(ctx, "create", force_unlock):
        if not lock.plan_still_valid(ctx, before):
            ctx.reset_observations()
            outcome = make_plan(ctx)
        if on_plan:
            on_plan(outcome)
        return apply(ctx, outcome, report)


def plan_destroy(ctx: Context, purge: bool = False) -> Outcome:
    """Observe in create order (later steps need facts found by earlier ones);
    the result is in destroy order (the reverse)."""
    ctx.mode = "destroy"
    ctx.facts["purge"] = purge
    outcome = Outcome()
    for step in pipeline():
        outcome.planned.append(Planned(step, step.plan_destroy(ctx)))
    outcome.planned.reverse()
    outcome.notes = list(ctx.notes)
    return outcome


KEPT = "kept"  # a deletion's result that starts so did not delete (e.g. a record still in use)


@dataclass
class DestroyResult:
    failed: list[tuple[Action, str]] = field(default_factory=list)  # tried, and AWS would not
    left: list[tuple[Action, str]] = field(default_factory=list)  # not tried: something it needs gone is not


def destroy(
    ctx: Context,
    outcome: Outcome,
    report: Reporter | None = None,
    on_failure: Callable[[Action, str], None] | None = None,
    on_left: Callable[[Action, str], None] | None = None,
) -> DestroyResult:
    """Run the deletions in order. A deletion that fails (after its bounded retries) stops
    every deletion that needs it gone first (``Action.after``): the cluster, roles, groups and
    load balancer of a service that could not be deleted stay, rather than being retried for
    minutes and leaving a running service without its role. Independent deletions still run."""
    from .errors import EcsupError

    result = DestroyResult()
    blocked: dict[str, str] = {}  # ref -> the deletion that failed, first cause of its staying
    for planned in outcome.planned:
        for action in planned.actions:
            if action.kind == "delete" and action.run is not None:
                stuck = [k for k in action.after if k in blocked]
                if stuck:
                    cause = blocked[stuck[0]]
                    why = f"needs {stuck[0]} deleted first" + (
                        ", which could not be deleted" if cause == stuck[0] else f", left because {cause} could not be"
                    )
                    result.left.append((action, why))
                    blocked[action.ref] = cause
                    if on_left:
                        on_left(action, why)
                    continue
                try:
                    action.result = action.run()
                except EcsupError as exc:
                    result.failed.append((action, exc.message))
                    blocked[action.ref] = action.ref
                    if on_failure:
                        on_failure(action, exc.message)
                    continue
                if action.result and action.result.startswith(KEPT):  # it decided not to, and said why
                    action.kind = "keep"
            if report:
                report(action)
    return result


@contextmanager
def destroy_locked(ctx: Context, force_unlock: bool = False) -> Iterator[None]:
    """The lock for a destroy that has something to delete; the stack's generation marker
    goes with the stack."""
    from . import lock

    with lock.held(ctx, "destroy", force_unlock):
        yield
    lock.forget(ctx)


def cost_change(ctx: Context, outcome: Outcome) -> dict[str, Any] | None:
    """The Fargate compute cost a month before -> after, when the plan changes cpu, memory,
    count, architecture or capacity (shipped prices: a plan makes no pricing call)."""
    from .cost import compute_change
    from .prices import UnknownRegion, shipped_prices

    count_changes = any(
        c.attribute == "desired count" for a in outcome.actions if a.resource == "ECS service" for c in a.changes
    )
    change = compute_change(
        ctx.config, ctx.region, ctx.facts.get("service"), ctx.facts.get("running_size"), count_changes
    )
    if change is None:
        return None
    try:
        prices = shipped_prices(ctx.region)
    except UnknownRegion:
        return None
    before, after = change
    return {
        "before": None if before is None else round(before.monthly(ctx.region, prices), 2),
        "after": round(after.monthly(ctx.region, prices), 2),
        "what": "Fargate compute, USD a month",
        "prices": prices.source_line,
    }


def cost_line(change: dict[str, Any]) -> str:
    before = "nothing" if change["before"] is None else f"${change['before']:,.2f}"
    return f"monthly cost ({change['what']}): {before} -> ${change['after']:,.2f}  [{change['prices']}]"


def result_summary(ctx: Context, outcome: Outcome) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for a in outcome.actions:
        counts[a.kind] = counts.get(a.kind, 0) + 1
    return {
        "url": ctx.config.url,
        "app": ctx.names.app,
        "env": ctx.names.env,
        "region": ctx.region,
        "counts": counts,
        "resources": {
            k: v
            for k, v in ctx.facts.items()
            if isinstance(v, str)
            and (
                k.endswith("arn") or k in ("zone_id", "vpc_id", "sg_alb", "sg_tasks", "alb_dns", "tg_blue", "tg_green")
            )
        },
        "actions": [a.as_dict() | {"result": a.result} for a in outcome.actions],
        "notes": outcome.notes,
    }
