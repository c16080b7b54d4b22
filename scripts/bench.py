"""Benchmark of ecsup against the embedded local AWS (moto), with a simulated API latency
and AWS's delays modelled (ecsup/emulation).

Not a test: it measures, prints, and compares with targets; it never fails on a missed
target (exit 0 unless something breaks). Run it through `scripts/bench` (which sets up
.venv), or with any interpreter that has ecsup[sandbox] installed:

    python scripts/bench.py [--latency-ms 30] [--validation-delay 6] [--load-balancer-delay 3]
        [--service-delay 5] [--draining-delay 3] [--eni-delay 3] [--runs 7] [--json]

For each of three configs -- the default one (no CloudFront certificate), the workloads one
(the default one with two workers and two jobs: [workers.a], [workers.b], [jobs.x], [jobs.y];
until ecsup builds workers and jobs they parse and add no resource) and the demo one (`ecsup
demo`'s config: also a us-east-1 certificate) -- it runs, on a freshly reset sandbox: create,
create again (nothing to do), status, plan, destroy, destroy again (nothing to do), each on a
fresh Context in this process, with warm clients (botocore parses service models once per
process) and a frozen heap (so that moto's in-process state adds no collector pauses) -- after
one create of the default config that is not counted (moto's first use of each service in a
process). Then, in subprocesses: `python -m ecsup --help` / `--version`, which heavy modules
they import, and what a fresh `ecsup create` process spends before its first call.

AWS's delays are the sandbox's (ecsup.emulation.SANDBOX), with the five a create or a destroy
waits out set by the flags (ecsup.sandbox.sandbox_delays passes them to the emulation, which
models what AWS reports meanwhile; its Delays dataclass gives the sources):

    --validation-delay V     ACM issues a certificate V s after its validation CNAMEs appear
                             in the zone (PENDING_VALIDATION until then)            default 6
    --load-balancer-delay P  a new load balancer is "provisioning" for P s; its targets pass
                             no health check before it is "active"                  default 3
    --service-delay S        a new service's tasks are PENDING for S s, then RUNNING; its
                             deployment completes once they run and its load balancer is
                             active                                                 default 5
    --draining-delay D       a deleted service stays DRAINING for D s               default 3
    --eni-delay E            the network interfaces of stopped tasks (and of a deleted load
                             balancer) hold their security groups for E s more
                             (DependencyViolation)                                  default 3

The physical limit of create (create_limit()) is the least time any create could take under
those delays -- the two chains of waits it cannot shorten, from the moment it starts, plus the
calls that can only come at the end of each:

    limit = max( R + V + U + T_listener ,  max(P, max(I, L) + 2Q + S) + 6Q + T_poll )

    certificate chain: ACM publishes the validation records R s after the request; they are
      written; ACM issues V s after they appear; ELB accepts the certificate U s after that
      (Delays.validation_records, certificate_validation, certificate_usable); then the HTTPS
      listener can be made: T_listener, the measured time of that call (the CreateListener, or the
      ModifyListener that turns a listener HTTPS, that succeeded).
    service chain: the service's first deployment completes once its tasks run (S s after
      CreateService) and its load balancer is active (P s after CreateLoadBalancer). ECS
      accepts the service no sooner than L s after its service-linked role appears
      (Delays.service_linked_role), and tasks started less than I s after their execution
      role's permissions changed cannot read their secrets (Delays.iam_permissions); then one
      DescribeServices sees it stable: T_poll, the measured time of the last one. A blue/green
      service's first deployment runs ECS's lifecycle too (two stages before its tasks start,
      six after, each Q = Delays.task_start / 10 in the emulation), without a bake.

The issue's shorter statement, max(V, P + S) + T_listener + T_poll, is printed next to it: it
assumes the tasks start only once the load balancer is active, which neither AWS nor the
emulation requires (tasks start while it provisions; only their health checks wait for it),
and with the defaults (P + S = 8 > V = 6) a create that starts the service early would beat it.

The longest chain of destroy (destroy_chain()) is the wait it cannot shorten: the service
stays DRAINING for D after DeleteService, its tasks' network interfaces hold the tasks'
security group E more, and the load balancer's group can only go after the tasks' group (whose
rule refers to it):

    chain = max( D + E + T_groups ,  C + T_certificates )

    T_groups: the measured time of the DeleteSecurityGroup calls that succeed; C the
    certificate's release after its listener is deleted (Delays.certificate_release) and
    T_certificates the DeleteCertificate calls that succeed (shorter with the defaults).

Excess = wall - limit (or chain): the calls before and between, polling intervals, and
client-side time. Everything else (IAM, alias and ELB settling) stays at the sandbox's values.

Each call's timestamps, caller (the ecsup functions on the stack) and a digest of its
parameters are recorded through botocore events registered by ecsup.context.SESSION_HOOKS,
which gives the chains above, the per-operation counts of the no-op create, and the identical
reads each operation repeats.

Every AWS call is slowed down by --latency-ms (a botocore `before-send` handler that
sleeps, i.e. once per HTTP attempt) to stand for a real API round trip; moto's own
processing time comes on top. Nothing leaves loopback: the sandbox listens on 127.0.0.1,
uses dummy credentials, and the metadata service is disabled.

Whole processes (whole_processes(); `--processes-only` runs these alone): the read-only
commands as a user runs them -- `python -m ecsup create` (nothing to do), `status`, `plan` --
each a fresh process started from the shell (interpreter start, imports, the boto3 session and
clients, the calls, the exit all included), against a sandbox whose server answers each request
--latency-ms late, on a stack built beforehand; for the default config and for it with two
workers and two jobs (WORKLOADS_TOML). --runs runs each after one warm-up (bytecode caches are
on, as in an installed package): the median, the range, the CPU time, when the first AWS call
came, and how long from the last answer to the exit.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import hashlib
import json
import os
import platform
import secrets as pysecrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Nothing in this process (or its subprocesses) may reach real AWS or the metadata service.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)
for _var in [v for v in os.environ if v.startswith("AWS_ENDPOINT_URL_")]:
    os.environ.pop(_var, None)
os.environ.update(
    AWS_EC2_METADATA_DISABLED="true",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
)
if str(ROOT) not in sys.path:  # `python scripts/bench.py` from a checkout without an install
    sys.path.insert(0, str(ROOT))

# Targets (from the issue).
CREATE_EXCESS_TARGET_S = 1.5  # create within 1.5 s of its physical limit (compressed clock)
WORKLOADS_EXTRA_S = 1.0  # two workers and two jobs: at most 1 s more than the default stack's create
NOOP_CREATE_WALL_TARGET_S = 0.5
NOOP_CREATE_CALLS_TARGET = 25
STATUS_WALL_TARGET_S = 0.6
STATUS_CALLS_TARGET = 26
PLAN_WALL_TARGET_S = 0.5
PLAN_CALLS_TARGET = 24
DESTROY_EXCESS_TARGET_S = 2.0  # destroy within 2 s of its longest chain
HELP_TARGET_MS = 100.0

# Clients made (no call) before measuring, so that every in-process figure is "warm": botocore
# parses each service model once per process. The cold start is measured on its own.
WARM_CLIENTS = (
    *((service, "") for service in ("route53", "acm", "ec2", "elbv2", "ssm", "sts", "iam", "logs", "ecs")),
    ("acm", "us-east-1"),
)
HEAVY_MODULES = ("boto3", "botocore", "rich", "moto", "ecsup.engine", "ecsup.context")
# The second stack of the issue: two workers and two jobs beside the web service.
WORKLOADS = """
[workers.a]
command = ["sh", "-c", "echo worker a; sleep 3600"]

[workers.b]
command = ["sh", "-c", "echo worker b; sleep 3600"]

[jobs.x]
command = ["sh", "-c", "echo job x"]
schedule = "rate(1 day)"

[jobs.y]
command = ["sh", "-c", "echo job y"]
schedule = "cron(0 3 * * ? *)"
"""


# --------------------------------------------------------------------------- recording
@dataclass
class CallRecord:
    service: str
    operation: str
    region: str
    start: float
    where: str
    end: float = 0.0
    sends: int = 0
    error: str = ""
    cert_arn: str = ""
    cert_status: str = ""
    params: str = ""  # a digest of the call's parameters: finds identical repeated reads
    detail: str = ""  # Create/ModifyListener: the protocol (the HTTPS one ends create's certificate chain)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


def _where() -> str:
    """The ecsup functions that made the current AWS call, innermost first, up to the step
    or pipeline function (e.g. `zone.records_at < certificate.missing_records <
    certificate.CertificateStep.plan`)."""
    import ecsup

    chain: list[str] = []
    package = str(Path(ecsup.__file__).parent)
    frame: Any = sys._getframe(2)
    while frame is not None and len(chain) < 4:
        filename = frame.f_code.co_filename
        module = Path(filename).stem
        if filename.startswith(package) and module not in ("context", "waiting"):
            if module == "engine":
                break
            qualname = frame.f_code.co_qualname
            chain.append(f"{module}.{qualname}".replace(".<locals>", ""))
            if qualname.split(".")[-1] in ("plan", "plan_destroy") or module == "status":
                break
        frame = frame.f_back
    return " < ".join(chain) or "?"


class Recorder:
    """botocore event handlers, registered on every Session ecsup makes (SESSION_HOOKS):
    a timestamp for each call (before-call -> after-call), the simulated latency (a sleep
    in before-send, so once per HTTP attempt, retries included), and the certificate
    status each DescribeCertificate returned."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls: list[CallRecord] = []
        self._local = threading.local()

    def hook(self, session: Any) -> None:
        session.events.register("before-parameter-build", self.before_parameter_build)
        session.events.register("before-call", self.before_call)
        session.events.register("before-send", self.before_send)
        session.events.register("after-call", self.after_call)
        session.events.register("after-call-error", self.after_call_error)

    def before_parameter_build(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # Parameters are only hashed, never kept.
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
        context["ecsup_bench"] = (digest, str(params.get("Protocol") or ""))

    def before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        # A call's clock starts here: after ecsup's own first before-call handler, which holds a
        # mutating call of create's apply until its round (ecsup/rounds.py) -- that wait is
        # ecsup's, not the call's (T_listener and T_poll below are calls' times).
        start = time.perf_counter()
        digest, detail = context.get("ecsup_bench", ("", ""))
        rec = CallRecord(
            service=model.service_model.service_name,
            operation=model.name,
            region=str(context.get("client_region", "")),
            start=start,
            where=_where(),
            params=digest,
            detail=detail if model.name in ("CreateListener", "ModifyListener") else "",
        )
        self.calls.append(rec)
        self._local.current = rec

    def before_send(self, **_: Any) -> None:
        rec = getattr(self._local, "current", None)
        if rec is not None:
            rec.sends += 1
        if self.latency > 0:
            time.sleep(self.latency)

    def after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        rec = self._finish()
        if rec is None:
            return
        if http_response is not None and http_response.status_code >= 300:
            rec.error = str(parsed.get("Error", {}).get("Code", http_response.status_code))
        elif model.name == "DescribeCertificate":
            cert = parsed.get("Certificate", {})
            rec.cert_arn, rec.cert_status = cert.get("CertificateArn", ""), cert.get("Status", "")
        elif model.name == "RequestCertificate":
            rec.cert_arn = parsed.get("CertificateArn", "")

    def after_call_error(self, exception: BaseException, **_: Any) -> None:
        rec = self._finish()
        if rec is not None:
            rec.error = type(exception).__name__

    def _finish(self) -> CallRecord | None:
        rec: CallRecord | None = getattr(self._local, "current", None)
        if rec is not None:
            rec.end = time.perf_counter()
            self._local.current = None
        return rec


# --------------------------------------------------------------------------- measuring
@dataclass
class Measured:
    wall: float
    calls: int
    mutating: int
    records: list[CallRecord]
    start: float
    latency: float
    home_region: str
    gc_pauses: float = 0.0

    def label(self, r: CallRecord) -> str:
        return r.name if r.region in ("", self.home_region) else f"{r.name} ({r.region})"

    def operations(self) -> list[dict[str, Any]]:
        """Which operations, how many times each, and which ecsup functions made them."""
        where: dict[str, Counter[str]] = defaultdict(Counter)
        for r in self.records:
            where[self.label(r)][r.where] += 1
        ranked = sorted(where.items(), key=lambda item: -sum(item[1].values()))
        return [{"operation": op, "count": sum(c.values()), "callers": dict(c.most_common())} for op, c in ranked]

    def repeated_reads(self) -> list[dict[str, Any]]:
        """Read calls made more than once with identical parameters (waits' polls included),
        by operation: `times` holds, for each parameter set read more than once, how often."""
        from ecsup.context import is_mutating

        groups: dict[tuple[str, str], list[CallRecord]] = defaultdict(list)
        for r in self.records:
            if not is_mutating(r.operation):
                groups[(self.label(r), r.params)].append(r)
        by_op: dict[str, dict[str, Any]] = {}
        for (op, _), rs in groups.items():
            if len(rs) < 2:
                continue
            entry = by_op.setdefault(op, {"operation": op, "times": [], "callers": set()})
            entry["times"].append(len(rs))
            entry["callers"].update(r.where for r in rs)
        out = [e | {"callers": sorted(e["callers"])} for e in by_op.values()]
        return sorted(out, key=lambda e: -sum(e["times"]))

    def as_dict(self) -> dict[str, Any]:
        in_calls = sum(r.duration for r in self.records)
        latency = sum(r.sends for r in self.records) * self.latency
        return {
            "wall_s": round(self.wall, 3),
            "calls": self.calls,
            "mutating": self.mutating,
            "http_attempts": sum(r.sends for r in self.records),
            "errors": Counter(f"{r.name} {r.error}" for r in self.records if r.error),
            # wall = latency + moto (calls minus their latency) + outside (client code, sleeps)
            "latency_s": round(latency, 3),
            "moto_s": round(in_calls - latency, 3),
            "outside_calls_s": round(self.wall - in_calls, 3),
            "gc_pauses_s": round(self.gc_pauses, 3),
            "operations": self.operations(),
            "repeated_reads": self.repeated_reads(),
        }


def _ok(records: list[CallRecord], operation: str, detail: str | None = None) -> list[CallRecord]:
    return [r for r in records if r.operation == operation and not r.error and (detail is None or r.detail == detail)]


def chains(delays: Any, t_listener: float = 0.0, t_poll: float = 0.0) -> tuple[float, float]:
    """(certificate chain, service chain) of create: see the module's docstring. A blue/green,
    linear or canary service's first deployment runs ECS's lifecycle (ecsup/emulation/
    deployments.py): two stages before its tasks start, six after they run (test and production
    traffic shifts, the bake create leaves out, clean-up), each Q = Delays.task_start / 10."""
    r, v, u = delays.validation_records, delays.certificate_validation, delays.certificate_usable
    p, s_ = delays.load_balancer_provisioning, delays.service_start
    i, link = delays.iam_permissions, delays.service_linked_role
    q = delays.task_start / 10
    return r + v + u + t_listener, max(p, max(i, link) + 2 * q + s_) + 6 * q + t_poll


def create_limit(m: Measured, delays: Any) -> dict[str, Any] | None:
    """The physical limit of create under the modelled delays (see the module's docstring):

        limit = max(R + V + U + T_listener, max(P, max(I, L) + 2Q + S) + 6Q + T_poll)

    and the moments, from the start of create, that show where the rest of ``m.wall`` went.
    None when the create made no HTTPS listener or never described the service."""
    records = m.records
    # the HTTPS listener: created, or (ecsup may start the service behind a staging listener while ACM
    # validates) an existing listener turned HTTPS; the last one that succeeded
    listeners = sorted(
        _ok(records, "CreateListener", "HTTPS") + _ok(records, "ModifyListener", "HTTPS"), key=lambda x: x.start
    )
    polls = _ok(records, "DescribeServices")
    if not listeners or not polls:
        return None
    t_listener, t_poll = listeners[-1].duration, polls[-1].duration
    certificate, service = chains(delays, t_listener, t_poll)
    limit = max(certificate, service)
    r, v, u = delays.validation_records, delays.certificate_validation, delays.certificate_usable
    p, s_ = delays.load_balancer_provisioning, delays.service_start
    i, link = delays.iam_permissions, delays.service_linked_role
    issue = max(v, p + s_) + t_listener + t_poll

    def at(rec: CallRecord | None, end: bool = True) -> float | None:
        return None if rec is None else round((rec.end if end else rec.start) - m.start, 3)

    def first(operation: str) -> CallRecord | None:
        found = _ok(records, operation)
        return found[0] if found else None

    issued = next((x for x in records if x.operation == "DescribeCertificate" and x.cert_status == "ISSUED"), None)
    records_written = first("ChangeResourceRecordSets")
    lb, svc = first("CreateLoadBalancer"), first("CreateService")
    requested = first("RequestCertificate")
    return {
        "limit_s": round(limit, 3),
        "excess_s": round(m.wall - limit, 3),
        "certificate_chain_s": round(certificate, 3),
        "service_chain_s": round(service, 3),
        "issue_formula_s": round(issue, 3),
        "listener_call_s": round(t_listener, 3),
        "last_poll_s": round(t_poll, 3),
        "delays": {"R": r, "V": v, "U": u, "P": p, "S": s_, "I": i, "L": link, "Q": delays.task_start / 10},
        "timeline": {
            "certificate requested": at(requested),
            "first Route53 change (the validation records)": at(records_written),
            "ISSUED first seen": at(issued),
            "HTTPS listener made": at(listeners[-1]),
            "load balancer created": at(lb),
            "load balancer active (created + P)": None if lb is None else round((at(lb) or 0.0) + p, 3),
            "service created": at(svc),
            "tasks running (created + S)": None if svc is None else round((at(svc) or 0.0) + s_, 3),
            "service seen stable (last DescribeServices)": at(polls[-1]),
            "done": round(m.wall, 3),
        },
        "calls_before_certificate_request": records.index(requested) if requested else None,
        "describe_services_calls": len(polls),
        "describe_certificate_calls": sum(1 for x in records if x.operation == "DescribeCertificate"),
    }


def destroy_chain(m: Measured, delays: Any) -> dict[str, Any] | None:
    """The longest chain of waits of destroy under the modelled delays (see the module's docstring):

        chain = max(D + E + T_groups, C + T_certificates)

    None when the destroy deleted no service."""
    records = m.records
    deleted = _ok(records, "DeleteService")
    if not deleted:
        return None
    groups = _ok(records, "DeleteSecurityGroup")
    certificates = _ok(records, "DeleteCertificate")
    t_groups = sum(x.duration for x in groups)
    t_certificates = sum(x.duration for x in certificates)
    d, e, c = delays.service_draining, delays.eni_release, delays.certificate_release
    service = d + e + t_groups
    certificate = c + t_certificates if certificates else 0.0
    chain = max(service, certificate)
    t_deleted = deleted[0].end - m.start
    refused = [x for x in records if x.operation == "DeleteSecurityGroup" and x.error]
    polls = [x for x in _ok(records, "DescribeServices") if x.start > deleted[0].end]
    return {
        "chain_s": round(chain, 3),
        "excess_s": round(m.wall - chain, 3),
        "service_chain_s": round(service, 3),
        "certificate_chain_s": round(certificate, 3),
        "security_group_calls_s": round(t_groups, 3),
        "delays": {"D": d, "E": e, "C": c},
        "timeline": {
            "DeleteService answered": round(t_deleted, 3),
            "service INACTIVE (+ D)": round(t_deleted + d, 3),
            "tasks' network interfaces released (+ E)": round(t_deleted + d + e, 3),
            "last DescribeServices after DeleteService": round(polls[-1].end - m.start, 3) if polls else None,
            "first DependencyViolation": round(refused[0].end - m.start, 3) if refused else None,
            "last DependencyViolation": round(refused[-1].end - m.start, 3) if refused else None,
            "first security group deleted": round(groups[0].end - m.start, 3) if groups else None,
            "last security group deleted": round(groups[-1].end - m.start, 3) if groups else None,
            "done": round(m.wall, 3),
        },
        "dependency_violations": len(refused),
        "describe_services_calls": len(_ok(records, "DescribeServices")),
    }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from ecsup import context as context_module
        from ecsup.sandbox import sandbox_delays

        self.args = args
        self.latency = args.latency_ms / 1000.0
        self.delays = sandbox_delays(
            certificate_validation=args.validation_delay,
            load_balancer_provisioning=args.load_balancer_delay,
            service_start=args.service_delay,
            service_draining=args.draining_delay,
            eni_release=args.eni_delay,
        )
        self.recorder = Recorder(self.latency)
        context_module.SESSION_HOOKS.append(self.recorder.hook)
        self.secret = pysecrets.token_urlsafe(16)  # stands for ECSUP_SECRET_DB_PASSWORD
        self.warm = False
        self.gc_pauses = 0.0
        self._gc_start = 0.0
        gc.callbacks.append(self._gc_timer)
        self.noop_records: list[CallRecord] = []

    def _gc_timer(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_pauses += time.perf_counter() - self._gc_start

    def context(self, path: Path, endpoint_url: str) -> Any:
        from ecsup.config import load
        from ecsup.context import Context
        from ecsup.sandbox import DUMMY_CREDENTIALS

        return Context(
            load(path),
            endpoint_url=endpoint_url,
            credentials=dict(DUMMY_CREDENTIALS),
            secret_source=lambda _var: self.secret,
        )

    def measure(self, path: Path, endpoint_url: str, body: Callable[[Any], Any]) -> Measured:
        ctx = self.context(path, endpoint_url)
        self.recorder.calls = []
        # moto's state and every parsed service model live in this process: a full collection
        # of that heap pauses for ~0.3-0.5 s at random, which a real `ecsup` process (no moto)
        # would not. Freeze what exists now so that collections only scan what the run makes.
        gc.collect()
        gc.freeze()
        self.gc_pauses = 0.0
        start = time.perf_counter()
        body(ctx)
        wall = time.perf_counter() - start
        records = list(self.recorder.calls)
        if len(records) != len(ctx.calls):  # both count before-call events: must agree
            raise RuntimeError(f"call log mismatch: recorder {len(records)}, ctx.calls {len(ctx.calls)}")
        measured = Measured(wall, len(ctx.calls), len(ctx.mutating_calls()), records, start, self.latency, ctx.region)
        measured.gc_pauses = self.gc_pauses
        return measured

    def run_variant(self, config_text: Callable[[str, str], str]) -> dict[str, Any]:
        from ecsup import engine
        from ecsup.sandbox import Sandbox
        from ecsup.status import collect

        def create(ctx: Any) -> None:
            engine.create(ctx)

        def status(ctx: Any) -> None:
            collect(ctx)

        def plan(ctx: Any) -> None:
            ctx.mode = "plan"
            engine.make_plan(ctx)

        def destroy(ctx: Any) -> None:
            # As `ecsup destroy --yes` (cli.run_destroy) does it: plan, then delete -- under the
            # stack's lock when there is something to delete and the engine has one.
            outcome = engine.plan_destroy(ctx, purge=False)
            if not any(a.kind == "delete" for a in outcome.actions):
                return
            locked = getattr(engine, "destroy_locked", None)
            with locked(ctx) if locked else contextlib.nullcontext():
                failures = engine.destroy(ctx, outcome)
            if isinstance(failures, list) and failures:
                raise RuntimeError("destroy could not delete: " + "; ".join(f"{a.name}: {m}" for a, m in failures))

        box = Sandbox(delays=self.delays).start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "ecsup.toml"
                path.write_text(config_text(box.zone, box.region))
                if not self.warm:
                    ctx = self.context(path, box.endpoint_url)
                    for service, region in WARM_CLIENTS:
                        ctx.client(service, region or None)
                    self.warm = True
                results: dict[str, Measured] = {}
                for name, body in (
                    ("create", create),
                    ("create_noop", create),
                    ("status", status),
                    ("plan", plan),
                    ("destroy", destroy),
                    ("destroy_noop", destroy),
                ):
                    results[name] = self.measure(path, box.endpoint_url, body)
        finally:
            # moto's state lives in this process, not in the server: reset it so that the
            # next variant starts from an empty sandbox again.
            if box.endpoint_url:
                request = urllib.request.Request(box.endpoint_url + "/moto-api/reset", method="POST")
                with urllib.request.urlopen(request, timeout=30) as resp:
                    resp.read()
            box.stop()
        self.noop_records = results["create_noop"].records
        return {
            "results": {name: m.as_dict() for name, m in results.items()},
            "create_limit": create_limit(results["create"], self.delays),
            "destroy_chain": destroy_chain(results["destroy"], self.delays),
        }


# --------------------------------------------------------------------------- real scale
# AWS's delays as a user meets them (each Delays field's docstring in ecsup/emulation gives its
# sources): ACM validates in 1-5 minutes once the records are in DNS, a load balancer provisions
# for 2-3 minutes, a task starts and passes two health checks in about a minute, IAM applies a
# change within seconds. The rest as the tests' strict emulation has them.
REAL_SCALE = {
    "validation_records": 5.0,
    "certificate_validation": 120.0,
    "certificate_usable": 10.0,
    "iam_read": 2.0,
    "iam_permissions": 4.0,
    "service_linked_role": 5.0,
    "alias_target": 10.0,
    "load_balancer_provisioning": 150.0,
    "service_start": 60.0,
    "task_start": 60.0,
    "deployment_minute": 60.0,
}
REAL_SCALE_TARGET = 0.03  # create within 3 % of its physical limit at real scale


def real_scale(config: str) -> dict[str, Any]:
    """One create, in this process, against moto in-process (mock_aws) with the emulation on a
    virtual clock and REAL_SCALE's delays: AWS's minutes pass while ecsup waits them out, in no
    real time. Calls take no virtual time (the projection counts them instead: at ~50-100 ms a
    call on AWS they add seconds, not minutes). Run in a subprocess of its own: mock_aws and the
    sandbox's server share moto's state in one process."""
    import threading

    from ecsup.config import parse

    cfg = parse(config)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION=cfg.region,
        AWS_EC2_METADATA_DISABLED="true",
        MOTO_IAM_LOAD_MANAGED_POLICIES="true",
        MOTO_ECS_SERVICE_RUNNING=str(cfg.service.desired_count),  # every task runs
        MOTO_EC2_LOAD_DEFAULT_AMIS="false",
    )
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    import boto3
    from moto import mock_aws, settings

    from ecsup import context as context_module
    from ecsup import emulation, engine
    from ecsup.context import Context

    class VirtualClock:
        def __init__(self) -> None:
            self.now, self.lock, self.sleeps = 0.0, threading.Lock(), 0

        def __call__(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            with self.lock:
                self.now += seconds
                self.sleeps += 1

    clock = VirtualClock()
    context_module.CLOCK.now = clock
    context_module.CLOCK.sleep = clock.sleep
    context_module.CLOCK.wall = clock
    delays = emulation.Delays(**REAL_SCALE)
    emulation.activate(emulation.Emulation(delays, clock=clock))
    settings.ACM_VALIDATION_WAIT = 0
    marks: list[tuple[float, str]] = []

    def hook(session: Any) -> None:
        session.events.register("before-call", lambda model, **_: marks.append((clock(), model.name)))

    context_module.SESSION_HOOKS.append(hook)
    started = time.perf_counter()
    with mock_aws():
        boto3.client("route53").create_hosted_zone(Name=cfg.dns.zone, CallerReference="bench")
        ctx = Context(cfg, sleep=clock.sleep, clock=clock, secret_source=lambda _var: "bench-secret")
        engine.create(ctx)
    certificate, service = chains(delays)
    limit = max(certificate, service)

    def first(operation: str) -> float | None:
        return next((t for t, name in marks if name == operation), None)

    def last(operation: str) -> float | None:
        return next((t for t, name in reversed(marks) if name == operation), None)

    return {
        "virtual_s": round(clock(), 1),
        "limit_s": round(limit, 1),
        "excess_s": round(clock() - limit, 1),
        "excess_ratio": round((clock() - limit) / limit, 4),
        "certificate_chain_s": round(certificate, 1),
        "service_chain_s": round(service, 1),
        "calls": len(marks),
        "sleeps": clock.sleeps,
        "cpu_wall_s": round(time.perf_counter() - started, 2),
        "delays": REAL_SCALE,
        "timeline": {
            "certificate requested": first("RequestCertificate"),
            "load balancer created": first("CreateLoadBalancer"),
            "service created": first("CreateService"),
            "HTTPS listener made": last("ModifyListener") or last("CreateListener"),
            "strategy set after the first deployment": last("UpdateService"),
            "done": round(clock(), 1),
        },
    }


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


# --------------------------------------------------------------------------- the CLI's start-up
def time_cli(argv: list[str], runs: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "ecsup", *argv]
    env = process_env()
    subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True, env=env)  # warm-up (bytecode caches), not counted
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True, env=env)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
        "runs": runs,
    }


def cold_start(config_text: str, clients: list[tuple[str, str]], runs: int) -> dict[str, Any]:
    """What a fresh `ecsup create` process spends before its first AWS call, which the
    in-process figures leave out: interpreter start-up, importing ecsup's commands and boto3,
    the boto3 session and the clients the no-op create used (no call is made)."""
    code = (
        "import json, sys, time\n"
        "t0 = time.perf_counter()\n"
        "import ecsup.cli, ecsup.engine, ecsup.status, ecsup.render, boto3\n"
        "from ecsup.config import load\n"
        "from ecsup.context import Context\n"
        "from ecsup.sandbox import DUMMY_CREDENTIALS\n"
        "t1 = time.perf_counter()\n"
        "ctx = Context(load(sys.argv[1]), endpoint_url='http://127.0.0.1:9', credentials=dict(DUMMY_CREDENTIALS))\n"
        "for service, region in json.loads(sys.argv[2]):\n"
        "    ctx.client(service, region)\n"
        "t2 = time.perf_counter()\n"
        "print(json.dumps({'imports': t1 - t0, 'clients': t2 - t1}))\n"
    )
    totals, imports, made = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ecsup.toml"
        path.write_text(config_text)
        cmd = [sys.executable, "-c", code, str(path), json.dumps(clients)]
        subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True)  # warm-up (bytecode caches)
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
            totals.append(time.perf_counter() - start)
            inner = json.loads(proc.stdout.strip().splitlines()[-1])
            imports.append(inner["imports"])
            made.append(inner["clients"])
    total, imp, cli = statistics.median(totals), statistics.median(imports), statistics.median(made)
    return {
        "total_s": round(total, 3),
        "interpreter_s": round(total - imp - cli, 3),
        "imports_s": round(imp, 3),
        "session_and_clients_s": round(cli, 3),
        "clients": len(clients),
        "runs": runs,
    }


def imported_modules(argv: list[str]) -> list[str]:
    """Which heavy modules `ecsup <argv>` imports (run in a fresh interpreter)."""
    code = (
        "import sys\n"
        f"sys.argv = ['ecsup', *{argv!r}]\n"
        "from ecsup.cli import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        f"sys.stderr.write('\\nBENCH-MODULES ' + ' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    line = proc.stderr.rsplit("BENCH-MODULES", 1)[-1]
    return line.split()


def slowest_imports(argv: list[str], top: int = 5) -> list[tuple[str, float]]:
    """The top-level imports that cost `ecsup <argv>` the most (python -X importtime), in ms."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ecsup", *argv], capture_output=True, text=True, cwd=ROOT
    )
    found = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if not cumulative.strip().isdigit():
            continue
        depth = len(name) - len(name.lstrip(" "))
        if depth <= 2:  # imported by the entry point itself (one space after the bar, plus nesting)
            found.append((name.strip(), int(cumulative) / 1000))
    found.sort(key=lambda item: item[1], reverse=True)
    return found[:top]


# --------------------------------------------------------------------------- whole processes
# The read-only commands as a user runs them: an `ecsup` process started from the shell
# (interpreter start, imports, the boto3 session and clients, the calls, the exit), against a
# sandbox whose server answers each request after the per-call latency. Targets (the issue's):
PROCESS_TARGETS_S = {"create": 0.7, "status": 0.8, "plan": 0.7}
PROCESS_COMMANDS = ("create", "status", "plan")
# The second config of the whole-process figures: the default stack with two workers and two jobs.
WORKLOADS_TOML = """
[workers.a]
command = ["bundle", "exec", "sidekiq"]

[workers.b]
command = ["python", "-m", "consumer"]

[jobs.x]
schedule = "cron(0 3 * * ? *)"
command = ["python", "manage.py", "cleanup"]

[jobs.y]
schedule = "rate(1 hour)"
command = ["python", "manage.py", "report"]
"""


def process_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured `ecsup` process: this one's, with bytecode caching on (as in
    an installed package: PYTHONDONTWRITEBYTECODE would have every process compile ecsup anew),
    and ecsup importable from this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH", "")])])
    env.update(extra or {})
    return env


class SlowServer:
    """moto's threaded server with a latency: each request is answered `latency` seconds later
    than moto would (the in-process figures sleep in botocore's before-send instead; a measured
    process must stay as a user runs it, so the wait is on the server's side), and when each came
    and was answered is kept (the clock is CLOCK_MONOTONIC, the same in every process)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.requests: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self) -> Any:
        """While a Sandbox starts (its server builds its application then)."""
        from moto.moto_server import threaded_moto_server as server

        base = server.DomainDispatcherApplication
        outer = self

        class Slow(base):  # type: ignore[misc, valid-type]
            def __call__(self, environ: Any, start_response: Any) -> Any:
                came = time.perf_counter()
                time.sleep(outer.latency)
                try:
                    return super().__call__(environ, start_response)
                finally:
                    with outer._lock:
                        outer.requests.append((came, time.perf_counter()))

        server.DomainDispatcherApplication = Slow  # type: ignore[misc]
        try:
            yield
        finally:
            server.DomainDispatcherApplication = base  # type: ignore[misc]

    def between(self, start: float, end: float) -> list[tuple[float, float]]:
        with self._lock:
            return sorted(r for r in self.requests if start <= r[0] <= end)


def time_process(argv: list[str], env: dict[str, str], server: SlowServer, ok: tuple[int, ...]) -> dict[str, float]:
    """One `ecsup <argv>` process: its wall time, its CPU time (user + system: what a busy machine
    changes least), when its first AWS call came (from the start), how long from the last answer
    to its exit, and its calls."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ecsup", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    end = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise RuntimeError(f"ecsup {' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    calls = server.between(start, end)
    return {
        "wall_s": end - start,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "first_call_s": calls[0][0] - start if calls else float("nan"),
        "last_answer_to_exit_s": end - max(e for _, e in calls) if calls else float("nan"),
        "calls": float(len(calls)),
    }


def whole_processes(
    configs: dict[str, Callable[[str, str], str]], latency: float, runs: int, delays: Any, secret: str
) -> dict[str, Any]:
    """For each config, on a fresh sandbox with the stack built (`ecsup create`): the read-only
    commands as whole processes, `runs` times each after one warm-up run (bytecode caches), the
    median and the range."""
    from ecsup.sandbox import Sandbox

    out: dict[str, Any] = {}
    for name, config_text in configs.items():
        server = SlowServer(latency)
        box = Sandbox(delays=delays)
        with server.installed():
            box.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "ecsup.toml"
                path.write_text(config_text(box.zone, box.region))
                env = process_env(box.environment() | {"ECSUP_SECRET_DB_PASSWORD": secret})
                build = time_process(["create", "-c", str(path)], env, server, (0,))
                results: dict[str, Any] = {"built_in_s": round(build["wall_s"], 2)}
                for command in PROCESS_COMMANDS:
                    argv = [command, "-c", str(path)]
                    ok = (0, 6) if command == "status" else (0,)  # status: 6 while something is unhealthy
                    time_process(argv, env, server, ok)  # warm-up, not counted
                    samples = [time_process(argv, env, server, ok) for _ in range(runs)]
                    walls = [x["wall_s"] for x in samples]
                    results[command] = {
                        "median_s": round(statistics.median(walls), 3),
                        "min_s": round(min(walls), 3),
                        "max_s": round(max(walls), 3),
                        "cpu_s": round(statistics.median(x["cpu_s"] for x in samples), 3),
                        "first_call_s": round(statistics.median(x["first_call_s"] for x in samples), 3),
                        "last_answer_to_exit_s": round(
                            statistics.median(x["last_answer_to_exit_s"] for x in samples), 3
                        ),
                        "calls": int(statistics.median(x["calls"] for x in samples)),
                        "runs": runs,
                    }
                out[name] = results
        finally:
            if box.endpoint_url:  # moto's state lives in this process: the next sandbox starts empty
                request = urllib.request.Request(box.endpoint_url + "/moto-api/reset", method="POST")
                with urllib.request.urlopen(request, timeout=30) as resp:
                    resp.read()
            box.stop()
    return out


def process_targets(processes: dict[str, Any], target: Callable[[str, str, str, bool], None]) -> None:
    for variant, results in processes.items():
        for command in PROCESS_COMMANDS:
            r, limit = results[command], PROCESS_TARGETS_S[command]
            what = "no-op create" if command == "create" else command
            target(
                f"{what} as a whole process <= {limit:g} s (median)",
                variant,
                f"{r['median_s']:.3f} s",
                r["median_s"] <= limit,
            )


def report_processes(data: dict[str, Any], out: Any) -> None:
    processes = data.get("processes")
    if not processes:
        return
    latency = data["settings"]["latency_ms"]

    def p(line: str = "") -> None:
        print(line, file=out)

    p()
    p(f"Whole processes: `python -m ecsup COMMAND` from the shell, {latency:g} ms added to each AWS call by the")
    p("  sandbox's server, the stack built beforehand; median (range) of the runs after one warm-up, when the first")
    p("  AWS call came after the process started, and how long from the last answer to the exit; CPU = the")
    p("  process's user + system time (median), which a busy machine changes least")
    p("  (default = the default config; workloads = the default config with [workers.a], [workers.b], [jobs.x],")
    p("  [jobs.y])")
    rows = []
    for variant, results in processes.items():
        for command in PROCESS_COMMANDS:
            r = results[command]
            rows.append(
                [
                    "no-op create" if command == "create" else command,
                    variant,
                    f"{r['median_s']:.2f} s",
                    f"{r['min_s']:.2f}-{r['max_s']:.2f} s",
                    f"{PROCESS_TARGETS_S[command]:g} s",
                    f"{r['cpu_s']:.2f} s",
                    f"+{r['first_call_s']:.2f} s",
                    f"{r['last_answer_to_exit_s']:.3f} s",
                    str(r["calls"]),
                ]
            )
    header = ["command", "config", "median", "range", "target", "CPU", "first call", "last answer -> exit", "calls"]
    for line in table(rows, header, {2, 3, 4, 5, 6, 7, 8}):
        p("  " + line)


def processes_only(args: argparse.Namespace, default_config: Callable[[str, str], str]) -> int:
    """`scripts/bench --processes-only`: the whole-process figures and `ecsup --help`, nothing else."""
    from ecsup.sandbox import sandbox_delays

    started = time.perf_counter()
    delays = sandbox_delays(
        certificate_validation=args.validation_delay,
        load_balancer_provisioning=args.load_balancer_delay,
        service_start=args.service_delay,
        service_draining=args.draining_delay,
        eni_release=args.eni_delay,
    )
    processes = whole_processes(
        {"default": default_config, "workloads": lambda z, r: default_config(z, r) + WORKLOADS_TOML},
        args.latency_ms / 1000.0,
        args.runs,
        delays,
        pysecrets.token_urlsafe(16),
    )
    help_run = time_cli(["--help"], args.runs)
    targets: list[dict[str, Any]] = []

    def target(what: str, variant: str, value: str, met: bool) -> None:
        targets.append({"target": what, "variant": variant, "value": value, "met": met})

    process_targets(processes, target)
    help_ms = help_run["median_ms"]
    target(f"ecsup --help <= {HELP_TARGET_MS:g} ms (median)", "-", f"{help_ms:.0f} ms", help_ms <= HELP_TARGET_MS)
    data = {
        "machine": machine(),
        "settings": {"latency_ms": args.latency_ms, "runs": args.runs},
        "processes": processes,
        "cli": {"--help": help_run},
        "targets": targets,
    }
    human = sys.stderr if args.json else sys.stdout
    m = data["machine"]
    print(
        f"ecsup benchmark (whole processes only), {m['date']}: {m['nproc']} CPUs ({m['cpu']}), {m['python']}",
        file=human,
    )
    report_processes(data, human)
    print(
        f"  ecsup --help: {help_ms:.0f} ms (median of {args.runs}, range {help_run['min_ms']:.0f}-"
        f"{help_run['max_ms']:.0f} ms)",
        file=human,
    )
    print("\nTargets", file=human)
    rows = [[t["target"], t["variant"], t["value"], verdict(t["met"])] for t in targets]
    for line in table(rows, ["target", "config", "measured", ""], set()):
        print("  " + line, file=human)
    print(f"\n(the benchmark took {time.perf_counter() - started:.0f} s)", file=human)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    return 0


# --------------------------------------------------------------------------- output
def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version() + f" ({sys.executable})",
        "platform": platform.platform(),
    }


def table(rows: list[list[str]], header: list[str], right: set[int]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


LABELS = {
    "create": "create (empty sandbox)",
    "create_noop": "create again (no-op)",
    "status": "status",
    "plan": "plan",
    "destroy": "destroy",
    "destroy_noop": "destroy again (no-op)",
}


def report_chains(data: dict[str, Any], p: Callable[..., None]) -> None:
    """The create and destroy section: the formulas, their terms, and the timelines."""
    variants = data["variants"]
    p("Create's physical limit: the least time any create could take under the modelled delays, its two")
    p("chains of waits from the moment it starts, each followed by the call that can only come at its end:")
    p("  limit = max(R + V + U + T_listener, max(P, max(I, L) + 2Q + S) + 6Q + T_poll)")
    p("  (Q: a stage of the service's first deployment, ECS's blue/green lifecycle: 2 before its tasks, 6 after)")
    p("  certificate: ACM publishes the validation records (R), issues V after they are in the zone, ELB")
    p("    accepts the certificate U later; then the call that makes the HTTPS listener (T_listener, measured:")
    p("    the CreateListener, or the ModifyListener turning a listener HTTPS, that succeeded).")
    p("  service: its first deployment completes when its tasks run (S after CreateService, which ECS accepts")
    p("    L after its service-linked role appears, and whose tasks read their secrets only I after their role's")
    p("    permissions changed) and its load balancer is active (P after CreateLoadBalancer); then one")
    p("    DescribeServices sees it stable (T_poll, measured: the last one).")
    p("  The issue's max(V, P + S) + T_listener + T_poll is shown too: it has the tasks start only once the load")
    p("  balancer is active, which neither AWS nor the emulation requires (they start while it provisions; only")
    p("  their health checks wait), so a create that starts the service early could beat it.")
    p("  Excess = wall - limit: the calls before and between the waits, polling intervals, client-side time.")
    for v, found in ((v, variants[v]["create_limit"]) for v in variants):
        if not found:
            p(f"  {v}: create made no HTTPS listener or never described its service: nothing to compute")
            continue
        d = found["delays"]
        wall = variants[v]["results"]["create"]["wall_s"]
        p(
            f"  {v}: max({d['R']:g} + {d['V']:g} + {d['U']:g} + {found['listener_call_s']:.3f},"
            f" max({d['P']:g}, max({d['I']:g}, {d['L']:g}) + 2 x {d['Q']:g} + {d['S']:g}) + 6 x {d['Q']:g}"
            f" + {found['last_poll_s']:.3f})"
            f" = max({found['certificate_chain_s']:.2f}, {found['service_chain_s']:.2f}) = {found['limit_s']:.2f} s;"
            f" wall {wall:.2f} s, excess {found['excess_s']:+.2f} s (issue's formula: {found['issue_formula_s']:.2f} s)"
        )
        for when, what in sorted((when, what) for what, when in found["timeline"].items() if when is not None):
            p(f"    {f'+{when:.2f} s':>9}  {what}")
        p(
            f"    ({found['calls_before_certificate_request']} calls before the certificate request, "
            f"{found['describe_certificate_calls']} DescribeCertificate, {found['describe_services_calls']} "
            "DescribeServices)"
        )
    p()
    p("Destroy's longest chain: the waits it cannot shorten, then the calls that can only follow them:")
    p("  chain = max(D + E + T_groups, C + T_certificates)")
    p("  the service stays DRAINING D after DeleteService, its tasks' network interfaces hold the tasks'")
    p("  security group E longer (DependencyViolation), and the load balancer's group goes after the tasks' (a")
    p("  rule of one refers to the other): T_groups, the DeleteSecurityGroup calls that succeed (measured). The")
    p("  certificate waits C after its listener is deleted, then T_certificates (DeleteCertificate that succeed).")
    for v, found in ((v, variants[v]["destroy_chain"]) for v in variants):
        if not found:
            p(f"  {v}: destroy deleted no service: nothing to compute")
            continue
        d = found["delays"]
        wall = variants[v]["results"]["destroy"]["wall_s"]
        p(
            f"  {v}: max({d['D']:g} + {d['E']:g} + {found['security_group_calls_s']:.3f},"
            f" {found['certificate_chain_s']:.2f}) = {found['chain_s']:.2f} s; wall {wall:.2f} s,"
            f" excess {found['excess_s']:+.2f} s"
        )
        for when, what in sorted((when, what) for what, when in found["timeline"].items() if when is not None):
            p(f"    {f'+{when:.2f} s':>9}  {what}")
        p(
            f"    ({found['dependency_violations']} DeleteSecurityGroup answered DependencyViolation, "
            f"{found['describe_services_calls']} DescribeServices)"
        )


def report(data: dict[str, Any], out: Any) -> None:
    def p(line: str = "") -> None:
        print(line, file=out)

    m, s = data["machine"], data["settings"]
    p(f"ecsup benchmark, {m['date']}")
    p(f"  machine   {m['nproc']} CPUs ({m['cpu']}), {m['platform']}")
    p(f"  python    {m['python']}")
    p(f"  versions  ecsup {s['ecsup']}, moto {s['moto']}, botocore {s['botocore']}")
    d = s["delays"]
    p(
        f"  settings  latency {s['latency_ms']:g} ms per AWS call (slept in botocore before-send, once per HTTP "
        f"attempt), --help runs {s['runs']}"
    )
    p(
        f"  delays    certificate validation V {d['certificate_validation']:g} s, load balancer provisioning P "
        f"{d['load_balancer_provisioning']:g} s, service start S {d['service_start']:g} s, service draining D "
        f"{d['service_draining']:g} s, network interface release E {d['eni_release']:g} s"
    )
    p(
        f"            (and, the sandbox's: validation records published R {d['validation_records']:g} s, certificate "
        f"usable by ELB U {d['certificate_usable']:g} s, IAM permissions I {d['iam_permissions']:g} s, ECS "
        f"service-linked role L {d['service_linked_role']:g} s, certificate release C {d['certificate_release']:g} s,"
    )
    p(
        f"            IAM read {d['iam_read']:g} s, alias target {d['alias_target']:g} s; ecsup/emulation models them,"
        " with sources)"
    )
    p()
    variants = data["variants"]
    names = list(variants)
    p("Each operation on a fresh Context, in this order, on a reset sandbox per config:")
    p("  default = demo_config() without cloudfront_certificate; workloads = default + two workers and two jobs;")
    p("  demo = `ecsup demo`'s config (+ us-east-1 cert).")
    p("  time split = latency / moto (the calls' measured time minus latency) / outside the calls (ecsup and")
    p("  botocore client code, boto3 session and client creation, waits' sleeps). Clients are warm (made once")
    p("  beforehand; a fresh process's cost is below) and the heap is frozen before each operation (moto's state")
    p("  would otherwise add collector pauses a real run does not have).")
    header = ["operation"]
    for v in names:
        header += [f"{v}: wall", "calls", "mut.", "latency/moto/outside"]
    rows = []
    for op, label in LABELS.items():
        row = [label]
        for v in names:
            r = variants[v]["results"][op]
            split = f"{r['latency_s']:.2f}/{r['moto_s']:.2f}/{r['outside_calls_s']:.2f}"
            row += [f"{r['wall_s']:.2f} s", str(r["calls"]), str(r["mutating"]), split]
        rows.append(row)
    for label, section, key, fmt in (
        ("  create's physical limit", "create_limit", "limit_s", "{:.2f} s"),
        ("  create's excess over it", "create_limit", "excess_s", "{:+.2f} s"),
        ("  destroy's longest chain", "destroy_chain", "chain_s", "{:.2f} s"),
        ("  destroy's excess over it", "destroy_chain", "excess_s", "{:+.2f} s"),
    ):
        row = [label]
        for v in names:
            found = variants[v][section]
            row += [fmt.format(found[key]) if found else "n/a", "", "", ""]
        rows.append(row)
    for line in table(rows, header, set(range(1, len(header)))):
        p("  " + line)
    p()
    report_chains(data, p)
    p()
    for variant, r in data["real_scale"].items():
        d = r["delays"]
        p(f"Real-scale projection: the {variant} config's create, in-process, on a virtual clock with AWS's delays")
        p(
            f"  (validation V {d['certificate_validation']:g} s, load balancer P {d['load_balancer_provisioning']:g}"
            f" s, tasks S {d['service_start']:g} s, stage Q {d['task_start'] / 10:g} s, IAM I {d['iam_permissions']:g}"
            " s); calls take no virtual time"
        )
        p(
            f"  create {minutes(r['virtual_s'])} against the physical limit {minutes(r['limit_s'])} "
            f"(certificate chain {minutes(r['certificate_chain_s'])}, service chain {minutes(r['service_chain_s'])}): "
            f"{r['excess_s']:+.1f} s, {r['excess_ratio']:+.1%}; {r['calls']} calls, {r['sleeps']} waits; "
            f"{r['cpu_wall_s']:.1f} s of real time"
        )
        for what, at in r["timeline"].items():
            p(f"    {what:<42} {'-' if at is None else minutes(at)}")
        p()

    p("Targets")
    rows = [[t["target"], t["variant"], t["value"], verdict(t["met"])] for t in data["targets"]]
    for line in table(rows, ["target", "config", "measured", ""], set()):
        p("  " + line)
    p()

    cli = data["cli"]
    p("CLI start-up (a fresh interpreter each run: python -m ecsup ...)")
    rows = []
    for arg in ("--help", "--version"):
        t = cli[arg]
        rows.append(
            [
                f"ecsup {arg}",
                f"{t['median_ms']:.0f} ms",
                f"{t['min_ms']:.0f}-{t['max_ms']:.0f} ms",
                ", ".join(cli["imports"][arg]) or "none",
            ]
        )
    header = ["command", f"median of {s['runs']}", "range", f"imported of {', '.join(HEAVY_MODULES)}"]
    for line in table(rows, header, {1, 2}):
        p("  " + line)
    p(
        "  slowest top-level imports of --help (-X importtime, cumulative): "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in cli["slowest_imports_help"])
    )
    c = cli["cold_start"]
    p(
        f"  a fresh `ecsup create` process, before its first AWS call: {c['total_s']:.2f} s (median of {c['runs']}:"
        f" interpreter start and exit {c['interpreter_s']:.2f}, imports {c['imports_s']:.2f},"
        f" boto3 session + the no-op create's {c['clients']} clients {c['session_and_clients_s']:.2f})"
    )
    p("  -- not in the in-process figures above, which are warm (those clients were made once beforehand).")
    for v in names:
        noop = variants[v]["results"]["create_noop"]
        p(
            f"  so `ecsup create` with nothing to do, {v} config, as a command: about {noop['wall_s']:.2f} +"
            f" {c['total_s']:.2f} = {noop['wall_s'] + c['total_s']:.2f} s"
        )
    p()

    p("No-op create: which operations, how often (per config), and which ecsup functions made them")
    p("(innermost first, up to the step's plan)")
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    callers: dict[str, Counter[str]] = defaultdict(Counter)
    for v in names:
        for o in variants[v]["results"]["create_noop"]["operations"]:
            counts[o["operation"]][v] = o["count"]
            if v == names[-1] or not callers[o["operation"]]:
                callers[o["operation"]] = Counter(o["callers"])
    order = sorted(counts, key=lambda op: -max(counts[op].values()))
    rows = []
    for op in order:
        for i, (caller, n) in enumerate(callers[op].most_common()):
            first = i == 0
            where = (f"{n} x " if len(callers[op]) > 1 else "") + caller
            rows.append([op if first else "", *(str(counts[op].get(v, 0)) if first else "" for v in names), where])
    rows.append(["total", *(str(variants[v]["results"]["create_noop"]["calls"]) for v in names), ""])
    for line in table(rows, ["operation", *names, "called from"], set(range(1, len(names) + 1))):
        p("  " + line)
    p()

    p("Identical reads repeated within one operation (same operation, same parameters; polls included)")
    any_repeat = False
    for v in names:
        for op, label in LABELS.items():
            repeats = variants[v]["results"][op]["repeated_reads"]
            if not repeats:
                continue
            any_repeat = True
            p(f"  {v}, {label}:")
            for r in repeats:
                times = "+".join(str(n) for n in r["times"])
                sets = f" ({len(r['times'])} parameter sets)" if len(r["times"]) > 1 else ""
                p(f"    {times} x {r['operation']}{sets}  <- {' | '.join(r['callers'])}")
    if not any_repeat:
        p("  none")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark ecsup against the embedded local AWS (moto) with a simulated per-call latency and "
        "AWS's delays modelled (see the docstring of scripts/bench.py for the formulas). "
        "Prints a report; never fails on a missed target.",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=30.0, help="added to every AWS call (HTTP attempt); default 30"
    )
    delay = "seconds"
    parser.add_argument(
        "--validation-delay",
        type=float,
        default=6.0,
        metavar=delay,
        help="ACM issues a certificate this long after its validation records appear in the zone; default 6",
    )
    parser.add_argument(  # the old name of --validation-delay (then counted from the request)
        "--certificate-wait", dest="validation_delay", type=float, help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--load-balancer-delay",
        type=float,
        default=3.0,
        metavar=delay,
        help="a new load balancer is 'provisioning' this long (its targets pass no health check); default 3",
    )
    parser.add_argument(
        "--service-delay",
        type=float,
        default=5.0,
        metavar=delay,
        help="a new service's tasks are PENDING this long before they run; default 5",
    )
    parser.add_argument(
        "--draining-delay",
        type=float,
        default=3.0,
        metavar=delay,
        help="a deleted service stays DRAINING this long; default 3",
    )
    parser.add_argument(
        "--eni-delay",
        type=float,
        default=3.0,
        metavar=delay,
        help="the network interfaces of stopped tasks hold their security group this long after (DependencyViolation);"
        " default 3",
    )
    parser.add_argument("--real-scale-only", choices=("default", "workloads"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--processes-only",
        action="store_true",
        help="only the whole processes (no-op create, status, plan, --help as a user starts them): no in-process runs",
    )
    parser.add_argument("--runs", type=int, default=7, help="runs of `ecsup --help` / `--version` to time; default 7")
    parser.add_argument(
        "--json",
        action="store_true",
        help="also print one JSON document with every figure on stdout (the report then goes to stderr)",
    )
    args = parser.parse_args(argv)
    delays = (args.validation_delay, args.load_balancer_delay, args.service_delay, args.draining_delay, args.eni_delay)
    if args.latency_ms < 0 or min(delays) < 0 or args.runs < 1:
        parser.error("--latency-ms and the delays must be >= 0, --runs >= 1")

    import botocore
    import moto

    import ecsup
    from ecsup.sandbox import demo_config

    started = time.perf_counter()

    def default_config(zone: str, region: str) -> str:
        """demo_config() without cloudfront_certificate, without the [service.deploy] before
        migration and without the demo's worker and job (the plain stack: the web service alone;
        the demo variant has all of them)."""
        import re

        from ecsup.sandbox import DEMO_JOB_CONFIG

        demo = demo_config(zone, region)
        text = demo.replace("cloudfront_certificate = true\n", "").replace(DEMO_JOB_CONFIG, "")
        text = re.sub(r"\n\[service\.deploy\]\n(#[^\n]*\n)*before = [^\n]*\n", "\n", text)
        if text == demo or "before =" in text:
            raise RuntimeError("demo_config() changed: cannot derive the plain config from it")
        return text

    def workloads_config(zone: str, region: str) -> str:
        """The default config with two workers and two jobs (the issue's second stack)."""
        return default_config(zone, region) + WORKLOADS

    configs = {"default": default_config, "workloads": workloads_config}
    if args.real_scale_only:  # the subprocess that runs the projection
        print(json.dumps(real_scale(configs[args.real_scale_only]("example.test", "eu-west-1"))))
        return 0
    if args.processes_only:
        return processes_only(args, default_config)
    projected: dict[str, Any] = {}
    for name in configs:
        projection = subprocess.run(
            [sys.executable, __file__, "--real-scale-only", name], capture_output=True, text=True, cwd=ROOT, check=True
        )
        projected[name] = json.loads(projection.stdout.strip().splitlines()[-1])

    bench = Bench(args)
    # Once, not counted: the first create of a process also pays for moto's own first use of each
    # service (its modules, an account's backends: about a second), which no real run has; every
    # variant is then measured alike.
    bench.run_variant(default_config)
    variants = {"default": bench.run_variant(default_config)}
    clients = sorted({(r.service, r.region) for r in bench.noop_records})
    variants["workloads"] = bench.run_variant(workloads_config)
    variants["demo"] = bench.run_variant(demo_config)
    cli: dict[str, Any] = {
        "--help": time_cli(["--help"], args.runs),
        "--version": time_cli(["--version"], args.runs),
        "imports": {"--help": imported_modules(["--help"]), "--version": imported_modules(["--version"])},
        "slowest_imports_help": slowest_imports(["--help"]),
        "cold_start": cold_start(default_config("example.test", "eu-west-1"), clients, args.runs),
    }

    targets = []

    def target(what: str, variant: str, value: str, met: bool) -> None:
        targets.append({"target": what, "variant": variant, "value": value, "met": met})

    for name, v in variants.items():
        results, limit, chain = v["results"], v["create_limit"], v["destroy_chain"]
        excess = limit["excess_s"] if limit else float("inf")
        target(
            f"create within {CREATE_EXCESS_TARGET_S:g} s of its physical limit",
            name,
            f"{excess:+.2f} s" if limit else "n/a",
            excess <= CREATE_EXCESS_TARGET_S,
        )
        for op, what, wall_target, calls_target in (
            ("create_noop", "no-op create", NOOP_CREATE_WALL_TARGET_S, NOOP_CREATE_CALLS_TARGET),
            ("status", "status", STATUS_WALL_TARGET_S, STATUS_CALLS_TARGET),
            ("plan", "plan", PLAN_WALL_TARGET_S, PLAN_CALLS_TARGET),
        ):
            r = results[op]
            target(f"{what} <= {wall_target:g} s", name, f"{r['wall_s']:.3f} s", r["wall_s"] <= wall_target)
            target(f"{what} <= {calls_target} calls", name, f"{r['calls']} calls", r["calls"] <= calls_target)
        noop = results["create_noop"]
        target("no-op create: no mutating call (README)", name, f"{noop['mutating']} mutating", noop["mutating"] == 0)
        excess = chain["excess_s"] if chain else float("inf")
        target(
            f"destroy within {DESTROY_EXCESS_TARGET_S:g} s of its longest chain",
            name,
            f"{excess:+.2f} s" if chain else "n/a",
            excess <= DESTROY_EXCESS_TARGET_S,
        )
    for name, found in projected.items():
        target(
            f"create within {REAL_SCALE_TARGET:.0%} of its physical limit at real scale",
            name,
            f"{found['excess_ratio']:+.1%} ({found['excess_s']:+.1f} s)",
            found["excess_ratio"] <= REAL_SCALE_TARGET,
        )
    more = variants["workloads"]["results"]["create"]["wall_s"] - variants["default"]["results"]["create"]["wall_s"]
    target(
        f"create with two workers and two jobs <= {WORKLOADS_EXTRA_S:g} s more than the default stack's",
        "workloads",
        f"{more:+.2f} s",
        more <= WORKLOADS_EXTRA_S,
    )
    help_ms = cli["--help"]["median_ms"]
    target(f"ecsup --help <= {HELP_TARGET_MS:g} ms (median)", "-", f"{help_ms:.0f} ms", help_ms <= HELP_TARGET_MS)
    processes = whole_processes(
        {"default": default_config, "workloads": lambda z, r: default_config(z, r) + WORKLOADS_TOML},
        bench.latency,
        args.runs,
        bench.delays,
        bench.secret,
    )
    process_targets(processes, target)

    data = {
        "machine": machine(),
        "settings": {
            "latency_ms": args.latency_ms,
            "delays": {k: getattr(bench.delays, k) for k in bench.delays.__dataclass_fields__},
            "runs": args.runs,
            "ecsup": ecsup.__version__,
            "moto": moto.__version__,
            "botocore": botocore.__version__,
        },
        "variants": variants,
        "real_scale": projected,
        "cli": cli,
        "processes": processes,
        "targets": targets,
        "seconds": round(time.perf_counter() - started, 1),
    }
    human = sys.stderr if args.json else sys.stdout
    report(data, human)
    report_processes(data, human)
    print(f"\n(the benchmark took {data['seconds']:.0f} s)", file=human)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
