"""Workers and scheduled jobs: ``[workers.<name>]`` and ``[jobs.<name>]``, read and validated.

A stack's workloads are its web service ([service]), each worker (an ECS service with no load
balancer, rolling with the circuit breaker) and each job (an EventBridge Scheduler schedule
that runs a one-off task). Every workload has its own task definition family; workers and jobs
default to the web service's image (released with it), cpu, memory, capacity and architecture,
and add to (and override) its environment and secrets.

Validation is local (no AWS call); each problem names its key path, e.g. ``workers.mailer.cpu``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

WEB = "web"  # how --workload names the web service; no worker or job may take the name

# EventBridge Scheduler's schedule names: 1-64 characters of [0-9a-zA-Z-_.] (CreateSchedule, Name);
# ecsup's schedule, the job's family and a worker's service are <app>-<env>-<name>, and the same
# limit is kept for workers (their service, family and scaling policy names read alike).
WORKLOAD_NAME_LIMIT = 64
# A job's runs are started by "ecsup-job/<name>" (steps/jobs.started_by: what `status`, `run --job`
# and destroy find them by, with ListTasks' startedBy filter). ECS takes "Up to 36 letters
# (uppercase and lowercase), numbers, hyphens (-), forward slash (/), and underscores (_)" there
# (ECS API reference, StartTask startedBy); RunTask answers "startedBy longer than 36." past it
# (mapbox/ecs-watchbot#78, convox/rack#1843) and ListTasks "ownerId longer than 36."
# (aws/amazon-ecs-cli#97), whatever RunTask's reference says today. So a job's name is at most 26.
JOB_STARTED_BY_PREFIX = "ecsup-job/"
JOB_NAME_LIMIT = 36 - len(JOB_STARTED_BY_PREFIX)
STOP_TIMEOUT_RANGE = (2, 120)  # Fargate's stopTimeout (ContainerDefinition.stopTimeout)
JOB_TIMEOUT_RANGE = (60, 86400)


def capacity_strategy(capacity: str, on_demand_base: int, on_demand_percent: int) -> list[dict[str, Any]] | None:
    """ECS capacityProviderStrategy, or None for launch type FARGATE (on demand)."""
    if capacity == "FARGATE":
        return None
    if capacity == "FARGATE_SPOT":
        return [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    return [
        {"capacityProvider": "FARGATE", "base": on_demand_base, "weight": on_demand_percent},
        {"capacityProvider": "FARGATE_SPOT", "base": 0, "weight": 100 - on_demand_percent},
    ]


@dataclass(frozen=True)
class WorkerScaling:
    """[workers.<name>.autoscaling]: target tracking on the worker's average CPU."""

    min: int
    max: int
    cpu_target: float
    scale_in_cooldown: int = 300
    scale_out_cooldown: int = 60
    disable_scale_in: bool = False


@dataclass(frozen=True)
class Workload:
    """What a worker and a job share: a task definition family of the stack's image (or its own),
    with the web service's settings unless set."""

    name: str
    command: tuple[str, ...] = ()  # () = the image's own command
    image: str = ""  # "" = [service] image, released with it by `ecsup deploy`
    cpu: int = 256
    memory: int = 512
    cpu_architecture: str = "X86_64"
    capacity: str = "FARGATE"
    on_demand_base: int = 1
    on_demand_percent: int = 0
    environment: tuple[tuple[str, str], ...] = ()  # [service.environment] with this workload's on top
    secrets: tuple[tuple[str, str], ...] = ()  # [service.secrets] with this workload's on top

    @property
    def follows_service_image(self) -> bool:
        """Released by `ecsup deploy --image` with the web service (no image of its own)."""
        return not self.image

    @property
    def capacity_provider_strategy(self) -> list[dict[str, Any]] | None:
        return capacity_strategy(self.capacity, self.on_demand_base, self.on_demand_percent)


@dataclass(frozen=True)
class WorkerConfig(Workload):
    desired_count: int = 1
    stop_timeout: int | None = None  # seconds ECS waits after SIGTERM (None: ECS's default, 30)
    autoscaling: WorkerScaling | None = None


@dataclass(frozen=True)
class JobConfig(Workload):
    schedule: str = ""  # cron(...) / rate(...) / at(...), EventBridge Scheduler's expressions
    timezone: str = "UTC"
    timeout: int = 3600  # seconds; a run past it counts as failed
    alarm: bool = False  # a CloudWatch alarm on failed runs
    notify: str = ""  # an SNS topic ARN the alarm notifies (implies alarm)
    expected_minutes: float | None = None  # for `ecsup cost`: a run's usual length (default: timeout)

    @property
    def alarmed(self) -> bool:
        return self.alarm or bool(self.notify)


# --- reading ---------------------------------------------------------------------------------

# key -> (type, default); None as default: take the web service's value
_COMMON: dict[str, tuple[type, Any]] = {
    "command": (list, None),
    "image": (str, ""),
    "cpu": (int, None),
    "memory": (int, None),
    "cpu_architecture": (str, None),
    "capacity": (str, None),
    "on_demand_base": (int, None),
    "on_demand_percent": (int, None),
    "environment": (dict, {}),
    "secrets": (dict, {}),
}
_WORKER: dict[str, tuple[type, Any]] = _COMMON | {
    "desired_count": (int, 1),
    "stop_timeout": (int, None),
    "autoscaling": (dict, None),
}
_JOB: dict[str, tuple[type, Any]] = _COMMON | {
    "schedule": (str, None),
    "timezone": (str, "UTC"),
    "timeout": (int, 3600),
    "alarm": (bool, False),
    "notify": (str, ""),
    "expected_minutes": (float, None),
}
_SCALING: dict[str, tuple[type, Any]] = {
    "min": (int, None),
    "max": (int, None),
    "cpu_target": (float, None),
    "scale_in_cooldown": (int, 300),
    "scale_out_cooldown": (int, 60),
    "disable_scale_in": (bool, False),
}
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_SNS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


def _read(table: Any, schema: dict[str, tuple[type, Any]], prefix: str, problems: list[tuple[str, str]]) -> dict:
    from .config import _TYPE_NAMES, _type_ok

    out: dict[str, Any] = {}
    if not isinstance(table, dict):
        problems.append((prefix, "must be a table"))
        table = {}
    for key in table:
        if key not in schema:
            problems.append((f"{prefix}.{key}", f"unknown key (known keys here: {', '.join(sorted(schema))})"))
    for key, (expected, default) in schema.items():
        if key not in table:
            out[key] = default
            continue
        value = table[key]
        if not _type_ok(value, expected):
            problems.append((f"{prefix}.{key}", f"must be {_TYPE_NAMES[expected]}, got {type(value).__name__}"))
            out[key] = default
            continue
        out[key] = value
    out["__given__"] = set(table)
    return out


def _merged(
    service_env: dict[str, Any],
    service_secrets: dict[str, Any],
    own_env: dict[str, Any],
    own_secrets: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The web service's variables with the workload's on top: a workload's variable replaces the
    service's of the same name, plain or secret."""
    env = {k: v for k, v in service_env.items() if k not in own_secrets} | own_env
    secrets = {k: v for k, v in service_secrets.items() if k not in own_env} | own_secrets
    return env, secrets


def read_workloads(
    data: dict[str, Any], svc: dict[str, Any], stack: str | None, problems: list[tuple[str, str]]
) -> tuple[tuple[WorkerConfig, ...], tuple[JobConfig, ...]]:
    """Read and validate [workers.*] and [jobs.*] (``data``: the whole file; ``svc``: [service] as
    read, for the defaults; ``stack``: <app>-<env> when both are valid names, for the length checks)."""
    from .config import _env_value

    workers: list[WorkerConfig] = []
    jobs: list[JobConfig] = []
    seen: dict[str, str] = {}
    for section, schema in (("workers", _WORKER), ("jobs", _JOB)):
        tables = data.get(section, {})
        if not isinstance(tables, dict):
            problems.append((section, f"must be a table of tables ([{section}.<name>])"))
            continue
        for name, table in sorted(tables.items()):
            prefix = f"{section}.{name}"
            _check_workload_name(name, prefix, section, stack, seen, problems)
            raw = _read(table, schema, prefix, problems)
            common = _common(raw, svc, prefix, problems)
            if common is None:
                continue
            env, secrets = common
            fields: dict[str, Any] = {
                "name": name,
                "command": tuple(str(w) for w in raw["command"] or ()),
                "image": raw["image"].strip(),
                "cpu": raw["cpu"] if raw["cpu"] is not None else svc["cpu"],
                "memory": raw["memory"] if raw["memory"] is not None else svc["memory"],
                "cpu_architecture": raw["cpu_architecture"] or svc["cpu_architecture"],
                "capacity": raw["capacity"] or svc["capacity"],
                "on_demand_base": raw["on_demand_base"] if raw["on_demand_base"] is not None else svc["on_demand_base"],
                "on_demand_percent": raw["on_demand_percent"]
                if raw["on_demand_percent"] is not None
                else svc["on_demand_percent"],
                "environment": tuple(sorted((k, _env_value(v)) for k, v in env.items())),
                "secrets": tuple(sorted((k, str(v)) for k, v in secrets.items())),
            }
            _check_resources(fields, raw, prefix, problems)
            if section == "workers":
                workers.append(
                    WorkerConfig(
                        **fields,
                        desired_count=raw["desired_count"],
                        stop_timeout=raw["stop_timeout"],
                        autoscaling=_worker_scaling(raw, prefix, problems),
                    )
                )
                _check_worker(raw, prefix, problems)
            else:
                job = JobConfig(
                    **fields,
                    schedule=(raw["schedule"] or "").strip(),
                    timezone=raw["timezone"].strip(),
                    timeout=raw["timeout"],
                    alarm=raw["alarm"],
                    notify=raw["notify"].strip(),
                    expected_minutes=None if raw["expected_minutes"] is None else float(raw["expected_minutes"]),
                )
                _check_job(job, raw, prefix, problems)
                jobs.append(job)
    return tuple(workers), tuple(jobs)


def _check_workload_name(
    name: str, prefix: str, section: str, stack: str | None, seen: dict[str, str], problems: list[tuple[str, str]]
) -> None:
    if not _NAME_RE.fullmatch(name):
        problems.append(
            (
                prefix,
                f"{name!r} must be lowercase letters, digits and hyphens, starting and ending with a letter or digit",
            )
        )
        return
    if name == WEB:
        problems.append((prefix, f"{WEB!r} names the web service ([service]): choose another name"))
    if name in seen:
        problems.append((prefix, f"{name!r} is also {seen[name]}: a worker and a job need different names"))
    seen[name] = prefix
    if section == "jobs" and len(name) > JOB_NAME_LIMIT:
        problems.append(
            (
                prefix,
                f"a job's name is at most {JOB_NAME_LIMIT} characters ({name!r} has {len(name)}): its runs are "
                f"started by {JOB_STARTED_BY_PREFIX}<name>, which ECS takes up to 36 characters long",
            )
        )
    if stack is not None and len(f"{stack}-{name}") > WORKLOAD_NAME_LIMIT:
        full = f"{stack}-{name}"
        problems.append(
            (
                prefix,
                f"the {'service' if section == 'workers' else 'schedule'} name {full!r} is {len(full)} characters; "
                f"the limit is {WORKLOAD_NAME_LIMIT}: shorten the name by {len(full) - WORKLOAD_NAME_LIMIT}",
            )
        )


def _common(
    raw: dict[str, Any], svc: dict[str, Any], prefix: str, problems: list[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Check the keys a worker and a job share; return the merged environment and secrets."""
    from .config import _ENV_VAR_RE, check_ssm_name

    command = raw["command"]
    if command is not None and (not command or not all(isinstance(w, str) and w for w in command)):
        problems.append(
            (f"{prefix}.command", 'must be a list of non-empty strings, e.g. ["bundle", "exec", "sidekiq"]')
        )
    if command is None and not raw["image"]:
        problems.append(
            (
                f"{prefix}.command",
                "is required (without it the workload would run the web service's command): "
                'e.g. command = ["bundle", "exec", "sidekiq"]',
            )
        )
    image = raw["image"]
    if "image" in raw["__given__"] and (not image.strip() or any(c.isspace() for c in image.strip())):
        problems.append((f"{prefix}.image", "must be an image reference (or leave it out for [service] image)"))
    for name, value in raw["environment"].items():
        key = f"{prefix}.environment.{name}"
        if not _ENV_VAR_RE.fullmatch(name):
            problems.append((key, "is not a valid environment variable name (letters, digits, '_')"))
        if not isinstance(value, str | int | float | bool):
            problems.append((key, "must be a string, number or boolean"))
        elif value == "":
            problems.append((key, "must not be empty: ECS drops variables with empty values (leave it out)"))
    for name, param in raw["secrets"].items():
        key = f"{prefix}.secrets.{name}"
        if not _ENV_VAR_RE.fullmatch(name):
            problems.append((key, "is not a valid environment variable name (letters, digits, '_')"))
        if name in raw["environment"]:
            problems.append((key, f"is also set in {prefix}.environment: a variable is either plain or secret"))
        if not isinstance(param, str):
            problems.append((key, "must be an SSM parameter name (a string)"))
            continue
        why = check_ssm_name(param)
        if why:
            problems.append((key, f"SSM parameter name {param!r} {why}"))
    service_env = svc["environment"] if isinstance(svc["environment"], dict) else {}
    service_secrets = svc["secrets"] if isinstance(svc["secrets"], dict) else {}
    own_secrets = {k: v for k, v in raw["secrets"].items() if isinstance(v, str)}
    env, secrets = _merged(service_env, service_secrets, raw["environment"], own_secrets)
    params = list(secrets.values())
    if len(set(params)) != len(params):
        problems.append((f"{prefix}.secrets", "two variables use the same SSM parameter"))
    return env, secrets


def _check_resources(fields: dict[str, Any], raw: dict[str, Any], prefix: str, problems: list[tuple[str, str]]) -> None:
    from .config import ARCHITECTURES, CAPACITIES, FARGATE_MEMORY

    cpu, memory = fields["cpu"], fields["memory"]
    where = "cpu" if raw["cpu"] is not None else "memory"
    if cpu not in FARGATE_MEMORY:
        if raw["cpu"] is not None:
            problems.append((f"{prefix}.cpu", f"{cpu} is not a Fargate cpu value; use one of {_join(FARGATE_MEMORY)}"))
    elif memory not in FARGATE_MEMORY[cpu] and (raw["cpu"] is not None or raw["memory"] is not None):
        problems.append(
            (
                f"{prefix}.{where if raw['memory'] is None else 'memory'}",
                f"{memory} MiB is not valid with cpu {cpu}; use one of {_join(FARGATE_MEMORY[cpu])}"
                + ("" if raw["memory"] is not None else f" (memory {memory} is [service]'s: set {prefix}.memory)"),
            )
        )
    if raw["cpu_architecture"] is not None and raw["cpu_architecture"] not in ARCHITECTURES:
        problems.append((f"{prefix}.cpu_architecture", f'{raw["cpu_architecture"]!r} must be "X86_64" or "ARM64"'))
    if raw["capacity"] is not None and raw["capacity"] not in CAPACITIES:
        problems.append((f"{prefix}.capacity", f'{raw["capacity"]!r} must be "FARGATE", "FARGATE_SPOT" or "mixed"'))
    given = raw["__given__"] & {"on_demand_base", "on_demand_percent"}
    if given and fields["capacity"] != "mixed":
        problems.append((f"{prefix}.{sorted(given)[0]}", 'is used only with capacity = "mixed"'))
    if not 0 <= fields["on_demand_base"] <= 100000:
        problems.append((f"{prefix}.on_demand_base", f"{fields['on_demand_base']} must be between 0 and 100000"))
    if not 0 <= fields["on_demand_percent"] <= 100:
        problems.append((f"{prefix}.on_demand_percent", f"{fields['on_demand_percent']} must be between 0 and 100"))


def _join(values: Any) -> str:
    return ", ".join(map(str, values))


def _check_worker(raw: dict[str, Any], prefix: str, problems: list[tuple[str, str]]) -> None:
    if not 0 <= raw["desired_count"] <= 1000:
        problems.append((f"{prefix}.desired_count", f"{raw['desired_count']} must be between 0 and 1000"))
    low, high = STOP_TIMEOUT_RANGE
    if raw["stop_timeout"] is not None and not low <= raw["stop_timeout"] <= high:
        problems.append(
            (f"{prefix}.stop_timeout", f"{raw['stop_timeout']} must be from {low} to {high} seconds (Fargate's limit)")
        )


def _worker_scaling(raw: dict[str, Any], prefix: str, problems: list[tuple[str, str]]) -> WorkerScaling | None:
    if raw["autoscaling"] is None:
        return None
    key = f"{prefix}.autoscaling"
    table = raw["autoscaling"]
    if "requests_per_target" in table:
        problems.append(
            (f"{key}.requests_per_target", "a worker has no load balancer: scale it on cpu_target (or leave it fixed)")
        )
        table = {k: v for k, v in table.items() if k != "requests_per_target"}
    scaling = _read(table, _SCALING, key, problems)
    ok = True
    for name in ("min", "max", "cpu_target"):
        if scaling[name] is None:
            problems.append((f"{key}.{name}", f"is required in [{key}]"))
            ok = False
    for name in ("min", "max"):
        if scaling[name] is not None and not 0 <= scaling[name] <= 1000:
            problems.append((f"{key}.{name}", f"{scaling[name]} must be between 0 and 1000"))
            ok = False
    if ok and scaling["min"] > scaling["max"]:
        problems.append((f"{key}.min", f"{scaling['min']} is more than max ({scaling['max']})"))
    if scaling["cpu_target"] is not None and not 1 <= scaling["cpu_target"] <= 100:
        problems.append((f"{key}.cpu_target", f"{scaling['cpu_target']} must be a percentage from 1 to 100"))
        ok = False
    for name in ("scale_in_cooldown", "scale_out_cooldown"):
        if not 0 <= scaling[name] <= 86400:
            problems.append((f"{key}.{name}", f"{scaling[name]} must be between 0 and 86400 seconds"))
    if not ok:
        return None
    return WorkerScaling(
        min=scaling["min"],
        max=scaling["max"],
        cpu_target=float(scaling["cpu_target"]),
        scale_in_cooldown=scaling["scale_in_cooldown"],
        scale_out_cooldown=scaling["scale_out_cooldown"],
        disable_scale_in=scaling["disable_scale_in"],
    )


# --- schedule expressions (EventBridge Scheduler, "Schedule types") ----------------------------

_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT_RE = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
_CRON_RE = re.compile(r"^cron\((.*)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/\-#LW]+$")


def schedule_problem(expression: str) -> str | None:
    """Why an EventBridge Scheduler expression is not valid, or None. cron() has six fields
    (minutes hours day-of-month month day-of-week year) and exactly one of day-of-month and
    day-of-week is "?"; rate() takes a positive whole number and minute(s)/hour(s)/day(s), singular
    for 1 ("Schedule types in EventBridge Scheduler", EventBridge Scheduler User Guide)."""
    rate = _RATE_RE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return "rate() needs a value of 1 or more"
        if (value == 1) != (not unit.endswith("s")):
            return f"rate({value} {unit}): the unit is singular for 1, plural otherwise (rate(1 hour), rate(2 hours))"
        return None
    if _AT_RE.fullmatch(expression):
        from datetime import datetime

        try:
            datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return "at() needs a date and time that exists (at(yyyy-mm-ddThh:mm:ss), e.g. at(2027-01-01T03:00:00))"
        return None
    cron = _CRON_RE.fullmatch(expression)
    if not cron:
        return 'must be cron(...), rate(...) or at(...), e.g. "cron(0 3 * * ? *)" or "rate(1 hour)"'
    fields = cron.group(1).split()
    if len(fields) != 6:
        return (
            f"cron() has 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}: "
            'e.g. "cron(0 3 * * ? *)"'
        )
    if not all(_CRON_FIELD.fullmatch(f) for f in fields):
        return "cron() fields may contain only digits, names, * ? , / - # L W"
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        return 'cron() needs "?" in exactly one of day-of-month (3rd field) and day-of-week (5th): "cron(0 3 * * ? *)"'
    # each field's values within its range (minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12
    # or JAN-DEC, day-of-week 1-7 or SUN-SAT, year 1970-2199): EventBridge Scheduler refuses the
    # others at CreateSchedule (ValidationException). The parser `status` computes next runs with
    # says which; what it does not compute (NotSupported alone) is left for AWS to judge.
    from .schedule_times import BadValue, Cron, NotSupported

    try:
        Cron.parse(expression)
    except BadValue as exc:
        return f"cron() {exc}"
    except NotSupported:
        pass
    return None


def timezone_problem(name: str) -> str | None:
    import zoneinfo

    if name == "UTC":
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if not zoneinfo.available_timezones():  # no time zone database on this machine: AWS decides
            return None
        return f"{name!r} is not an IANA time zone name (e.g. Europe/Paris, Asia/Tokyo, UTC)"
    return None


def _check_job(job: JobConfig, raw: dict[str, Any], prefix: str, problems: list[tuple[str, str]]) -> None:
    if raw["schedule"] is None:
        problems.append((f"{prefix}.schedule", 'is required: e.g. "cron(0 3 * * ? *)" or "rate(1 day)"'))
    else:
        why = schedule_problem(job.schedule)
        if why:
            problems.append((f"{prefix}.schedule", f"{job.schedule!r}: {why}"))
    why = timezone_problem(job.timezone)
    if why:
        problems.append((f"{prefix}.timezone", why))
    low, high = JOB_TIMEOUT_RANGE
    if not low <= job.timeout <= high:
        problems.append((f"{prefix}.timeout", f"{job.timeout} must be from {low} to {high} seconds"))
    if job.notify and not _SNS_ARN_RE.fullmatch(job.notify):
        problems.append(
            (f"{prefix}.notify", f"{job.notify!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)")
        )
    if job.notify and "alarm" in raw["__given__"] and not job.alarm:
        problems.append(
            (f"{prefix}.notify", "needs the alarm: remove alarm = false (notify sends the alarm's state changes)")
        )
    if job.expected_minutes is not None and not 0 < job.expected_minutes <= job.timeout / 60:
        problems.append(
            (
                f"{prefix}.expected_minutes",
                f"{job.expected_minutes:g} must be more than 0 and at most the timeout ({job.timeout / 60:g} minutes)",
            )
        )
