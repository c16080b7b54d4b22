"""The engine's graph: steps wait for the steps whose facts they read (planning and applying),
independent steps apply at once, a failure stops what reads from it and not the rest, lines
come in pipeline order whatever the order things finish in -- and the critical path of a
create stays short (a change that serialises the graph fails here)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ZONE, Recorder, client
from moto import mock_aws, settings

from ecsup import engine
from ecsup.context import Context
from ecsup.errors import AwsError
from ecsup.facts import Facts
from ecsup.plan import Action
from ecsup.steps import Step


class Fake(Step):
    """A step whose one action waits ``seconds`` (on the context's clock), then writes its fact."""

    reads: tuple[str, ...] | None = ()
    seconds = 1.0
    fails = False

    def __init__(self, log: list[tuple[str, str, float]]) -> None:
        self.log = log

    def plan(self, ctx: Context) -> list[Action]:
        return [Action("create", "thing", type(self).__name__, run=lambda: self._run(ctx))]

    def _run(self, ctx: Context) -> str:
        name = type(self).__name__
        missing = [f for f in self.reads or () if f not in ctx.facts]
        self.log.append((name, "start" + (f" without {missing}" if missing else ""), ctx.clock()))
        ctx.sleep(self.seconds)
        if self.fails:
            raise AwsError(f"{name} broke", "Broken")
        for fact in self.provides:
            ctx.facts[fact] = name
        self.log.append((name, "end", ctx.clock()))
        return "made"


class Network(Fake):
    provides = ("net",)
    seconds = 5.0


class Roles(Fake):  # independent of Network
    provides = ("roles",)
    seconds = 5.0


class Balancer(Fake):
    reads = ("net",)
    provides = ("lb",)
    seconds = 3.0


class Service(Fake):
    reads = ("lb", "roles")
    provides = ("svc",)
    seconds = 1.0


def _run(ctx: Context, steps: list[Step], **callbacks: Any) -> engine.Outcome:
    outcome = engine.Outcome(planned=engine.observe(ctx, steps, "plan"))
    return engine.apply(ctx, outcome, **callbacks)


def test_steps_wait_for_what_they_read_and_independent_ones_apply_at_once(make_ctx, clock):
    log: list[tuple[str, str, float]] = []
    ctx = make_ctx()
    start = clock()
    lines: list[str] = []
    _run(ctx, [Network(log), Roles(log), Balancer(log), Service(log)], report=lambda a: lines.append(a.name))
    starts = {name: at - start for name, what, at in log if what == "start"}
    assert starts == {"Network": 0, "Roles": 0, "Balancer": 5, "Service": 8}, log  # nothing started without its facts
    assert clock() - start == 9  # the longest chain (5 + 3 + 1), not the sum (14)
    assert lines == ["Network", "Roles", "Balancer", "Service"]
    graph = engine.graph([Network(log), Roles(log), Balancer(log), Service(log)])
    assert graph.apply == [set(), set(), {0}, {0, 1, 2}]  # transitively


def test_an_undeclared_step_waits_for_every_step_before_it(make_ctx, clock):
    class Legacy(Fake):
        reads = None  # written before reads/provides existed

    log: list[tuple[str, str, float]] = []
    ctx = make_ctx()
    start = clock()
    _run(ctx, [Network(log), Roles(log), Legacy(log), Balancer(log)])
    starts = {name: at - start for name, what, at in log if what == "start"}
    assert starts == {"Network": 0, "Roles": 0, "Legacy": 5, "Balancer": 5}


def test_an_action_reading_more_than_its_step_waits_for_that_alone(make_ctx, clock):
    """Action.reads: HTTPS:443 waits for the certificate; the step's other listener does not."""

    class Certificate(Fake):
        provides = ("cert",)
        seconds = 7.0

    class Listeners(Step):
        reads = ("net",)
        plan_reads = ("cert",)
        concurrent = True

        def __init__(self, log: list[tuple[str, str, float]]) -> None:
            self.log = log

        def plan(self, ctx: Context) -> list[Action]:
            def run(name: str) -> str:
                self.log.append((name, "start", ctx.clock()))
                return "made"

            return [
                Action("create", "listener", "staging", run=lambda: run("staging")),
                Action("create", "listener", "https", run=lambda: run("https"), reads=("cert",)),
            ]

    log: list[tuple[str, str, float]] = []
    ctx = make_ctx()
    start = clock()
    _run(ctx, [Network(log), Certificate(log), Listeners(log)])
    starts = {name: at - start for name, what, at in log if what == "start"}
    assert starts == {"Network": 0, "Certificate": 0, "staging": 5, "https": 7}


def test_a_fact_no_step_before_provides_is_an_error_before_any_call(aws: Recorder, make_ctx, monkeypatch):
    class Reader(Fake):
        reads = ("lb",)  # Balancer comes after it

    with pytest.raises(RuntimeError, match="Reader reads the fact 'lb', which no step before it provides"):
        engine.graph([Reader([]), Network([]), Balancer([])])
    pipeline = engine.pipeline
    monkeypatch.setattr(engine, "pipeline", lambda: [Reader([]), *pipeline()])
    aws.reset()
    with pytest.raises(RuntimeError, match="no step before it provides"):
        engine.make_plan(make_ctx())
    assert aws.calls == []


def test_declarations_are_tuples_of_names_checked_when_the_class_is_made():
    with pytest.raises(TypeError, match=r"Typo.reads must be a tuple of names"):

        class Typo(Step):
            reads = "zone_id"  # type: ignore[assignment]  # a string, not a tuple


def test_the_pipeline_graph_is_complete_and_every_read_has_a_provider():
    steps = engine.pipeline()
    graph = engine.graph(steps)
    names = [type(s).__name__ for s in steps]

    def waits(step: str, *, plan: bool = False) -> set[str]:
        return {names[j] for j in (graph.plan if plan else graph.apply)[names.index(step)]}

    assert {"TaskDefinitionStep", "ListenersStep", "LogsStep", "AlarmsStep", "IamStep", "ClusterStep"} <= waits(
        "ServiceStep"
    )
    # the certificate's validation is waited for by the HTTPS listener only, beside the service
    assert "DnsStep" not in waits("ServiceStep") and "HttpsStep" not in waits("ServiceStep")
    assert "CertificateStep" in waits("HttpsStep") and "ServiceStep" not in waits("HttpsStep")
    # the secrets learn the account id from their parameters' own ARNs: they wait for no certificate
    assert "CertificateStep" not in waits("SecretsStep", plan=True) | waits("SecretsStep")
    # the workers' services beside the web service, after what their tasks need
    assert {
        "WorkerTaskDefinitionStep",
        "TaskDefinitionStep",
        "IamStep",
        "SecretsStep",
        "SecurityGroupsStep",
        "ClusterStep",
        "LogsStep",
    } <= waits("WorkerServiceStep")
    assert "ServiceStep" not in waits("WorkerServiceStep") | waits("WorkerServiceStep", plan=True)
    assert "TaskDefinitionStep" in waits("WorkerTaskDefinitionStep")  # the image the web service runs after
    # the jobs' roles beside the stack's (after none of them); the jobs after what they name, and after
    # the web service's release when applying only (they are planned beside it)
    assert waits("JobRolesStep") == set() and "IamStep" not in waits("JobRolesStep", plan=True)
    assert {"JobRolesStep", "TaskDefinitionStep", "IamStep", "SecurityGroupsStep", "ClusterStep", "LogsStep"} <= waits(
        "JobsStep"
    )
    assert "ServiceStep" in waits("JobsStep") and "ServiceStep" not in waits("JobsStep", plan=True)
    assert "WorkerServiceStep" not in waits("JobsStep")


WORKER_AND_JOB = """
[workers.mailer]
command = ["bundle", "exec", "sidekiq"]

[jobs.nightly]
schedule = "cron(0 3 * * ? *)"
command = ["python", "manage.py", "cleanup"]
timeout = 1800
"""
BEFORE = '\n[service.deploy]\nbefore = ["sh", "-c", "echo migrating; exit 0"]\n'


def _timeline(aws: Recorder, clock: Any) -> list[tuple[float, str, str]]:
    """(time, operation, name) of the calls that create services, run tasks, make state machines or
    read the web service (its waits), on the test's clock."""
    seen: list[tuple[float, str, str]] = []

    def log(service: str, operation: str, params: dict[str, Any]) -> None:
        name = params.get("serviceName") or params.get("name") or ",".join(params.get("services") or [])
        if operation in ("CreateService", "RunTask", "CreateStateMachine", "DescribeServices"):
            seen.append((clock(), operation, str(name)))

    aws.injectors.append(log)
    return seen


def test_a_worker_service_is_created_beside_the_web_service_and_the_jobs_after_its_release(
    aws: Recorder, make_ctx: Any, clock: Any
) -> None:
    from conftest import config_text

    seen = _timeline(aws, clock)
    engine.create(make_ctx(config_text(WORKER_AND_JOB)))

    created = {name: t for t, op, name in seen if op == "CreateService"}
    web_stable = max(t for t, op, name in seen if op == "DescribeServices" and name == "web-dev")
    assert created["web-dev-mailer"] <= created["web-dev"] + 1  # at once, not once the web service is stable
    assert created["web-dev-mailer"] < web_stable
    (machine,) = [t for t, op, name in seen if op == "CreateStateMachine"]
    assert machine >= web_stable  # a job following the service's image: once its release succeeded
    assert (
        client("ecs").describe_services(cluster="web-dev", services=["web-dev-mailer"])["services"][0]["runningCount"]
        == 1
    )


def test_with_a_before_task_a_worker_following_the_web_image_rolls_out_after_it(
    aws: Recorder, make_ctx: Any, clock: Any
) -> None:
    from conftest import config_text

    seen = _timeline(aws, clock)
    engine.create(make_ctx(config_text(BEFORE + WORKER_AND_JOB)))

    order = [(op, name) for _, op, name in seen if op in ("CreateService", "RunTask")]
    assert order.index(("CreateService", "web-dev-mailer")) > order.index(("CreateService", "web-dev"))
    run = next(i for i, (op, _) in enumerate(order) if op == "RunTask")  # the before task
    assert run < order.index(("CreateService", "web-dev-mailer"))


def test_a_failure_stops_what_reads_from_it_not_the_rest_and_is_reported_in_pipeline_order(make_ctx, clock):
    class BrokenNetwork(Network):
        fails = True
        seconds = 4.0

    class BrokenRoles(Roles):
        fails = True
        seconds = 1.0  # fails first

    class Logs(Fake):
        provides = ("logs",)
        seconds = 7.0

    log: list[tuple[str, str, float]] = []
    shown: list[str] = []
    ctx = make_ctx()
    with pytest.raises(AwsError, match="BrokenNetwork broke"):  # the first in pipeline order, not in time
        _run(
            ctx,
            [BrokenNetwork(log), BrokenRoles(log), Logs(log), Balancer(log), Service(log)],
            report=lambda a: shown.append(f"done {a.name}"),
            on_failure=lambda a, m: shown.append(f"failed {a.name}: {m}"),
            on_left=lambda a, why: shown.append(f"left {a.name}: {why}"),
        )
    assert shown == [
        "failed BrokenNetwork: BrokenNetwork broke",
        "failed BrokenRoles: BrokenRoles broke",
        "done Logs",  # independent: applied all the same
        "left Balancer: needs BrokenNetwork first, which failed",
        "left Service: needs BrokenRoles first, which failed",  # the first to fail
    ]
    assert {name for name, what, _ in log if what == "start"} == {"BrokenNetwork", "BrokenRoles", "Logs"}


def test_lines_come_in_pipeline_order_whatever_order_the_steps_end_in(make_ctx, clock):
    class Slow(Fake):
        provides = ("slow",)
        seconds = 9.0

    class Fast(Fake):
        provides = ("fast",)
        seconds = 1.0

    log: list[tuple[str, str, float]] = []
    shown: list[str] = []
    _run(make_ctx(), [Slow(log), Fast(log)], report=lambda a: shown.append(a.name))
    assert [name for name, what, _ in log if what == "end"] == ["Fast", "Slow"]
    assert shown == ["Slow", "Fast"]


def test_facts_are_a_typed_dataclass_and_a_mapping():
    facts = Facts()
    assert "zone_id" not in facts and facts.get("zone_id") is None and facts.zone_id is None
    with pytest.raises(KeyError):
        facts["zone_id"]
    facts["zone_id"] = None  # a fact whose value is None (no zone) is there
    assert "zone_id" in facts and facts["zone_id"] is None
    facts.alb_arn = "arn:lb"
    assert facts["alb_arn"] == "arn:lb" and dict(facts) == {"zone_id": None, "alb_arn": "arn:lb"}
    facts.setdefault("records", {})["x."] = []
    assert facts.records == {"x.": []}
    facts["workers_arn"] = "arn:w"  # not a field (a step added later): kept beside them
    assert facts["workers_arn"] == "arn:w" and "workers_arn" in facts
    facts.update(alb_dns="d", other=1)
    del facts["alb_arn"]
    assert facts.alb_arn is None and "alb_arn" not in facts
    assert facts.pop("other") == 1
    facts.clear()
    assert len(facts) == 0


# -- the critical path of a real create, in calls ---------------------------------------------------
# A create's calls form chains: each call waits for the one before it in its step, a step starts
# once the steps it reads from are applied. Call.depth is a call's place on the longest chain that
# led to it (context.CHAIN); the deepest call is the create's critical path in calls. Steps applied
# one after another (the whole create as one chain) make it about as long as the number of calls
# (93 on the strict layer: CreateService would come at about 70). Measured: the service is created
# at 25 (planning's 11 included), the create ends at 45 (16 polls of the service's deployment);
# a plan with nothing to do is 11 deep (31 calls).
SERVICE_DEPTH = 27
CREATE_DEPTH = 50
PLAN_DEPTH = 12


def _depth(ctx: Context) -> int:
    """The longest chain of calls of what ran on ``ctx`` (depths count on from the thread's last run)."""
    return max(c.depth for c in ctx.calls) - min(c.depth for c in ctx.calls) + 1


def test_the_critical_path_of_a_create_and_of_a_plan_stays_short(aws: Recorder, make_ctx):
    ctx = make_ctx()
    engine.create(ctx)
    plan = make_ctx()
    plan.mode = "plan"
    assert not engine.make_plan(plan).changes()
    assert len(ctx.calls) >= 80  # the whole create, lock and waits' polls included
    first = min(c.depth for c in ctx.calls)
    service = next(c.depth for c in ctx.calls if c.operation == "CreateService") - first + 1
    assert service <= SERVICE_DEPTH, [(c.operation, c.depth - first + 1) for c in ctx.calls]
    assert _depth(ctx) <= CREATE_DEPTH, f"a create's longest chain of calls is {_depth(ctx)} of {len(ctx.calls)}"
    assert _depth(plan) <= PLAN_DEPTH, [(c.operation, c.depth) for c in plan.calls]


def test_the_same_create_makes_the_same_calls_in_the_same_order(make_ctx, recorder: Recorder, monkeypatch):
    """Rounds (rounds.py): what a crash test needs -- the n-th mutating call is the same call."""
    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 0)
    runs = []
    for _ in range(3):
        with mock_aws():
            client("route53").create_hosted_zone(Name=ZONE, CallerReference="again")
            recorder.reset()
            engine.create(make_ctx())
            runs.append(recorder.mutating())
    assert runs[0] == runs[1] == runs[2]
