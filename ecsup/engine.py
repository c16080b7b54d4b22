"""The pipelines: create (plan, then apply), plan, status and destroy.

Planning is read-only for every step first -- so every validation, preflight and ownership
check happens before the first mutating call -- then the actions run. Both phases follow one
graph, derived from what each step declares it reads and provides (facts.py, steps.Step): a
step is observed once the steps whose facts it reads are observed, and its actions run once
those steps' actions have run, each step's in a thread of its own -- so the service starts as
soon as what it needs exists, while ACM validates and the load balancer provisions. Mutating
calls and waits go through rounds (rounds.py): the same plan makes the same calls in the same
order every time, so a crash at any point converges on a re-run. Lines are printed in pipeline
order as results become available; a failure stops the steps that read from the failed one,
not the others, and the first failure in pipeline order is raised once they are done. Waits
are deferred to the actions that need them (the certificate is waited for by the HTTPS
listener), so ACM validates while the rest is built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .context import Context
from .errors import OwnershipConflict
from .facts import INPUTS
from .plan import FOUND, Action
from .steps import Step, both
from .steps.accesslogs import AccessLogsStep
from .steps.alarms import AlarmsStep
from .steps.autoscaling import AutoscalingStep
from .steps.certificate import CertificateStep
from .steps.dns import DnsStep
from .steps.ecs import ClusterStep, TaskDefinitionStep
from .steps.iam import IamStep
from .steps.ingress import WafStep
from .steps.jobs import JobRolesStep, JobsStep
from .steps.loadbalancer import HttpsStep, ListenersStep, LoadBalancerStep
from .steps.logs import LogsStep
from .steps.move import MoveStep, detect
from .steps.network import SecurityGroupsStep
from .steps.repository import RepositoryStep
from .steps.secrets import SecretsStep
from .steps.service import ServiceStep
from .steps.shared import SharedLoadBalancerStep, SharedRuleStep
from .steps.vpc import NetworkStep
from .steps.workloads import WorkerServiceStep, WorkerTaskDefinitionStep
from .steps.zone import ZoneStep


def pipeline() -> list[Step]:
    """Create order. The load balancer and the certificate come first (the two longest waits:
    provisioning, ACM's validation); the service starts behind a staging listener while ACM
    validates, and the HTTPS listener (HttpsStep) is what waits for the certificate."""
    return [
        ZoneStep(),
        RepositoryStep(),  # [service] build: the app's ECR repository (create builds into it first: build.py)
        # [network] shared: ecsup's own network, under its own lock (nothing without the key)
        NetworkStep(),
        # [load_balancer] shared: the shared part, under its own lock (nothing without the key)
        SharedLoadBalancerStep(),
        # the load balancer first: it provisions for minutes on AWS (longer than ACM validates),
        # and the service's first deployment ends no sooner than it is active
        SecurityGroupsStep(),
        LoadBalancerStep(),
        WafStep(),  # [load_balancer] waf_acl: as soon as the load balancer exists
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


@dataclass
class Graph:
    """Which steps (by index in the pipeline) each step waits for: while planning, and while
    applying (there transitively: a step waits for what the steps it reads from wait for)."""

    plan: list[set[int]]
    apply: list[set[int]]
    after: list[set[int]]  # apply: steps whose first mutating call comes before (Step.after)
    providers: dict[str, set[int]]  # fact -> the steps that provide it


def graph(steps: list[Step]) -> Graph:
    """The graph the steps' declarations give (steps.Step): a step waits for every step before it
    that provides a fact it reads; an undeclared step (``reads`` None) for every step before it.
    A fact read that no step before it provides (nor the engine: facts.INPUTS) is a bug: raised
    before any call."""
    index = {type(step).__name__: i for i, step in enumerate(steps)}
    providers: dict[str, set[int]] = {}
    plan: list[set[int]] = []
    apply: list[set[int]] = []
    after: list[set[int]] = []

    def provided(i: int, fact: str) -> set[int]:
        found = providers.get(fact, set())
        if not found and fact not in INPUTS:
            raise RuntimeError(
                f"{type(steps[i]).__name__} reads the fact {fact!r}, which no step before it provides "
                "(Step.provides; facts.py)"
            )
        return set(found)

    for i, step in enumerate(steps):
        name = type(step).__name__
        if step.reads is None:  # undeclared: after everything before it
            deps = set(range(i))
            plan_deps = set(deps)
        else:
            plan_deps = set().union(*(provided(i, fact) for fact in (*step.reads, *step.plan_reads)))
            deps = set().union(*(provided(i, fact) for fact in (*step.reads, *step.apply_reads)))
        for needed in (*step.needs, *step.after):
            if index.get(needed, len(steps)) >= i:
                raise RuntimeError(f"{name} needs {needed}, which is not planned before it")
        deps |= {index[needed] for needed in step.needs}
        plan_deps |= {index[needed] for needed in step.needs}
        after.append({index[needed] for needed in step.after})
        for fact in step.provides:
            providers.setdefault(fact, set()).add(i)
        plan.append(plan_deps)
        apply.append(deps.union(*(apply[j] for j in deps)))
    return Graph(plan, apply, after, providers)


OBSERVERS = 8  # steps observed at once (each makes a few reads; boto3 clients are thread-safe)


def observe(ctx: Context, steps: list[Step], method: str) -> list[Planned]:
    """Run each step's ``plan`` (or ``plan_destroy``) -- read calls only -- as soon as the steps
    whose facts it reads are done (graph()), concurrently, so that planning takes about as long
    as its longest chain of dependent reads rather than the sum of all of them. The result, and
    the order of notes and conflicts, are the same as planning step by step; the first failure
    in pipeline order is raised."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    from .context import STEP, chain_depth, set_chain_depth

    needs = plan_dependencies(ctx, steps)
    results: dict[int, list[Action]] = {}
    failed: dict[int, BaseException] = {}
    base = chain_depth()
    depth: dict[int, int] = {}

    def run(i: int, start: int) -> list[Action]:
        # detection's notes come after every step's, as when it ran before them
        STEP.index = 1 << 30 if isinstance(steps[i], Detection) else i
        set_chain_depth(start)
        try:
            return list(getattr(steps[i], method)(ctx))
        finally:
            STEP.index = 1 << 30
            depth[i] = chain_depth()

    waiting_steps = list(range(len(steps)))
    running: dict[Future[list[Action]], int] = {}
    with ThreadPoolExecutor(max_workers=OBSERVERS, thread_name_prefix="ecsup-plan") as pool:
        while waiting_steps or running:
            for i in list(waiting_steps):
                deps = needs[i]
                if any(d in failed for d in deps):  # what it needs could not be observed
                    waiting_steps.remove(i)
                    failed[i] = failed[min(d for d in deps if d in failed)]
                elif all(d in results for d in deps):
                    waiting_steps.remove(i)
                    running[pool.submit(run, i, max([base, *(depth[d] for d in deps)]))] = i
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                i = running.pop(future)
                try:
                    results[i] = future.result()
                except BaseException as exc:  # raised below, in pipeline order
                    failed[i] = exc
    set_chain_depth(max([base, *depth.values()]))
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
    {
        "ZoneStep",
        "NetworkStep",
        "SharedLoadBalancerStep",
        "CertificateStep",
        "SecretsStep",
        "IamStep",
        "LogsStep",
        "ClusterStep",
    }
)


def plan_dependencies(ctx: Context, steps: list[Step]) -> list[set[int]]:
    """Which steps (by index) each step's planning waits for: the graph's, and Detection (make_plan
    puts it first) for a step that reads what detection finds."""
    needs = [set(deps) for deps in graph(steps).plan]
    if steps and isinstance(steps[0], Detection):
        for i, step in enumerate(steps[1:], 1):
            if "Detection" in _needs(ctx, step, {"Detection": 0}):
                needs[i].add(0)
    return needs


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
    steps = pipeline()
    graph(steps)  # a step reading a fact no step before it provides: a bug, said before any call
    from .build import plan_image

    plan_image(ctx)  # [service] build: the image the stack is given (create has built it already)
    planned = observe(ctx, [Detection(), *steps], "plan")
    outcome = Outcome(planned=planned[1:])
    if ctx.mode != "status":  # status reports conflicts as rows instead
        _raise_conflicts(ctx)
    outcome.notes = list(ctx.notes)
    return outcome


def apply(
    ctx: Context,
    outcome: Outcome,
    report: Reporter | None = None,
    on_failure: Callable[[Action, str], None] | None = None,
    on_left: Callable[[Action, str], None] | None = None,
) -> Outcome:
    """Run the plan's actions: each step's once the steps it reads from are applied (graph()),
    in threads, through rounds (rounds.py). Lines are reported in pipeline order as results
    become available. A step whose action fails (an EcsupError) stops: its later actions and
    the steps that read from it are left (``on_left``), the others go on; once every step that
    can run has run, the failures are reported in pipeline order (``on_failure``) and the first
    is raised. Anything else (a bug, Ctrl-C) stops every step at its next mutating call or wait,
    and is raised once they have stopped."""
    if not any(a.run is not None and a.mutates for a in outcome.actions):
        for action in outcome.actions:  # nothing to run: no thread, no round
            if report:
                report(action)
        return outcome
    _Apply(ctx, outcome, report, on_failure, on_left).run()
    if outcome.changes():  # what waits for the finished stack (a no-op run waits for nothing)
        for planned in outcome.planned:
            planned.step.after_apply(ctx)
    return outcome


@dataclass(eq=False)
class _Unit:
    """Actions of one step that run one after another, in a thread of their own."""

    step: int
    actions: list[Action]
    priority: int  # the first action's place in the plan
    state: str = "waiting"  # waiting, running, done, failed, left, aborted
    calling: bool = False  # it reached its first mutating call (Step.after)
    deps: set[int] = field(default_factory=set)  # steps its actions wait for besides its step's (Action.reads)
    depth: int = 0  # the chain of calls it ended on (context.CHAIN)


class _Apply:
    def __init__(
        self,
        ctx: Context,
        outcome: Outcome,
        report: Reporter | None,
        on_failure: Callable[[Action, str], None] | None,
        on_left: Callable[[Action, str], None] | None,
    ) -> None:
        from .context import chain_depth
        from .rounds import Rounds

        self.ctx, self.report, self.on_failure, self.on_left = ctx, report, on_failure, on_left
        self.actions = outcome.actions
        order = {id(a): i for i, a in enumerate(self.actions)}
        self.steps = [p.step for p in outcome.planned]
        derived = graph(self.steps)
        self.deps, self.after = derived.apply, derived.after
        self.units: list[_Unit] = []
        for i, planned in enumerate(outcome.planned):
            runs = [a for a in planned.actions if a.run is not None and a.mutates]
            for group in planned.step.groups(runs):
                self.units.append(_Unit(i, group, order[id(group[0])]))
        self.by_step: dict[int, list[_Unit]] = {}
        for unit in self.units:
            self.by_step.setdefault(unit.step, []).append(unit)
            for fact in {f for a in unit.actions for f in a.reads}:  # Action.reads: its own waits
                found = {j for j in derived.providers.get(fact, set()) if j < unit.step}
                if not found and fact not in INPUTS:
                    raise RuntimeError(f"{unit.actions[0].ref} reads {fact!r}, which no step before it provides")
                unit.deps |= found.union(*(self.deps[j] for j in found))
        # what happened to each runnable action: done, or (failed|left, message); others are final
        self.outcome: dict[int, tuple[str, str]] = {}
        self.errors: dict[int, BaseException] = {}  # by action index: EcsupErrors, reported and raised
        self.fatal: list[BaseException] = []
        self.threads: list[Any] = []
        self.base = chain_depth()
        self.rounds = Rounds(ctx.clock, ctx.sleep)
        self.rounds.on_call = self._calling
        self.order = order

    # -- units (under rounds.cond) -----------------------------------------------------------------
    def _settle(self) -> None:
        """Start the units whose steps' dependencies are applied; leave those whose cannot be."""
        changed = True
        while changed:
            changed = False
            for unit in self.units:
                if unit.state != "waiting":
                    continue
                before = [u for d in sorted(self.deps[unit.step] | unit.deps) for u in self.by_step.get(d, [])]
                broken = [u for u in before if u.state in ("failed", "left", "aborted")]
                if broken or self.fatal or self.rounds.aborted:
                    unit.state = "left" if broken else "aborted"
                    changed = True
                    if broken:
                        cause = broken[0]
                        why = f"needs {self.steps[cause.step].title or type(self.steps[cause.step]).__name__} first"
                        why += ", which failed" if cause.state == "failed" else ", which was left"
                        for action in unit.actions:
                            self.outcome[self.order[id(action)]] = ("left", why)
                    continue
                started = all(  # Step.after: those steps reached their first mutating call (or have none)
                    not self.by_step.get(d)
                    or any(u.calling or u.state not in ("waiting", "running") for u in self.by_step[d])
                    for d in self.after[unit.step]
                )
                if started and all(u.state == "done" for u in before):
                    unit.state = "running"
                    unit.depth = max([self.base, *(u.depth for u in before)])
                    self.rounds.started()
                    thread = threading.Thread(target=self._run, args=(unit,), name="ecsup-apply", daemon=True)
                    self.threads.append(thread)
                    thread.start()
                    changed = True

    def _calling(self, token: Any) -> None:
        unit = token.owner
        if isinstance(unit, _Unit) and not unit.calling:
            unit.calling = True
            self._settle()

    def _run(self, unit: _Unit) -> None:
        from .context import STEP, chain_depth, set_chain_depth
        from .errors import EcsupError
        from .rounds import Aborted, Token

        self.rounds.enter(Token(unit.priority, owner=unit))
        STEP.index = unit.step  # notes made while applying follow pipeline order too
        set_chain_depth(unit.depth)
        state = "done"
        try:
            for n, action in enumerate(unit.actions):
                assert action.run is not None
                try:
                    action.result = action.run()
                except EcsupError as exc:
                    at = self.order[id(action)]
                    self.errors[at] = exc
                    self.outcome[at] = ("failed", exc.message)
                    for rest in unit.actions[n + 1 :]:
                        self.outcome[self.order[id(rest)]] = ("left", f"{action.ref} failed before it")
                    state = "failed"
                    break
                if action.kind in ("create", "update") and action.result and action.result.startswith(FOUND):
                    action.kind = "noop"  # made by another run meanwhile: nothing changed here
                self.outcome[self.order[id(action)]] = ("done", "")
        except Aborted:
            state = "aborted"
        except BaseException as exc:  # a bug, or the process dying: everything stops
            state = "aborted"
            self.fatal.append(exc)
            self.rounds.abort()
        finally:
            unit.depth = chain_depth()
            STEP.index = 1 << 30

            def then() -> None:
                unit.state = state
                self._settle()

            self.rounds.finished(then)

    # -- the run (main thread) -------------------------------------------------------------------
    def run(self) -> None:
        from .context import set_chain_depth

        ctx = self.ctx
        sleep = ctx.sleep
        ctx.sleep = self.rounds.wait  # a unit's waits go through the rounds; other threads' do not
        shown = 0
        try:
            with self.rounds.cond:
                self._settle()
            while True:
                with self.rounds.cond:
                    ready = self._ready(shown)
                    while ready == shown and not self._over():
                        self.rounds.cond.wait(0.5)  # woken by every unit's end; the timeout lets Ctrl-C in
                        ready = self._ready(shown)
                    over = self._over()
                for i in range(shown, ready):
                    self._show(i)
                shown = ready
                if over and shown == len(self.actions):
                    break
                if over and self.fatal:
                    break
        except BaseException:
            self.rounds.abort()
            for thread in self.threads:
                thread.join()
            raise
        finally:
            ctx.sleep = sleep
        for thread in self.threads:
            thread.join()
        set_chain_depth(max([self.base, *(u.depth for u in self.units)]))
        ctx.notes.in_order()
        if self.fatal:
            raise self.fatal[0]
        if self.errors:
            raise self.errors[min(self.errors)]

    def _over(self) -> bool:
        return all(u.state not in ("waiting", "running") for u in self.units)

    def _ready(self, shown: int) -> int:
        """How far the lines can be printed: up to the first action still to run or running."""
        runnable = {id(a) for u in self.units for a in u.actions}
        i = shown
        while i < len(self.actions) and (id(self.actions[i]) not in runnable or i in self.outcome):
            i += 1
        return i

    def _show(self, i: int) -> None:
        action = self.actions[i]
        what, message = self.outcome.get(i, ("done", ""))
        if what == "failed":
            if self.on_failure:
                self.on_failure(action, message)
        elif what == "left":
            if self.on_left:
                self.on_left(action, message)
        elif self.report:
            self.report(action)


def create(
    ctx: Context,
    report: Reporter | None = None,
    on_plan: Callable[[Outcome], None] | None = None,
    force_unlock: bool = False,
    on_failure: Callable[[Action, str], None] | None = None,
    on_left: Callable[[Action, str], None] | None = None,
) -> Outcome:
    """Plan; when there is something to change, take the lock and apply -- planning again
    under the lock only if another run changed the stack since the plan began (lock.py).
    A no-op makes no mutating call. ``on_failure`` / ``on_left``: see apply()."""
    from . import lock

    ctx.mode = "apply"
    before = lock.snapshot(ctx)
    outcome = make_plan(ctx)
    from .build import build_first_image

    if build_first_image(ctx, report):  # [service] build, no service yet: its first image, by digest
        ctx.reset_observations()
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
        return apply(ctx, outcome, report, on_failure, on_left)


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
    end; the result lists follow the plan's order.

    Each deletion runs in a thread of its own whose mutating calls and waits go through rounds
    (rounds.py), as create's steps do: the same plan makes the same calls in the same order every
    time, however the threads are scheduled -- a crash before the n-th mutating call of a destroy
    is the same call every time (tests/test_workers_crash.py) -- while deletions still overlap
    their calls and their waits."""
    return _Deletions(ctx, outcome, report, on_failure, on_left).run()


class _Deletions:
    """destroy()'s run. Which deletions start is decided when no deletion runs (at the start, and
    before each round: Rounds.on_idle), in the plan's order, at most DELETERS at once -- so which
    start does not depend on which of the deletions that ended since the last round ended first.
    A deletion that ends is reported by the main thread."""

    def __init__(
        self,
        ctx: Context,
        outcome: Outcome,
        report: Reporter | None,
        on_failure: Callable[[Action, str], None] | None,
        on_left: Callable[[Action, str], None] | None,
    ) -> None:
        from .rounds import Rounds

        self.ctx, self.report, self.on_failure, self.on_left = ctx, report, on_failure, on_left
        self.actions = [a for planned in outcome.planned for a in planned.actions]
        self.order = {id(a): i for i, a in enumerate(self.actions)}
        self.doomed = {a.ref for a in self.actions if a.kind == "delete" and a.run is not None}
        self.gone: set[str] = set()
        self.blocked: dict[str, str] = {}  # ref -> the deletion that failed, first cause of its staying
        self.failed: list[tuple[Action, str]] = []
        self.left: list[tuple[Action, str]] = []
        self.pending = list(self.actions)
        self.active = 0  # deletions started and not ended
        self.events: list[tuple[str, Action, str]] = []  # (done|failed|left, action, message), to report
        self.fatal: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self.rounds = Rounds(ctx.clock, ctx.sleep)
        self.rounds.on_idle = self._settle

    # -- under rounds.cond ---------------------------------------------------------------------
    def _settle(self) -> None:
        """Start the deletions whose needs are gone (while fewer than DELETERS run), leave those
        that need one that could not be deleted; in the plan's order."""
        changed = True
        while changed:
            changed = False
            for action in list(self.pending):
                if action.kind != "delete" or action.run is None:
                    self.pending.remove(action)
                    self.events.append(("done", action, ""))
                    continue
                needs = [ref for ref in action.after if ref in self.doomed]  # what is not in the plan is gone
                stuck = [ref for ref in needs if ref in self.blocked]
                if stuck:
                    self.pending.remove(action)
                    cause = self.blocked[stuck[0]]
                    why = f"needs {stuck[0]} deleted first" + (
                        ", which could not be deleted" if cause == stuck[0] else f", left because {cause} could not be"
                    )
                    self.left.append((action, why))
                    self.blocked[action.ref] = cause
                    self.events.append(("left", action, why))
                    changed = True  # what needs it may be listed before it: look again
                elif (
                    all(ref in self.gone for ref in needs)
                    and self.active < DELETERS
                    and not self.fatal
                    and not self.rounds.aborted
                ):
                    self.pending.remove(action)
                    self._start(action)

    def _start(self, action: Action) -> None:
        self.active += 1
        self.rounds.started()
        thread = threading.Thread(target=self._run, args=(action,), name="ecsup-destroy", daemon=True)
        self.threads.append(thread)
        thread.start()

    # -- a deletion's thread --------------------------------------------------------------------
    def _run(self, action: Action) -> None:
        from .errors import EcsupError
        from .rounds import Aborted, Token

        self.rounds.enter(Token(self.order[id(action)], owner=action))
        ended: tuple[str, str] = ("aborted", "")
        try:
            assert action.run is not None
            action.result = action.run()
            ended = ("done", "")
        except EcsupError as exc:
            ended = ("failed", exc.message)
        except Aborted:
            pass
        except BaseException as exc:  # a bug, or the process dying: every deletion stops
            self.fatal.append(exc)
            self.rounds.abort()
        finally:

            def then() -> None:
                self.active -= 1
                what, message = ended
                if what == "failed":
                    self.failed.append((action, message))
                    self.blocked[action.ref] = action.ref
                    self.events.append(("failed", action, message))
                elif what == "done":
                    if action.result and action.result.startswith(KEPT):  # it decided not to, and said why
                        action.kind = "keep"
                    self.gone.add(action.ref)
                    self.events.append(("done", action, ""))

            self.rounds.finished(then)  # what it was needed for starts once no deletion runs (on_idle)

    # -- the run (main thread) -----------------------------------------------------------------
    def run(self) -> DestroyResult:
        ctx = self.ctx
        sleep = ctx.sleep
        ctx.sleep = self.rounds.wait  # a deletion's waits go through the rounds; other threads' do not
        cond = self.rounds.cond
        try:
            with cond:
                self._settle()
            while True:
                with cond:
                    while not self.events and self.active:
                        cond.wait(0.5)  # woken by every deletion's end; the timeout lets Ctrl-C in
                    events, self.events = self.events, []
                    over = not self.active and not events
                    stuck = [a.ref for a in self.pending]
                for what, action, message in events:
                    if what == "failed":
                        if self.on_failure:
                            self.on_failure(action, message)
                    elif what == "left":
                        if self.on_left:
                            self.on_left(action, message)
                    elif self.report:
                        self.report(action)
                if over:
                    break
        except BaseException:
            self.rounds.abort()
            for thread in self.threads:
                thread.join()
            raise
        finally:
            ctx.sleep = sleep
        for thread in self.threads:
            thread.join()
        if self.fatal:
            raise self.fatal[0]
        if stuck:  # waiting on each other: a bug in the plan's `after`
            raise RuntimeError("destroy: circular dependencies: " + ", ".join(stuck))
        result = DestroyResult()
        result.failed = sorted(self.failed, key=lambda pair: self.order[id(pair[0])])
        result.left = sorted(self.left, key=lambda pair: self.order[id(pair[0])])
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
    Fargate bills for the web service (cpu, memory, count, architecture, capacity), adds a worker
    or a job, or changes [network] egress (live_egress: the tasks' public addresses, a NAT gateway,
    endpoints; a shared network's part counted whole): the full fixed total of `ecsup cost`'s
    estimate (compute, workers, jobs, load balancer hours, public addresses, zone, alarms, ...)
    without what depends on traffic, and the Fargate compute part. The shipped prices and the
    plan's own facts: no AWS call."""
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
    egress_before = live_egress(ctx)
    network_changed = egress_before is not None and egress_before != ctx.config.network.egress
    if change is None and not new and not network_changed:
        return None
    try:
        prices = shipped_prices(ctx.region)
    except UnknownRegion:
        return None
    sharing = None
    if ctx.names.shared:  # the stacks on it, as the plan read them (sharing_line's count)
        others = tuple(ctx.facts.get("shared_others", []))
        sharing = Sharing(ctx.names.shared, len(others) + 1, others)
    # [network] shared: its parts as they are and the stacks they are split among, as the network's
    # step read them (`ecsup cost`'s network_sharing)
    network_sharing = ctx.facts.get("network_sharing")
    network_sharing = network_sharing if isinstance(network_sharing, Sharing) else None
    usage = Usage(requests_per_month=0, log_gb_per_month=0, deploys_per_month=0)
    fixed = estimate(ctx.config, usage, prices, sharing, network_sharing)
    total_after = fixed.total_low
    network: dict[str, Any] | None = None  # a change of [network] egress: its part of the difference
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
            network=replace(ctx.config.network, egress=egress_before or ctx.config.network.egress),
        )
        before_estimate = estimate(without, usage, prices, sharing, network_sharing)
        total_before = round(before_estimate.total_low - (compute_after - compute_before), 2)
        if network_changed:
            network = {
                "before": round(_network_total(before_estimate), 2),
                "after": round(_network_total(fixed), 2),
                "egress": {"before": egress_before, "after": ctx.config.network.egress},
            }
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
        "network": network,
        "what": "the stack's fixed cost, USD a month",
        "not_counted": NOT_COUNTED,
        "prices": prices.source_line,
    }


# the lines of `ecsup cost` a change of [network] egress moves (cost.public_ipv4_line, cost.network_lines)
NETWORK_LINES = (
    "Public IPv4 addresses",
    "NAT gateway hours",
    "NAT gateway data processed",
    "VPC interface endpoints",
    "VPC endpoints data processed",
)


def _network_total(estimate: Any) -> float:
    return float(sum(line.monthly_low for line in estimate.lines if line.name in NETWORK_LINES))


def live_egress(ctx: Context) -> str | None:
    """The [network] egress the live stack has, as the plan read it: the egress step's reading
    (fact ``egress_live``) when it gave one, else the web service's tasks: a public IPv4 address
    (assignPublicIp ENABLED) is "public"; without one, the configured layout is taken as the live
    one when it is not "public" (which private layout cannot be told from the service). None: no
    live service, or nothing to tell."""
    told = ctx.facts.get("egress_live")
    if isinstance(told, str):
        return told
    service = ctx.facts.get("service")
    if not isinstance(service, dict):
        return None
    vpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    if vpc.get("assignPublicIp") == "ENABLED":
        return "public"
    return ctx.config.network.egress if ctx.config.network.egress != "public" else None


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
    network = change.get("network")
    if network:
        egress = network["egress"]
        added += (
            f"; network (egress {egress['before']} -> {egress['after']}) {usd(network['before'])} -> "
            f"{usd(network['after'])}"
        )
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
