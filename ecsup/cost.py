"""`ecsup cost`: the stack's monthly cost in USD, line by line.

Pure functions from a Config, the usage assumptions (Usage) and unit prices (prices.Prices)
to an Estimate: no AWS call, no printing. Every figure comes with the quantity and unit
price it is made of, and every assumption is stated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .config import Config, DeployConfig
from .prices import Prices
from .workloads import WEB, JobConfig, WorkerConfig

HOURS_PER_MONTH = 730.0  # AWS's convention (24 x 365 / 12)
DAYS_PER_MONTH = HOURS_PER_MONTH / 24

DEFAULT_REQUESTS_PER_MONTH = 1_000_000
DEFAULT_LOG_GB_PER_MONTH = 1.0
DEFAULT_DEPLOYS_PER_MONTH = 20
# The tasks' traffic out of the VPC that is not the load balancer's: image pulls (a few hundred MB
# a deployment, most of it from S3 through the free gateway endpoint with egress = "endpoints"),
# log lines, calls to AWS APIs and to the internet.
DEFAULT_NETWORK_GB_PER_MONTH = 10.0
KB_PER_REQUEST = 20.0  # request and response together

# Elastic Load Balancing pricing: an ALB's LCU-hours are the largest of these dimensions, each
# divided by what one LCU provides (aws.amazon.com/elasticloadbalancing/pricing/).
LCU_NEW_CONNECTIONS_PER_SECOND = 25.0
LCU_ACTIVE_CONNECTIONS_PER_MINUTE = 3000.0
LCU_GB_PER_HOUR = 1.0  # EC2 instances, containers and IP addresses as targets
LCU_RULE_EVALUATIONS_PER_SECOND = 1000.0
FREE_RULES = 10  # "the first 10 processed rules are free": ecsup's listeners have one or two

# A new task: image pull, start, 2 health checks 15 s apart, registration in the target group.
TASK_START_MINUTES = 5.0
DRAIN_MINUTES = 0.5  # the target groups' deregistration delay (30 s, STACK.md)

# Public IPv4: an internet-facing ALB has one address per availability zone it is in. Without
# network.subnets / alb_subnets ecsup puts it in the default subnets: one per zone of the region.
DEFAULT_SUBNETS = {"us-east-1": 6, "us-west-2": 4, "eu-west-1": 3, "eu-central-1": 3, "ap-northeast-1": 3}
ASSUMED_ZONES = 3


@dataclass(frozen=True)
class Usage:
    """What the estimate cannot know from ecsup.toml."""

    requests_per_month: float = DEFAULT_REQUESTS_PER_MONTH
    log_gb_per_month: float = DEFAULT_LOG_GB_PER_MONTH
    deploys_per_month: float = DEFAULT_DEPLOYS_PER_MONTH
    kb_per_request: float = KB_PER_REQUEST
    # what the tasks send and receive through a NAT gateway or VPC endpoints ([network] egress)
    network_gb_per_month: float = DEFAULT_NETWORK_GB_PER_MONTH


def cents(value: float) -> float:
    """Round half up to the cent (what is printed, and what the total adds up)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def usd(value: float) -> str:
    return f"${cents(value):,.2f}"


def _num(value: float, digits: int = 2) -> str:
    """1000000 -> '1,000,000'; 0.25 -> '0.25'; 11.125 -> '11.13'."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _rate(value: float) -> str:
    """A unit price with the digits AWS publishes ($0.004445, $0.0252, $0.50)."""
    text = f"{value:.6f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{value:.2f}"
    return f"${text}"


@dataclass(frozen=True)
class LineItem:
    name: str
    quantity: str
    unit_price: str
    monthly_low: float
    monthly_high: float
    note: str = ""
    workload: str = ""  # the workload the line is (web, a worker, a job), "" for the stack's shared lines

    @property
    def is_range(self) -> bool:
        return cents(self.monthly_low) != cents(self.monthly_high)

    @property
    def monthly_text(self) -> str:
        if self.is_range:
            return f"{usd(self.monthly_low)} to {usd(self.monthly_high)}"
        return usd(self.monthly_low)


@dataclass(frozen=True)
class Estimate:
    region: str
    stack: str
    lines: list[LineItem]
    assumptions: list[str]
    prices: Prices
    usage: Usage = field(default_factory=Usage)
    jobs: list[JobRuns] = field(default_factory=list)

    @property
    def total_low(self) -> float:
        return cents(sum(cents(line.monthly_low) for line in self.lines))

    @property
    def total_high(self) -> float:
        return cents(sum(cents(line.monthly_high) for line in self.lines))

    @property
    def is_range(self) -> bool:
        return self.total_low != self.total_high

    @property
    def total_text(self) -> str:
        if self.is_range:
            return f"{usd(self.total_low)} to {usd(self.total_high)}"
        return usd(self.total_low)

    @property
    def prices_source(self) -> str:
        return self.prices.source_line

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "region": self.region,
            "stack": self.stack,
            "currency": "USD",
            "items": [
                {
                    "item": line.name,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "monthly": cents(line.monthly_low),
                    "monthly_high": cents(line.monthly_high),
                    "note": line.note,
                    "workload": line.workload or None,
                }
                for line in self.lines
            ],
            "total": self.total_low,
        }
        if self.is_range:
            doc["total_high"] = self.total_high
        doc["jobs"] = [runs.as_dict() for runs in self.jobs]
        doc["assumptions"] = list(self.assumptions)
        prices: dict[str, Any] = {"source": self.prices.source, "date": self.prices.date}
        if self.prices.note:
            prices["note"] = self.prices.note
        doc["prices"] = prices
        return doc


# -- compute -------------------------------------------------------------------------------------
def task_split(count: float, capacity: str, on_demand_base: int = 1, on_demand_percent: int = 0) -> tuple[float, float]:
    """(tasks on demand, tasks on Spot) for a capacity: FARGATE, FARGATE_SPOT, or "mixed" =
    on_demand_base tasks on demand, then on_demand_percent of the rest on demand and the rest
    on Spot (ECS places whole tasks; this is the expected share)."""
    if capacity == "FARGATE":
        return float(count), 0.0
    if capacity == "FARGATE_SPOT":
        return 0.0, float(count)
    base = min(float(count), float(on_demand_base))
    rest = max(0.0, float(count) - base)
    on_demand = base + rest * on_demand_percent / 100.0
    return on_demand, float(count) - on_demand


def _task_hour(cpu: int, memory: int, architecture: str, spot: bool, prices: Prices) -> float:
    vcpu, gb = prices.fargate(architecture, spot)
    return cpu / 1024 * vcpu + memory / 1024 * gb


def monthly_compute(
    region: str,
    cpu: int,
    memory: int,
    count: float,
    architecture: str,
    capacity: str,
    on_demand_base: int,
    on_demand_percent: int,
    prices: Prices,
) -> float:
    """USD a month for ``count`` Fargate tasks of cpu units / memory MiB running all month
    (unrounded). For plan/create: "monthly cost before -> after"."""
    if prices.region != region:
        raise ValueError(f"prices are for {prices.region}, not {region}")
    on_demand, spot = task_split(count, capacity, on_demand_base, on_demand_percent)
    hourly = 0.0
    if on_demand:
        hourly += _task_hour(cpu, memory, architecture, False, prices) * on_demand
    if spot:
        hourly += _task_hour(cpu, memory, architecture, True, prices) * spot
    return hourly * HOURS_PER_MONTH


def task_counts(config: Config) -> tuple[int, int]:
    """(low, high) number of running tasks: min..max with auto scaling, else desired_count."""
    scaling = config.service.autoscaling
    if scaling is not None:
        return scaling.min, scaling.max
    return config.service.desired_count, config.service.desired_count


def _compute(config: Config, prices: Prices, count: float) -> float:
    svc = config.service
    return monthly_compute(
        prices.region,
        svc.cpu,
        svc.memory,
        count,
        svc.cpu_architecture,
        svc.capacity,
        svc.on_demand_base,
        svc.on_demand_percent,
        prices,
    )


def _counted(low: float, high: float, unit: str) -> str:
    plural = unit if high == 1 else unit + ("es" if unit.endswith("s") else "s")
    if low == high:
        return f"{_num(low)} {plural}"
    return f"{_num(low)} to {_num(high)} {plural}"


def compute_line(config: Config, prices: Prices) -> LineItem:
    low, high = task_counts(config)
    name = "Fargate compute (web)" if config.workers or config.jobs else "Fargate compute"
    return _fargate_line(name, config.service, low, high, prices)


def _unit_and_notes(w: Any, prices: Prices) -> tuple[str, list[str]]:
    """The unit price text and the notes of a workload's Fargate line (its architecture and capacity)."""
    arch = "ARM64" if w.cpu_architecture == "ARM64" else "x86"
    od_vcpu, od_gb = prices.fargate(w.cpu_architecture, False)
    sp_vcpu, sp_gb = prices.fargate(w.cpu_architecture, True)
    on_demand_rate = f"{_rate(od_vcpu)}/vCPU-h + {_rate(od_gb)}/GB-h"
    spot_rate = f"{_rate(sp_vcpu)}/vCPU-h + {_rate(sp_gb)}/GB-h"
    notes = [f"Linux/{arch}"]
    if w.capacity == "FARGATE":
        return on_demand_rate, [*notes, "on demand"]
    if w.capacity == "FARGATE_SPOT":
        return f"Spot {spot_rate}", [*notes, prices.spot_basis(w.cpu_architecture)]
    return f"on demand {on_demand_rate}; Spot {spot_rate}", notes


def _fargate_line(name: str, w: Any, low: int, high: int, prices: Prices, what: str = "") -> LineItem:
    """Tasks of a workload running all month: the web service ([service]) or a worker; ``w`` has
    cpu, memory, cpu_architecture, capacity, on_demand_base, on_demand_percent and autoscaling."""
    vcpu, gb = w.cpu / 1024, w.memory / 1024
    quantity = f"{_counted(low, high, 'task')} x ({_num(vcpu)} vCPU + {_num(gb)} GB) x {_num(HOURS_PER_MONTH)} h"
    unit, notes = _unit_and_notes(w, prices)
    if what:
        notes.insert(0, what)
    if w.capacity == "mixed":
        splits = {task_split(n, w.capacity, w.on_demand_base, w.on_demand_percent) for n in (low, high)}
        shown = "; ".join(f"{_num(od)} on demand + {_num(sp)} Spot" for od, sp in sorted(splits))
        notes.append(
            f"mixed: {w.on_demand_base} task(s) on demand, then {w.on_demand_percent}% of the rest "
            f"({shown}; ECS places whole tasks)"
        )
        notes.append(prices.spot_basis(w.cpu_architecture))
    if w.autoscaling is not None:
        notes.append("auto scaling: the low figure runs min tasks all month, the high one max")

    def monthly(count: int) -> float:
        return monthly_compute(
            prices.region,
            w.cpu,
            w.memory,
            count,
            w.cpu_architecture,
            w.capacity,
            w.on_demand_base,
            w.on_demand_percent,
            prices,
        )

    workload = getattr(w, "name", WEB)  # [service] has no name: the web service
    return LineItem(name, quantity, unit, monthly(low), monthly(high), "; ".join(notes), workload=workload)


# -- workers and jobs ----------------------------------------------------------------------------
def worker_counts(worker: WorkerConfig) -> tuple[int, int]:
    """(low, high) number of a worker's running tasks: auto scaling's min..max, else desired_count."""
    if worker.autoscaling is not None:
        return worker.autoscaling.min, worker.autoscaling.max
    return worker.desired_count, worker.desired_count


def worker_line(worker: WorkerConfig, prices: Prices) -> LineItem:
    low, high = worker_counts(worker)
    return _fargate_line(
        f"Worker {worker.name}", worker, low, high, prices, "an ECS service without a load balancer, all month"
    )


DAYS_IN_RUN_MONTH = 30  # a job's runs are counted in a 30-day month
_RATE_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = {m: i for i, m in enumerate(_MONTHS, 1)}
_DAY_NAMES = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


def _cron_values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """The values a cron field matches: lists (,), ranges (-, wrapping past ``high`` as in
    FRI-MON), steps (/), * and ?."""

    def number(word: str) -> int:
        word = word.upper()
        return names[word] if names and word in names else int(word)

    values: set[int] = set()
    for part in text.split(","):
        part, slash, step_text = part.partition("/")
        step = int(step_text) if slash else 1
        if step < 1:
            raise ValueError(f"step {step_text}")
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = number(first), number(last)
        else:
            start = number(part)
            end = high if slash else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"{part} is outside {low}-{high}")
        span = list(range(start, end + 1)) if start <= end else [*range(start, high + 1), *range(low, end + 1)]
        values.update(span[::step])
    return values


def runs_per_month(expression: str) -> float:
    """How many times an EventBridge Scheduler expression fires in a 30-day month: rate(N unit):
    30 days / the rate; at(...): one run (ever); cron(min hour day-of-month month day-of-week
    year): the matching minutes of a 30-day month (day-of-week: per week x 30/7; a day-of-month
    31 in 7 months of 12; L, W, # and nL: one day a month), times the share of the year's months
    it names. ValueError when the expression cannot be read."""
    text = expression.strip()
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", text)
    if rate:
        minutes = int(rate.group(1)) * _RATE_MINUTES[rate.group(2)]
        if minutes < 1:
            raise ValueError(text)
        return DAYS_IN_RUN_MONTH * 1440 / minutes
    if re.fullmatch(r"at\(.*\)", text):
        return 1.0
    cron = re.fullmatch(r"cron\((.*)\)", text)
    fields = cron.group(1).split() if cron else []
    if len(fields) != 6:
        raise ValueError(text)
    minute, hour, dom, month, dow, _year = fields
    per_day = len(_cron_values(minute, 0, 59)) * len(_cron_values(hour, 0, 23))
    days = 0.0
    if dom != "?":
        for part in dom.split(","):
            if part.upper() == "L" or part.upper().endswith("W"):  # the last day, the weekday nearest
                days += 1
            else:
                matched = _cron_values(part, 1, 31)
                days += len(matched - {31}) + (7 / 12 if 31 in matched else 0)
    if dow != "?":
        for part in dow.split(","):
            if "#" in part or part.upper().endswith("L"):  # the nth, or the last, such day of the month
                days += 1
            else:
                days += len(_cron_values(part, 1, 7, _DAY_NAMES)) * DAYS_IN_RUN_MONTH / 7
    months = len(_cron_values(month, 1, 12, _MONTH_NAMES)) / 12
    return per_day * min(days, DAYS_IN_RUN_MONTH) * months


@dataclass(frozen=True)
class JobRuns:
    """What a job's cost is made of: runs a month and minutes a run (and where each came from)."""

    job: str
    schedule: str
    runs: float  # a month; 0 when the schedule could not be read
    minutes: float
    minutes_from: str  # "expected_minutes" or "timeout"
    readable: bool = True

    @property
    def task_hours(self) -> float:
        return self.runs * self.minutes / 60

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "schedule": self.schedule,
            "runs_per_month": round(self.runs, 4),
            "minutes_per_run": self.minutes,
            "minutes_from": self.minutes_from,
        }


def job_runs(job: JobConfig) -> JobRuns:
    try:
        runs, readable = runs_per_month(job.schedule), True
    except ValueError:
        runs, readable = 0.0, False
    if job.expected_minutes is not None:
        minutes, source = job.expected_minutes, "expected_minutes"
    else:
        minutes, source = job.timeout / 60, "timeout"
    return JobRuns(job.name, job.schedule, runs, minutes, source, readable)


def job_line(job: JobConfig, prices: Prices) -> LineItem:
    runs = job_runs(job)
    hourly = (
        monthly_compute(
            prices.region,
            job.cpu,
            job.memory,
            1,
            job.cpu_architecture,
            job.capacity,
            job.on_demand_base,
            job.on_demand_percent,
            prices,
        )
        / HOURS_PER_MONTH
    )
    unit, notes = _unit_and_notes(job, prices)
    if job.capacity == "mixed":
        od, _spot = task_split(1, job.capacity, job.on_demand_base, job.on_demand_percent)
        notes.append(f"mixed: a run's one task is {'on demand' if od >= 1 else f'{_num(od * 100)}% on demand'}")
        notes.append(prices.spot_basis(job.cpu_architecture))
    when = f"{job.schedule}" + (f" ({job.timezone})" if job.timezone != "UTC" else "")
    if not runs.readable:
        counted = f"{when}: the runs a month could not be counted from the schedule (0 assumed)"
    elif job.schedule.startswith("at("):
        counted = f"{when}: one run"
    else:
        counted = f"{when}: {_num(runs.runs)} run{'' if runs.runs == 1 else 's'} in a 30-day month"
    if runs.minutes_from == "expected_minutes":
        length = f"a run takes expected_minutes ({_num(runs.minutes)} min)"
    else:
        length = (
            f"a run counted at its timeout ({job.timeout} s), the longest it may take: "
            "expected_minutes gives a closer figure"
        )
    vcpu, gb = job.cpu / 1024, job.memory / 1024
    runs_text = "1 run" if runs.runs == 1 else f"{_num(runs.runs)} runs"
    return LineItem(
        f"Job {job.name}",
        f"{runs_text} x {_num(runs.minutes)} min x ({_num(vcpu)} vCPU + {_num(gb)} GB) "
        f"= {_num(runs.task_hours)} task-h",
        unit,
        runs.task_hours * hourly,
        runs.task_hours * hourly,
        "; ".join([counted, length, *notes]),
        workload=job.name,
    )


# A run of a job's state machine: the execution starts, the Run state (ecs:runTask.sync), the Choice
# on the exit code, then Succeed or Fail: a handful of transitions, each billed.
TRANSITIONS_PER_RUN = 4


def job_service_lines(config: Config, prices: Prices) -> list[LineItem]:
    """What running the jobs costs beside their tasks: Step Functions' state transitions and
    EventBridge Scheduler's invocations (none without jobs)."""
    if not config.jobs:
        return []
    from .prices import SCHEDULER_FREE_INVOCATIONS, STEP_FUNCTIONS_FREE_TRANSITIONS, TABLE

    runs = sum(job_runs(job).runs for job in config.jobs)
    transitions = runs * TRANSITIONS_PER_RUN
    other_region = "" if prices.region in TABLE else f" (the price of us-east-1; {prices.region}'s may be higher)"
    sfn = LineItem(
        "Step Functions state transitions",
        f"{_num(transitions)} transitions ({_num(runs)} runs x {TRANSITIONS_PER_RUN})",
        f"{_rate(prices.sfn_transition * 1000)}/1,000 transitions{other_region}",
        transitions * prices.sfn_transition,
        transitions * prices.sfn_transition,
        "each job's Standard state machine: start, run the task, check its exit code, succeed or fail; "
        f"the account's first {STEP_FUNCTIONS_FREE_TRANSITIONS:,} transitions a month are free (not deducted: "
        "its other state machines share them)",
    )
    billed = max(0.0, runs - SCHEDULER_FREE_INVOCATIONS)
    scheduler = LineItem(
        "EventBridge Scheduler invocations",
        f"{_num(runs)} invocations",
        f"{_rate(prices.scheduler_invocation * 1_000_000)}/million after {SCHEDULER_FREE_INVOCATIONS:,} free",
        billed * prices.scheduler_invocation,
        billed * prices.scheduler_invocation,
        f"the first {SCHEDULER_FREE_INVOCATIONS // 1_000_000} million invocations a month of the account are free",
    )
    return [sfn, scheduler]


# -- load balancer -------------------------------------------------------------------------------
def lcu_per_hour(usage: Usage) -> tuple[float, str]:
    """(LCUs per hour, the dimension that sets it), traffic spread evenly over the month."""
    per_second = usage.requests_per_month / (HOURS_PER_MONTH * 3600)
    dimensions = {
        "new connections": per_second / LCU_NEW_CONNECTIONS_PER_SECOND,  # one per request
        "active connections": per_second * 60 / LCU_ACTIVE_CONNECTIONS_PER_MINUTE,  # each under a minute
        "processed bytes": usage.requests_per_month * usage.kb_per_request / 1e6 / HOURS_PER_MONTH / LCU_GB_PER_HOUR,
        "rule evaluations": 0.0 / LCU_RULE_EVALUATIONS_PER_SECOND,  # within the free rules
    }
    name = max(dimensions, key=lambda k: dimensions[k])
    return dimensions[name], name


@dataclass(frozen=True)
class Sharing:
    """[load_balancer] shared: the stacks on the shared load balancer (this one included), among
    which its hours and its addresses are split equally."""

    name: str
    stacks: int
    others: tuple[str, ...] = ()
    known: bool = True  # False: the count could not be read (offline): this stack alone assumed
    what: str = "shared load balancer"  # or "network" (ecsup's own, [network] shared)
    # ecsup's own network, as it is (steps/network_sharing.py): its NAT gateways and its interface
    # endpoints (short names, and endpoint-zones: each endpoint's network interfaces); None: not read
    # (offline, or the network is not made yet): what this stack's egress needs is priced
    nats: int | None = None
    endpoints: tuple[str, ...] = ()
    endpoint_zones: int = 0

    @property
    def share(self) -> str:
        return f"1/{self.stacks}" if self.stacks > 1 else "all"

    def note(self) -> str:
        who = f" (with {', '.join(self.others)})" if self.others else ""
        if not self.known:
            return f"{self.what} {self.name}: the stacks on it could not be counted, this one alone assumed"
        plural = "s" if self.stacks != 1 else ""
        return f"{self.what} {self.name}, {self.stacks} stack{plural} on it{who}: this stack's {self.share}"


def load_balancer_lines(usage: Usage, prices: Prices, sharing: Sharing | None = None) -> list[LineItem]:
    split = sharing.stacks if sharing else 1
    hours = LineItem(
        "Load balancer hours",
        f"1 ALB x {_num(HOURS_PER_MONTH)} h" + (f" / {split} stacks" if split > 1 else ""),
        f"{_rate(prices.alb_hour)}/h",
        HOURS_PER_MONTH * prices.alb_hour / split,
        HOURS_PER_MONTH * prices.alb_hour / split,
        "billed whether or not traffic comes" + (f"; {sharing.note()}" if sharing else ""),
    )
    lcu, dimension = lcu_per_hour(usage)
    lcu_hours = lcu * HOURS_PER_MONTH
    gb = usage.requests_per_month * usage.kb_per_request / 1e6
    lcus = LineItem(
        "Load balancer LCUs",
        f"{_num(lcu_hours)} LCU-h ({_num(usage.requests_per_month)} requests, {_num(gb)} GB)",
        f"{_rate(prices.alb_lcu_hour)}/LCU-h",
        lcu_hours * prices.alb_lcu_hour,
        lcu_hours * prices.alb_lcu_hour,
        f"{_num(lcu, 4)} LCU an hour, set by {dimension}; --requests-per-month changes it",
    )
    return [hours, lcus]


# -- public IPv4 ---------------------------------------------------------------------------------
def alb_zones(config: Config, region: str) -> tuple[int, str]:
    """(number of the ALB's availability zones, why that number)."""
    net = config.network
    if net.alb_subnets:
        return len(net.alb_subnets), "network.alb_subnets"
    if net.subnets:
        return len(net.subnets), "network.subnets"
    if region in DEFAULT_SUBNETS:
        return DEFAULT_SUBNETS[region], f"the default subnets: one in each zone of {region}"
    return ASSUMED_ZONES, f"the default subnets: {ASSUMED_ZONES} zones assumed for {region}"


def tasks_have_public_ipv4(config: Config) -> bool:
    """Whether each task has a public IPv4 address (NetworkConfig.task_public_ip: on ecsup's own
    network egress decides, on one the user owns assign_public_ip)."""
    return config.network.task_public_ip == "ENABLED"


def public_ipv4_line(
    config: Config, prices: Prices, sharing: Sharing | None = None, network_sharing: Sharing | None = None
) -> LineItem:
    zones, why = alb_zones(config, prices.region)
    if config.load_balancer.internal and not config.load_balancer.shared:
        zones, why = 0, "load_balancer.internal: an internal load balancer has private addresses only"
    low, high = task_counts(config)
    public = config.network.task_public_ip == "ENABLED"  # on ecsup's own network: egress decides
    task_low, task_high = (low, high) if public else (0, 0)
    counts = [worker_counts(w) for w in config.workers] if public else []
    workers_low, workers_high = sum(c[0] for c in counts), sum(c[1] for c in counts)
    # a job's task has its address while it runs: its task-hours over the month's hours
    jobs = sum(job_runs(j).task_hours for j in config.jobs) / HOURS_PER_MONTH if public else 0.0
    split = sharing.stacks if sharing else 1
    alb = zones / split  # the shared load balancer's addresses: this stack's share
    net_split = network_sharing.stacks if network_sharing else 1
    nat = network_nats(config, network_sharing) / net_split  # the NAT gateways' Elastic IPs
    addresses_low = alb + task_low + workers_low + jobs + nat
    addresses_high = alb + task_high + workers_high + jobs + nat
    alb_text = f"{zones} for the ALB" + (f" / {split} stacks" if split > 1 else "")
    if split > 1:
        why += f"; {sharing.note() if sharing else ''}"
    if public:
        parts = f"{alb_text} + {_counted(task_low, task_high, 'task')}"
        if config.workers:
            parts += f" + {_counted(workers_low, workers_high, 'worker task')}"
        if config.jobs:
            parts += f" + {_num(jobs, 3)} for the jobs' runs"
        note = f"the ALB has one per availability zone, {zones} ({why}); each task one (network.assign_public_ip)"
    elif config.network.egress != "public":
        parts = alb_text
        note = (
            f"the ALB has one per availability zone, {zones} ({why}); tasks have none "
            f'([network] egress = "{config.network.egress}": {EGRESS_WAY[config.network.egress]})'
        )
    else:
        parts = alb_text
        note = (
            f"the ALB has one per availability zone, {zones} ({why}); tasks have none "
            "(assign_public_ip = false: a NAT gateway or VPC endpoints, not counted, carry their traffic)"
        )
    if nat:
        count = network_nats(config, network_sharing)
        parts += (
            f" + {count} for the NAT gateway"
            + ("s" if count > 1 else "")
            + (f" / {net_split} stacks" if net_split > 1 else "")
        )
        note += "; the NAT gateway's Elastic IP is a public IPv4 address too"
    if config.network.ipv6:
        note += "; dual-stack: IPv6 addresses are free, and the ALB keeps its public IPv4 ones"
    return LineItem(
        "Public IPv4 addresses",
        f"{_counted(round(addresses_low, 3), round(addresses_high, 3), 'address')} ({parts}) "
        f"x {_num(HOURS_PER_MONTH)} h",
        f"{_rate(prices.public_ipv4_hour)}/address-h",
        addresses_low * HOURS_PER_MONTH * prices.public_ipv4_hour,
        addresses_high * HOURS_PER_MONTH * prices.public_ipv4_hour,
        note + "; charged since February 2024",
    )


# -- the network ([network] egress, ipv6) -----------------------------------------------------------
EGRESS_WAY = {
    "public": "a public IPv4 address each",
    "ipv6": "IPv6 through an egress-only internet gateway, which is free",
    "nat": "private subnets behind one NAT gateway",
    "endpoints": "private subnets with VPC endpoints for ECR, S3, CloudWatch Logs and SSM",
}
ECSUP_NETWORK_ZONES = 3  # ecsup's own network ([network] shared): up to 3 zones where Fargate runs


def network_zones(config: Config, region: str) -> tuple[int, str]:
    """(number of the tasks' availability zones, why): where an interface endpoint has a network
    interface each."""
    net = config.network
    if net.subnets:
        return len(net.subnets), "network.subnets"
    if net.alb_subnets:
        return len(net.alb_subnets), "network.alb_subnets"
    if getattr(net, "shared", ""):  # [network] shared: ecsup's own network
        zones = min(ECSUP_NETWORK_ZONES, DEFAULT_SUBNETS.get(region, ASSUMED_ZONES))
        return zones, f"ecsup's network {getattr(net, 'shared', '')}: up to {ECSUP_NETWORK_ZONES} zones"
    return alb_zones(config, region)


def interface_endpoints(config: Config) -> list[str]:
    """The interface endpoints egress = "endpoints" gives the tasks (the set steps/egress.py makes):
    ECR's two, CloudWatch Logs, SSM for the secrets, SSM messages for ECS Exec. S3 is a gateway
    endpoint: free."""
    names = ["ecr.api", "ecr.dkr", "logs"]
    if config.all_secrets:
        names.append("ssm")
    if config.service.exec or any(getattr(w, "exec", False) for w in config.workers):
        names.append("ssmmessages")
    return names


def network_nats(config: Config, network_sharing: Sharing | None) -> int:
    """The NAT gateways billed on the network: those it has (a layout's parts are kept until the
    network is deleted), at least the one egress = "nat" needs."""
    live = network_sharing.nats if network_sharing and network_sharing.nats is not None else 0
    return max(live, 1 if config.network.egress == "nat" else 0)


def network_endpoints(config: Config, region: str, network_sharing: Sharing | None) -> tuple[list[str], int, str]:
    """(the interface endpoints billed on the network, their endpoint-zones, why the zones): those
    it has, and those egress = "endpoints" needs that it has not yet (in each of the tasks' zones)."""
    zones, why = network_zones(config, region)
    live = list(network_sharing.endpoints) if network_sharing and network_sharing.nats is not None else []
    count = network_sharing.endpoint_zones if live and network_sharing else 0
    needed = interface_endpoints(config) if config.network.egress == "endpoints" else []
    missing = [n for n in needed if n not in live]
    if live:
        why = "as the network has them" + (f"; {why} for the missing ones" if missing else "")
    return [*live, *missing], count + len(missing) * zones, why


def _network_split(network_sharing: Sharing | None) -> tuple[int, str, str]:
    """(stacks, " / N stacks" for a quantity, "; ..." for a note) of a network's shared parts."""
    split = network_sharing.stacks if network_sharing else 1
    return (
        split,
        (f" / {split} stacks" if split > 1 else ""),
        (f"; {network_sharing.note()}" if network_sharing else ""),
    )


def network_lines(
    config: Config, usage: Usage, prices: Prices, network_sharing: Sharing | None = None
) -> list[LineItem]:
    """What [network] egress adds: NAT gateway hours and data, interface endpoints per zone and their
    data, the free S3 gateway endpoint; with egress = "ipv6" the egress-only gateway (free) and the
    tasks' public IPv4 addresses it saves. The network's hours are split among the stacks on it
    (``network_sharing``, as the shared load balancer's); each stack's data is its own."""
    egress = config.network.egress
    split, per, shared_note = _network_split(network_sharing)
    gb = usage.network_gb_per_month
    lines: list[LineItem] = []
    name = network_sharing.name if network_sharing else ""
    nats = network_nats(config, network_sharing)
    if nats:
        hours = nats * HOURS_PER_MONTH * prices.nat_gateway_hour / split
        why = (
            '[network] egress = "nat": one NAT gateway for the network, billed whether or not traffic '
            "comes (its Elastic IP is on the public IPv4 line); one zone's failure cuts the tasks of the "
            "other zones off the internet"
        )
        if egress != "nat":
            why = (
                f"kept: the NAT gateway stays on network {name} (other stacks may use it) and bills until the "
                "network is deleted, whatever this stack's egress (its Elastic IP is on the public IPv4 line)"
            )
        lines.append(
            LineItem(
                "NAT gateway hours",
                f"{nats} NAT gateway{'s' if nats > 1 else ''} x {_num(HOURS_PER_MONTH)} h{per}",
                f"{_rate(prices.nat_gateway_hour)}/h",
                hours,
                hours,
                why + shared_note,
            )
        )
    endpoint_names, endpoint_zones, endpoint_why = network_endpoints(config, prices.region, network_sharing)
    if endpoint_names and egress != "endpoints":
        hours = endpoint_zones * HOURS_PER_MONTH * prices.vpc_endpoint_hour / split
        lines.append(
            LineItem(
                "VPC interface endpoints",
                f"{len(endpoint_names)} endpoints ({', '.join(endpoint_names)}), {endpoint_zones} endpoint-zones x "
                f"{_num(HOURS_PER_MONTH)} h{per}",
                f"{_rate(prices.vpc_endpoint_hour)}/endpoint-zone-h",
                hours,
                hours,
                f"kept: the interface endpoints stay on network {name} (other stacks may use them) and bill until "
                "the network is deleted, whatever this stack's egress" + shared_note,
            )
        )
    if egress == "nat":
        lines.append(
            LineItem(
                "NAT gateway data processed",
                f"{_num(gb)} GB",
                f"{_rate(prices.nat_gateway_gb)}/GB",
                gb * prices.nat_gateway_gb,
                gb * prices.nat_gateway_gb,
                "everything the tasks send or receive outside the VPC except through the load balancer (image "
                "pulls, logs, AWS API calls), on top of data transfer; an assumption: --network-gb-per-month "
                "changes it",
            )
        )
    elif egress == "endpoints":
        names, endpoint_zones, why = endpoint_names, endpoint_zones, endpoint_why
        zones = endpoint_zones // len(names) if names else 0
        hours = endpoint_zones * HOURS_PER_MONTH * prices.vpc_endpoint_hour / split
        quantity = (
            f"{len(names)} endpoints ({', '.join(names)}) x {zones} zones x {_num(HOURS_PER_MONTH)} h{per}"
            if zones * len(names) == endpoint_zones
            else f"{len(names)} endpoints ({', '.join(names)}), {endpoint_zones} endpoint-zones x "
            f"{_num(HOURS_PER_MONTH)} h{per}"
        )
        lines.append(
            LineItem(
                "VPC interface endpoints",
                quantity,
                f"{_rate(prices.vpc_endpoint_hour)}/endpoint-zone-h",
                hours,
                hours,
                f'[network] egress = "endpoints": each endpoint has a network interface in each of the tasks\' '
                f"{zones} zones ({why}), billed whether or not traffic comes" + shared_note,
            )
        )
        lines.append(
            LineItem(
                "VPC endpoints data processed",
                f"{_num(gb)} GB",
                f"{_rate(prices.vpc_endpoint_gb)}/GB",
                gb * prices.vpc_endpoint_gb,
                gb * prices.vpc_endpoint_gb,
                "what the tasks exchange with ECR, CloudWatch Logs and SSM (image layers come from S3 through "
                "the gateway endpoint, free: this is an upper bound); an assumption: --network-gb-per-month "
                "changes it",
            )
        )
        lines.append(
            LineItem(
                "S3 gateway endpoint",
                "1 (ECR's image layers)",
                "free",
                0.0,
                0.0,
                "gateway endpoints cost nothing, per hour or per GB",
            )
        )
    elif egress == "ipv6":
        lines.append(
            LineItem(
                "Egress-only internet gateway",
                "1 (the tasks' IPv6 way out)",
                "free",
                0.0,
                0.0,
                "no hourly or data processing charge; data transfer out is billed as over IPv4",
            )
        )
    saved = ipv4_saved_line(config, prices)
    if saved is not None:
        lines.append(saved)
    return lines


def ipv4_saved_line(config: Config, prices: Prices) -> LineItem | None:
    """The tasks' public IPv4 addresses an egress other than "public" does without: 0 on the bill,
    what it saves against egress = "public" in the note."""
    if config.network.egress == "public" or not config.network.assign_public_ip:
        return None
    low, high = task_counts(config)
    for worker in config.workers:
        w_low, w_high = worker_counts(worker)
        low, high = low + w_low, high + w_high
    jobs = sum(job_runs(j).task_hours for j in config.jobs) / HOURS_PER_MONTH
    saved_low = (low + jobs) * HOURS_PER_MONTH * prices.public_ipv4_hour
    saved_high = (high + jobs) * HOURS_PER_MONTH * prices.public_ipv4_hour
    saving = usd(saved_low) + (f" to {usd(saved_high)}" if cents(saved_low) != cents(saved_high) else "")
    return LineItem(
        "Public IPv4 saved",
        f"{_counted(round(low + jobs, 3), round(high + jobs, 3), 'task address')} not billed",
        f"{_rate(prices.public_ipv4_hour)}/address-h",
        0.0,
        0.0,
        f'[network] egress = "{config.network.egress}": the tasks have no public IPv4 address; '
        f'{saving} a month less than egress = "public" on this line',
    )


# -- logs ----------------------------------------------------------------------------------------
def stored_log_gb(log_gb_per_month: float, retention_days: int) -> float:
    """GB kept at steady state (once the retention period has passed), uncompressed."""
    return log_gb_per_month * retention_days / DAYS_PER_MONTH


def logs_lines(config: Config, usage: Usage, prices: Prices) -> list[LineItem]:
    retention = config.service.log_retention_days
    stored = stored_log_gb(usage.log_gb_per_month, retention)
    ingestion = LineItem(
        "CloudWatch Logs ingestion",
        f"{_num(usage.log_gb_per_month)} GB",
        f"{_rate(prices.logs_ingest_gb)}/GB",
        usage.log_gb_per_month * prices.logs_ingest_gb,
        usage.log_gb_per_month * prices.logs_ingest_gb,
        "what the containers write to stdout/stderr; --log-gb-per-month changes it",
    )
    storage = LineItem(
        "CloudWatch Logs storage",
        f"{_num(stored)} GB kept ({retention}-day retention)",
        f"{_rate(prices.logs_storage_gb_month)}/GB-month",
        stored * prices.logs_storage_gb_month,
        stored * prices.logs_storage_gb_month,
        f"once {retention} days have passed, {retention} days of logs stay stored; CloudWatch bills the "
        "compressed size, so this is an upper bound",
    )
    return [ingestion, storage]


# -- DNS, certificates, secrets ------------------------------------------------------------------
def route53_line(config: Config, prices: Prices) -> LineItem:
    if config.dns.external:
        return LineItem(
            "DNS (at your provider)",
            "no Route 53 zone",
            "-",
            0.0,
            0.0,
            "dns.external: the domain's DNS is at another provider, which bills it (not AWS)",
        )
    if config.dns.record == "alias":
        queries = "queries to the alias A record ecsup writes are free"
    else:
        queries = "queries to the CNAME record are billed (standard queries, per million; not counted)"
    return LineItem(
        "Route 53 hosted zone",
        f"1 zone ({config.dns.zone})",
        f"{_rate(prices.route53_zone_month)}/zone-month",
        prices.route53_zone_month,
        prices.route53_zone_month,
        f"the zone existed before ecsup, which never creates or deletes it; {queries}",
    )


def certificate_line(config: Config) -> LineItem:
    if config.dns.certificate_arn:
        quantity = "yours (dns.certificate_arn)"
    elif config.dns.cloudfront_certificate:
        quantity = "2 (one in us-east-1 for CloudFront)"
    else:
        quantity = "1"
    return LineItem(
        "ACM certificates", quantity, "free", 0.0, 0.0, "public certificates from ACM cost nothing, and renew free"
    )


def secrets_line(config: Config) -> LineItem:
    count = len({param for _var, param in config.all_secrets})
    key = config.service.secrets_kms_key or "alias/aws/ssm"
    note = (
        "standard parameters cost nothing a month; reading them at task start is KMS decryption, "
        "within KMS's 20,000 free requests a month at this size"
    )
    if config.service.secrets_kms_key:
        note += "; your customer-managed key costs $1 a month, not counted: it is yours, not ecsup's"
    else:
        note += "; the AWS managed key aws/ssm has no monthly charge"
    return LineItem(
        "SSM parameters and KMS key",
        f"{count} SecureString parameter{'' if count == 1 else 's'} (standard), key {key}",
        "free",
        0.0,
        0.0,
        note,
    )


# Container Insights (ECS, standard): billed as CloudWatch custom metrics and performance log
# events. ECS publishes 8 cluster-level and 11 service-level metrics (ECS Developer Guide,
# "Amazon ECS Container Insights metrics"); $0.30 per metric-month for the first 10,000
# (CloudWatch pricing, us-east-1; other regions within a few percent). The performance log events
# (about 1 KB per task a minute) are billed at the log ingestion price.
INSIGHTS_CLUSTER_METRICS = 8
INSIGHTS_SERVICE_METRICS = 11
INSIGHTS_METRICS = INSIGHTS_CLUSTER_METRICS + INSIGHTS_SERVICE_METRICS
INSIGHTS_METRIC_MONTH = 0.30
INSIGHTS_GB_PER_TASK_MONTH = 1024 * 60 * HOURS_PER_MONTH / 1e9


def insights_line(config: Config, prices: Prices) -> LineItem | None:
    if not config.service.container_insights:
        return None
    low, high = task_counts(config)
    for worker in config.workers:  # a worker is a service of the cluster too: its own service-level metrics
        w_low, w_high = worker_counts(worker)
        low, high = low + w_low, high + w_high
    services = 1 + len(config.workers)
    count_metrics = INSIGHTS_CLUSTER_METRICS + INSIGHTS_SERVICE_METRICS * services
    metrics = count_metrics * INSIGHTS_METRIC_MONTH

    def usd(count: int) -> float:
        return metrics + count * INSIGHTS_GB_PER_TASK_MONTH * prices.logs_ingest_gb

    return LineItem(
        "Container Insights",
        f"{count_metrics} metrics + performance logs of {_counted(low, high, 'task')}",
        f"{_rate(INSIGHTS_METRIC_MONTH)}/metric-month",
        usd(low),
        usd(high),
        "[service] container_insights; approximate: CloudWatch custom metrics (us-east-1 price) and about "
        "1 KB of performance log events per task a minute",
    )


# ALB access logs ([load_balancer] access_logs): ELB delivers free; S3 bills what is stored and the
# PUTs. An entry is about 500 bytes, gzip-compressed about 5:1 (ELB User Guide, "Access log
# entries"); each load balancer node writes a file every 5 minutes (one node per zone). Prices:
# S3 Standard, us-east-1 (other regions within about 10%): $0.023 per GB-month, $0.005 per 1,000 PUTs.
ACCESS_LOG_KB_PER_REQUEST = 0.1
S3_GB_MONTH = 0.023
S3_PUT_PER_1000 = 0.005
ACCESS_LOG_FILES_PER_NODE_MONTH = 12 * 24 * DAYS_PER_MONTH


def access_logs_line(config: Config, usage: Usage, prices: Prices) -> LineItem | None:
    if not config.load_balancer.access_logs:
        return None
    days = config.service.log_retention_days
    stored = usage.requests_per_month * ACCESS_LOG_KB_PER_REQUEST / 1e6 * days / DAYS_PER_MONTH
    zones, _why = alb_zones(config, prices.region)
    puts = zones * ACCESS_LOG_FILES_PER_NODE_MONTH
    monthly = stored * S3_GB_MONTH + puts / 1000 * S3_PUT_PER_1000
    return LineItem(
        "ALB access logs (S3)",
        f"{_num(stored)} GB kept ({days}-day lifecycle) + {_num(puts)} PUTs",
        f"{_rate(S3_GB_MONTH)}/GB-month",
        monthly,
        monthly,
        "[load_balancer] access_logs; approximate: about 0.1 KB per request compressed "
        "(--requests-per-month changes it), a file every 5 min per zone, S3 Standard us-east-1 prices",
    )


# CloudWatch alarms: $0.10 per metric a month for a standard-resolution alarm, and a metric-math
# alarm pays for each metric in it (STACK.md, "Deployment alarms"; aws.amazon.com/cloudwatch/pricing/,
# us-east-1; other regions within a few percent). The first 10 alarm metrics of an account are in the
# free tier, not counted here (an account has other alarms).
ALARM_METRIC_MONTH = 0.10


def alarms_line(config: Config) -> LineItem | None:
    from .steps.alarms import kinds, metrics_per_alarm

    per_alarm = metrics_per_alarm(config)
    cfg = config.service.deploy.alarms
    made = kinds(cfg)
    if not made and not cfg.names:
        return None
    metrics = sum(per_alarm[k] for k in made)
    usd_month = metrics * ALARM_METRIC_MONTH
    names = ", ".join(f"{k} ({per_alarm[k]} metrics)" for k in made) or "none of ecsup's"
    note = "[service.deploy.alarms]; metric math over both target groups, each metric billed"
    if cfg.names:
        note += f"; your {len(cfg.names)} alarm(s) in names are yours and not counted"
    return LineItem(
        "CloudWatch deployment alarms",
        f"{len(made)} alarm(s): {names}",
        f"{_rate(ALARM_METRIC_MONTH)}/metric-month",
        usd_month,
        usd_month,
        note,
    )


# -- deployments ---------------------------------------------------------------------------------
def overlap_minutes(deploy: DeployConfig) -> float:
    """Minutes during which a deployment runs the new tasks beside the old ones."""
    if deploy.strategy == "rolling":  # maximumPercent 200: all new tasks, then the old ones stop
        return TASK_START_MINUTES + DRAIN_MINUTES
    shifting = 0.0
    if deploy.strategy == "linear":
        steps = math.ceil(100.0 / deploy.step_percent)
        shifting = (steps - 1) * deploy.step_minutes
    elif deploy.strategy == "canary":
        shifting = float(deploy.canary_minutes)
    return TASK_START_MINUTES + shifting + deploy.bake_minutes + DRAIN_MINUTES


def _overlap_words(deploy: DeployConfig) -> str:
    start = f"{_num(TASK_START_MINUTES)} min to start the new tasks"
    drain = f"{_num(DRAIN_MINUTES)} min to drain the old"
    if deploy.strategy == "rolling":
        return f"maximumPercent 200: new and old tasks overlap for {start} + {drain}"
    parts = [start]
    if deploy.strategy == "linear":
        steps = math.ceil(100.0 / deploy.step_percent)
        parts.append(f"{steps - 1} x {deploy.step_minutes} min between {_num(deploy.step_percent)}% steps")
    elif deploy.strategy == "canary":
        parts.append(f"{deploy.canary_minutes} min of canary")
    parts.append(f"{deploy.bake_minutes} min bake")
    parts.append(drain)
    return "both revisions run in full for " + " + ".join(parts)


def deploy_line(config: Config, usage: Usage, prices: Prices) -> LineItem:
    deploy = config.service.deploy
    minutes = overlap_minutes(deploy)
    low, high = task_counts(config)
    ipv4 = prices.public_ipv4_hour if config.network.task_public_ip == "ENABLED" else 0.0

    def per_task_hour(count: int) -> float:
        return _compute(config, prices, count) / HOURS_PER_MONTH / count + ipv4 if count else 0.0

    def task_hours(count: int) -> float:
        return usage.deploys_per_month * count * minutes / 60

    hours_low, hours_high = task_hours(low), task_hours(high)
    usd_low, usd_high = hours_low * per_task_hour(low), hours_high * per_task_hour(high)
    rates = sorted({round(per_task_hour(n), 6) for n in (low, high) if n})
    unit = (" to ".join(_rate(r) for r in rates) or _rate(0.0)) + "/task-h"
    hours_text = _num(hours_low, 1) if hours_low == hours_high else f"{_num(hours_low, 1)} to {_num(hours_high, 1)}"
    title = {"blue_green": "blue/green", "rolling": "rolling"}.get(deploy.strategy, deploy.strategy)
    return LineItem(
        f"Deployment overlap ({title})",
        f"{_num(usage.deploys_per_month)} deploys x {_counted(low, high, 'task')} x {_num(minutes)} min "
        f"= {hours_text} task-h",
        unit,
        usd_low,
        usd_high,
        _overlap_words(deploy)
        + ("; the public IPv4 of each extra task included" if ipv4 else "")
        + "; --deploys-per-month changes it",
    )


# -- the estimate --------------------------------------------------------------------------------
def assumptions(config: Config, usage: Usage, prices: Prices) -> list[str]:
    zones, why = alb_zones(config, prices.region)
    out = [
        f"a month is {_num(HOURS_PER_MONTH)} hours; on-demand list prices without tax, free tier, credits or "
        "Savings Plans",
        f"{_num(usage.requests_per_month)} requests a month, spread evenly, each on a new connection (no "
        f"keep-alive: the pessimistic case) with {_num(usage.kb_per_request)} KB in and out; the listeners' "
        f"rules are within the {FREE_RULES} free ones",
        "LCUs an hour = the largest of: new connections a second / 25, active connections a minute / 3,000, "
        "GB processed / 1, rule evaluations a second / 1,000 (Elastic Load Balancing pricing)",
        f"the ALB is in {zones} availability zones ({why})",
        f"{_num(usage.log_gb_per_month)} GB of logs a month, stored uncompressed for "
        f"{config.service.log_retention_days} days",
        f"{_num(usage.deploys_per_month)} deployments a month; a new task takes about "
        f"{_num(TASK_START_MINUTES)} minutes to start and pass its health checks",
    ]
    if config.service.autoscaling is not None:
        scaling = config.service.autoscaling
        out.append(
            f"auto scaling between {scaling.min} and {scaling.max} tasks: the totals bracket a month at either end"
        )
    if config.service.capacity != "FARGATE":
        out.append(prices.spot_basis(config.service.cpu_architecture))
    if config.jobs:
        out.append(
            "a job's runs a month are counted from its schedule in a 30-day month (rate(): 30 days over the "
            "rate; cron(): the minutes it names; at(): one run), each as long as its expected_minutes, "
            f"else its timeout; a run is about {TRANSITIONS_PER_RUN} Step Functions state transitions and one "
            "EventBridge Scheduler invocation"
        )
    if any(w.follows_service_image for w in config.workers):
        out.append(
            "the workers' rolling deployments (new tasks beside the old for a few minutes per release) are not counted"
        )
    if config.network.egress in ("nat", "endpoints"):
        out.append(
            f"{_num(usage.network_gb_per_month)} GB a month through the "
            + ("NAT gateway" if config.network.egress == "nat" else "VPC endpoints")
            + " (image pulls, logs, AWS API calls)"
        )
    out.append(
        "not counted: data transfer out to the internet and between zones, ECR storage and image pulls, "
        "the CloudWatch alarms of auto scaling, "
        + ("" if config.network.egress in ("nat", "endpoints") else "NAT gateways or VPC endpoints of your own, ")
        + "ephemeral storage over 20 GB"
    )
    return out


def estimate(
    config: Config,
    usage: Usage,
    prices: Prices,
    sharing: Sharing | None = None,
    network_sharing: Sharing | None = None,
) -> Estimate:
    """The stack's monthly cost, one line per thing AWS bills (and the free ones, at 0.00). On a
    shared load balancer, its hours and addresses are split equally among its stacks (``sharing``);
    on a shared network ([network] shared), its NAT gateway and endpoints among its stacks
    (``network_sharing``)."""
    lines = [
        compute_line(config, prices),
        *(worker_line(worker, prices) for worker in config.workers),
        *(job_line(job, prices) for job in config.jobs),
        *job_service_lines(config, prices),
        *load_balancer_lines(usage, prices, sharing),
        public_ipv4_line(config, prices, sharing, network_sharing),
        *network_lines(config, usage, prices, network_sharing),
        *logs_lines(config, usage, prices),
        route53_line(config, prices),
        certificate_line(config),
        secrets_line(config),
        deploy_line(config, usage, prices),
    ]
    for optional in (
        insights_line(config, prices),
        access_logs_line(config, usage, prices),
        alarms_line(config),
    ):
        if optional is not None:
            lines.append(optional)
    return Estimate(
        region=prices.region,
        stack=config.names.stack,
        lines=lines,
        assumptions=assumptions(config, usage, prices),
        prices=prices,
        usage=usage,
        jobs=[job_runs(job) for job in config.jobs],
    )


def sharing_saves(config: Config, prices: Prices, stacks: int) -> tuple[float, float]:
    """(this stack's share of the shared load balancer's hours and addresses a month, what an own
    load balancer's would cost): what joining saves."""
    zones, _ = alb_zones(config, prices.region)
    own = HOURS_PER_MONTH * (prices.alb_hour + zones * prices.public_ipv4_hour)
    return own / max(1, stacks), own


# -- plan and create: the monthly compute cost before -> after -----------------------------
@dataclass(frozen=True)
class Shape:
    """What Fargate bills a service for: task size, count, architecture, capacity."""

    cpu: int
    memory: int
    count: int
    architecture: str
    capacity: str
    on_demand_base: int = 1
    on_demand_percent: int = 0

    def monthly(self, region: str, prices: Prices) -> float:
        return monthly_compute(
            region,
            self.cpu,
            self.memory,
            self.count,
            self.architecture,
            self.capacity,
            self.on_demand_base,
            self.on_demand_percent,
            prices,
        )


def capacity_of(service: dict[str, Any]) -> tuple[str, int, int]:
    """(capacity, on-demand base, on-demand percent) of a described ECS service."""
    strategy = service.get("capacityProviderStrategy") or []
    weights = {i.get("capacityProvider"): i for i in strategy}
    if "FARGATE_SPOT" not in weights:
        return "FARGATE", 1, 0
    if "FARGATE" not in weights:
        return "FARGATE_SPOT", 0, 0
    on_demand, spot = weights["FARGATE"], weights["FARGATE_SPOT"]
    total = (on_demand.get("weight") or 0) + (spot.get("weight") or 0) or 1
    return "mixed", int(on_demand.get("base") or 0), round(100 * (on_demand.get("weight") or 0) / total)


def compute_change(
    config: Config, region: str, live: dict[str, Any] | None, size: tuple[int, int, str] | None, count_changes: bool
) -> tuple[Shape | None, Shape] | None:
    """(before, after) when the plan changes what Fargate bills (cpu, memory, count,
    architecture, capacity); None when it does not. ``live``: the described service (None:
    a new one); ``size``: the running task definition's (cpu, memory, architecture)."""
    svc = config.service
    before = None
    if live is not None and size is not None:
        capacity, base, percent = capacity_of(live)
        before = Shape(size[0], size[1], int(live.get("desiredCount") or 0), size[2], capacity, base, percent)
    count = svc.desired_count if before is None or count_changes else before.count
    after = Shape(
        svc.cpu, svc.memory, count, svc.cpu_architecture, svc.capacity, svc.on_demand_base, svc.on_demand_percent
    )
    if before is not None and before == after:
        return None
    if (
        before is not None
        and (before.capacity, after.capacity) == ("FARGATE", "FARGATE")
        and before
        == Shape(
            after.cpu,
            after.memory,
            after.count,
            after.architecture,
            "FARGATE",
            before.on_demand_base,
            before.on_demand_percent,
        )
    ):
        return None
    return before, after
