"""Benchmark of ecsup against the embedded local AWS (moto), with a simulated API latency.

Not a test: it measures, prints, and compares with targets; it never fails on a missed
target (exit 0 unless something breaks). Run it through `scripts/bench` (which sets up
.venv), or with any interpreter that has ecsup[sandbox] installed:

    python scripts/bench.py [--latency-ms 30] [--certificate-wait 6] [--runs 7] [--json]

For each of two configs -- the default one (no CloudFront certificate) and the demo one
(`ecsup demo`'s config: also a us-east-1 certificate) -- it runs, on a freshly reset
sandbox: create, create again (nothing to do), status, plan, destroy, destroy again
(nothing to do), each on a fresh Context in this process, with warm clients (botocore parses
service models once per process) and a frozen heap (so that moto's in-process state adds no
collector pauses). Then, in subprocesses: `python -m ecsup --help` / `--version`, which heavy
modules they import, and what a fresh `ecsup create` process spends before its first call.

Each call's timestamps, caller (the ecsup functions on the stack) and a digest of its
parameters are recorded through botocore events registered by ecsup.context.SESSION_HOOKS,
which gives the critical path of create (see critical_path()), the per-operation counts of
the no-op create, and the identical reads each operation repeats.

Every AWS call is slowed down by --latency-ms (a botocore `before-send` handler that
sleeps, i.e. once per HTTP attempt) to stand for a real API round trip; moto's own
processing time comes on top. Nothing leaves loopback: the sandbox listens on 127.0.0.1,
uses dummy credentials, and the metadata service is disabled.
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
CREATE_EXCESS_TARGET_S = 1.0
NOOP_CREATE_WALL_TARGET_S = 1.0
NOOP_CREATE_CALLS_TARGET = 25
HELP_TARGET_MS = 150.0

# Clients made (no call) before measuring, so that every in-process figure is "warm": botocore
# parses each service model once per process. The cold start is measured on its own.
WARM_CLIENTS = (
    *((service, "") for service in ("route53", "acm", "ec2", "elbv2", "ssm", "sts", "iam", "logs", "ecs")),
    ("acm", "us-east-1"),
)
HEAVY_MODULES = ("boto3", "botocore", "rich", "moto", "ecsup.engine", "ecsup.context")


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
        # The first event of a call: its clock starts here (botocore's validation and
        # serialisation count as part of the call). Parameters are only hashed, never kept.
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
        context["ecsup_bench"] = (time.perf_counter(), digest)

    def before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        start, digest = context.get("ecsup_bench", (time.perf_counter(), ""))
        rec = CallRecord(
            service=model.service_model.service_name,
            operation=model.name,
            region=str(context.get("client_region", "")),
            start=start,
            where=_where(),
            params=digest,
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


def critical_path(m: Measured, wait: float, latency: float) -> dict[str, Any] | None:
    """The least time any create could take, and where the rest of `m.wall` went.

    The certificate cannot be ISSUED sooner than `wait` seconds (ACM's validation delay;
    moto's ACM_VALIDATION_WAIT) after it is requested, and whatever needs it (the HTTPS
    listener, the service behind it, waiting for the service) can only start then. So:

        critical path = W + sum over the calls made after issuance of their measured time
                      = W + N x L + S

    W: the certificate validation delay (--certificate-wait);
    issuance: the end of the first DescribeCertificate that returned ISSUED (with two
      certificates: the point by which both have been seen ISSUED);
    N: the calls made after that point; L: the per-call latency (--latency-ms, per HTTP
      attempt); S: moto's own time serving those N calls (measured; the rest of each
      call's measured time).
    Everything before the certificate request, polling overshoot (ISSUED noticed later
    than W after the request) and time between the post-issuance calls (sleeps, client
    code) is the excess over the critical path.
    """
    records = m.records
    requests = [r for r in records if r.operation == "RequestCertificate" and not r.error]
    if not requests:
        return None
    issued: dict[str, int] = {}
    for i, r in enumerate(records):
        if r.operation == "DescribeCertificate" and r.cert_status == "ISSUED" and r.cert_arn not in issued:
            issued[r.cert_arn] = i
    requested = {r.cert_arn for r in requests}
    if not requested <= issued.keys():
        return None
    point = max(issued[arn] for arn in requested)
    tail = records[point + 1 :]
    sends = sum(r.sends for r in tail)
    tail_time = sum(r.duration for r in tail)
    critical = wait + tail_time
    t_request = requests[0].start - m.start
    t_issued = records[point].end - m.start
    # Last call before issuance that was not about the certificate: the rest was built by then.
    before = [r for r in records[:point] if r.service != "acm"]
    t_ready = (before[-1].end - m.start) if before else t_request
    polls = sum(1 for r in records[: point + 1] if r.operation == "DescribeCertificate")
    return {
        "calls_before_request": records.index(requests[0]),
        "critical_s": round(critical, 3),
        "excess_s": round(m.wall - critical, 3),
        "wait_s": wait,
        "calls_after_issued": len(tail),
        "latency_after_issued_s": round(sends * latency, 3),
        "server_after_issued_s": round(tail_time - sends * latency, 3),
        "certificate_requested_at_s": round(t_request, 3),
        "rest_built_by_s": round(t_ready, 3),
        "issued_seen_at_s": round(t_issued, 3),
        "issued_possible_at_s": round(requests[-1].start - m.start + wait, 3),
        "describe_certificate_calls_until_issued": polls,
        "gaps_after_issued_s": round((m.wall - (t_issued)) - tail_time, 3),
        "after_issued": [f"{r.name}" for r in tail],
    }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from ecsup import context as context_module

        self.args = args
        self.latency = args.latency_ms / 1000.0
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

        box = Sandbox(certificate_wait=self.args.certificate_wait).start()
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
            "critical_path": critical_path(results["create"], self.args.certificate_wait, self.latency),
        }


# --------------------------------------------------------------------------- the CLI's start-up
def time_cli(argv: list[str], runs: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "ecsup", *argv]
    subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True)  # warm-up (bytecode caches), not counted
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True)
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


def report(data: dict[str, Any], out: Any) -> None:
    def p(line: str = "") -> None:
        print(line, file=out)

    m, s = data["machine"], data["settings"]
    p(f"ecsup benchmark, {m['date']}")
    p(f"  machine   {m['nproc']} CPUs ({m['cpu']}), {m['platform']}")
    p(f"  python    {m['python']}")
    p(f"  versions  ecsup {s['ecsup']}, moto {s['moto']}, botocore {s['botocore']}")
    p(
        f"  settings  latency {s['latency_ms']:g} ms per AWS call (slept in botocore before-send, once per HTTP "
        f"attempt), certificate validation {s['certificate_wait_s']} s, --help runs {s['runs']}"
    )
    p()
    variants = data["variants"]
    names = list(variants)
    p("Each operation on a fresh Context, in this order, on a reset sandbox per config:")
    p("  default = demo_config() without cloudfront_certificate; demo = `ecsup demo`'s config (+ us-east-1 cert).")
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
    for label, key, fmt in (
        ("  create's critical path", "critical_s", "{:.2f} s"),
        ("  create's excess over it", "excess_s", "{:+.2f} s"),
    ):
        row = [label]
        for v in names:
            cp = variants[v]["critical_path"]
            row += [fmt.format(cp[key]) if cp else "n/a", "", "", ""]
        rows.append(row)
    for line in table(rows, header, set(range(1, len(header)))):
        p("  " + line)
    p()
    p("Critical path of create = W + the measured time of every call made after the certificate is seen")
    p("ISSUED (the end of the first DescribeCertificate that returned ISSUED; with two certificates, once")
    p("both have been) = W + N x L + S: W the validation delay, N those calls, L the latency, S moto's time")
    p("serving them. Nothing can be faster: what needs the certificate waits at least W after the request.")
    p("Excess = wall - critical path = the work before the certificate request + noticing ISSUED later than")
    p("W after the request (polling interval, or the rest of the stack taking longer than W) + the time")
    p("between the calls after issuance.")
    for v in names:
        cp = variants[v]["critical_path"]
        if not cp:
            p(f"  {v}: no certificate was issued during create: nothing to compute")
            continue
        p(
            f"  {v}: {cp['wait_s']} + {cp['calls_after_issued']} x {s['latency_ms']:g} ms"
            f" ({cp['latency_after_issued_s']:.2f}) + {cp['server_after_issued_s']:.2f} = {cp['critical_s']:.2f} s;"
            f" wall {variants[v]['results']['create']['wall_s']:.2f} s"
        )
        p(
            f"    +{cp['certificate_requested_at_s']:.2f} s  certificate requested, after {cp['calls_before_request']}"
            " calls (planning)"
        )
        p(f"    +{cp['rest_built_by_s']:.2f} s  last call not about the certificate before issuance")
        p(f"    +{cp['issued_possible_at_s']:.2f} s  earliest possible ISSUED (request + W)")
        p(
            f"    +{cp['issued_seen_at_s']:.2f} s  ISSUED seen ({cp['describe_certificate_calls_until_issued']}"
            " DescribeCertificate calls so far)"
        )
        p(
            f"    +{variants[v]['results']['create']['wall_s']:.2f} s  done; after ISSUED: "
            f"{', '.join(cp['after_issued'])}; {cp['gaps_after_issued_s']:.2f} s between those calls"
        )
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
        description="Benchmark ecsup against the embedded local AWS (moto) with a simulated per-call latency. "
        "Prints a report; never fails on a missed target.",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=30.0, help="added to every AWS call (HTTP attempt); default 30"
    )
    parser.add_argument(
        "--certificate-wait",
        type=int,
        default=6,
        help="seconds before the sandbox's ACM issues a certificate (moto ACM_VALIDATION_WAIT); default 6",
    )
    parser.add_argument("--runs", type=int, default=7, help="runs of `ecsup --help` / `--version` to time; default 7")
    parser.add_argument(
        "--json",
        action="store_true",
        help="also print one JSON document with every figure on stdout (the report then goes to stderr)",
    )
    args = parser.parse_args(argv)
    if args.latency_ms < 0 or args.certificate_wait < 0 or args.runs < 1:
        parser.error("--latency-ms and --certificate-wait must be >= 0, --runs >= 1")

    import botocore
    import moto

    import ecsup
    from ecsup.sandbox import demo_config

    started = time.perf_counter()

    def default_config(zone: str, region: str) -> str:
        """demo_config() without cloudfront_certificate (i.e. its default, false)."""
        demo = demo_config(zone, region)
        text = demo.replace("cloudfront_certificate = true\n", "")
        if text == demo:
            raise RuntimeError("demo_config() changed: cannot derive the config without cloudfront_certificate")
        return text

    bench = Bench(args)
    variants = {"default": bench.run_variant(default_config)}
    clients = sorted({(r.service, r.region) for r in bench.noop_records})
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
        cp, noop = v["critical_path"], v["results"]["create_noop"]
        excess = cp["excess_s"] if cp else float("inf")
        target(
            f"create within {CREATE_EXCESS_TARGET_S:g} s of its critical path",
            name,
            f"{excess:+.2f} s" if cp else "n/a",
            excess <= CREATE_EXCESS_TARGET_S,
        )
        target(
            f"no-op create <= {NOOP_CREATE_WALL_TARGET_S:g} s",
            name,
            f"{noop['wall_s']:.2f} s",
            noop["wall_s"] <= NOOP_CREATE_WALL_TARGET_S,
        )
        target(
            f"no-op create <= {NOOP_CREATE_CALLS_TARGET} calls",
            name,
            f"{noop['calls']} calls",
            noop["calls"] <= NOOP_CREATE_CALLS_TARGET,
        )
        target("no-op create: no mutating call (README)", name, f"{noop['mutating']} mutating", noop["mutating"] == 0)
    help_ms = cli["--help"]["median_ms"]
    target(f"ecsup --help <= {HELP_TARGET_MS:g} ms (median)", "-", f"{help_ms:.0f} ms", help_ms <= HELP_TARGET_MS)

    data = {
        "machine": machine(),
        "settings": {
            "latency_ms": args.latency_ms,
            "certificate_wait_s": args.certificate_wait,
            "runs": args.runs,
            "ecsup": ecsup.__version__,
            "moto": moto.__version__,
            "botocore": botocore.__version__,
        },
        "variants": variants,
        "cli": cli,
        "targets": targets,
        "seconds": round(time.perf_counter() - started, 1),
    }
    human = sys.stderr if args.json else sys.stdout
    report(data, human)
    print(f"\n(the benchmark took {data['seconds']:.0f} s)", file=human)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
