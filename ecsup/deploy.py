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

from collections.abc import Callable
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
def register_revision(ctx: Context, td: dict[str, Any], tags: list[dict[str, str]], image: str) -> str:
    """A revision identical to ``td`` except the image of ecsup's container."""
    ecs = ctx.client("ecs")
    accepted = ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members
    args = {k: v for k, v in td.items() if k in accepted and k != "tags"}
    args["containerDefinitions"] = [
        dict(c, image=image) if c.get("name") == ctx.names.container else c for c in td["containerDefinitions"]
    ]
    with doing(f"register task definition {ctx.names.family} with image {image}"):
        new = ecs.register_task_definition(**args, tags=tags or [])["taskDefinition"]
    return str(new["taskDefinitionArn"])


EARLY_RETURN = (
    "ECS keeps watching the deployment and its alarms for the rest of the bake, and rolls it back on ALARM "
    "with nothing of ours running; `ecsup deploy --watch` watches it again"
)


def _follow(ctx: Context, arn: str, timeout: float, wait_until: str) -> DeployResult:
    """Watch a deployment until production traffic is all on the new revision, probe it
    (verify.py: a failing answer rolls it back), then watch it to its end -- or return there,
    with ``wait_until="production"``."""
    from .verify import probe

    start = ctx.clock()
    watched = watch(ctx, arn, timeout, until=lambda state: state.production_moved)
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
    done = watch(ctx, arn, max(1.0, timeout - (ctx.clock() - start)), since=start)
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
    watched = _follow(ctx, in_progress, timeout, wait_until)
    watched.image_before, watched.image_after, watched.message = current, target_image, result.message
    return _early(watched, watched.stage) if watched.stage != "complete" else watched


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
    if target == current:
        return DeployResult(
            None,
            "UNCHANGED",
            short(svc["taskDefinition"]),
            short(svc["taskDefinition"]),
            current,
            target,
            message=f"{short(svc['taskDefinition'])} already runs {target}: nothing to deploy. {SAME_TAG_HINT}",
        )
    if image is None:  # the user named no image: never replace the running one silently
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
        new_td = register_revision(ctx, current_td, tags, target)
        from .run import before_rollout, placement_of

        before_rollout(ctx, new_td, placement_of(svc))  # [service.deploy] before: BeforeFailed stops here
        arn = start(ctx, new_td, svc)
    result = DeployResult(arn, "PENDING", short(svc["taskDefinition"]), short(new_td), current, target)
    result.message = (
        f"deploying {target} as {short(new_td)}, replacing {current} ({arn or 'deployment not listed yet'})"
    )
    if wait_until == "started" or arn is None:
        return _early(result, "started", unguarded)
    ctx.ui.release_started(result.message)
    watched = _follow(ctx, arn, timeout, wait_until)
    watched.image_before, watched.image_after, watched.message = current, target, result.message
    return _early(watched, watched.stage, unguarded) if watched.stage != "complete" else watched


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
    from .alarm_guard import guard_release

    unguarded = guard_release(ctx, svc)  # as deploy: an alarm in ALARM already would not guard it
    with lock.held(ctx, "restart"):
        with doing(f"update service {ctx.names.service}"):
            updated = ctx.client("ecs").update_service(
                cluster=ctx.names.cluster, service=ctx.names.service, forceNewDeployment=True
            )["service"]
        arn = started_deployment(ctx, updated, svc["taskDefinition"])
    strategy = str((svc.get("deploymentConfiguration") or {}).get("strategy") or "ROLLING")
    result = DeployResult(arn, "PENDING", revision, revision, image, image)
    result.message = (
        f"restarting {revision} ({image}): {svc.get('desiredCount')} task(s) replaced through a new "
        f"{strategy} deployment ({arn or 'deployment not listed yet'})"
    )
    if wait_until == "started" or arn is None:
        return _early(result, "started", unguarded)
    ctx.ui.release_started(result.message)
    watched = _follow(ctx, arn, timeout, wait_until)
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
    """A deployment in progress: StopServiceDeployment(ROLLBACK). Otherwise: deploy the task
    definition the service ran before its last successful deployment (same strategy)."""
    from . import lock

    svc = service(ctx, "roll back")
    current_td, _ = describe_task_definition(ctx, svc["taskDefinition"])
    in_progress = ongoing(ctx)
    ended_first = ""
    if in_progress:
        try:
            with lock.held(ctx, "rollback"), doing(f"roll back deployment {in_progress}"):
                ctx.client("ecs").stop_service_deployment(serviceDeploymentArn=in_progress, stopType="ROLLBACK")
        except Exception as exc:
            # It ended between the look and the request: StopServiceDeployment answers
            # ConflictException for a deployment in a terminal state (ECS API reference).
            if not is_code(exc, "ConflictException"):
                raise
            ended = describe_deployment(ctx, in_progress)
            status = str(ended.get("status", ""))
            ended_first = f"the deployment in progress ended {status} before the rollback request reached it"
            if status != "SUCCESSFUL":  # ECS put the previous revision back itself: nothing more to undo
                result = DeployResult(
                    in_progress, status, short(svc["taskDefinition"]), short(svc["taskDefinition"]), "", ""
                )
                back = describe_task_definition(ctx, service(ctx)["taskDefinition"])[0]
                result.revision_after, result.image_after = short(back["taskDefinitionArn"]), image_of(ctx, back)
                result.image_before = image_of(ctx, current_td)
                result.message = f"{ended_first}; the service runs {result.revision_after} ({result.image_after})"
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
            result = watch(ctx, in_progress, timeout, purpose="rollback")
        back = describe_task_definition(ctx, service(ctx)["taskDefinition"])[0]
        result.revision_after, result.image_after = short(back["taskDefinitionArn"]), image_of(ctx, back)
        result.image_before = image_of(ctx, current_td)
        result.message = f"rolled back the deployment in progress to {result.revision_after} ({result.image_after})"
        return result
    previous = previous_revision(ctx, svc)
    if previous is None:
        raise EcsupError(
            f"service {ctx.names.service} has no earlier revision to go back to "
            f"(it runs {short(svc['taskDefinition'])})",
            hint="deploy the image you want with `ecsup deploy --image IMAGE`",
        )
    before_td = describe_task_definition(ctx, previous)[0]
    with lock.held(ctx, "rollback"):
        arn = start(ctx, previous, svc)
    result = DeployResult(
        arn,
        "PENDING",
        short(svc["taskDefinition"]),
        short(previous),
        image_of(ctx, current_td),
        image_of(ctx, before_td),
    )
    message = f"back to {short(previous)} ({result.image_after})"
    if wait and arn is not None:
        ctx.ui.release_started(message)
        watched = watch(ctx, arn, timeout)
        watched.image_before, watched.image_after = result.image_before, result.image_after
        result = watched
    result.message = (f"{ended_first}; " if ended_first else "") + message
    return result
