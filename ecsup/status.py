"""`ecsup status`: what exists, whether it matches the config, and whether it is healthy.

Read-only: it is the create plan (observed, never applied) plus health reads --
certificate validation, target health, the service's deployments, events and
stopped tasks. Data only; render.py prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import engine
from .context import Context
from .errors import doing
from .plan import Action

OK, MISSING, DRIFT, FAILING, PENDING, FOREIGN = "OK", "MISSING", "DRIFT", "FAILING", "PENDING", "FOREIGN"
SKIPPED = "SKIPPED"  # a check that cannot be made here (public DNS against the sandbox): not a fault


@dataclass
class Row:
    state: str
    resource: str
    name: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "resource": self.resource, "name": self.name, "detail": self.detail}


@dataclass
class Report:
    stack: str
    url: str
    region: str
    rows: list[Row] = field(default_factory=list)
    service: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    stopped_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)  # [load_balancer] shared: the stack's place on it
    jobs: list[Any] = field(default_factory=list)  # jobs_status.JobStatus of each [jobs.<name>]
    workers: list[dict[str, Any]] = field(default_factory=list)  # [workers.<name>]: each worker's service
    ingress: dict[str, Any] = field(default_factory=dict)  # who may reach the service (_ingress)

    @property
    def exists(self) -> bool:
        return any(r.state != MISSING for r in self.rows if r.resource != "hosted zone")

    @property
    def healthy(self) -> bool:
        return all(r.state in (OK, SKIPPED) for r in self.rows) and not self.jobs_failing

    @property
    def jobs_failing(self) -> list[str]:
        """The jobs whose last finished run failed."""
        return [job.name for job in self.jobs if job.failing]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "url": self.url,
            "region": self.region,
            "exists": self.exists,
            "healthy": self.healthy,
            "resources": [r.as_dict() for r in self.rows],
            "service": self.service,
            "events": self.events,
            "stopped_reasons": self.stopped_reasons,
            "notes": self.notes,
            **({"shared_load_balancer": self.shared} if self.shared else {}),
            "jobs": [job.as_dict() for job in self.jobs],
            **({"workers": self.workers} if self.workers else {}),
            **({"ingress": self.ingress} if self.ingress else {}),
        }


def _row(action: Action) -> Row:
    if action.kind == "noop":
        state = OK
    elif action.kind == "create" and not action.changes:
        state = MISSING
    else:
        state = DRIFT
    detail = action.detail
    if action.changes:
        detail = "; ".join(str(c) for c in action.changes)
    return Row(state, action.resource, action.name, detail)


def collect(ctx: Context) -> Report:
    ctx.mode = "status"
    outcome = engine.make_plan(ctx)
    report = Report(ctx.names.stack, ctx.config.url, ctx.region, notes=list(outcome.notes))
    for action in outcome.actions:
        if action.resource == "DNS record" and ctx.config.dns.external:
            continue  # at the user's provider: _public_dns checks it below
        row = _row(action)
        if action.resource == "certificate" and action.kind == "noop" and "ISSUED" not in action.detail:
            row.state = PENDING if "PENDING" in action.detail else FAILING
        if action.resource == "CloudWatch alarm" and action.kind == "noop" and action.detail.startswith("ALARM"):
            row.state = FAILING  # ECS fails and rolls back any deployment while it is
        report.rows.append(row)
    for alarm in ctx.facts.get("alarm_states") or []:  # the user's alarms ECS watches (never ecsup's to change)
        if not alarm["ours"]:
            state = FAILING if alarm["state"] == "ALARM" else OK
            detail = f"{alarm['state']}: {alarm['reason']} (yours, watched by ECS during deployments)"
            report.rows.append(Row(state, "CloudWatch alarm", alarm["name"], detail))
    for conflict in ctx.conflicts:
        report.rows.append(Row(FOREIGN, "conflict", "", conflict))
    if ctx.names.shared:
        report.shared = {
            "name": ctx.names.shared,
            "rule_priority": ctx.facts.get("rule_priority"),
            "certificate": ctx.facts.get("listener_certificate"),
            "other_stacks": list(ctx.facts.get("shared_others", [])),
        }
    _ingress(ctx, report)
    # the health reads are independent: at once, each into its own report, merged in this order
    parts = {
        fn: Report(report.stack, report.url, report.region)
        for fn in (_certificate_validation, _target_health, _service, _public_dns, _workers, _jobs)
    }
    for _, error in ctx.in_parallel({fn: partial(fn, ctx, part) for fn, part in parts.items()}).values():
        if error is not None:
            raise error
    for part in parts.values():
        report.rows += part.rows
        report.service = part.service or report.service
        report.events += part.events
        report.stopped_reasons += part.stopped_reasons
        report.jobs += part.jobs
        report.workers += part.workers
    return report


def _ingress(ctx: Context, report: Report) -> None:
    """Who may reach the service, on the load balancer's row: internal or internet-facing, the
    allowlist (or anyone), and the WAF web ACL associated (as WafStep read it)."""
    lb = ctx.config.load_balancer
    if ctx.names.shared:
        allowed = ", ".join(lb.allow_cidrs) or "anyone"
        report.ingress = {"allow_cidrs": list(lb.allow_cidrs)}
        for row in report.rows:
            if row.resource == "listener rule" and row.name == ctx.names.rule:
                row.detail += f"; clients: {allowed}" if lb.allow_cidrs else ""
        return
    waf = str(ctx.facts.get("waf_acl_associated") or "")
    report.ingress = {
        "scheme": str(ctx.facts.get("alb_scheme") or ("internal" if lb.internal else "internet-facing")),
        "allow_cidrs": list(lb.allow_cidrs),
        "waf_acl": waf,
    }
    summary = (
        f"{report.ingress['scheme']}; clients: {', '.join(lb.allow_cidrs) or 'anyone'}; "
        f"WAF: {waf.split('/')[-2] if waf.count('/') >= 2 else 'none'}"
    )
    for row in report.rows:
        if row.resource == "load balancer" and row.name == ctx.names.alb:
            row.detail = f"{row.detail}; {summary}" if row.detail else summary


def _workers(ctx: Context, report: Report) -> None:
    """One row per configured worker that exists: its service's running/desired count, the
    revision it runs and its rollout (FAILING when a rollout failed or tasks are missing, PENDING
    while one rolls out). A missing or drifted worker has its plan row already (MISSING, DRIFT)."""
    from .deployments import stopped_reasons
    from .steps.workloads import worker_services

    if not ctx.config.workers or not ctx.facts.get("cluster_arn"):
        return
    found = worker_services(ctx)
    scaling = ctx.facts.get("worker_autoscaling") or {}
    for worker in ctx.config.workers:
        svc = found.get(worker.name)
        if svc is None or svc.get("status") != "ACTIVE":
            continue
        name = str(svc["serviceName"])
        deployments = svc.get("deployments") or []
        running, desired = int(svc.get("runningCount") or 0), int(svc.get("desiredCount") or 0)
        revision = str(svc.get("taskDefinition", "")).split("/")[-1]
        rollouts = [str(d.get("rolloutState") or "") for d in deployments]
        failed = "FAILED" in rollouts
        rolling = len(deployments) > 1 or "IN_PROGRESS" in rollouts
        state = FAILING if failed or running < desired else PENDING if rolling else OK
        detail = f"running {running}/{desired}, pending {svc.get('pendingCount', 0)}; runs {revision}; " + ", ".join(
            f"{d.get('status')} {str(d.get('taskDefinition', '')).split('/')[-1]} {d.get('rolloutState') or ''}".strip()
            for d in deployments
        )
        live = scaling.get(name)
        if live is not None:
            detail += f"; auto scaling {live['min']} to {live['max']}"
        report.rows.append(Row(state, "worker", name, detail))
        if desired != worker.desired_count and worker.autoscaling is None:  # as _day_two says the web's
            report.rows.append(
                Row(
                    OK,
                    "scale",
                    name,
                    f"desired count {desired} set on the live service; ecsup.toml says "
                    f"workers.{worker.name}.desired_count = {worker.desired_count} "
                    "(kept by `create` until the file's value changes)",
                )
            )
        entry: dict[str, Any] = {
            "name": worker.name,
            "service": name,
            "running": running,
            "desired": desired,
            "desired_in_config": worker.desired_count,
            "task_definition": revision,
            "rollout": [r for r in rollouts if r],
        }
        if state == FAILING:
            entry["stopped_reasons"] = stopped_reasons(ctx, name)
            report.stopped_reasons += entry["stopped_reasons"]
        report.workers.append(entry)


def _jobs(ctx: Context, report: Report) -> None:
    """Each job's schedule, next run and last runs (jobs_status.py)."""
    from . import jobs_status

    if ctx.config.jobs:
        report.jobs = jobs_status.collect(ctx)


def _last_scaling_activity(ctx: Context) -> str | None:
    from .steps.autoscaling import DIMENSION, NAMESPACE, resource_id

    with doing(f"read the scaling activities of service {ctx.names.service}"):
        found = ctx.client("application-autoscaling").describe_scaling_activities(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id(ctx), ScalableDimension=DIMENSION, MaxResults=1
        )["ScalingActivities"]
    if not found:
        return None
    act = found[0]
    return f"{str(act.get('StartTime', ''))[:19]} {act.get('StatusCode', '')}: {act.get('Description', '')}".strip()


def _deployment_in_progress(ctx: Context) -> dict[str, Any] | None:
    from . import deployments as deploy

    arn = deploy.ongoing(ctx)
    if arn is None:
        return None
    dep = deploy.describe_deployment(ctx, arn)
    return {"arn": arn, "status": dep.get("status"), "stage": dep.get("lifecycleStage")}


def _certificate_validation(ctx: Context, report: Report) -> None:
    from .steps.certificate import cert_regions, describe, fact_key

    for region in cert_regions(ctx):
        arn = ctx.facts.get(fact_key(ctx, region))
        if not arn or ctx.facts.get(f"{fact_key(ctx, region)}_issued"):
            continue
        cert = describe(ctx, arn, region)
        for option in cert.get("DomainValidationOptions", []):
            state = option.get("ValidationStatus", "?")
            rec = option.get("ResourceRecord") or {}
            where = (  # [dns] external: the record the user creates at their provider
                f" (create at your DNS provider: {rec.get('Type', 'CNAME')} {rec.get('Name')} -> {rec.get('Value')})"
                if ctx.config.dns.external and rec and state == "PENDING_VALIDATION"
                else ""
            )
            report.rows.append(
                Row(
                    OK if state == "SUCCESS" else PENDING if state == "PENDING_VALIDATION" else FAILING,
                    "domain validation",
                    f"{option['DomainName']} ({region})",
                    state + where,
                )
            )


def _public_dns(ctx: Context, report: Report) -> None:
    """[dns] external: whether public DNS (the system resolver, never Route53) sends the hostname to
    the load balancer; skipped against an endpoint that is not AWS (the sandbox)."""
    from .steps import external

    alb_dns = ctx.facts.get("alb_dns")
    if not external.is_external(ctx) or not alb_dns:
        return
    state, detail = external.public_dns(ctx, str(alb_dns))
    row_state = {"ok": OK, "missing": MISSING, "elsewhere": DRIFT, "skipped": SKIPPED}[state]
    report.rows.append(Row(row_state, "public DNS", ctx.config.dns.hostname, detail))


def _target_health(ctx: Context, report: Report) -> None:
    """What the load balancer reports for each group (DescribeTargetHealth: every state and its
    reason). The live group of a service that runs tasks must have targets: without any, the
    load balancer has nowhere to send requests (503), whatever the service's own counts say."""
    from .steps.ecs import find_service

    svc = ctx.facts.get("service") or (find_service(ctx) if ctx.facts.get("cluster_arn") else None) or {}
    running, desired = int(svc.get("runningCount") or 0), int(svc.get("desiredCount") or 0)
    live = ctx.facts.get("live_target_group") or ctx.names.tg_blue
    for fact, name in (("tg_blue", ctx.names.tg_blue), ("tg_green", ctx.names.tg_green)):
        arn = ctx.facts.get(fact)
        if not arn:
            continue
        with doing(f"read target health of {name}"):
            targets = ctx.client("elbv2").describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        report.rows.append(target_health_row(name, targets, is_live=name == live, running=running, desired=desired))


def target_health_row(name: str, targets: list[dict[str, Any]], is_live: bool, running: int, desired: int) -> Row:
    """One group's row: its targets by state, with the reasons ELB gives (Target.Timeout,
    Target.ResponseCodeMismatch, ...), and whether that is healthy for the group's role."""
    counts: dict[str, int] = {}
    reasons = set()
    for t in targets:
        health = t.get("TargetHealth", {})
        state = health.get("State", "unknown")
        counts[state] = counts.get(state, 0) + 1
        if state != "healthy" and (health.get("Reason") or health.get("Description")):
            reasons.add(": ".join(x for x in (health.get("Reason"), health.get("Description")) if x))
    role = "live" if is_live else "idle"
    detail = f"{role}: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no targets registered")
    if reasons:
        detail += " (" + "; ".join(sorted(reasons)) + ")"
    if counts.get("unhealthy") or (is_live and running and (counts.get("unused") or counts.get("unavailable"))):
        return Row(FAILING, "target health", name, detail)
    if is_live and desired and not counts.get("healthy"):
        if not targets and running:
            detail += f" while the service runs {running} task(s): the load balancer has nowhere to send requests"
            return Row(FAILING, "target health", name, detail)
        return Row(PENDING, "target health", name, detail)  # tasks starting, or registering (initial)
    return Row(OK, "target health", name, detail)


def _service(ctx: Context, report: Report) -> None:
    from .deployments import stopped_reasons
    from .steps.ecs import find_service

    if not ctx.facts.get("cluster_arn"):
        return
    svc = ctx.facts.get("service") or find_service(ctx)
    if svc is None:
        return
    deployments = [
        {
            "status": d.get("status"),
            "rollout": d.get("rolloutState"),
            "desired": d.get("desiredCount"),
            "running": d.get("runningCount"),
            "pending": d.get("pendingCount"),
            "task_definition": str(d.get("taskDefinition", "")).split("/")[-1],
        }
        for d in svc.get("deployments", [])
    ]
    report.service = {
        "status": svc.get("status"),
        "desired": svc.get("desiredCount"),
        "running": svc.get("runningCount"),
        "pending": svc.get("pendingCount"),
        "task_definition": str(svc.get("taskDefinition", "")).split("/")[-1],
        "image": ctx.facts.get("running_image"),
        "live_target_group": ctx.facts.get("live_target_group"),
        "deployment_in_progress": None,
        "deployments": deployments,
    }
    report.rows.append(
        Row(
            OK,
            "release",
            ctx.names.service,
            f"runs {report.service['task_definition']} ({report.service['image'] or '?'})"
            + (f", production on {ctx.facts['live_target_group']}" if ctx.facts.get("live_target_group") else ""),
        )
    )
    scaling = ctx.facts.get("autoscaling")
    if scaling is not None:
        report.service["autoscaling"] = dict(scaling, last_activity=_last_scaling_activity(ctx))
        last = report.service["autoscaling"]["last_activity"]
        report.rows.append(
            Row(
                OK,
                "auto scaling",
                ctx.names.service,
                f"{scaling['min']} to {scaling['max']} tasks, now {svc.get('desiredCount')}"
                + (f"; last: {last}" if last else "; no scaling activity yet"),
            )
        )
    in_progress = _deployment_in_progress(ctx)
    if in_progress is not None:
        report.service["deployment_in_progress"] = in_progress
        report.rows.append(
            Row(
                PENDING,
                "deployment",
                ctx.names.service,
                f"{in_progress['status']} {in_progress.get('stage') or ''} ({in_progress['arn']}): "
                "`ecsup deploy --watch` watches it, `ecsup rollback` rolls it back".replace("  ", " "),
            )
        )
    _day_two(ctx, report, svc)
    report.events = [f"{str(e.get('createdAt', ''))[:19]} {e['message']}" for e in svc.get("events", [])[:5]]
    running, desired = svc.get("runningCount", 0), svc.get("desiredCount", 0)
    failed = any(d["rollout"] == "FAILED" for d in deployments)
    rolling = len(deployments) > 1 or any(d["rollout"] == "IN_PROGRESS" for d in deployments)
    state = FAILING if failed or running < desired else PENDING if rolling else OK
    detail = f"running {running}/{desired}, pending {svc.get('pendingCount', 0)}; " + ", ".join(
        f"{d['status']} {d['task_definition']} {d['rollout'] or ''}".strip() for d in deployments
    )
    report.rows.append(Row(state, "service health", ctx.names.service, detail))
    if state == FAILING:
        report.stopped_reasons = stopped_reasons(ctx)


def _day_two(ctx: Context, report: Report, svc: dict[str, Any]) -> None:
    """What day-two commands leave for status to say: a desired count that differs from the file
    (`ecsup scale`), and a secret changed after the running tasks started (`ecsup secrets set`
    without a restart: ECS reads secrets when a task starts, so those tasks hold the old value)."""
    from .daytwo import secrets_info, task_starts

    in_file = ctx.config.service.desired_count
    report.service["desired_in_config"] = in_file
    if svc.get("desiredCount") != in_file and ctx.config.service.autoscaling is None:
        report.rows.append(
            Row(
                OK,
                "scale",
                ctx.names.service,
                f"desired count {svc.get('desiredCount')} set on the live service; ecsup.toml says {in_file} "
                "(kept by `create` until the file's value changes)",
            )
        )
    found = ctx.facts.get("secret_parameters")
    if not ctx.config.service.secrets or not found:
        return
    stale = [s for s in secrets_info(ctx, task_starts(ctx), found) if s.newer_than_tasks]
    report.service["secrets_changed_after_tasks_started"] = [s.name for s in stale]
    for secret in stale:
        when = secret.last_changed.isoformat(timespec="seconds") if secret.last_changed else "?"
        report.rows.append(
            Row(
                PENDING,
                "secret",
                secret.name,
                f"{secret.parameter} changed at {when} (version {secret.version}), after the running tasks "
                "started: they hold the previous value; `ecsup restart` replaces them",
            )
        )
