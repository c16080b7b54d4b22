"""ECS tasks: one-off tasks (RunTask, DescribeTasks, ListTasks, StopTask) and ECS Exec
(ExecuteCommand; SSM StartSession for port forwarding), which moto lacks or gets wrong.

moto 5.2.x runs no containers: its RunTask fails (HTTP 500, a TypeError summing container
memory) for a task definition whose containers have no container-level ``memory``, as
ecsup's; where it runs, tasks never stop by themselves and have no exit code; it has no
ExecuteCommand and no SSM StartSession (STACK.md). This module answers those calls itself,
on the emulation's clock (the tests' fake clock, or the real one in the sandbox).

What AWS reports, and where it is documented
--------------------------------------------
* RunTask (ECS API reference): the cluster must exist (ClusterNotFoundException), the task
  definition too ("TaskDefinition not found.", ClientException); an ``awsvpc`` task needs
  ``networkConfiguration`` ("Network Configuration must be provided when networkMode 'awsvpc'
  is specified."); ``launchType`` and ``capacityProviderStrategy`` exclude each other;
  ``startedBy`` is at most 128 letters, digits, hyphens and underscores; a container override
  must name a container of the task definition; task-level ``overrides.cpu``/``memory`` must be
  a Fargate size. The task's ``group`` defaults to ``family:<family>``.
* Lifecycle (ECS Developer Guide, "Amazon ECS task lifecycle"): PROVISIONING -> PENDING ->
  RUNNING -> DEPROVISIONING -> STOPPED, with ``pullStartedAt``/``pullStoppedAt``,
  ``startedAt``, ``stoppingAt``, ``executionStoppedAt`` and ``stoppedAt``. A task that cannot
  start stops with ``stopCode`` TaskFailedToStart and no container exit code; an essential
  container that exits stops the task with EssentialContainerExited ("Essential container in
  task exited") and the container's ``exitCode``; StopTask gives UserInitiated and the reason
  given (<= 255 characters), the container receiving SIGTERM (exit code 143); a Spot
  interruption gives SpotInterruption ("Your Spot Task was interrupted.").
* The container's output goes to its awslogs stream ``<prefix>/<container>/<task id>``
  (Developer Guide, "Using the awslogs log driver"); a log group that does not exist stops the
  task before it runs (ResourceInitializationError). The log driver delivers each line
  ``Delays.log_delivery`` seconds after the container wrote it, so the last lines of a task reach
  the stream after it stopped, even after it is STOPPED: Docker's awslogs driver sends its batches
  every 5 s and the rest as the container stops (moby, daemon/logger/awslogs/cloudwatchlogs.go,
  ``batchPublishFrequency``), and CloudWatch Logs shows events to GetLogEvents some time after
  PutLogEvents; a reader that stops at STOPPED misses the tail (apache/airflow#43717, the end of an
  ECS task's log missing; #73210, the fetcher stopped before the last events were read).
* ECS Exec (Developer Guide, "Monitor Amazon ECS containers with ECS Exec"): a task can be
  exec'd into only when it was started with ``enableExecuteCommand`` -- for a service's tasks,
  when the service had it on as the deployment that started them began (turning it on needs a
  new deployment). Otherwise ExecuteCommand answers InvalidParameterException "The execute
  command failed because execute command was not enabled when the task was run or the execute
  command agent isn't running. ..." (the message the AWS CLI users report). ``interactive``
  must be true ("Interactive is the only mode supported currently."). The answer carries
  ``session {sessionId, streamUrl, tokenValue}``. Such tasks list the ``ExecuteCommandAgent``
  managed agent on their containers (API reference, ManagedAgent: lastStatus, lastStartedAt,
  reason): PENDING until ``Delays.exec_agent_start`` after the container started, then RUNNING,
  STOPPED with the container; ExecuteCommand is refused (the message above) until it runs. Each
  container has a ``runtimeId``: the AWS CLI hands
  the plugin the target ``ecs:<cluster>_<task id>_<runtimeId>`` (aws-cli,
  awscli/customizations/ecs/executecommand.py), which SSM StartSession accepts for port
  forwarding (document AWS-StartPortForwardingSessionToRemoteHost); a target that is not
  connected answers TargetNotConnected.
* A service's running tasks are listed (ListTasks ``serviceName``, group ``service:<name>``,
  ``startedBy`` the deployment id) from the deployment emulation's revisions (deployments.py).
* Worded here (no documented message found): an invalid ``startedBy`` or ``count``, a task
  that ExecuteCommand or StopTask cannot find, a StopTask ``reason`` over 255 characters. Not
  emulated: StopTask of a service's task (ecsup never does it; here it is refused) and a stopped
  task's later disappearance from DescribeTasks.

Sandbox convention: what a one-off task does
--------------------------------------------
Nothing runs, so the task's command decides what it "does". The command is read as a shell
script (``sh -c SCRIPT`` / ``bash -c SCRIPT``, else the words joined), in segments separated by
``;``, ``&&`` or new lines:

* ``echo TEXT`` writes TEXT as a log line;
* ``sleep N`` lets N seconds pass before the next segment (on the emulation's clock);
* ``exit N`` ends the container with exit code N (default: 0 at the end of the script);
* anything else writes nothing and takes no time.

The image decides failures outside the container: an image reference containing **unpullable**
cannot be pulled (CannotPullContainerError, TaskFailedToStart: no exit code), one containing
**interrupted** is interrupted by Fargate Spot while it runs (SpotInterruption: no exit code),
and one containing **nocapacity** is not started at all: RunTask lists it in ``failures[]``
with Fargate's "Capacity is unavailable at this time. ..." reason.
A task takes ``Delays.task_start`` to start (a third PROVISIONING, the rest PENDING), runs at
least a second, and takes a tenth of ``Delays.task_start`` to deprovision.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import emulation as _emulation
from ..config import FARGATE_MEMORY
from . import AwsFault, Emulation, _ecs, _state

UNPULLABLE_WORD = "unpullable"
INTERRUPTED_WORD = "interrupted"
# Fargate's answer when a zone has no capacity for the task: RunTask succeeds with the task in
# failures[], reason as below and no ARN (gchq/sleeper#904 logs "Failure: ARN null Reason Capac...";
# the wording: sil-org/ecs-deploy#277). Sandbox convention: an image naming NO_CAPACITY
NO_CAPACITY = "nocapacity"
CAPACITY_UNAVAILABLE = (
    "Capacity is unavailable at this time. Please try again later or in a different availability zone"
)
EXIT_SIGTERM = 143  # 128 + SIGTERM: what a container stopped by StopTask reports
NOT_ENABLED = (
    "The execute command failed because execute command was not enabled when the task was run or the execute "
    "command agent isn't running. Wait and try again or run a new task with execute command enabled and try again."
)
LIST_TASKS_PAGE = 100  # ListTasks' page without maxResults (ECS API reference); tests shrink it
# "Up to 128 letters (uppercase and lowercase), numbers, hyphens (-), forward slash (/), and
# underscores (_) are allowed." (ECS API reference, RunTask startedBy; a service's own are ecs-svc/...)
# RunTask's / StartTask's startedBy: "Up to 36 letters (uppercase and lowercase), numbers, hyphens
# (-), forward slash (/), and underscores (_)" (ECS API reference, StartTask); a longer one is
# refused, "InvalidParameterException: startedBy longer than 36." (mapbox/ecs-watchbot#78,
# convox/rack#1843), and so is ListTasks' startedBy filter, "ownerId longer than 36."
# (aws/amazon-ecs-cli#97)
STARTED_BY_LIMIT = 36
_STARTED_BY = re.compile(r"^[A-Za-z0-9_/-]+$")
_LOCK = threading.RLock()  # the sandbox's server answers requests on several threads


# -- model ------------------------------------------------------------------------------------
@dataclass
class Script:
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds into the run, text)
    duration: float = 1.0
    exit_code: int = 0


def script_of(command: list[str]) -> Script:
    """The sandbox convention (module docstring): echo, sleep, exit."""
    if len(command) >= 3 and command[0].rsplit("/", 1)[-1] in ("sh", "bash") and command[1] == "-c":
        text = command[2]
    else:
        text = " ".join(command)
    out = Script()
    at = 0.0
    for segment in re.split(r";|&&|\n", text):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        if not words:
            continue
        if words[0] == "echo":
            out.lines.append((at, " ".join(words[1:])))
        elif words[0] == "sleep" and len(words) > 1:
            with contextlib.suppress(ValueError):
                at += float(words[1])
        elif words[0] == "exit":
            out.exit_code = int(words[1]) % 256 if len(words) > 1 and words[1].isdigit() else 0
            break
    out.duration = max(1.0, at)
    return out


@dataclass
class OneOff:
    arn: str
    id: str
    account: str
    region: str
    cluster: str  # name
    cluster_arn: str
    task_definition: str
    family: str
    group: str
    started_by: str | None
    tags: list[dict[str, str]]
    overrides: dict[str, Any]
    network: dict[str, Any]
    launch_type: str | None
    capacity_provider: str | None
    cpu: str
    memory: str
    containers: list[dict[str, Any]]  # DescribeTasks' containers[] (without status fields)
    log: tuple[str, str] | None  # (group, stream) of the essential container
    script: Script
    image: str
    exec_enabled: bool
    created: float  # emulation clock
    created_at: datetime
    status: str = "PROVISIONING"
    desired: str = "RUNNING"
    stop_code: str | None = None
    stopped_reason: str | None = None
    container_reason: str | None = None
    exit_code: int | None = None
    times: dict[str, float] = field(default_factory=dict)  # event -> emulation clock
    written: int = 0  # log lines written so far
    # written, not yet delivered to CloudWatch Logs: (emulation time written, text) -- see _deliver
    undelivered: list[tuple[float, str]] = field(default_factory=list)
    stop_at: float | None = None  # when it ends, once known
    # A StopTask due at a time (emulation clock), with its reason: Step Functions stopping the task of
    # a state that timed out (jobs.py), applied at that time even when the task is advanced later.
    stop_request: tuple[float, str] | None = None

    def wall(self, t: float) -> datetime:
        return self.created_at + timedelta(seconds=t - self.created)


def _tasks(ecs: Any) -> dict[str, OneOff]:
    return _state(ecs, "one_off_tasks")


def _now_utc() -> datetime:
    from moto.core.utils import utcnow

    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _invalid(message: str) -> AwsFault:
    return AwsFault("InvalidParameterException", message)


def _logs_backend(account: str, region: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[account][region]


def _write_lines(task: OneOff, upto: float) -> None:
    """The container's output, up to ``upto`` seconds into its run: written to its log driver,
    which delivers it to the awslogs stream a moment later (_deliver)."""
    if task.log is None or "startedAt" not in task.times:
        return
    due = [line for line in task.script.lines[task.written :] if line[0] <= upto]
    began = task.times["startedAt"]
    task.undelivered.extend((began + at, text) for at, text in due)
    task.written += len(due)


def _deliver(task: OneOff, now: float, delay: float) -> None:
    """awslogs delivers a line ``Delays.log_delivery`` seconds after the container wrote it --
    also after the container stopped, and after the task is STOPPED. Timestamps are the real
    time (CloudWatch Logs refuses events dated far in the past)."""
    if task.log is None:
        return
    due = [text for at, text in task.undelivered if at + delay <= now]
    if not due:
        return
    del task.undelivered[: len(due)]
    group, stream = task.log
    logs = _logs_backend(task.account, task.region)
    if group not in logs.groups:
        return
    try:
        logs.ensure_log_stream(group, stream)
    except AttributeError:  # older moto
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
    now_ms = int(time.time() * 1000)
    logs.put_log_events(group, stream, [{"timestamp": now_ms, "message": text} for text in due])


def _stop(task: OneOff, t: float, code: str, reason: str, container_reason: str | None = None) -> None:
    task.desired = "STOPPED"
    task.stop_code, task.stopped_reason = code, reason
    task.container_reason = container_reason
    task.times["stoppingAt"] = task.times["executionStoppedAt"] = t
    task.status = "DEPROVISIONING"
    task.stop_at = t


def _user_stop(task: OneOff, t: float, reason: str) -> None:
    """StopTask at ``t``: a running container gets SIGTERM (exit 143) after writing what it had."""
    if task.status == "RUNNING":
        _write_lines(task, t - task.times["startedAt"])
        task.exit_code = EXIT_SIGTERM
    _stop(task, t, "UserInitiated", reason)


def advance(em: Emulation, ecs: Any) -> None:
    now = em.now()
    for task in _tasks(ecs).values():
        request = task.stop_request
        if request is not None and task.desired != "STOPPED" and request[0] <= now:
            _advance_one(em, task, request[0])  # as it was then: stopped at that moment
            if task.desired != "STOPPED":
                _user_stop(task, request[0], request[1])
        _advance_one(em, task, now)


def _advance_one(em: Emulation, task: OneOff, now: float) -> None:
    start = em.delays.task_start
    _deliver(task, now, em.delays.log_delivery)
    if task.status == "STOPPED":
        return
    if task.status == "PROVISIONING" and now >= task.created + start / 3:
        task.status = "PENDING"
        task.times["pullStartedAt"] = task.created + start / 3
    if task.status == "PENDING" and now >= task.created + start:
        began = task.created + start
        if UNPULLABLE_WORD in task.image.lower():
            why = (
                f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve "
                f"ref {task.image}: not found"
            )
            _stop(task, began, "TaskFailedToStart", why, why)
        elif task.log is not None and task.log[0] not in _logs_backend(task.account, task.region).groups:
            why = (
                "ResourceInitializationError: failed to validate logger args: The specified log group "
                "does not exist. : signal: killed"
            )
            _stop(task, began, "TaskFailedToStart", why)
        else:
            task.status = "RUNNING"
            task.times["pullStoppedAt"] = task.times["startedAt"] = began
    if task.status == "RUNNING":
        began = task.times["startedAt"]
        if INTERRUPTED_WORD in task.image.lower():
            end = began + task.script.duration / 2
            if now >= end:
                _write_lines(task, end - began)
                _stop(task, end, "SpotInterruption", "Your Spot Task was interrupted.")
        else:
            end = began + task.script.duration
            _write_lines(task, min(now, end) - began)
            if now >= end:
                _write_lines(task, float("inf"))
                task.exit_code = task.script.exit_code
                _stop(task, end, "EssentialContainerExited", "Essential container in task exited")
    if task.status == "DEPROVISIONING" and task.stop_at is not None and now >= task.stop_at + start / 10:
        task.status = "STOPPED"
        task.times["stoppedAt"] = task.stop_at + start / 10
    _deliver(task, now, em.delays.log_delivery)


def _advance_all(em: Emulation, account: str, region: str) -> None:
    with _LOCK:
        advance(em, _ecs(account, region))


# -- a service's tasks (from the deployment emulation) ------------------------------------------
def _exec_history(svc: Any) -> list[tuple[float, bool]]:
    found: list[tuple[float, bool]] = svc.__dict__.setdefault("_ecsup_exec_history", [])
    return found


def _exec_at(svc: Any, t: float) -> bool:
    value = False
    for at, enabled in _exec_history(svc):
        if at <= t:
            value = enabled
    return value


def _service_tasks(em: Emulation, ecs: Any, cluster: str) -> list[dict[str, Any]]:
    """The running tasks of the cluster's services, as DescribeTasks shows them."""
    from . import deployments

    out = []
    for svc in ecs.services.values():
        if svc.cluster_name != cluster or svc.status != "ACTIVE":
            continue
        seen: set[int] = set()
        for dep in deployments._of_service(svc):
            for rev in dep.revisions:
                if id(rev) in seen or rev.running <= 0:
                    continue
                seen.add(id(rev))
                while len(rev.tasks) < rev.running:  # stable ids: kept on the revision
                    rev.tasks.append(uuid.uuid5(uuid.NAMESPACE_URL, f"{rev.arn}/{len(rev.tasks)}").hex)
                try:
                    td = ecs.describe_task_definition(rev.task_definition)
                except Exception:
                    continue
                enabled = _exec_at(svc, dep.created)
                agent = _agent(em, "RUNNING", rev.running_since)
                for task_id in rev.tasks[: rev.running]:
                    arn = f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:task/{cluster}/{task_id}"
                    containers = [
                        _container(arn, task_id, c, enabled, "RUNNING", None, None, agent)
                        for c in td.container_definitions
                    ]
                    out.append(
                        {
                            "taskArn": arn,
                            "clusterArn": svc.cluster_arn,
                            "taskDefinitionArn": td.arn,
                            "group": f"service:{svc.name}",
                            "startedBy": str(rev.legacy.get("id") or f"ecs-svc/{rev.number}"),
                            "lastStatus": "RUNNING",
                            "desiredStatus": "RUNNING",
                            "launchType": svc.launch_type or None,
                            "enableExecuteCommand": enabled,
                            "cpu": td.cpu,
                            "memory": td.memory,
                            "containers": containers,
                            "createdAt": rev.body.get("createdAt"),
                            "startedAt": rev.body.get("createdAt"),
                            "tags": [],
                        }
                    )
    return [{k: v for k, v in t.items() if v is not None} for t in out]


def _service_stopped_tasks(em: Emulation, ecs: Any, cluster: str) -> list[dict[str, Any]]:
    """The tasks ECS stopped while a deployment of the cluster's services failed (deployments.py
    stopped_tasks), as DescribeTasks shows them: stopCode, stoppedReason, containers[].reason."""
    from . import deployments

    out = []
    now = em.now()
    for svc in ecs.services.values():
        if svc.cluster_name != cluster:
            continue
        for dep in deployments._of_service(svc):
            for stopped in deployments.stopped_tasks(dep, now):
                try:
                    td = ecs.describe_task_definition(stopped.revision.task_definition)
                except Exception:
                    continue
                arn = f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:task/{cluster}/{stopped.id}"
                ran = stopped.exit_code is not None
                containers = []
                for c in td.container_definitions:
                    view = _container(
                        arn,
                        stopped.id,
                        c,
                        False,
                        "STOPPED",
                        stopped.exit_code if c.get("essential", True) else None,
                        stopped.container_reason,
                    )
                    if not ran:
                        view.pop("runtimeId", None)  # no container was started
                    containers.append(view)
                task = {
                    "taskArn": arn,
                    "clusterArn": svc.cluster_arn,
                    "taskDefinitionArn": td.arn,
                    "group": stopped.group,
                    "startedBy": stopped.started_by,
                    "lastStatus": "STOPPED",
                    "desiredStatus": "STOPPED",
                    "launchType": svc.launch_type or None,
                    "cpu": td.cpu,
                    "memory": td.memory,
                    "containers": containers,
                    "createdAt": dep.wall(stopped.created),
                    "stoppingAt": dep.wall(stopped.stopped),
                    "stoppedAt": dep.wall(stopped.stopped),
                    "stopCode": stopped.stop_code,
                    "stoppedReason": stopped.reason,
                    "tags": [],
                }
                if ran:
                    task["startedAt"] = dep.wall(stopped.created + dep.task_start / 3)
                out.append({k: v for k, v in task.items() if v is not None})
    return out


def _agent(em: Emulation | None, container_status: str, started: float | None) -> dict[str, Any]:
    """The ExecuteCommandAgent of a container in that status whose task began RUNNING at
    ``started`` (emulation clock): PENDING until Delays.exec_agent_start has passed, then RUNNING
    (with lastStartedAt); STOPPED with the container (API reference, ManagedAgent)."""
    if container_status != "RUNNING":
        return {"lastStatus": "STOPPED" if container_status == "STOPPED" else "PENDING"}
    if em is None:
        return {"lastStatus": "RUNNING"}
    since = started if started is not None else em.now()
    running_at = since + em.delays.exec_agent_start
    if em.now() < running_at:
        return {"lastStatus": "PENDING"}
    return {"lastStatus": "RUNNING", "lastStartedAt": _now_utc() - timedelta(seconds=em.now() - running_at)}


def _container(
    task_arn: str,
    task_id: str,
    definition: dict[str, Any],
    exec_enabled: bool,
    status: str,
    exit_code: int | None,
    reason: str | None,
    agent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    name = str(definition.get("name"))
    runtime = f"{task_id}-{uuid.uuid5(uuid.NAMESPACE_URL, task_arn + '/' + name).int % 10**10}"
    container: dict[str, Any] = {
        "containerArn": f"{task_arn.replace(':task/', ':container/')}/{uuid.uuid5(uuid.NAMESPACE_URL, name)}",
        "taskArn": task_arn,
        "name": name,
        "image": definition.get("image"),
        "runtimeId": runtime,
        "lastStatus": status,
        "essential": definition.get("essential", True),
    }
    if exit_code is not None:
        container["exitCode"] = exit_code
    if reason:
        container["reason"] = reason
    if exec_enabled:
        container["managedAgents"] = [{"name": "ExecuteCommandAgent", **(agent or {"lastStatus": status})}]
    return container


def _one_off_view(task: OneOff, include_tags: bool) -> dict[str, Any]:
    status = task.status
    containers = []
    for c in task.containers:
        if status in ("PROVISIONING", "PENDING"):
            c_status = "PENDING"
        elif status == "RUNNING":
            c_status = "RUNNING"
        else:
            c_status = "STOPPED"
        is_essential = c.get("essential", True)
        view = _container(
            task.arn,
            task.id,
            c,
            task.exec_enabled,
            c_status,
            task.exit_code if is_essential and c_status == "STOPPED" else None,
            task.container_reason if is_essential else None,
            _agent(_emulation.ACTIVE, c_status, task.times.get("startedAt")),
        )
        view["image"] = c.get("image")
        if c_status not in ("RUNNING", "STOPPED") or (c_status == "STOPPED" and "startedAt" not in task.times):
            view.pop("runtimeId", None)  # no container was started
        containers.append(view)
    out: dict[str, Any] = {
        "taskArn": task.arn,
        "clusterArn": task.cluster_arn,
        "taskDefinitionArn": task.task_definition,
        "group": task.group,
        "startedBy": task.started_by,
        "lastStatus": status,
        "desiredStatus": task.desired,
        "launchType": task.launch_type,
        "capacityProviderName": task.capacity_provider,
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
        "enableExecuteCommand": task.exec_enabled,
        "cpu": task.cpu,
        "memory": task.memory,
        "overrides": task.overrides,
        "containers": containers,
        "attachments": [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, task.arn)),
                "type": "ElasticNetworkInterface",
                "status": "ATTACHED" if status == "RUNNING" else "PRECREATED",
                "details": [
                    {"name": "subnetId", "value": (task.network.get("subnets") or [""])[0]},
                ],
            }
        ],
        "createdAt": task.wall(task.created),
        "stopCode": task.stop_code,
        "stoppedReason": task.stopped_reason,
    }
    for key, t in task.times.items():
        out[key] = task.wall(t)
    if include_tags:
        out["tags"] = task.tags
    return {k: v for k, v in out.items() if v is not None}


# -- the API --------------------------------------------------------------------------------------
def _strict() -> Emulation:
    em = _emulation.ACTIVE
    if em is None:
        raise NotImplementedError("ECS tasks are emulated only with ecsup's emulation active")
    return em


def run_task(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    from moto.core.responses import ActionResult

    with _LOCK:
        account, region = resp.current_account, resp.region
        ecs = _ecs(account, region)
        advance(em, ecs)
        cluster_name = (resp._get_param("cluster") or "default").split("/")[-1]
        cluster = ecs.clusters.get(cluster_name)
        if cluster is None:
            raise AwsFault("ClusterNotFoundException", "Cluster not found.")
        try:
            td = ecs.describe_task_definition(resp._get_param("taskDefinition") or "")
        except Exception:
            raise AwsFault("ClientException", "TaskDefinition not found.") from None
        if getattr(td, "status", "ACTIVE") != "ACTIVE":
            raise AwsFault("ClientException", "TaskDefinition is inactive")
        launch_type = resp._get_param("launchType")
        strategy = resp._get_param("capacityProviderStrategy")
        if launch_type and strategy:
            raise _invalid("Specifying both a launch type and capacity provider strategy is not supported.")
        network = (resp._get_param("networkConfiguration") or {}).get("awsvpcConfiguration")
        if td.network_mode == "awsvpc" and not network:
            raise _invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
        started_by = resp._get_param("startedBy")
        if started_by is not None and len(started_by) > STARTED_BY_LIMIT:
            raise _invalid(f"startedBy longer than {STARTED_BY_LIMIT}.")
        if started_by is not None and not _STARTED_BY.fullmatch(started_by):
            raise _invalid("startedBy may contain only letters, numbers, hyphens, forward slashes and underscores.")
        count = int(resp._get_param("count") or 1)
        if not 1 <= count <= 10:
            raise _invalid("count must be between 1 and 10.")
        overrides = resp._get_param("overrides") or {}
        definitions = {c.get("name"): dict(c) for c in td.container_definitions}
        for override in overrides.get("containerOverrides") or []:
            if override.get("name") not in definitions:
                raise _invalid(
                    f"Override for container named {override.get('name')} is not a container in the TaskDefinition."
                )
        cpu, memory = str(overrides.get("cpu") or td.cpu), str(overrides.get("memory") or td.memory)
        if "FARGATE" in (td.requires_compatibilities or []):
            try:
                ok = int(memory) in FARGATE_MEMORY.get(int(cpu), [])
            except ValueError:
                ok = False
            if not ok:
                raise AwsFault("ClientException", "No Fargate configuration exists for given values.")
        tags = list(resp._get_param("tags") or [])
        if not strategy and not launch_type:
            strategy = list(getattr(cluster, "default_capacity_provider_strategy", None) or [])
        provider = None
        if strategy:
            associated = set(getattr(cluster, "capacity_providers", None) or [])
            if any(item.get("capacityProvider") not in associated for item in strategy):
                raise _invalid(
                    "The specified capacity provider strategy cannot contain a capacity provider that is not "
                    "associated with the cluster."
                )
            provider = str(max(strategy, key=lambda i: (i.get("base", 0), i.get("weight", 0)))["capacityProvider"])
            launch_type = None
        exec_enabled = bool(resp._get_param("enableExecuteCommand"))
        out: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        for _ in range(count):
            task_id = uuid.uuid4().hex
            arn = f"arn:aws:ecs:{region}:{account}:task/{cluster_name}/{task_id}"
            containers: list[dict[str, Any]] = []
            essential_log: tuple[str, str] | None = None
            command: list[str] = []
            image = ""
            for name, definition in definitions.items():
                chosen: dict[str, Any] = next(
                    (o for o in overrides.get("containerOverrides") or [] if o.get("name") == name), {}
                )
                merged = dict(definition)
                if chosen.get("command") is not None:
                    merged["command"] = chosen["command"]
                containers.append(merged)
                if definition.get("essential", True) and not image:
                    image = str(definition.get("image") or "")
                    command = list(merged.get("command") or [])
                    log = definition.get("logConfiguration") or {}
                    opts = log.get("options") or {}
                    if log.get("logDriver") == "awslogs" and opts.get("awslogs-group"):
                        prefix = opts.get("awslogs-stream-prefix")
                        stream = f"{prefix}/{name}/{task_id}" if prefix else task_id
                        essential_log = (str(opts["awslogs-group"]), stream)
            if NO_CAPACITY in image:  # RunTask answers 200 with the task in failures[], not an error
                failures.append({"reason": CAPACITY_UNAVAILABLE})
                continue
            task = OneOff(
                arn=arn,
                id=task_id,
                account=account,
                region=region,
                cluster=cluster_name,
                cluster_arn=cluster.arn,
                task_definition=td.arn,
                family=td.family,
                group=resp._get_param("group") or f"family:{td.family}",
                started_by=started_by,
                tags=tags,
                overrides=overrides,
                network=network or {},
                launch_type=launch_type or (None if provider else "FARGATE"),
                capacity_provider=provider,
                cpu=cpu,
                memory=memory,
                containers=containers,
                log=essential_log,
                script=script_of(command),
                image=image,
                exec_enabled=exec_enabled,
                created=em.now(),
                created_at=_now_utc(),
            )
            _tasks(ecs)[arn] = task
            out.append(_one_off_view(task, include_tags=True))
        return ActionResult({"tasks": out, "failures": failures})


def _find(em: Emulation, ecs: Any, cluster: str, ref: str) -> tuple[OneOff | None, dict[str, Any] | None]:
    task_id = ref.split("/")[-1]
    for task in _tasks(ecs).values():
        if task.id == task_id and task.cluster == cluster:
            return task, None
    for view in _service_tasks(em, ecs, cluster) + _service_stopped_tasks(em, ecs, cluster):
        if view["taskArn"].split("/")[-1] == task_id:
            return None, view
    return None, None


def _cluster_of(em: Emulation, resp: Any) -> tuple[Any, str]:
    """The region's ECS backend, advanced to now, and the request's cluster, which must exist."""
    ecs = _ecs(resp.current_account, resp.region)
    advance(em, ecs)
    cluster = (resp._get_param("cluster") or "default").split("/")[-1]
    if cluster not in ecs.clusters:
        raise AwsFault("ClusterNotFoundException", "Cluster not found.")
    return ecs, cluster


def describe_tasks(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    from moto.core.responses import ActionResult

    with _LOCK:
        ecs, cluster = _cluster_of(em, resp)
        refs = list(resp._get_param("tasks") or [])
        if len(refs) > 100:
            raise _invalid("tasks can have at most 100 items.")
        include_tags = "TAGS" in (resp._get_param("include") or [])
        found, failures = [], []
        for ref in refs:
            task, view = _find(em, ecs, cluster, ref)
            if task is not None:
                found.append(_one_off_view(task, include_tags))
            elif view is not None:
                found.append(view if include_tags else {k: v for k, v in view.items() if k != "tags"})
            else:
                failures.append({"arn": ref, "reason": "MISSING"})
        return ActionResult({"tasks": found, "failures": failures})


def list_tasks(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    from moto.core.responses import ActionResult

    with _LOCK:
        ecs, cluster = _cluster_of(em, resp)
        desired = resp._get_param("desiredStatus") or "RUNNING"
        family, started_by = resp._get_param("family"), resp._get_param("startedBy")
        if started_by is not None and len(started_by) > STARTED_BY_LIMIT:
            raise _invalid(f"ownerId longer than {STARTED_BY_LIMIT}.")
        service = resp._get_param("serviceName")
        arns = []
        if desired == "RUNNING":
            for view in _service_tasks(em, ecs, cluster):
                if (service is None or view["group"] == f"service:{service}") and not family and not started_by:
                    arns.append(view["taskArn"])
        elif desired == "STOPPED":
            for view in _service_stopped_tasks(em, ecs, cluster):
                if service is not None and view["group"] != f"service:{service}":
                    continue
                if started_by and view["startedBy"] != started_by:
                    continue
                if family and view["taskDefinitionArn"].split("/")[-1].split(":")[0] != family:
                    continue
                arns.append(view["taskArn"])
        for task in _tasks(ecs).values():
            if task.cluster != cluster or task.desired != desired or service is not None:
                continue
            if (family and task.family != family) or (started_by and task.started_by != started_by):
                continue
            arns.append(task.arn)
        # pages of maxResults (1-100, default 100), as ECS answers (API reference, ListTasks)
        size = int(resp._get_param("maxResults") or LIST_TASKS_PAGE)
        if not 1 <= size <= 100:
            raise _invalid("maxResults must be between 1 and 100.")
        try:
            start = int(resp._get_param("nextToken") or 0)
        except ValueError:
            raise _invalid("Invalid nextToken.") from None
        page: dict[str, Any] = {"taskArns": arns[start : start + size]}
        if start + size < len(arns):
            page["nextToken"] = str(start + size)
        return ActionResult(page)


def stop_task(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    from moto.core.responses import ActionResult

    with _LOCK:
        ecs, cluster = _cluster_of(em, resp)
        reason = str(resp._get_param("reason") or "")
        if len(reason) > 255:
            raise _invalid("reason must be at most 255 characters.")
        task, view = _find(em, ecs, cluster, str(resp._get_param("task") or ""))
        if task is None:
            if view is not None:
                raise _invalid("ecsup's emulation does not stop a service's tasks (the service would replace them).")
            raise _invalid("The referenced task was not found.")
        if task.desired != "STOPPED":
            now = em.now()
            ran = task.status == "RUNNING"
            if ran:
                _write_lines(task, now - task.times["startedAt"])
                task.exit_code = EXIT_SIGTERM
            _stop(task, now, "UserInitiated", reason or "Task stopped by user")
        return ActionResult({"task": _one_off_view(task, include_tags=False)})


def execute_command(self: Any) -> Any:
    """ExecuteCommand (moto has none): the checks ECS makes, then a session."""
    from moto.core.responses import ActionResult

    em = _strict()
    with _LOCK:
        ecs = _ecs(self.current_account, self.region)
        advance(em, ecs)
        cluster = (self._get_param("cluster") or "default").split("/")[-1]
        if cluster not in ecs.clusters:
            raise AwsFault("ClusterNotFoundException", "Cluster not found.")
        if not self._get_param("interactive"):
            raise _invalid("Interactive is the only mode supported currently.")
        task, view = _find(em, ecs, cluster, str(self._get_param("task") or ""))
        if task is not None:
            view = _one_off_view(task, include_tags=False)
        if view is None:
            raise _invalid("The task provided in the request was not found.")  # the AWS CLI's TASK_NOT_FOUND
        if view["lastStatus"] != "RUNNING" or not view.get("enableExecuteCommand"):
            raise _invalid(NOT_ENABLED)
        containers = view["containers"]
        name = self._get_param("container") or (containers[0]["name"] if len(containers) == 1 else None)
        container = next((c for c in containers if c["name"] == name), None)
        if container is None:
            raise _invalid("The container name must be specified when the task has more than one container.")
        agents = container.get("managedAgents") or []
        if not any(a.get("name") == "ExecuteCommandAgent" and a.get("lastStatus") == "RUNNING" for a in agents):
            raise _invalid(NOT_ENABLED)  # "... or the execute command agent isn't running"
        session_id = f"ecs-execute-command-{uuid.uuid4().hex[:17]}"
        sessions = _state(ecs, "exec_sessions")
        sessions[session_id] = {"target": f"ecs:{cluster}_{view['taskArn'].split('/')[-1]}_{container['runtimeId']}"}
        return ActionResult(
            {
                "clusterArn": view["clusterArn"],
                "containerArn": container["containerArn"],
                "containerName": container["name"],
                "interactive": True,
                "taskArn": view["taskArn"],
                "session": _session(self.region, session_id),
            }
        )


def _session(region: str, session_id: str) -> dict[str, str]:
    return {
        "sessionId": session_id,
        "streamUrl": f"wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe",
        "tokenValue": uuid.uuid4().hex + uuid.uuid4().hex,
    }


_TARGET = re.compile(r"^ecs:([^_]+)_([0-9a-f]{32})_(.+)$")


def start_session(self: Any) -> Any:
    """SSM StartSession (moto has none) for an ECS Exec target ``ecs:<cluster>_<task>_<runtime id>``."""
    from moto.core.responses import ActionResult

    em = _strict()

    target = str(self._get_param("Target") or "")
    document = self._get_param("DocumentName")
    match = _TARGET.fullmatch(target)
    connected = False
    if match:
        cluster, task_id, runtime = match.groups()
        with _LOCK:
            ecs = _ecs(self.current_account, self.region)
            advance(em, ecs)
            if cluster in ecs.clusters:
                task, view = _find(em, ecs, cluster, task_id)
                if task is not None:
                    view = _one_off_view(task, include_tags=False)
                connected = bool(
                    view
                    and view["lastStatus"] == "RUNNING"
                    and view.get("enableExecuteCommand")
                    and any(c.get("runtimeId") == runtime for c in view["containers"])
                )
    if not connected:
        raise AwsFault("TargetNotConnected", f"{target} is not connected.")
    if document not in (None, "AWS-StartPortForwardingSessionToRemoteHost", "AWS-StartPortForwardingSession"):
        raise AwsFault("InvalidDocument", f"Document {document} does not exist in your account")
    session_id = f"ecsup-{uuid.uuid4().hex[:17]}"
    session = _session(self.region, session_id)
    return ActionResult(
        {"SessionId": session_id, "TokenValue": session["tokenValue"], "StreamUrl": session["streamUrl"]}
    )


def record_exec(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """CreateService/UpdateService: remember when enableExecuteCommand was set (a deployment's
    tasks get the value it had when the deployment began), and report it (moto drops it on create)."""
    value = resp._get_param("enableExecuteCommand")
    result = proceed()
    svc = result.result["service"]
    if value is not None:
        _exec_history(svc).append((em.now(), bool(value)))
        svc.enable_execute_command = bool(value)
    elif not hasattr(svc, "enable_execute_command"):
        svc.enable_execute_command = False
    return result


def _health_check(svc: Any) -> tuple[str, float, int | None]:
    """(path, interval, port) of the service's target group's health check (ELB's defaults without one)."""
    from . import _elbv2

    for lb in svc.load_balancers or []:
        tg = _elbv2(svc._account_id, svc.region_name).target_groups.get(lb.get("targetGroupArn"))
        if tg is not None:
            interval = float(getattr(tg, "health_check_interval_seconds", None) or 30)
            return str(getattr(tg, "health_check_path", None) or "/"), interval, lb.get("containerPort")
    return "/", 30.0, None


SERVICE_LOG_LINES = 20  # at most this many health-check lines a task writes at one read


def write_service_logs(em: Emulation, account: str, region: str) -> None:
    """Sandbox convention: a service's running task "writes" to its awslogs stream
    (``<prefix>/<container>/<task id>``) what a web server would: a startup line when it is first
    seen running, then one access line per health check of its target group (the ALB's
    ``ELB-HealthChecker/2.0`` asking the health check path every interval, on the emulation's
    clock; at most SERVICE_LOG_LINES at a time). Written when the logs are read (as the one-off
    tasks' output is), so that `ecsup logs` after `create` shows the service at work."""
    ecs = _ecs(account, region)
    logs = _logs_backend(account, region)
    written: dict[str, dict[str, float]] = _state(ecs, "service_task_logs")
    now = em.now()
    for cluster in list(ecs.clusters):
        for view in _service_tasks(em, ecs, cluster):
            svc = ecs.services.get(f"{cluster}:{view['group'].removeprefix('service:')}")
            if svc is None:
                continue
            try:
                td = ecs.describe_task_definition(view["taskDefinitionArn"])
            except Exception:
                continue
            container = next((c for c in td.container_definitions if c.get("essential", True)), None)
            log = (container or {}).get("logConfiguration") or {}
            opts = log.get("options") or {}
            group = opts.get("awslogs-group")
            if container is None or log.get("logDriver") != "awslogs" or group not in logs.groups:
                continue
            task_id = view["taskArn"].split("/")[-1]
            prefix = opts.get("awslogs-stream-prefix")
            stream = f"{prefix}/{container.get('name')}/{task_id}" if prefix else task_id
            path, interval, port = _health_check(svc)
            port = port or next((m.get("containerPort") for m in container.get("portMappings") or []), 80)
            seen = written.get(task_id)
            lines: list[str] = []
            if seen is None:
                seen = written[task_id] = {"last": now - interval}
                lines.append(f"starting {container.get('image')} (task {task_id})")
                lines.append(f"listening on 0.0.0.0:{port}")
            # (a microsecond's slack: clock readings are floats, 88.1051 - 28.1051 is 59.99999...)
            checks = min(SERVICE_LOG_LINES, int((now - seen["last"] + 1e-6) // interval))
            if checks <= 0 and not lines:
                continue
            seen["last"] = seen["last"] + checks * interval if checks < SERVICE_LOG_LINES else now
            when = datetime.now(UTC)  # written as they are read: stamped now, as the events are
            for _ in range(checks):
                lines.append(
                    f"{_task_ip(task_id, 200)} - - [{when.strftime('%d/%b/%Y:%H:%M:%S +0000')}] "
                    f'"GET {path} HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0"'
                )
            try:
                logs.ensure_log_stream(group, stream)
            except AttributeError:  # older moto
                if stream not in logs.groups[group].streams:
                    logs.create_log_stream(group, stream)
            now_ms = int(time.time() * 1000)
            logs.put_log_events(group, stream, [{"timestamp": now_ms + i, "message": m} for i, m in enumerate(lines)])


def _task_ip(task_id: str, base: int) -> str:
    n = int(task_id[:6], 16)
    return f"10.{base % 256}.{(n >> 8) % 256}.{n % 256 or 1}"


def log_reads_advance(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    _advance_all(em, resp.current_account, resp.region)
    with _LOCK:
        write_service_logs(em, resp.current_account, resp.region)
    return proceed()


def cluster_with_active_tasks_cannot_be_deleted(em: Emulation, resp: Any, proceed: Callable[[], Any]) -> Any:
    """DeleteCluster while a task of the cluster is not STOPPED: ClusterContainsTasksException
    ("You can't delete a cluster that has active tasks.", ECS API reference, DeleteCluster);
    moto deletes the cluster under its one-off tasks."""
    with _LOCK:
        ecs = _ecs(resp.current_account, resp.region)
        advance(em, ecs)
        cluster = (resp._get_param("cluster") or "default").split("/")[-1]
        if any(t.cluster == cluster and t.status != "STOPPED" for t in _tasks(ecs).values()):
            raise AwsFault("ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active.")
    return proceed()


def install(around: Callable[..., None]) -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as ECS
    from moto.logs.responses import LogsResponse as LOGS
    from moto.ssm.responses import SimpleSystemManagerResponse as SSM

    ECS.execute_command = execute_command  # type: ignore[attr-defined]
    SSM.start_session = start_session  # type: ignore[attr-defined]
    around(ECS, "run_task", run_task)
    around(ECS, "describe_tasks", describe_tasks)
    around(ECS, "list_tasks", list_tasks)
    around(ECS, "stop_task", stop_task)
    around(ECS, "delete_cluster", cluster_with_active_tasks_cannot_be_deleted)
    around(ECS, "create_service", record_exec)
    around(ECS, "update_service", record_exec)
    for read in ("get_log_events", "filter_log_events"):
        around(LOGS, read, log_reads_advance)


__all__ = ["NOT_ENABLED", "OneOff", "Script", "advance", "install", "script_of"]
