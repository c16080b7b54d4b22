"""Releases: ship a new image with ECS's own deployment (blue/green, linear, canary or
rolling, as the service is configured), watch it to the end, and roll back.

Not a step: steps converge infrastructure, while a deploy is an operation on the running
service with a watch loop. It registers a task definition revision identical to the
running one except the image and updates the service with that revision only (never the
desired count, never the load balancers); ECS moves the tasks and the production traffic
between the two target groups. Progress is read from the ServiceDeployments API, the
service's events and the production listener rule's weights, and handed to the UI as
``DeployState`` snapshots (render.py draws them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from .context import Context
from .deployments import (
    ATTACH_HINT,
    ONGOING,
    DeploymentInProgress,
    DeployResult,
    DeployState,
    RolledBack,
    StackMissing,
    _revision_task_definitions,
    describe_deployment,
    describe_task_definition,
    image_of,
    list_deployments,
    ongoing,
    service,
    short,
    started_deployment,
    watch,
)
from .errors import EXIT_REFUSED, EcsupError, doing, is_code
from .verify import ProbeResult

__all__ = [
    "ATTACH_HINT",
    "ONGOING",
    "DeployResult",
    "DeployState",
    "DeploymentInProgress",
    "NotNamed",
    "RolledBack",
    "StackMissing",
]


def start(ctx: Context, task_definition: str, svc: dict[str, Any]) -> str | None:
    """UpdateService with the task definition only; the ARN of the deployment it started."""
    with doing(f"update service {ctx.names.service}"):
        updated = ctx.client("ecs").update_service(
            cluster=ctx.names.cluster, service=ctx.names.service, taskDefinition=task_definition
        )["service"]
    return started_deployment(ctx, updated, task_definition)


# -- deploy ---------------------------------------------------------------------------------
def register_revision(
    ctx: Context, td: dict[str, Any], tags: list[dict[str, str]], image: str, container: str | None = None
) -> str:
    """A revision identical to ``td`` except the image of ecsup's container (``container``: a
    worker's or job's, named after the workload; its only container if none has that name)."""
    ecs = ctx.client("ecs")
    accepted = ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members
    args = {k: v for k, v in td.items() if k in accepted and k != "tags"}
    name = container or ctx.names.container
    only = len(td["containerDefinitions"]) == 1 and container is not None
    args["containerDefinitions"] = [
        dict(c, image=image) if c.get("name") == name or only else c for c in td["containerDefinitions"]
    ]
    with doing(f"register task definition {td.get('family') or ctx.names.family} with image {image}"):
        new = ecs.register_task_definition(**args, tags=tags or [])["taskDefinition"]
    return str(new["taskDefinitionArn"])


EARLY_RETURN = (
    "ECS keeps watching the deployment and its alarms for the rest of the bake, and rolls it back on ALARM "
    "with nothing of ours running; `ecsup deploy --watch` watches it again"
)


def _follow(
    ctx: Context, arn: str, timeout: float, wait_until: str, abort: Callable[[], bool] | None = None
) -> DeployResult:
    """Watch a deployment until production traffic is all on the new revision, probe it
    (verify.py: a failing answer rolls it back), then watch it to its end -- or return there,
    with ``wait_until="production"``. ``abort``: another workload of the release failed: return
    where the deployment is (release.py rolls it back)."""
    from .verify import probe

    start = ctx.clock()
    watched = watch(ctx, arn, timeout, until=lambda state: state.production_moved, abort=abort)
    if abort is not None and abort():
        return watched
    checked = probe(ctx)
    if ctx.config.service.deploy.verify.enabled:  # one line a probe (disabled: nothing to say)
        ctx.ui.release_note(checked.summary())
    watched.probe = checked.as_dict()
    if checked.failed is not None:
        _roll_back_after_probe(ctx, arn, watched, checked, timeout - (ctx.clock() - start), start)
    if watched.status == "SUCCESSFUL":
        watched.stage = "complete"
        return watched
    if wait_until == "production":
        watched.stage = "production"
        return watched
    done = watch(ctx, arn, max(1.0, timeout - (ctx.clock() - start)), since=start, abort=abort)
    done.probe = watched.probe
    return done


def _roll_back_after_probe(
    ctx: Context, arn: str, watched: DeployResult, checked: ProbeResult, timeout: float, since: float
) -> None:
    """The probe failed: ask ECS to roll the deployment back while the old tasks still bake
    (StopServiceDeployment, ROLLBACK); one that has ended SUCCESSFUL already (a rolling one, a bake
    of 0) is rolled back by deploying the revision before. Always raises RolledBack (exit 9)."""
    status = watched.status
    if status != "SUCCESSFUL":
        try:
            with doing(f"roll back deployment {arn}"):
                ctx.client("ecs").stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        except Exception as exc:
            if not is_code(exc, "ConflictException"):  # it ended meanwhile (API reference)
                raise
            status = str(describe_deployment(ctx, arn).get("status", ""))
    if status == "SUCCESSFUL":
        back = rollback(ctx, wait=True, timeout=max(1.0, timeout))
        what = f"rolled back by a new deployment to {back.revision_after} ({back.status})"
    elif status in ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"):  # ECS ended it itself meanwhile
        back, what = watched, f"ECS had ended it {status} already"
        back.status = status
    else:
        back = watch(ctx, arn, max(1.0, timeout), purpose="rollback", since=since)
        what = f"ECS rolled it back ({back.status})"
        if back.status == "SUCCESSFUL":  # the stop was refused and the bad revision completed
            back = rollback(ctx, wait=True, timeout=max(1.0, timeout))
            what = f"it completed before ECS could stop it; rolled back by a new deployment to {back.revision_after}"
    bad = checked.failed
    watched.status, watched.rollback_reason = back.status, checked.summary()
    raise RolledBack(
        f"the probe of the new revision {watched.revision_after} failed: "
        f"{bad.describe() if bad else '?'} ({checked.url}); {what}",
        hint="the service runs the revision before; fix the release (`ecsup logs --since 30m`), then "
        "`ecsup deploy --image ...` again",
        result=watched,
    )


# ECS resolves a task definition's image tag to a digest when a deployment starts, and starts that
# deployment's tasks with the digest (ECS API reference, ContainerImage: "Amazon ECS resolves container
# image names and any image tags ... to container image digests"; aws/containers-roadmap#2393): a tag
# pushed again (a mutable tag such as :latest) reaches the service only through a new deployment, which
# `restart` (forceNewDeployment) is. A deploy of the image that runs changes nothing, so says so.
SAME_TAG_HINT = (
    "If the tag was pushed again (a mutable tag such as :latest), the running tasks still run the image "
    "they started with: `ecsup restart` starts a new deployment, whose tasks pull the tag again"
)


class NotNamed(EcsupError):
    """A deploy would replace the running image with one the user did not name (the config's
    ``service.image``) and nobody could be asked: nothing was changed."""

    exit_code = EXIT_REFUSED


def unnamed_image_hint(config_image: str, running: str) -> str:
    return (
        f"name the image to ship: `ecsup deploy --image {config_image}` (ecsup.toml's service.image), or "
        f"`ecsup deploy --image IMAGE`; `ecsup deploy --watch` watches a deployment in progress "
        f"(the service runs {running})"
    )


def attach(ctx: Context, timeout: float = 3600.0, wait_until: str = "complete") -> DeployResult:
    """Watch the deployment in progress (whoever started it) like `deploy` watches its own:
    `ecsup deploy --watch`. Changes nothing; with none in progress, says what runs."""
    svc = service(ctx, "watch")
    in_progress = ongoing(ctx)
    current_td, _ = describe_task_definition(ctx, svc["taskDefinition"])
    current = image_of(ctx, current_td)
    if not in_progress:
        revision = short(svc["taskDefinition"])
        return DeployResult(
            None,
            "NONE",
            revision,
            revision,
            current,
            current,
            message=f"no deployment in progress: {revision} runs {current}",
        )
    return _attach(ctx, in_progress, current, timeout, wait_until)


def _attach(ctx: Context, in_progress: str, current: str, timeout: float, wait_until: str) -> DeployResult:
    target_arn, target_image = _target_of(ctx, in_progress)
    dep = describe_deployment(ctx, in_progress)
    result = DeployResult(in_progress, str(dep.get("status")), "", short(target_arn), current, target_image)
    result.message = f"attached to the deployment in progress ({in_progress})"
    if wait_until == "started":
        return _early(result, "started")
    ctx.ui.release_started(result.message)
    from . import release

    since = dep.get("createdAt")
    if target_arn and str(dep.get("status")) not in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
        # a worker of this release that already failed, or was never started: the release cannot succeed
        left = release.behind(ctx, target_arn, since, settled=False)
        if left is not None:
            _undo_attached(ctx, in_progress, target_arn, left, since, result, timeout, None)
    workers = release.busy_workers(ctx)  # a release in progress: its workers' deployments, watched beside
    outcome = release.watch_together(
        ctx,
        lambda abort: _follow(ctx, in_progress, timeout, wait_until, abort),
        workers,
        timeout,
        stop_on_failure=False,
    )
    if outcome.failed == "web" and outcome.error is not None:
        raise outcome.error
    assert outcome.web is not None
    watched = outcome.web
    watched.image_before, watched.image_after, watched.message = current, target_image, result.message
    if watched.stage == "complete" and target_arn:
        # a release watched to its end moves its jobs -- unless one of its workers does not run the
        # revision the release recorded (its deployment failed, or never started): then the release
        # failed, and is rolled back as deploy rolls back its own
        left = release.behind(ctx, target_arn, since)
        if left is not None:
            watched.workloads = {m.name: m.as_dict() for m in workers}
            _undo_attached(ctx, in_progress, target_arn, left, since, watched, timeout, outcome.error)
        with _jobs_lock(ctx, target_image):
            moved = release.finish_jobs(ctx, target_arn)
        watched.workloads = {m.name: m.as_dict() for m in [*workers, *moved]}
        if moved:
            watched.message += release.describe(moved).replace(", with", "; moved", 1)
    elif outcome.error is not None:
        raise outcome.error
    return _early(watched, watched.stage) if watched.stage != "complete" else watched


def source_of(ctx: Context, deployment: str) -> str | None:
    """The task definition a deployment replaces (its first source revision's), or None (a
    service's first deployment)."""
    dep = describe_deployment(ctx, deployment)
    sources = [s["arn"] for s in dep.get("sourceServiceRevisions") or [] if s.get("arn")]
    if not sources:
        return None
    cache: dict[str, str] = {}
    _revision_task_definitions(ctx, sources[:1], cache)
    return cache.get(sources[0]) or None


def _undo_attached(
    ctx: Context,
    web_arn: str,
    web_td: str,
    left: Any,
    since: Any,
    result: DeployResult,
    timeout: float,
    error: EcsupError | None,
) -> None:
    """`deploy --watch` of a release one of whose workers failed (``left.started``) or was never
    started (the run that started the release stopped between the web service's UpdateService
    and the workers'): roll back the web service and the workers that moved, as `deploy` rolls
    back its own failed release (release.undo), and raise RolledBack (exit 9).

    A release whose worker never started is rolled back too, not completed: the run that wanted
    it is gone, a watch starts no deployment of its own, and a release taken back to the revisions
    every workload ran before ends consistent in one known step (`ecsup deploy --image` again
    releases it whole); completing it would start a deployment nobody watched the start of, and
    its failure would need the same rollback anyway."""
    from . import release

    web_before = source_of(ctx, web_arn)
    what = f"{left.why}{f' ({error.message})' if error else ''}"
    if web_before is None:
        raise RolledBack(
            f"{what}: the web service's revision before it is unknown, so it stays on {short(web_td)}",
            hint="`ecsup rollback` takes every workload back to the release before",
            result=result,
        )
    workers = release.recorded_workers(ctx, web_td, since)
    done = release.undo(ctx, web_arn, web_before, left.worker, workers, timeout)
    result.status = "ROLLBACK_REQUESTED"
    result.workloads = {m.name: m.as_dict() for m in workers}
    raise RolledBack(
        f"{what}, so the release is rolled back ({'; '.join(done)}); the jobs stay on their revisions",
        hint=(
            "fix the worker and `ecsup deploy --image ...` again"
            if left.started
            else "`ecsup deploy --image ...` again releases every workload"
        ),
        result=result,
    )


@contextmanager
def _jobs_lock(ctx: Context, image: str) -> Iterator[None]:
    """The stack's lock while a release points its jobs at their new revisions (each state
    machine's definition is read, edited and written: a concurrent `create` could overwrite it),
    taken as deploy takes it. Held by another run: LockHeld (exit 8), saying the jobs did not move."""
    from .lock import LockHeld, held

    with ExitStack() as stack:
        try:
            stack.enter_context(held(ctx, "deploy"))
        except LockHeld as exc:
            exc.message = f"the release succeeded, but its jobs stay on their revisions: {exc.message}"
            exc.hint = (
                f"once that run has finished, `ecsup deploy --image {image or '...'}` moves them "
                "(it releases again the workloads that run another image)"
            )
            raise
        yield


def _target_of(ctx: Context, deployment: str) -> tuple[str | None, str]:
    """The task definition a deployment deploys, and its image."""
    dep = describe_deployment(ctx, deployment)
    target_arn = (dep.get("targetServiceRevision") or {}).get("arn", "")
    cache: dict[str, str] = {}
    _revision_task_definitions(ctx, [target_arn], cache)
    found = cache.get(target_arn)
    return found, (image_of(ctx, describe_task_definition(ctx, found)[0]) if found else "")


def deploy(
    ctx: Context,
    image: str | None,
    wait: bool = True,
    timeout: float = 3600.0,
    wait_until: str = "complete",
    confirm: Callable[[str], bool] | None = None,
) -> DeployResult:
    """Ship ``image``. Without one, ecsup.toml's ``service.image`` -- which after a few
    `deploy --image` releases is usually an older image than the one running: replacing the
    running image with an image the user did not name needs ``confirm(question)`` to say yes
    (a terminal's prompt); without it, NotNamed (exit 7) and nothing is changed. A deployment in
    progress of the named image is attached to; of another image, DeploymentInProgress.
    ``wait_until``: return once the deployment is accepted (``started``; ``wait=False`` too), once
    production traffic is all on the new revision and the probe passed (``production``), or once
    ECS reports it SUCCESSFUL (``complete``)."""
    if not wait:
        wait_until = "started"
    from . import lock

    svc = service(ctx)
    in_progress = ongoing(ctx)
    current_td, tags = describe_task_definition(ctx, svc["taskDefinition"])
    current = image_of(ctx, current_td)
    if in_progress:
        target_td, target_image = _target_of(ctx, in_progress)
        if image is None or image != target_image:
            raise DeploymentInProgress(
                f"a deployment of {target_image or short(target_td)} is in progress ({in_progress})",
                hint="watch it with `ecsup deploy --watch`, or stop it with `ecsup rollback`",
            )
        return _attach(ctx, in_progress, current, timeout, wait_until)
    target = image or ctx.config.service.image
    from . import release

    # the workers and jobs released with it (release.py): a missing one, or a worker's deployment in
    # progress, refuses the release here, before anything changed
    released = release.members(ctx)
    behind = [m.name for m in released if release.member_image(ctx, m) != target]
    if target == current and not behind:
        return DeployResult(
            None,
            "UNCHANGED",
            short(svc["taskDefinition"]),
            short(svc["taskDefinition"]),
            current,
            target,
            message=f"{short(svc['taskDefinition'])} already runs {target}: nothing to deploy. {SAME_TAG_HINT}",
        )
    if image is None and target != current:  # the user named no image: never replace the running one silently
        question = (
            f"{short(svc['taskDefinition'])} runs {current}; no --image was given, so this would replace it "
            f"with service.image from ecsup.toml, {target}"
        )
        if confirm is None or not confirm(question):
            raise NotNamed(
                f"refusing to replace the running image {current} with service.image {target}, "
                "which was not named on the command line: nothing was changed",
                hint=unnamed_image_hint(target, current),
            )
    from .alarm_guard import guard_release

    unguarded = guard_release(ctx, svc)  # an alarm in ALARM already would not guard it: say so, wait or go on
    with lock.held(ctx, "deploy"):
        record = release.register(ctx, released, target)
        new_td = register_revision(ctx, current_td, release.web_tags(tags, record), target)
        from .run import before_rollout, placement_of

        before_rollout(ctx, new_td, placement_of(svc))  # [service.deploy] before: BeforeFailed stops here
        arn = start(ctx, new_td, svc)
        try:
            release.start_workers(ctx, released)
        except Exception as exc:  # throttled, denied, a service being deleted: undo what started
            _undo_start(ctx, arn, str(current_td["taskDefinitionArn"]), released, timeout, exc)
            raise
    result = DeployResult(arn, "PENDING", short(svc["taskDefinition"]), short(new_td), current, target)
    result.message = (
        f"deploying {target} as {short(new_td)}{release.describe(released)}, replacing {current} "
        f"({arn or 'deployment not listed yet'})"
    )
    result.workloads = {m.name: m.as_dict() for m in released}
    if target == current:  # released again for the workloads that run another image
        result.message += f"; released again for {', '.join(behind)}, which ran another image"
    if wait_until == "started" or arn is None:
        return _jobs_wait(_early(result, "started", unguarded), released)
    ctx.ui.release_started(result.message)
    if not released:
        watched = _follow(ctx, arn, timeout, wait_until)
    else:
        watched = _release(ctx, arn, str(current_td["taskDefinitionArn"]), released, timeout, wait_until, target)
    watched.image_before, watched.image_after, watched.message = current, target, result.message
    watched.workloads = {m.name: m.as_dict() for m in released}
    if watched.stage != "complete":
        return _jobs_wait(_early(watched, watched.stage, unguarded), released)
    return watched


def _release(
    ctx: Context, arn: str, web_before: str, released: list[Any], timeout: float, wait_until: str, image: str = ""
) -> DeployResult:
    """Watch the web service's deployment and the workers' together (release.py); once all of them
    succeeded, point the jobs at their new revisions. A failure rolls back the others (RolledBack,
    exit 9, naming the workload that failed); a timeout leaves them going on in ECS (exit 5)."""
    from . import release
    from .errors import WaitTimeout

    workers = [m for m in released if m.kind == "worker"]
    outcome = release.watch_together(ctx, lambda abort: _follow(ctx, arn, timeout, wait_until, abort), workers, timeout)
    error = outcome.error
    if error is None and outcome.web is not None:
        if outcome.web.stage == "complete":
            with _jobs_lock(ctx, image):
                release.point_jobs(ctx, released)
        return outcome.web
    if isinstance(error, WaitTimeout) or error is None:
        raise error or WaitTimeout("the release was not watched to its end", hint=ATTACH_HINT)
    failed = outcome.failed or "web"
    done = release.undo(ctx, arn, web_before, failed, released, timeout)
    jobs = [m.name for m in released if m.kind == "job"]
    kept = f"; jobs {', '.join(jobs)} stay on their revisions" if jobs else ""
    what = "the web service's deployment" if failed == "web" else f"the deployment of worker {failed}"
    result = getattr(error, "result", None) or outcome.web
    if failed != "web":
        member = next(m for m in released if m.name == failed)
        result = outcome.web or DeployResult(arn, "", "", "", "", "")
        result.status = member.status if member.status.startswith("ROLLBACK") else "ROLLBACK_REQUESTED"
    message = f"{what} failed, so the release is rolled back ({'; '.join(done)}{kept}): {error.message}"
    if isinstance(error, RolledBack):
        raise RolledBack(message, hint=error.hint, result=result)
    error.message = message
    raise error


def _undo_start(
    ctx: Context, arn: str | None, web_before: str, released: list[Any], timeout: float, exc: Exception
) -> None:
    """A worker's UpdateService failed after the web service's deployment (and maybe other
    workers') started: roll back what started (release.undo), and say so in ``exc``'s message."""
    from . import release

    # the web deployment just started (PENDING or IN_PROGRESS): StopServiceDeployment ROLLBACK takes
    # either to ROLLBACK_REQUESTED (ECS Developer Guide, "Stopping Amazon ECS service deployments")
    try:
        done = release.undo(ctx, arn or ongoing(ctx), web_before, "", released, timeout)
    except EcsupError as undo_error:
        ctx.notes.append(f"the release could not be rolled back: {undo_error.message}")
        done = [f"not completed: {undo_error.message}"]
    if isinstance(exc, EcsupError):
        exc.message += f"; the release is rolled back ({'; '.join(done)})"
        exc.hint = "`ecsup deploy --image ...` again once the cause is fixed"


def _jobs_wait(result: DeployResult, released: list[Any]) -> DeployResult:
    """A release that returned before it ended leaves its jobs where they are: say so."""
    jobs = [m.name for m in released if m.kind == "job"]
    if jobs:
        result.message += (
            f" Jobs {', '.join(jobs)} move to the new revision once the release has succeeded: "
            "`ecsup deploy --watch` watches it to its end and moves them"
        )
    return result


def _early(result: DeployResult, stage: str, unguarded: list[str] | None = None) -> DeployResult:
    """A deploy that returns before the deployment ended: what goes on without us. ``unguarded``:
    the alarms that were in ALARM when it started (alarm_guard.py), which ECS does not act on."""
    result.stage = stage
    reached = (
        "the deployment is accepted"
        if stage == "started"
        else "production traffic is on the new revision"
        + (" and the probe passed" if result.probe and not result.probe.get("skipped") else "")
    )
    if unguarded:
        later = (
            f"ECS keeps watching the deployment for the rest of the bake, but not with {', '.join(unguarded)}: "
            "in ALARM when it started, so ECS does not act on it; `ecsup deploy --watch` watches it again"
        )
    else:
        later = EARLY_RETURN
    result.message += f"; {reached}. {later}"
    return result


# -- restart --------------------------------------------------------------------------------
def restart(ctx: Context, wait: bool = True, timeout: float = 3600.0, wait_until: str = "complete") -> DeployResult:
    """A new deployment of the revision that runs (UpdateService forceNewDeployment): ECS replaces
    every task through the service's strategy (blue/green, linear, canary or rolling) -- how
    tasks pick up a secret's new version, which ECS reads only when a task starts. Watched like
    a deploy (the probe included); refused while another deployment is in progress."""
    if not wait:
        wait_until = "started"
    from . import lock

    svc = service(ctx, "restart")
    in_progress = ongoing(ctx)
    if in_progress:
        target_td, target_image = _target_of(ctx, in_progress)
        raise DeploymentInProgress(
            f"a deployment of {target_image or short(target_td)} is in progress ({in_progress})",
            hint="watch it with `ecsup deploy --watch` (its new tasks start with the secrets as they are now)",
        )
    revision = short(svc["taskDefinition"])
    image = image_of(ctx, describe_task_definition(ctx, svc["taskDefinition"])[0])
    from . import release
    from .alarm_guard import guard_release

    workers = release.members(ctx, following=False, jobs=False, to="restart")  # every worker: secrets are theirs too
    unguarded = guard_release(ctx, svc)  # as deploy: an alarm in ALARM already would not guard it
    with lock.held(ctx, "restart"):
        with doing(f"update service {ctx.names.service}"):
            updated = ctx.client("ecs").update_service(
                cluster=ctx.names.cluster, service=ctx.names.service, forceNewDeployment=True
            )["service"]
        arn = started_deployment(ctx, updated, svc["taskDefinition"])
        for member in workers:
            release.update_worker(ctx, member, force=True)
    strategy = str((svc.get("deploymentConfiguration") or {}).get("strategy") or "ROLLING")
    result = DeployResult(arn, "PENDING", revision, revision, image, image)
    result.message = (
        f"restarting {revision} ({image}): {svc.get('desiredCount')} task(s) replaced through a new "
        f"{strategy} deployment ({arn or 'deployment not listed yet'})"
    )
    if workers:
        result.message += "; and worker(s) " + ", ".join(f"{m.name} ({short(m.before)})" for m in workers)
    result.workloads = {m.name: m.as_dict() for m in workers}
    if wait_until == "started" or arn is None:
        return _early(result, "started", unguarded)
    ctx.ui.release_started(result.message)
    if workers:
        outcome = release.watch_together(
            ctx,
            lambda abort: _follow(ctx, arn, timeout, wait_until, abort),
            workers,
            timeout,
            stop_on_failure=False,  # a restart changes no revision: nothing to roll the others back to
        )
        if outcome.error is not None:
            raise outcome.error
        assert outcome.web is not None
        watched = outcome.web
    else:
        watched = _follow(ctx, arn, timeout, wait_until)
    watched.workloads = {m.name: m.as_dict() for m in workers}
    watched.image_before, watched.image_after, watched.message = image, image, result.message
    return _early(watched, watched.stage, unguarded) if watched.stage != "complete" else watched


# -- rollback -------------------------------------------------------------------------------
def previous_revision(ctx: Context, svc: dict[str, Any]) -> str | None:
    """The task definition the service ran before its last successful deployment."""
    for brief in list_deployments(ctx, status=["SUCCESSFUL"]):  # every page, newest first
        dep = describe_deployment(ctx, brief["serviceDeploymentArn"])
        sources = [s["arn"] for s in dep.get("sourceServiceRevisions") or [] if s.get("arn")]
        if not sources:
            continue  # the service's first deployment: nothing before it
        cache: dict[str, str] = {}
        _revision_task_definitions(ctx, sources[:1], cache)
        found = cache.get(sources[0])
        if found and found != svc["taskDefinition"]:
            return found
    return None


def rollback(ctx: Context, wait: bool = True, timeout: float = 3600.0) -> DeployResult:
    """A deployment in progress: StopServiceDeployment(ROLLBACK), and the same for each worker's
    deployment in progress (a release in progress: its jobs have not moved yet). Otherwise: deploy
    the task definition the service ran before its last successful deployment (same strategy),
    and take each worker and job following the service's image back to the revision that
    release recorded (release.py); the jobs are pointed back at once, the workers' and the web
    service's deployments watched together."""
    from . import lock, release

    svc = service(ctx, "roll back")
    current_td, _ = describe_task_definition(ctx, svc["taskDefinition"])
    in_progress = ongoing(ctx)
    ended_first = ""
    workers: list[Any] = []
    if in_progress:
        try:
            with lock.held(ctx, "rollback"), doing(f"roll back deployment {in_progress}"):
                ctx.client("ecs").stop_service_deployment(serviceDeploymentArn=in_progress, stopType="ROLLBACK")
                workers = release.stop_workers(ctx)
        except Exception as exc:
            # It ended between the look and the request: StopServiceDeployment answers
            # ConflictException for a deployment in a terminal state (ECS API reference).
            if not is_code(exc, "ConflictException"):
                raise
            ended = describe_deployment(ctx, in_progress)
            status = str(ended.get("status", ""))
            ended_first = f"the deployment in progress ended {status} before the rollback request reached it"
            if status != "SUCCESSFUL":  # ECS put the previous revision back itself: nothing more to undo
                with lock.held(ctx, "rollback"):
                    workers = release.stop_workers(ctx)
                result = DeployResult(
                    in_progress, status, short(svc["taskDefinition"]), short(svc["taskDefinition"]), "", ""
                )
                back = describe_task_definition(ctx, service(ctx)["taskDefinition"])[0]
                result.revision_after, result.image_after = short(back["taskDefinitionArn"]), image_of(ctx, back)
                result.image_before = image_of(ctx, current_td)
                result.message = f"{ended_first}; the service runs {result.revision_after} ({result.image_after})"
                result.workloads = {m.name: m.as_dict() for m in workers}
                return result
            svc = service(ctx)  # it succeeded: roll back from what it deployed, as with nothing in progress
            current_td, _ = describe_task_definition(ctx, svc["taskDefinition"])
            in_progress = None
    if in_progress:
        result = DeployResult(
            in_progress, "ROLLBACK_REQUESTED", short(svc["taskDefinition"]), "", image_of(ctx, current_td), ""
        )
        if wait:
            ctx.ui.release_started(f"rolling back the deployment in progress ({in_progress})")
            result = _watch_back(ctx, in_progress, workers, timeout, "rollback")
        back = describe_task_definition(ctx, service(ctx)["taskDefinition"])[0]
        result.revision_after, result.image_after = short(back["taskDefinitionArn"]), image_of(ctx, back)
        result.image_before = image_of(ctx, current_td)
        result.message = f"rolled back the deployment in progress to {result.revision_after} ({result.image_after})"
        if workers:
            result.message += ", and the deployments of worker(s) " + ", ".join(m.name for m in workers)
        result.workloads = {m.name: m.as_dict() for m in workers}
        return result
    previous = previous_revision(ctx, svc)
    if previous is None:
        raise EcsupError(
            f"service {ctx.names.service} has no earlier revision to go back to "
            f"(it runs {short(svc['taskDefinition'])})",
            hint="deploy the image you want with `ecsup deploy --image IMAGE`",
        )
    before_td = describe_task_definition(ctx, previous)[0]
    moving, notes = release.rollback_members(ctx, str(svc["taskDefinition"]), previous)
    with lock.held(ctx, "rollback"):
        arn = start(ctx, previous, svc)
        for member in moving:
            if member.kind == "worker":
                release.update_worker(ctx, member, member.after)
        release.point_jobs(ctx, moving)  # the jobs go back at once: nothing of theirs runs between runs
    result = DeployResult(
        arn,
        "PENDING",
        short(svc["taskDefinition"]),
        short(previous),
        image_of(ctx, current_td),
        image_of(ctx, before_td),
    )
    message = f"back to {short(previous)} ({result.image_after}){release.describe(moving)}"
    if wait and arn is not None:
        ctx.ui.release_started(message)
        watched = _watch_back(ctx, arn, [m for m in moving if m.kind == "worker"], timeout, "deploy")
        watched.image_before, watched.image_after = result.image_before, result.image_after
        result = watched
    result.message = (f"{ended_first}; " if ended_first else "") + message + "".join(f"; {n}" for n in notes)
    result.workloads = {m.name: m.as_dict() for m in moving}
    return result


def _watch_back(ctx: Context, arn: str, workers: list[Any], timeout: float, purpose: str) -> DeployResult:
    """Watch a rollback of the web service and of the workers together; the first failure is raised
    once every watch ended (a rollback rolls nothing else back)."""
    if not workers:
        return watch(ctx, arn, timeout, purpose=purpose)
    from . import release

    outcome = release.watch_together(
        ctx,
        lambda abort: watch(ctx, arn, timeout, purpose=purpose, abort=abort),
        workers,
        timeout,
        purpose,
        stop_on_failure=False,
    )
    if outcome.error is not None:
        raise outcome.error
    assert outcome.web is not None
    return outcome.web
