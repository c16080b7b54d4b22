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
from functools import partial
from typing import Any

from .context import Context
from .errors import OwnershipConflict
from .plan import FOUND, Action
from .steps import Step, both
from .steps.accesslogs import AccessLogsStep
from .steps.alarms import AlarmsStep
from .steps.autoscaling import AutoscalingStep
from .steps.certificate import CertificateStep
from .steps.dns import DnsStep
from .steps.ecs import ClusterStep, TaskDefinitionStep
from .steps.iam import IamStep
from .steps.jobs import JobRolesStep, JobsStep
from .steps.loadbalancer import HttpsStep, ListenersStep, LoadBalancerStep
from .steps.logs import LogsStep
from .steps.move import MoveStep, detect
from .steps.network import SecurityGroupsStep
from .steps.secrets import SecretsStep
from .steps.service import ServiceStep
from .steps.shared import SharedLoadBalancerStep, SharedRuleStep
from .steps.workloads import WorkerServiceStep, WorkerTaskDefinitionStep
from .steps.zone import ZoneStep


def pipeline() -> list[Step]:
    """Create order. The load balancer and the certificate come first (the two longest waits:
    provisioning, ACM's validation); the service starts behind a staging listener while ACM
    validates, and the HTTPS listener (HttpsStep) is what waits for the certificate."""
    return [
        ZoneStep(),
        # [load_balancer] shared: the shared part, under its own lock (nothing without the key)
        SharedLoadBalancerStep(),
        # the load balancer first: it provisions for minutes on AWS (longer than ACM validates),
        # and the service's first deployment ends no sooner than it is active
        SecurityGroupsStep(),
        LoadBalancerStep(),
        CertificateStep(),
        # IAM early: a permission change must settle before tasks start (iam_settle), so it is
        # made soon and settles while the rest is built
        SecretsStep(),
        IamStep(),
        JobRolesStep(),  # [jobs.*]: their roles settle while the rest is built
        DnsStep(),
        LogsStep(),
        ClusterStep(),
        TaskDefinitionStep(),
        WorkerTaskDefinitionStep(),  # [workers.<name>]: each worker's family (steps/workloads.py)
        ListenersStep(),
        SharedRuleStep(),  # on a shared load balancer: the stack's certificate and host rule
        # before the service, which names them: they need the load balancer and groups' ARNs
        AlarmsStep(),
        ServiceStep(),
        WorkerServiceStep(),  # each worker's service, no load balancer; a removed worker's deleted
        HttpsStep(),
        AutoscalingStep(),
        # [jobs.*]: each job's family, state machine, schedule and alarm (after the web service's
        # release: a job following its image moves only once that succeeded)
        JobsStep(),
        # a stack moving between load balancers: the record (if the service's deployment did not
        # move it) and the side it left, once the service serves from the new one
        MoveStep(),
        # last: nothing waits for the load balancer's access logs
        AccessLogsStep(),
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


OBSERVERS = 8  # steps observed at once (each makes a few reads; boto3 clients are thread-safe)


def observe(ctx: Context, steps: list[Step], method: str) -> list[Planned]:
    """Run each step's ``plan`` (or ``plan_destroy``) -- read calls only -- as soon as the steps
    whose facts it reads (``Step.needs``) are done, concurrently, so that planning takes about
    as long as its longest chain of dependent reads rather than the sum of all of them. The
    result, and the order of notes and conflicts, are the same as planning step by step; the
    first failure in pipeline order is raised."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    from .context import STEP

    index = {type(step).__name__: i for i, step in enumerate(steps)}
    needs = {i: _needs(ctx, step, index) for i, step in enumerate(steps)}
    for i, step in enumerate(steps):
        for name in needs[i]:
            if index.get(name, len(steps)) >= i:
                raise RuntimeError(f"{type(step).__name__} needs {name}, which is not planned before it")
    results: dict[int, list[Action]] = {}
    failed: dict[int, BaseException] = {}

    def run(i: int) -> list[Action]:
        # detection's notes come after every step's, as when it ran before them
        STEP.index = 1 << 30 if isinstance(steps[i], Detection) else i
        try:
            return list(getattr(steps[i], method)(ctx))
        finally:
            STEP.index = 1 << 30

    waiting_steps = list(range(len(steps)))
    running: dict[Future[list[Action]], int] = {}
    with ThreadPoolExecutor(max_workers=OBSERVERS, thread_name_prefix="ecsup-plan") as pool:
        while waiting_steps or running:
            for i in list(waiting_steps):
                deps = [index[name] for name in needs[i]]
                if any(d in failed for d in deps):  # what it needs could not be observed
                    waiting_steps.remove(i)
                    failed[i] = failed[min(d for d in deps if d in failed)]
                elif all(d in results for d in deps):
                    waiting_steps.remove(i)
                    running[pool.submit(run, i)] = i
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                i = running.pop(future)
                try:
                    results[i] = future.result()
                except BaseException as exc:  # raised below, in pipeline order
                    failed[i] = exc
    ctx.notes.in_order()
    ctx.conflicts.in_order()
    if failed:
        raise failed[min(failed)]
    return [Planned(step, results[i]) for i, step in enumerate(steps)]


class Detection(Step):
    """move.detect -- which pair of target groups the stack uses, whether it moves between load
    balancers, the service as seen -- observed first, as a step without actions of its own: the
    steps that read none of it (BESIDE_DETECTION) are observed while it reads, the others after."""

    title = "target groups and moves"

    def plan(self, ctx: Context) -> list[Action]:
        # EC2's client is made while detection reads: the security groups, which wait for detection
        # and begin the longest chain of reads (then the load balancer, its listeners and alarms),
        # start with it made. Its model is the largest to parse (~70 ms of a fresh process).
        both(ctx, partial(detect, ctx), partial(ctx.client, "ec2"))
        return []


# The steps whose plan reads nothing move.detect finds (ctx.names' pair, facts "move",
# "service_seen", "target_groups_seen"). Any other step, one added later included, waits for it.
BESIDE_DETECTION = frozenset(
    {"ZoneStep", "SharedLoadBalancerStep", "CertificateStep", "SecretsStep", "IamStep", "LogsStep", "ClusterStep"}
)


def _needs(ctx: Context, step: Step, index: dict[str, int]) -> tuple[str, ...]:
    """The steps ``step`` is observed after: its own ``needs``, and Detection when it is planned
    (make_plan) and the step reads what detection finds."""
    name = type(step).__name__
    if "Detection" not in index or name == "Detection":
        return step.needs
    beside = name in BESIDE_DETECTION and not (name == "ZoneStep" and ctx.config.dns.external)  # refuse_move
    return step.needs if beside else ("Detection", *step.needs)


def make_plan(ctx: Context) -> Outcome:
    """Observe every step (read calls only) and return what create would do. Which target groups
    and whether the stack moves between load balancers (steps/move.py) is read at once with the
    steps that do not depend on it."""
    planned = observe(ctx, [Detection(), *pipeline()], "plan")
    outcome = Outcome(planned=planned[1:])
    if ctx.mode != "status":  # status reports conflicts as rows instead
        _raise_conflicts(ctx)
    outcome.notes = list(ctx.notes)
    return outcome


def apply(ctx: Context, outcome: Outcome, report: Reporter | None = None) -> Outcome:
    for planned in outcome.planned:
        for action in planned.actions:
            if action.run is not None and action.mutates:
                action.result = action.run()
                if action.kind in ("create", "update") and action.result and action.result.startswith(FOUND):
                    action.kind = "noop"  # made by another run meanwhile: nothing changed here
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
    detect(ctx)
    outcome = Outcome(planned=observe(ctx, pipeline(), "plan_destroy"))
    outcome.planned.reverse()
    outcome.notes = list(ctx.notes)
    return outcome


KEPT = "kept"  # a deletion's result that starts so did not delete (e.g. a record still in use)


@dataclass
class DestroyResult:
    failed: list[tuple[Action, str]] = field(default_factory=list)  # tried, and AWS would not
    left: list[tuple[Action, str]] = field(default_factory=list)  # not tried: something it needs gone is not


DELETERS = 6  # deletions at once (most of a deletion's time is AWS releasing what it held)


def destroy(
    ctx: Context,
    outcome: Outcome,
    report: Reporter | None = None,
    on_failure: Callable[[Action, str], None] | None = None,
    on_left: Callable[[Action, str], None] | None = None,
) -> DestroyResult:
    """Run the deletions, each as soon as those it needs gone first (``Action.after``) are
    gone, concurrently: the DNS record and the us-east-1 certificate go while the service
    drains; the roles, the cluster, the listeners and the tasks' security group as soon as it
    is gone. A deletion that fails (after its bounded retries) stops every deletion that needs
    it gone first -- the cluster, roles, groups and load balancer of a service that could not be
    deleted stay, rather than being retried for minutes and leaving a running service without
    its role -- and says so; independent deletions still run. Lines are reported as deletions
    end; the result lists follow the plan's order."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    from .errors import EcsupError

    result = DestroyResult()
    actions = [a for planned in outcome.planned for a in planned.actions]
    order = {id(a): i for i, a in enumerate(actions)}
    doomed = {a.ref for a in actions if a.kind == "delete" and a.run is not None}
    gone: set[str] = set()
    blocked: dict[str, str] = {}  # ref -> the deletion that failed, first cause of its staying
    failed: list[tuple[Action, str]] = []
    left: list[tuple[Action, str]] = []

    def run(action: Action) -> str | None:
        return action.run() if action.run is not None else None

    pending = list(actions)
    running: dict[Future[str | None], Action] = {}
    with ThreadPoolExecutor(max_workers=DELETERS, thread_name_prefix="ecsup-destroy") as pool:
        while pending or running:
            before = len(pending)
            for action in list(pending):
                if action.kind != "delete" or action.run is None:
                    pending.remove(action)
                    if report:
                        report(action)
                    continue
                needs = [ref for ref in action.after if ref in doomed]  # what is not in the plan is gone
                stuck = [ref for ref in needs if ref in blocked]
                if stuck:
                    pending.remove(action)
                    cause = blocked[stuck[0]]
                    why = f"needs {stuck[0]} deleted first" + (
                        ", which could not be deleted" if cause == stuck[0] else f", left because {cause} could not be"
                    )
                    left.append((action, why))
                    blocked[action.ref] = cause
                    if on_left:
                        on_left(action, why)
                elif all(ref in gone for ref in needs):
                    pending.remove(action)
                    running[pool.submit(run, action)] = action
            if not running and pending and len(pending) < before:
                continue  # left some this pass: what needs them may be listed before them, look again
            if not running:
                if pending:  # waiting on each other: a bug in the plan's `after`
                    raise RuntimeError("destroy: circular dependencies: " + ", ".join(a.ref for a in pending))
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                action = running.pop(future)
                try:
                    action.result = future.result()
                except EcsupError as exc:
                    failed.append((action, exc.message))
                    blocked[action.ref] = action.ref
                    if on_failure:
                        on_failure(action, exc.message)
                    continue
                if action.result and action.result.startswith(KEPT):  # it decided not to, and said why
                    action.kind = "keep"
                gone.add(action.ref)
                if report:
                    report(action)
    result.failed = sorted(failed, key=lambda pair: order[id(pair[0])])
    result.left = sorted(left, key=lambda pair: order[id(pair[0])])
    return result


@contextmanager
def destroy_locked(ctx: Context, force_unlock: bool = False) -> Iterator[None]:
    """The lock for a destroy that has something to delete; the stack's generation marker
    goes with the stack."""
    from . import lock

    with lock.held(ctx, "destroy", force_unlock):
        yield
    lock.forget(ctx)


# What a plan's monthly total leaves out: what traffic and use make (`ecsup cost` estimates them
# from a usage it is told).
NOT_COUNTED = (
    "load balancer LCUs, data transfer, logs ingestion and storage, deployments' overlapping tasks "
    "(they depend on traffic and use: `ecsup cost` estimates them)"
)


def new_workloads(ctx: Context, outcome: Outcome) -> list[str]:
    """The workers and jobs the plan creates: a creation of a resource named after the workload
    (its ECS service, task definition family, schedule or state machine: <app>-<env>-<name>)."""
    named = {ctx.names.workload(w.name): w.name for w in (*ctx.config.workers, *ctx.config.jobs)}
    return sorted({named[a.name] for a in outcome.actions if a.kind == "create" and a.name in named})


def cost_change(ctx: Context, outcome: Outcome) -> dict[str, Any] | None:
    """The stack's monthly cost before -> after, when the plan makes a new stack, changes what
    Fargate bills for the web service (cpu, memory, count, architecture, capacity) or adds a worker
    or a job: the full fixed total of `ecsup cost`'s estimate (compute, workers, jobs, load balancer
    hours, public addresses, zone, alarms, ...) without what depends on traffic, and the Fargate
    compute part. The shipped prices and the plan's own facts: no AWS call."""
    from dataclasses import replace

    from .cost import Sharing, Usage, compute_change, estimate
    from .prices import UnknownRegion, shipped_prices

    count_changes = any(  # the web service's (a worker's count is not the web service's compute)
        c.attribute == "desired count"
        for a in outcome.actions
        if a.resource == "ECS service" and a.name == ctx.names.service
        for c in a.changes
    )
    change = compute_change(
        ctx.config, ctx.region, ctx.facts.get("service"), ctx.facts.get("running_size"), count_changes
    )
    new = new_workloads(ctx, outcome)
    if change is None and not new:
        return None
    try:
        prices = shipped_prices(ctx.region)
    except UnknownRegion:
        return None
    sharing = None
    if ctx.names.shared:  # the stacks on it, as the plan read them (sharing_line's count)
        others = tuple(ctx.facts.get("shared_others", []))
        sharing = Sharing(ctx.names.shared, len(others) + 1, others)
    usage = Usage(requests_per_month=0, log_gb_per_month=0, deploys_per_month=0)
    fixed = estimate(ctx.config, usage, prices, sharing)
    total_after = fixed.total_low
    web = next(line for line in fixed.lines if line.workload == "web")
    compute_before: float | None = round(web.monthly_low, 2)
    compute_after = round(web.monthly_low, 2)
    if change is not None:
        before, after = change
        compute_before = None if before is None else round(before.monthly(ctx.region, prices), 2)
        compute_after = round(after.monthly(ctx.region, prices), 2)
    if compute_before is None:  # a new stack: nothing before
        total_before = None
    else:
        # an existing stack: only what the plan is known to change differs (the rest as configured):
        # the web service's Fargate bill, and the workers and jobs it adds
        without = replace(
            ctx.config,
            workers=tuple(w for w in ctx.config.workers if w.name not in new),
            jobs=tuple(j for j in ctx.config.jobs if j.name not in new),
        )
        total_before = round(estimate(without, usage, prices, sharing).total_low - (compute_after - compute_before), 2)
    kinds = {w.name: "worker" for w in ctx.config.workers} | {j.name: "job" for j in ctx.config.jobs}
    added = [
        {"workload": line.workload, "kind": kinds[line.workload], "after": round(line.monthly_low, 2)}
        for line in fixed.lines
        if line.workload in new
    ]
    return {
        "before": total_before,
        "after": total_after,
        "after_high": fixed.total_high if fixed.is_range else None,
        "delta": round(total_after - (total_before or 0.0), 2),
        "compute": {"before": compute_before, "after": compute_after},
        "new_workloads": added,
        "what": "the stack's fixed cost, USD a month",
        "not_counted": NOT_COUNTED,
        "prices": prices.source_line,
    }


def sharing_line(ctx: Context, outcome: Outcome) -> str | None:
    """[load_balancer] shared, when the plan joins: this stack's share of the shared load
    balancer's hours and addresses a month against an own load balancer's (shipped prices)."""
    from .cost import sharing_saves
    from .prices import UnknownRegion, shipped_prices

    joining = any(a.resource == "listener rule" and a.kind == "create" for a in outcome.actions)
    if not ctx.names.shared or not joining:
        return None
    try:
        prices = shipped_prices(ctx.region)
    except UnknownRegion:
        return None
    stacks = len(ctx.facts.get("shared_others", [])) + 1
    share, own = sharing_saves(ctx.config, prices, stacks)
    if stacks == 1:
        return (
            f"shared load balancer {ctx.names.shared}: this stack is the first on it, its hours and addresses "
            f"(${own:,.2f} a month, as an own load balancer's) are split equally once others join  "
            f"[{prices.source_line}]"
        )
    return (
        f"shared load balancer {ctx.names.shared} ({stacks} stack{'s' if stacks != 1 else ''} with this one): "
        f"this stack's share of its hours and addresses ${share:,.2f} a month, an own load balancer's "
        f"${own:,.2f}: joining saves ${own - share:,.2f}  [{prices.source_line}]"
    )


def cost_line(change: dict[str, Any]) -> str:
    """Two lines: the total before -> after with the delta and the compute part; what is not counted."""

    def usd(value: float | None) -> str:
        return "nothing" if value is None else f"${value:,.2f}"

    after = usd(change["after"]) + (f" to {usd(change['after_high'])}" if change.get("after_high") else "")
    compute = change["compute"]
    added = "".join(f"; new {w['kind']} {w['workload']} {usd(w['after'])}" for w in change.get("new_workloads") or [])
    return (
        f"monthly cost: {usd(change['before'])} -> {after} ({'+' if change['delta'] >= 0 else '-'}"
        f"${abs(change['delta']):,.2f} a month; Fargate compute {usd(compute['before'])} -> {usd(compute['after'])}"
        f"{added})  [{change['prices']}]\n  not counted: {change['not_counted']}"
    )


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
        **_provider_records(ctx),
    }


def _provider_records(ctx: Context) -> dict[str, Any]:
    """[dns] external: the records the user creates at their DNS provider (those this run printed,
    else the site's record: the certificate's validation record was created before)."""
    from .steps import external

    if not external.is_external(ctx):
        return {}
    return {"dns_provider_records": ctx.facts.get("provider_records") or [external.site_record(ctx).as_dict()]}
