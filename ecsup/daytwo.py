"""Day-two operations on a running stack: secrets (set, list, unset) and scale. Like
`deploy`, these are operations on what runs, not steps: each reads what is live, takes the
stack's lock for its change, and returns what it changed as data (cli.py prints it).

ECS reads a task's secrets when the task starts (ECS Developer Guide, "Pass sensitive data to
an Amazon ECS container": "Your container receives the value at launch"): a new parameter
version reaches only tasks started afterwards. `secrets list` and `status` compare each
parameter's LastModifiedDate with the running tasks' ``startedAt``; `restart` (deploy.py)
replaces the tasks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .context import Context
from .errors import (
    EXIT_REFUSED,
    AwsError,
    EcsupError,
    OptionError,
    OwnershipConflict,
    doing,
    error_code,
    is_code,
)
from .names import tag_dict


class NotConfirmed(EcsupError):
    exit_code = EXIT_REFUSED


# -- running tasks ---------------------------------------------------------------------------
def task_starts(ctx: Context) -> list[datetime]:
    """When each running task of the service started (ListTasks by service, every page;
    DescribeTasks 100 at a time): what a secret's last change is compared with."""
    ecs = ctx.client("ecs")
    with doing(f"list the tasks of service {ctx.names.service}"):
        try:
            pages = ecs.get_paginator("list_tasks").paginate(
                cluster=ctx.names.cluster, serviceName=ctx.names.service, desiredStatus="RUNNING"
            )
            arns = [arn for page in pages for arn in page.get("taskArns", [])]
        except Exception as exc:
            if is_code(exc, "ClusterNotFoundException", "ServiceNotFoundException"):
                return []
            raise
        starts: list[datetime] = []
        for i in range(0, len(arns), 100):
            for task in ecs.describe_tasks(cluster=ctx.names.cluster, tasks=arns[i : i + 100]).get("tasks", []):
                started = task.get("startedAt") or task.get("createdAt")
                if isinstance(started, datetime):
                    starts.append(started)
    return starts


# -- secrets -----------------------------------------------------------------------------------
@dataclass
class SecretInfo:
    name: str  # the variable the container sees
    parameter: str  # the SSM parameter
    exists: bool
    type: str | None = None
    version: int | None = None
    last_changed: datetime | None = None
    # the parameter changed after the oldest running task started: that task holds the old value
    newer_than_tasks: bool = False

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_changed"] = self.last_changed.isoformat() if self.last_changed else None
        return out

    def line(self) -> str:
        if not self.exists:
            return f"{self.name}: {self.parameter} does not exist (`ecsup secrets set {self.name}` creates it)"
        when = self.last_changed.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if self.last_changed else "?"
        text = f"{self.name}: {self.parameter}, {self.type}, version {self.version}, last changed {when}"
        if self.newer_than_tasks:
            text += " -- after the running tasks started: they hold the previous value (`ecsup restart`)"
        return text


def _configured(ctx: Context, name: str) -> str:
    secrets = dict(ctx.config.service.secrets)
    if name not in secrets:
        known = ", ".join(sorted(secrets)) or "none"
        raise OptionError(
            f"{name} is not a secret of {ctx.names.stack}: [service.secrets] in ecsup.toml lists {known}",
            hint=f'add `{name} = "/{ctx.names.app}/{ctx.names.env}/{name}"` under [service.secrets] first',
        )
    return secrets[name]


def secrets_info(
    ctx: Context, starts: list[datetime] | None = None, found: dict[str, dict[str, Any]] | None = None
) -> list[SecretInfo]:
    """Each configured secret's parameter as SSM describes it (never its value); ``found``: the
    parameters described already (the secrets step's, for `status`)."""
    from .steps.secrets import describe_parameters

    secrets = dict(ctx.config.service.secrets)
    if not secrets:
        return []
    if found is None:
        found = describe_parameters(ctx, sorted(set(secrets.values())))
    if starts is None:
        starts = task_starts(ctx) if found else []
    oldest = min(starts) if starts else None
    out = []
    for var, parameter in secrets.items():
        p = found.get(parameter)
        if p is None:
            out.append(SecretInfo(var, parameter, False))
            continue
        changed = p.get("LastModifiedDate")
        changed = changed if isinstance(changed, datetime) else None
        newer = bool(oldest and changed and _aware(changed) > _aware(oldest))
        out.append(SecretInfo(var, parameter, True, p.get("Type"), p.get("Version"), changed, newer))
    return out


def _aware(when: datetime) -> datetime:
    from datetime import UTC

    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class SecretChange:
    name: str
    parameter: str
    action: str  # "created", "updated", "deleted", "unchanged"
    version: int | None = None
    version_before: int | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def set_secret(ctx: Context, name: str, value: str) -> SecretChange:
    """A new version of the secret's SecureString parameter (PutParameter with Overwrite), under
    the stack's lock. An existing parameter keeps its KMS key (given again: PutParameter without
    KeyId would encrypt the new version with the account's default key, alias/aws/ssm) and its
    tags (AWS refuses Tags together with Overwrite: "tags and overwrite can't be used together");
    a missing one is created as `create` would (the configured key, the stack's tags)."""
    from . import lock
    from .steps.secrets import TOO_LONG_HINT, VALUE_LIMIT, describe_parameters, kms_key_arn, value_too_long

    parameter = _configured(ctx, name)
    if not value:
        raise OptionError(f"the value for {name} is empty", hint="SSM stores no empty values: give one")
    ctx.secret_values.add(value)  # redacted from anything printed from here on
    if len(value) > VALUE_LIMIT["Standard"]:  # before any call; an existing Advanced parameter takes more
        before = describe_parameters(ctx, [parameter]).get(parameter)
        tier = str((before or {}).get("Tier") or "Standard")
        long = value_too_long(name, parameter, value, tier)
        if long:
            raise OptionError(f"{name}: {long[1]}", hint=TOO_LONG_HINT)
    before = describe_parameters(ctx, [parameter]).get(parameter)
    kwargs: dict[str, Any] = {"Name": parameter, "Value": value, "Type": "SecureString"}
    if before is None:
        kwargs["Tags"] = ctx.names.tag_list()
        kwargs["Description"] = f"ecsup {ctx.names.stack}"
        key = kms_key_arn(ctx)
        if key:
            kwargs["KeyId"] = key
    else:
        kind = str(before.get("Type") or "SecureString")
        kwargs["Type"] = kind  # AWS does not change a parameter's type on overwrite
        if kind == "SecureString" and before.get("KeyId"):
            kwargs["KeyId"] = before["KeyId"]
        kwargs["Overwrite"] = True
    with lock.held(ctx, "secrets set"):
        try:
            answer = ctx.client("ssm").put_parameter(**kwargs)
        except EcsupError:  # ecsup's own (a stopped --endpoint-url, context.py): already says what to do
            raise
        except Exception as exc:  # never let botocore echo the parameters (the value) into a message
            code = error_code(exc) or type(exc).__name__
            raise AwsError(f"put SSM parameter {parameter}: {code}", code) from None
    change = SecretChange(
        name,
        parameter,
        "created" if before is None else "updated",
        answer.get("Version"),
        None if before is None else before.get("Version"),
    )
    if before is not None and before.get("Type") != "SecureString":
        change.notes.append(f"{parameter} is a {before.get('Type')}, not a SecureString: consider re-creating it")
    return change


def unset_secret(ctx: Context, name: str, purge: bool, confirm: Any = None) -> SecretChange:
    """ecsup.toml is yours (ecsup never edits it): without ``purge``, nothing changes in AWS and
    the answer says what to remove from the file; with it, the SSM parameter is deleted -- only
    one ecsup created (the stack's tags), after ``confirm`` said yes."""
    from . import lock
    from .steps.secrets import describe_parameters

    parameter = _configured(ctx, name)
    line = f'{name} = "{parameter}"'
    todo = (
        f"remove `{line}` from [service.secrets] in ecsup.toml, then `ecsup create` registers a task "
        "definition revision without it (the tasks stop receiving it once replaced)"
    )
    found = describe_parameters(ctx, [parameter]).get(parameter)
    if not purge:
        kept = f"the SSM parameter {parameter} is kept (`--purge` deletes it)" if found else ""
        return SecretChange(name, parameter, "unchanged", notes=[todo] + ([kept] if kept else []))
    if found is None:
        return SecretChange(name, parameter, "unchanged", notes=[f"{parameter} does not exist", todo])
    with doing(f"read the tags of SSM parameter {parameter}"):
        tags = tag_dict(
            ctx.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=parameter)["TagList"]
        )
    if not ctx.names.owns(tags):
        raise OwnershipConflict(
            f"SSM parameter {parameter} was not created by ecsup for {ctx.names.stack} (no matching tags): "
            "it is left alone",
            hint=f"delete it yourself if it is no longer needed: `aws ssm delete-parameter --name {parameter}`",
        )
    question = (
        f"delete SSM parameter {parameter} (version {found.get('Version')})? Running tasks keep the value they "
        f"started with; new tasks cannot start while the task definition still names {name}"
    )
    if confirm is None or not confirm(question):
        raise NotConfirmed(
            f"refusing to delete SSM parameter {parameter} without confirmation",
            hint="pass --yes to confirm",
        )
    with lock.held(ctx, "secrets unset"), doing(f"delete SSM parameter {parameter}"):
        try:
            ctx.client("ssm").delete_parameter(Name=parameter)
        except Exception as exc:
            if not is_code(exc, "ParameterNotFound"):
                raise
    return SecretChange(name, parameter, "deleted", version_before=found.get("Version"), notes=[todo])


# -- scale -------------------------------------------------------------------------------------
@dataclass
class ScaleChange:
    desired_before: int
    desired_after: int
    min_before: int | None = None
    min_after: int | None = None
    max_before: int | None = None
    max_after: int | None = None
    in_file: dict[str, Any] = field(default_factory=dict)  # what ecsup.toml says
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


MAX_COUNT = 1000  # config.py's bound for desired_count


def scale(ctx: Context, count: int | None, minimum: int | None, maximum: int | None) -> ScaleChange:
    """A live change of the desired count (UpdateService desiredCount) and/or of auto scaling's
    range (RegisterScalableTarget on the existing target), under the stack's lock. Later
    `create`s keep it while ecsup.toml's values stay what they were (the service's tags record
    what create last applied), and `status` shows it as different from the file."""
    from . import lock
    from .deployments import service
    from .steps.autoscaling import DIMENSION, NAMESPACE, resource_id, scalable_target

    if count is None and minimum is None and maximum is None:
        raise OptionError("nothing to scale", hint="give --count N, or --min/--max with auto scaling")
    for option, value in (("--count", count), ("--min", minimum), ("--max", maximum)):
        if value is not None and not 0 <= value <= MAX_COUNT:
            raise OptionError(
                f"{option} {value} must be between 0 and {MAX_COUNT}",
                hint=f"give a number of tasks from 0 to {MAX_COUNT}, e.g. {option} 2 (0 stops every task)",
            )
    svc = service(ctx, "scale")
    cfg = ctx.config.service
    wants_range = minimum is not None or maximum is not None
    target = scalable_target(ctx) if (cfg.autoscaling is not None or wants_range) else None
    if wants_range and target is None:
        raise OptionError(
            f"--min/--max change auto scaling's range, and service {ctx.names.service} has no scalable target",
            hint="add [service.autoscaling] (min, max and a target) to ecsup.toml and run `ecsup create`",
        )
    desired = int(svc.get("desiredCount") or 0)
    result = ScaleChange(desired, desired if count is None else count)
    result.in_file = {"desired_count": cfg.desired_count}
    if cfg.autoscaling is not None:
        result.in_file |= {"min": cfg.autoscaling.min, "max": cfg.autoscaling.max}
    new_range: tuple[int, int] | None = None
    if target is not None:
        lo, hi = int(target["MinCapacity"]), int(target["MaxCapacity"])
        new_lo, new_hi = (lo if minimum is None else minimum), (hi if maximum is None else maximum)
        result.min_before, result.max_before, result.min_after, result.max_after = lo, hi, new_lo, new_hi
        if new_lo > new_hi:
            raise OptionError(
                f"--min {new_lo} is above --max {new_hi}",
                hint=f"auto scaling's range is {lo} to {hi} now: give --min and --max together, --min at most --max",
            )
        if count is not None and not new_lo <= count <= new_hi:
            raise OptionError(
                f"--count {count} is outside auto scaling's range {new_lo} to {new_hi}: it would move it back",
                hint="give --min/--max around it too",
            )
        if (new_lo, new_hi) != (lo, hi):
            new_range = (new_lo, new_hi)
            result.changes.append(f"auto scaling range {lo} to {hi} -> {new_lo} to {new_hi}")
            if count is None and not new_lo <= desired <= new_hi:  # AWS moves it into the range
                result.desired_after = min(max(desired, new_lo), new_hi)
    if count is not None and count != desired:
        result.changes.append(f"desired count {desired} -> {count}")
    elif result.desired_after != desired:
        result.changes.append(f"desired count {desired} -> {result.desired_after} (into the new range)")
    if not result.changes:
        result.notes.append("nothing to change: the service is scaled so already")
        return result
    with lock.held(ctx, "scale"):
        if new_range is not None and cfg.autoscaling is not None:
            _record_applied_range(ctx, svc, target, cfg.autoscaling.min, cfg.autoscaling.max)
        if new_range is not None:
            with doing(f"register the scalable target of service {ctx.names.service}"):
                ctx.client("application-autoscaling").register_scalable_target(
                    ServiceNamespace=NAMESPACE,
                    ResourceId=resource_id(ctx),
                    ScalableDimension=DIMENSION,
                    MinCapacity=new_range[0],
                    MaxCapacity=new_range[1],
                )
        if count is not None and count != desired:
            with doing(f"update the desired count of service {ctx.names.service}"):
                ctx.client("ecs").update_service(
                    cluster=ctx.names.cluster, service=ctx.names.service, desiredCount=count
                )
    in_file_range = (cfg.autoscaling.min, cfg.autoscaling.max) if cfg.autoscaling is not None else None
    if result.desired_after != cfg.desired_count or (new_range is not None and new_range != in_file_range):
        result.notes.append(
            "a live change: ecsup.toml says "
            + ", ".join(f"{k} = {v}" for k, v in result.in_file.items())
            + "; `create` keeps the live values until you change those in the file"
        )
    if target is not None and count is not None:
        result.notes.append("auto scaling may move the desired count within its range from now on")
    return result


def _record_applied_range(ctx: Context, svc: dict[str, Any], target: Any, minimum: int, maximum: int) -> None:
    """A service whose scalable target predates the range tag: when its live range is still the
    file's, say so on the service first, so that the next `create` tells this live change from a
    change of the file (and keeps it)."""
    from .steps.autoscaling import RANGE_TAG, range_text

    tags = tag_dict(svc.get("tags"), "key", "value")
    if RANGE_TAG in tags or (int(target["MinCapacity"]), int(target["MaxCapacity"])) != (minimum, maximum):
        return
    with doing(f"tag service {ctx.names.service}"):
        ctx.client("ecs").tag_resource(
            resourceArn=svc["serviceArn"], tags=[{"key": RANGE_TAG, "value": range_text(minimum, maximum)}]
        )


def scale_workload(
    ctx: Context, workload: str | None, count: int | None, minimum: int | None, maximum: int | None
) -> ScaleChange:
    """`ecsup scale --workload NAME`: the web service's (no name, or "web") as ``scale``; a worker's
    desired count (UpdateService desiredCount on its service) and/or its auto scaling range
    (RegisterScalableTarget on its existing target), under the stack's lock. A job has no count (it
    runs on its schedule), an unknown name is refused (exit 2): nothing is changed."""
    from . import lock
    from .release import worker_service
    from .steps.autoscaling import DIMENSION, NAMESPACE
    from .workloads import WEB

    if workload is None or workload == WEB:
        return scale(ctx, count, minimum, maximum)
    known = [w.name for w in ctx.config.workers]
    if workload not in known:
        is_job = any(j.name == workload for j in ctx.config.jobs)
        raise OptionError(
            f"--workload {workload}: "
            + ("a job runs on its schedule and has no desired count" if is_job else "no such worker in ecsup.toml"),
            hint="scale the web service (no --workload, or --workload web) or a worker: " + ", ".join([WEB, *known]),
        )
    if count is None and minimum is None and maximum is None:
        raise OptionError("nothing to scale", hint="give --count N, or --min/--max with auto scaling")
    for option, value in (("--count", count), ("--min", minimum), ("--max", maximum)):
        if value is not None and not 0 <= value <= MAX_COUNT:
            raise OptionError(
                f"{option} {value} must be between 0 and {MAX_COUNT}",
                hint=f"give a number of tasks from 0 to {MAX_COUNT}, e.g. {option} 2 (0 stops every task)",
            )
    cfg = next(w for w in ctx.config.workers if w.name == workload)
    svc = worker_service(ctx, workload, "scale")
    service_name = str(svc["serviceName"])
    resource = f"service/{ctx.names.cluster}/{service_name}"
    target = None
    if minimum is not None or maximum is not None or cfg.autoscaling is not None:
        with doing(f"look up the scalable target of service {service_name}"):
            found = ctx.client("application-autoscaling").describe_scalable_targets(
                ServiceNamespace=NAMESPACE, ResourceIds=[resource], ScalableDimension=DIMENSION
            )["ScalableTargets"]
        target = found[0] if found else None
    if (minimum is not None or maximum is not None) and target is None:
        raise OptionError(
            f"--min/--max change auto scaling's range, and service {service_name} has no scalable target",
            hint=f"add [workers.{workload}.autoscaling] (min, max, cpu_target) to ecsup.toml and run `ecsup create`",
        )
    desired = int(svc.get("desiredCount") or 0)
    result = ScaleChange(desired, desired if count is None else count)
    result.in_file = {"desired_count": cfg.desired_count}
    new_range: tuple[int, int] | None = None
    if target is not None:
        lo, hi = int(target["MinCapacity"]), int(target["MaxCapacity"])
        new_lo, new_hi = (lo if minimum is None else minimum), (hi if maximum is None else maximum)
        result.min_before, result.max_before, result.min_after, result.max_after = lo, hi, new_lo, new_hi
        if new_lo > new_hi:
            raise OptionError(f"--min {new_lo} is above --max {new_hi}", hint="give --min at most --max")
        if count is not None and not new_lo <= count <= new_hi:
            raise OptionError(
                f"--count {count} is outside auto scaling's range {new_lo} to {new_hi}: it would move it back",
                hint="give --min/--max around it too",
            )
        if (new_lo, new_hi) != (lo, hi):
            new_range = (new_lo, new_hi)
            result.changes.append(f"worker {workload} auto scaling range {lo} to {hi} -> {new_lo} to {new_hi}")
    if count is not None and count != desired:
        result.changes.append(f"worker {workload} desired count {desired} -> {count}")
    if not result.changes:
        result.notes.append(f"nothing to change: worker {workload} is scaled so already")
        return result
    with lock.held(ctx, "scale"):
        if new_range is not None:
            with doing(f"register the scalable target of service {service_name}"):
                ctx.client("application-autoscaling").register_scalable_target(
                    ServiceNamespace=NAMESPACE,
                    ResourceId=resource,
                    ScalableDimension=DIMENSION,
                    MinCapacity=new_range[0],
                    MaxCapacity=new_range[1],
                )
        if count is not None and count != desired:
            with doing(f"update the desired count of service {service_name}"):
                ctx.client("ecs").update_service(cluster=ctx.names.cluster, service=service_name, desiredCount=count)
    if result.desired_after != cfg.desired_count:
        result.notes.append(
            f"a live change: ecsup.toml says workers.{workload}.desired_count = {cfg.desired_count}"
            + ("; `create` keeps the live count until you change that in the file" if cfg.autoscaling is None else "")
        )
    return result
