"""Releases of every workload: the workers and jobs that follow the web service's image
(``Workload.follows_service_image``: no ``image`` of their own) are released with it.

One ``ecsup deploy --image IMG`` is one release:

1. a new revision of each such worker's and job's task definition family, identical to the one
   it runs (a worker) or its state machine points at (a job) but for the image of the
   workload's container -- as the web service's revision is made from the one it runs: a
   release changes the image only, `ecsup create` applies the rest of ecsup.toml;
2. the web service's revision, carrying the **release record**: a tag
   ``ecsup:release:<workload>`` = ``<family>:<revision>`` for each worker and job revision
   registered with it (ECS task definitions take up to 50 tags, ``:`` is allowed in keys and
   values -- ECS API reference, Tag). The web revision is the release's identity: whoever reads
   it (a rollback, a later watch) finds the revisions that belong to it, with one read;
3. the ``before`` task once (deploy.py), then the web service's deployment (its strategy) and
   each worker's rolling deployment, started together and watched together (``watch_together``:
   one live view, a line per workload);
4. once all of them succeeded, each job's state machine points at its new revision
   (``steps.jobs.point_jobs_at``, next to the definition it edits). A failed release leaves the
   jobs where they were; a worker that fails fails the release: the web service's deployment is
   rolled back (StopServiceDeployment ROLLBACK while it runs, a deployment of the revision before
   once it ended SUCCESSFUL) and the other workers are updated back to the revision they ran (``undo``).

``ecsup rollback`` takes every workload back to the release before: the web service to the
revision it ran before its last successful deployment (deploy.previous_revision), each worker
and job to the revision that release's record names. A web revision without a record (the one
`create` made, or one made before releases recorded their workloads) falls back, for each
workload, to the highest revision of its family below the one the current release recorded: the
revision it had before that release.

Not a step: like deploy.py, an operation on the running stack; it never prints or sleeps (the UI
draws ``DeployState``s, waiting.py waits).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .context import Context
from .deployments import (
    ONGOING,
    DeploymentInProgress,
    DeployResult,
    StackMissing,
    describe_deployment,
    describe_task_definition,
    ongoing,
    short,
    started_deployment,
    watch,
)
from .errors import EcsupError, doing, is_code
from .steps.jobs import point_jobs_at, state_machine_arn

RECORD_TAG = "ecsup:release:"  # on a web revision: ecsup:release:<workload> = <family>:<revision>
# the Run state of a job's state machine (its definition is the jobs' step's): the ECS integration
RUN_TASK = ":states:::ecs:runTask"


@dataclass
class Member:
    """A worker or job released (restarted, rolled back) with the web service."""

    name: str
    kind: str  # "worker" or "job"
    family: str
    before: str  # task definition it runs (a worker) or its state machine points at (a job)
    after: str = ""  # the one it goes to
    deployment: str | None = None  # a worker's deployment
    status: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "revision_before": short(self.before),
            "revision_after": short(self.after or self.before),
            "status": self.status,
        }


# -- reading ----------------------------------------------------------------------------------------
def worker_service(ctx: Context, name: str, to: str = "release") -> dict[str, Any]:
    """The worker's ECS service, which must exist and be ecsup's."""
    from .deployments import service

    service_name = ctx.names.workload(name)
    return service(
        ctx,
        to,
        service_name,
        (
            f"worker {name} has no service {service_name} in {ctx.region} to {to}: nothing was changed",
            "`ecsup create` builds it (ecsup.toml names it under [workers])",
        ),
    )


def _run_parameters(definition: dict[str, Any]) -> dict[str, Any] | None:
    """The Parameters of the state that runs the job's task (Resource arn:<partition>:states:::ecs:runTask[.sync])."""
    for state in (definition.get("States") or {}).values():
        if RUN_TASK in str(state.get("Resource", "")) and isinstance(state.get("Parameters"), dict):
            return dict(state["Parameters"])
    return None


def _state_machine(ctx: Context, job: str) -> tuple[str, dict[str, Any]]:
    arn = state_machine_arn(ctx, job)
    with doing(f"describe state machine {ctx.names.workload(job)}"):
        try:
            found = ctx.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
        except Exception as exc:
            if not is_code(exc, "StateMachineDoesNotExist"):
                raise
            raise StackMissing(
                f"job {job} has no state machine {ctx.names.workload(job)} in {ctx.region}: nothing was changed",
                hint="`ecsup create` builds it (ecsup.toml names it under [jobs])",
            ) from None
    return arn, json.loads(found["definition"])


def job_task_definition(ctx: Context, job: str) -> str:
    """The task definition a job's state machine runs."""
    _, definition = _state_machine(ctx, job)
    params = _run_parameters(definition) or {}
    found = str(params.get("TaskDefinition", ""))
    if not found:
        raise EcsupError(
            f"the state machine of job {job} runs no ECS task (no {RUN_TASK} state with a TaskDefinition)",
            hint="`ecsup create` puts it back as ecsup makes it",
        )
    return found


def members(
    ctx: Context, following: bool = True, jobs: bool = True, to: str = "release", busy_ok: bool = False
) -> list[Member]:
    """The workers (and jobs) released with the web service, each with the revision it has now:
    those without an image of their own (``following``), or every worker (a restart). Refuses
    (nothing changed) when one does not exist yet, or when a worker's deployment is in progress
    (unless ``busy_ok``: a rollback supersedes it)."""
    found: list[Member] = []
    for worker in ctx.config.workers:
        if following and not worker.follows_service_image:
            continue
        svc = worker_service(ctx, worker.name, to)
        in_progress = None if busy_ok else ongoing(ctx, svc["serviceName"])
        if in_progress:
            raise DeploymentInProgress(
                f"a deployment of worker {worker.name} is in progress ({in_progress})",
                hint="wait for it to end (`ecsup status`), or stop it with `ecsup rollback`",
            )
        found.append(Member(worker.name, "worker", ctx.names.workload(worker.name), str(svc["taskDefinition"])))
    for job in ctx.config.jobs if jobs else ():
        if following and not job.follows_service_image:
            continue
        found.append(Member(job.name, "job", ctx.names.workload(job.name), job_task_definition(ctx, job.name)))
    return found


def member_image(ctx: Context, member: Member) -> str:
    """The image of the workload's container in the revision it has now."""
    containers = describe_task_definition(ctx, member.before)[0].get("containerDefinitions") or []
    ours = next((c for c in containers if c.get("name") == member.name), containers[0] if len(containers) == 1 else {})
    return str(ours.get("image", ""))


def register(ctx: Context, released: list[Member], image: str) -> list[dict[str, str]]:
    """A revision of each member's family with ``image`` in the workload's container; the release
    record (the web revision's tags) naming them."""
    from .deploy import register_revision

    record = []
    for member in released:
        td, tags = describe_task_definition(ctx, member.before)
        member.after = register_revision(ctx, td, tags, image, container=member.name)
        record.append({"key": RECORD_TAG + member.name, "value": short(member.after)})
    return record


def web_tags(tags: list[dict[str, str]], record: list[dict[str, str]]) -> list[dict[str, str]]:
    """The web revision's tags: those of the revision it is made from, without that one's record."""
    return [t for t in tags if not str(t.get("key", "")).startswith(RECORD_TAG)] + record


def recorded(ctx: Context, web_task_definition: str) -> dict[str, str]:
    """workload -> family:revision, from a web revision's release record ({} without one)."""
    _, tags = describe_task_definition(ctx, web_task_definition)
    return {
        str(t["key"])[len(RECORD_TAG) :]: str(t["value"])
        for t in tags
        if str(t.get("key", "")).startswith(RECORD_TAG) and t.get("value")
    }


def revision_below(ctx: Context, family: str, revision: str) -> str | None:
    """The highest ACTIVE revision of ``family`` below ``revision`` (family:n), or None."""
    number = int(short(revision).rsplit(":", 1)[-1])
    best: tuple[int, str] | None = None
    with doing(f"list the task definitions of family {family}"):
        pages = ctx.client("ecs").get_paginator("list_task_definitions")
        for page in pages.paginate(familyPrefix=family, status="ACTIVE"):
            for arn in page.get("taskDefinitionArns", []):
                name, _, rev = short(arn).rpartition(":")
                if name == family and rev.isdigit() and int(rev) < number and (best is None or int(rev) > best[0]):
                    best = (int(rev), str(arn))
    return best[1] if best else None


# -- moving -----------------------------------------------------------------------------------------
def update_worker(ctx: Context, member: Member, task_definition: str | None = None, force: bool = False) -> None:
    """UpdateService of a worker with a task definition (or forceNewDeployment): its deployment."""
    service_name = ctx.names.workload(member.name)
    kwargs: dict[str, Any] = {"forceNewDeployment": True} if force else {"taskDefinition": task_definition}
    with doing(f"update service {service_name}"):
        updated = ctx.client("ecs").update_service(cluster=ctx.names.cluster, service=service_name, **kwargs)["service"]
    member.deployment = started_deployment(ctx, updated, None if force else task_definition)
    member.status = "PENDING"


def start_workers(ctx: Context, released: list[Member]) -> None:
    for member in released:
        if member.kind == "worker":
            update_worker(ctx, member, member.after)


def point_jobs(ctx: Context, released: list[Member]) -> None:
    for member in released:
        if member.kind == "job" and member.after:
            point_jobs_at(ctx, {member.name: member.after})
            member.status = "POINTED"


def stop_workers(ctx: Context) -> list[Member]:
    """`rollback` of a release in progress: each worker's deployment in progress is rolled back by
    ECS (StopServiceDeployment ROLLBACK: back to its previous service revision -- ECS Developer
    Guide, "Stopping Amazon ECS service deployments"; any deployment of the ECS controller)."""
    stopped = []
    for worker in ctx.config.workers:
        svc = worker_service(ctx, worker.name, "roll back")
        arn = ongoing(ctx, svc["serviceName"])
        if not arn:
            continue
        member = Member(worker.name, "worker", ctx.names.workload(worker.name), str(svc["taskDefinition"]))
        try:
            with doing(f"roll back deployment {arn}"):
                ctx.client("ecs").stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
            member.deployment, member.status = arn, "ROLLBACK_REQUESTED"
        except Exception as exc:
            if not is_code(exc, "ConflictException"):  # it ended meanwhile (API reference)
                raise
            member.status = str(describe_deployment(ctx, arn).get("status", ""))
        stopped.append(member)
    return stopped


def rollback_members(ctx: Context, current_web: str, previous_web: str) -> tuple[list[Member], list[str]]:
    """Where `rollback` takes each worker and job following the service's image: the revision the
    previous release's record names (or, without one, the one below the current release's). The
    members that need to move, and notes on those left as they are."""
    wanted, fallback = recorded(ctx, previous_web), recorded(ctx, current_web)
    moving, notes = [], []
    for member in members(ctx, to="roll back", busy_ok=True):
        target = wanted.get(member.name)
        if target is None and member.name in fallback:
            target = revision_below(ctx, member.family, fallback[member.name])
        if target is None:
            notes.append(f"{member.kind} {member.name} stays on {short(member.before)}: no release recorded it")
            continue
        if short(target) == short(member.before):
            continue
        member.after = describe_task_definition(ctx, target)[0]["taskDefinitionArn"]
        moving.append(member)
    return moving, notes


# -- watching ---------------------------------------------------------------------------------------
@dataclass
class Outcome:
    web: DeployResult | None
    failed: str | None  # the first workload that failed ("web" or a worker's name)
    error: EcsupError | None


def watch_together(
    ctx: Context,
    web: Callable[[Callable[[], bool]], DeployResult] | None,
    workers: list[Member],
    timeout: float,
    purpose: str = "deploy",
    stop_on_failure: bool = True,
) -> Outcome:
    """Watch the web service's deployment (``web(abort)``, in this thread) and each worker's (one
    thread each) at once: every look goes to the one live view. With ``stop_on_failure``, the first
    failure (ECS rolled it back, or the watch timed out) stops the other watches where they are:
    the caller rolls their deployments back. A bug (not an EcsupError) stops them and propagates."""
    from concurrent.futures import ThreadPoolExecutor

    abort = threading.Event()
    failures: list[tuple[str, EcsupError]] = []
    lock = threading.Lock()

    def failed(name: str, exc: EcsupError) -> None:
        with lock:
            failures.append((name, exc))
        if stop_on_failure:
            abort.set()

    def one(member: Member) -> None:
        try:
            assert member.deployment is not None
            result = watch(
                ctx,
                member.deployment,
                timeout,
                purpose=purpose,
                service_name=ctx.names.workload(member.name),
                workload=member.name,
                abort=abort.is_set,
            )
            member.status = result.status
        except EcsupError as exc:
            result_of = getattr(exc, "result", None)
            member.status = getattr(result_of, "status", "") or "FAILED"
            failed(member.name, exc)
        except BaseException:
            abort.set()
            raise

    watched = [m for m in workers if m.deployment]
    web_result: DeployResult | None = None
    with ThreadPoolExecutor(max_workers=max(1, len(watched)), thread_name_prefix="ecsup-release") as pool:
        futures = [pool.submit(one, m) for m in watched]
        try:
            if web is not None:
                web_result = web(abort.is_set)
        except EcsupError as exc:
            web_result = getattr(exc, "result", None)
            failed("web", exc)
        except BaseException:
            abort.set()  # Ctrl-C or a bug: the other watches stop at their next look
            raise
        finally:
            for future in futures:
                future.exception()  # wait for each
    for future in futures:
        future.result()  # a bug in a watch propagates
    first = failures[0] if failures else (None, None)
    return Outcome(web_result, first[0], first[1])


def undo(
    ctx: Context,
    web_arn: str | None,
    web_before: str,
    failed: str,
    released: list[Member],
    timeout: float,
) -> list[str]:
    """A release failed (``failed``: the workload whose deployment failed): roll back what else was
    started, and watch it. The web service: StopServiceDeployment ROLLBACK while its deployment
    runs (as `ecsup rollback`), a deployment of ``web_before`` once it ended SUCCESSFUL (ECS rolled
    it back itself when it failed). The other workers: an update back to the revision they ran.
    Returns what was done, one phrase per workload."""
    from .deploy import start
    from .deployments import service

    done: list[str] = []
    web_back: str | None = None
    purpose = "deploy"
    if failed != "web" and web_arn:
        status = str(describe_deployment(ctx, web_arn).get("status", ""))
        if status in ONGOING and status not in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            try:
                with doing(f"roll back deployment {web_arn}"):
                    ctx.client("ecs").stop_service_deployment(serviceDeploymentArn=web_arn, stopType="ROLLBACK")
                status = "ROLLBACK_REQUESTED"
            except Exception as exc:
                if not is_code(exc, "ConflictException"):  # it ended meanwhile
                    raise
                status = str(describe_deployment(ctx, web_arn).get("status", ""))
        if status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            web_back, purpose = web_arn, "rollback"
            done.append("the web service's deployment rolled back by ECS")
        elif status == "SUCCESSFUL":
            web_back = start(ctx, web_before, service(ctx))
            done.append(f"the web service back to {short(web_before)}")
    workers = []
    for member in released:
        if member.kind == "worker" and member.name != failed and member.deployment:
            update_worker(ctx, member, member.before)
            workers.append(member)
            done.append(f"worker {member.name} back to {short(member.before)}")
        elif member.kind == "worker" and member.name == failed:
            done.append(f"worker {member.name} rolled back by ECS")

    def web_watch(abort: Callable[[], bool]) -> DeployResult:
        assert web_back is not None
        return watch(ctx, web_back, timeout, purpose=purpose, abort=abort)

    outcome = watch_together(ctx, web_watch if web_back else None, workers, timeout, stop_on_failure=False)
    if outcome.error is not None:
        done.append(f"but {outcome.failed}'s rollback did not complete ({outcome.error.message})")
    return done


def describe(released: list[Member]) -> str:
    """ ", with worker mailer as web-dev-mailer:3, job nightly as web-dev-nightly:2" (or "")."""
    if not released:
        return ""
    return ", with " + ", ".join(f"{m.kind} {m.name} as {short(m.after or m.before)}" for m in released)


def busy_workers(ctx: Context) -> list[Member]:
    """The workers of ecsup.toml with a deployment in progress (a release started with --no-wait)."""
    busy = []
    for worker in ctx.config.workers:
        try:
            svc = worker_service(ctx, worker.name, "watch")
        except StackMissing:  # not built yet: no deployment of it to watch
            continue
        arn = ongoing(ctx, svc["serviceName"])
        if arn:
            member = Member(worker.name, "worker", ctx.names.workload(worker.name), str(svc["taskDefinition"]))
            member.deployment, member.status = arn, "IN_PROGRESS"
            busy.append(member)
    return busy


@dataclass
class Behind:
    """A worker of a release that does not run the revision the release recorded for it."""

    worker: str
    runs: str  # family:revision it runs
    recorded: str  # family:revision the release recorded
    started: bool  # its deployment was started (and failed); False: never started (the run crashed first)
    release: str  # the web revision (family:revision)

    @property
    def why(self) -> str:
        if self.started:
            return (
                f"worker {self.worker} runs {self.runs}, not {self.recorded} of the release {self.release}: "
                "its deployment failed, so the release did"
            )
        return (
            f"worker {self.worker} runs {self.runs}, not {self.recorded} of the release {self.release}: its "
            "deployment was never started (the run that started the release stopped before it), so the release "
            "is incomplete"
        )


def _since(ctx: Context, worker_service_name: str, since: Any) -> list[dict[str, Any]]:
    """The worker's deployments created after ``since`` (the web deployment's createdAt), newest first."""
    from .deployments import list_deployments

    return list_deployments(ctx, worker_service_name, createdAt={"after": since}) if since else []


def behind(ctx: Context, web_task_definition: str, since: Any = None, settled: bool = True) -> Behind | None:
    """The first worker of the release ``web_task_definition`` records that does not run its
    recorded revision (with ``settled``: or whose deployment still runs), or None. ``since``: the
    web deployment's createdAt -- a worker with no deployment created after it was never started
    (a run that stopped between the web service's UpdateService and the workers')."""
    record = recorded(ctx, web_task_definition)
    for worker in ctx.config.workers:
        if worker.follows_service_image and worker.name in record:
            svc = worker_service(ctx, worker.name, "watch")
            runs = short(str(svc["taskDefinition"]))
            if runs != record[worker.name] or (settled and ongoing(ctx, svc["serviceName"])):
                started = since is None or bool(_since(ctx, str(svc["serviceName"]), since))
                return Behind(worker.name, runs, record[worker.name], started, short(web_task_definition))
    return None


def recorded_workers(ctx: Context, web_task_definition: str, since: Any) -> list[Member]:
    """The workers of the release ``web_task_definition`` records that were started with it (a
    deployment created after ``since``), each with the revision that deployment replaced: what
    ``undo`` takes back."""
    from .deploy import source_of

    record = recorded(ctx, web_task_definition)
    found = []
    for worker in ctx.config.workers:
        if not worker.follows_service_image or worker.name not in record:
            continue
        svc = worker_service(ctx, worker.name, "roll back")
        briefs = _since(ctx, str(svc["serviceName"]), since)
        before = source_of(ctx, str(briefs[0]["serviceDeploymentArn"])) if briefs else None
        if before is None:
            continue
        member = Member(worker.name, "worker", ctx.names.workload(worker.name), before, str(svc["taskDefinition"]))
        member.deployment = str(briefs[0]["serviceDeploymentArn"])
        found.append(member)
    return found


def finish_jobs(ctx: Context, web_task_definition: str) -> list[Member]:
    """A release watched to its end by `ecsup deploy --watch` (one started with --no-wait or cut
    short) whose workers all run the revision recorded (``behind`` found none): point each job
    following the image at the revision the record names. Returns the jobs moved. Under the
    stack's lock (the caller's): the state machine's definition is read, edited and written."""
    record = recorded(ctx, web_task_definition)
    moved = []
    for job in ctx.config.jobs:
        if not job.follows_service_image or job.name not in record:
            continue
        member = Member(job.name, "job", ctx.names.workload(job.name), job_task_definition(ctx, job.name))
        if short(member.before) == record[job.name]:
            continue
        member.after = describe_task_definition(ctx, record[job.name])[0]["taskDefinitionArn"]
        point_jobs_at(ctx, {job.name: member.after})
        member.status = "POINTED"
        moved.append(member)
    return moved
