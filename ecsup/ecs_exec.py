"""`ecsup exec`: a shell (or a command) in a running task of the web service or of a worker
(``--workload``), or a tunnel from localhost to a host the tasks can reach -- ECS Exec, handed to
AWS's session-manager-plugin.

The way the AWS CLI does it (aws/aws-cli, awscli/customizations/ecs/executecommand.py):
ExecuteCommand(interactive) answers a session; the plugin is then run as
``session-manager-plugin <session JSON> <region> StartSession <profile> <{"Target": ...}>
<endpoint>`` with the target ``ecs:<cluster>_<task id>_<container runtimeId>``, SIGINT and
friends left to the plugin. Port forwarding is SSM StartSession with the document
AWS-StartPortForwardingSessionToRemoteHost on that same target, handed over the same way
with the StartSession request as the parameters (awscli/customizations/sessionmanager.py).
The plugin is AWS's own binary, not on PyPI: ecsup looks for it and never downloads it.

The session's token stays out of the plugin's command line (where `ps` shows it) when the
plugin can read it from the environment: like the AWS CLI's StartSessionCaller, a plugin newer
than 1.2.497.0 (``session-manager-plugin --version``) is handed the name of the variable
``AWS_SSM_START_SESSION_RESPONSE`` in place of the JSON, which the variable holds; an older one
gets the JSON itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .context import Context
from .errors import EXIT_CONFIG, EXIT_NO_PLUGIN, EcsupError, OptionError, Unhealthy, doing
from .workloads import WEB

PLUGIN = "session-manager-plugin"
PLUGIN_DOCS = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html"
)
FORWARD_DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"
DEFAULT_COMMAND = ["/bin/sh"]
_FORWARD = re.compile(r"^(\d{1,5}):([A-Za-z0-9._-]+):(\d{1,5})$")
SESSION_VARIABLE = "AWS_SSM_START_SESSION_RESPONSE"
LAST_PLUGIN_WITHOUT_VARIABLE = (1, 2, 497, 0)


class PluginMissing(EcsupError):
    exit_code = EXIT_NO_PLUGIN


@dataclass(frozen=True)
class Forward:
    local: int
    host: str
    remote: int


def parse_forward(text: str) -> Forward:
    match = _FORWARD.fullmatch(text.strip())
    ports = [int(match.group(1)), int(match.group(3))] if match else []
    if not match or not all(1 <= p <= 65535 for p in ports):
        raise OptionError(
            f"--forward {text!r}: write LOCAL_PORT:HOST:REMOTE_PORT, e.g. --forward 5432:db.internal:5432",
            hint="ports are 1-65535; HOST is a name or address the tasks can reach",
        )
    return Forward(ports[0], match.group(2), ports[1])


def find_plugin(which: Callable[[str], str | None] = shutil.which) -> str:
    path = which(PLUGIN)
    if path is None:
        raise PluginMissing(
            f"{PLUGIN} is not on PATH: ecsup exec needs AWS's Session Manager plugin; install it ({PLUGIN_DOCS})"
        )
    return path


def reads_session_from_environment(plugin: str) -> bool:
    """Whether the plugin is newer than 1.2.497.0 (aws-cli, awscli/customizations/sessionmanager.py)."""
    import subprocess

    try:
        out = subprocess.check_output([plugin, "--version"], text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    version = re.sub(r"\s+", "", out)
    if not re.fullmatch(r"\d+(\.\d+){0,3}", version):
        return False
    parts = [int(p) for p in version.split(".")]
    return tuple(parts + [0] * (4 - len(parts))) > LAST_PLUGIN_WITHOUT_VARIABLE


class ExecOff(EcsupError):
    """ECS Exec is off for the service (a valid configuration, a feature not turned on): nothing
    was called. Exit 2, as a usage error: the fix is in ecsup.toml."""

    exit_code = EXIT_CONFIG


EXEC_ON_HINT = (
    "add `exec = true` under [service] in ecsup.toml, run `ecsup create` (a new deployment: the tasks "
    "start with ECS Exec), then `ecsup exec` again"
)


def require_exec(ctx: Context) -> None:
    if not ctx.config.service.exec:
        raise ExecOff(
            "ECS Exec is not turned on for this service: ecsup exec needs `exec = true` under [service]",
            hint=EXEC_ON_HINT,
        )


@dataclass(frozen=True)
class Target:
    """What `exec --workload` reaches: the web service's or a worker's ECS service and container."""

    workload: str
    service: str
    container: str


def target_of(ctx: Context, workload: str | None) -> Target:
    """The web service (None or "web") or a worker; a job, or a name that is no workload: exit 2,
    before any AWS call."""
    name = workload or WEB
    if name == WEB:
        return Target(WEB, ctx.names.service, ctx.names.container)
    if ctx.config.worker(name) is not None:  # its service <app>-<env>-<name>, its container <name>
        return Target(name, ctx.names.workload(name), name)
    if ctx.config.job(name) is not None:
        raise OptionError(
            f"--workload {name}: {name} is a job: it has no task running to exec into (a task runs only while "
            "a run of the job lasts, started by its schedule)",
            hint=f"`ecsup run --job {name}` runs it now with its logs live; `ecsup exec` opens a shell in a task "
            "of the web service (the same image)",
        )
    known = [WEB, *(w.name for w in ctx.config.workers)]
    raise OptionError(
        f"--workload {name}: no such workload in {ctx.config.path or 'ecsup.toml'}",
        hint=f"exec reaches the web service or a worker: {', '.join(known)}",
    )


def _worker_service(ctx: Context, where: Target) -> dict[str, Any]:
    """A worker's ECS service, which must exist and be ecsup's."""
    from .deployments import service

    return service(
        ctx,
        "exec into",
        where.service,
        (
            f"there is no service {where.service} (worker {where.workload}) in {ctx.region} to exec into",
            "`ecsup create` builds it",
        ),
    )


def pick_task(ctx: Context, task: str | None, where: Target | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task (``task`` or a running one of the live revision) and ecsup's container in it, of
    the web service or of a worker (``where``)."""
    from .deployments import service

    where = where or target_of(ctx, None)
    ecs = ctx.client("ecs")
    svc = service(ctx, "exec into") if where.workload == WEB else _worker_service(ctx, where)
    with doing(f"list the running tasks of service {where.service}"):
        if task:
            found = ecs.describe_tasks(cluster=ctx.names.cluster, tasks=[task])["tasks"]
            if not found:
                raise OptionError(f"--task {task}: no such task in cluster {ctx.names.cluster}")
        else:
            arns = ecs.list_tasks(cluster=ctx.names.cluster, serviceName=where.service, desiredStatus="RUNNING")[
                "taskArns"
            ]
            found = ecs.describe_tasks(cluster=ctx.names.cluster, tasks=arns[:100])["tasks"] if arns else []
    running = [t for t in found if t.get("lastStatus") == "RUNNING"]
    live = [t for t in running if t.get("taskDefinitionArn") == svc.get("taskDefinition")]
    ready = [t for t in live or running if agent_status(t, where.container)[0] == "RUNNING"]
    chosen = (ready or live or running or [None])[0]
    if chosen is None:
        if task:
            raise Unhealthy(f"task {task} is {found[0].get('lastStatus')}, not RUNNING")
        raise Unhealthy(
            f"service {where.service} has no running task",
            hint="`ecsup status` says why (ECS starts the service's tasks by itself; a service scaled to 0 "
            "starts them with `ecsup scale --count N`)",
        )
    if not chosen.get("enableExecuteCommand"):
        # The service's flag applies to tasks started after it is set: with the flag off, `create`
        # turns it on and starts a deployment (its plan says `ECS Exec (new deployment)`); with it on
        # already, only new tasks of the same revision help: `restart` (deploy without --image no
        # longer starts a deployment, and create has nothing to change).
        how = "`ecsup restart`" if svc.get("enableExecuteCommand") else "`ecsup create` (the plan shows it)"
        if where.workload != WEB:  # a worker's tasks are replaced by a deployment of the worker
            how = "`ecsup create` (the plan shows it) or the next `ecsup deploy`"
        raise ExecOff(
            f"task {chosen['taskArn'].split('/')[-1]} was started without ECS Exec",
            hint=f"its tasks get it with a new deployment: {how}",
        )
    container = next((c for c in chosen.get("containers", []) if c.get("name") == where.container), None)
    if container is None or not container.get("runtimeId"):
        raise Unhealthy(f"task {chosen['taskArn'].split('/')[-1]} has no running container {where.container}")
    require_agent(ctx, chosen, where.container)
    return dict(chosen), dict(container)


AGENT = "ExecuteCommandAgent"
EXEC_CHECKER = "https://github.com/aws-containers/amazon-ecs-exec-checker"


def agent_status(task: dict[str, Any], container: str) -> tuple[str, str]:
    """(lastStatus, reason) of the ECS Exec agent in ``container`` of the task, as DescribeTasks
    reports it (containers[].managedAgents[], API reference ManagedAgent); ("", "") if none is listed."""
    for c in task.get("containers", []):
        if c.get("name") != container:
            continue
        for agent in c.get("managedAgents") or []:
            if agent.get("name") == AGENT:
                return str(agent.get("lastStatus") or ""), str(agent.get("reason") or "")
    return "", ""


def require_agent(ctx: Context, task: dict[str, Any], container: str | None = None) -> None:
    """ExecuteCommand needs the task's ExecuteCommandAgent RUNNING; otherwise AWS answers
    InvalidParameterException ("... or the execute command agent isn't running"). Say what to do
    before asking: a starting agent (PENDING, seconds after the task started) needs a moment; a
    stopped one needs its reason, the task role's ssmmessages permissions, or AWS's exec checker."""
    status, reason = agent_status(task, container or ctx.names.container)
    if status == "RUNNING":
        return
    task_id = str(task["taskArn"]).split("/")[-1]
    because = f" ({reason})" if reason else ""
    if status in ("STOPPED", "STOPPING"):
        raise Unhealthy(
            f"the ECS Exec agent ({AGENT}) of task {task_id} is {status}{because}: ExecuteCommand cannot reach it",
            hint=f"find out why: its reason (`aws ecs describe-tasks --cluster {ctx.names.cluster} --tasks {task_id}`, "
            "containers[].managedAgents[]); the task role needs the ssmmessages permissions (`ecsup plan` shows the "
            f"exec policy missing); AWS's amazon-ecs-exec-checker ({EXEC_CHECKER}) checks the rest. New tasks "
            "(`ecsup restart`: a new deployment of the same revision) start a new agent",
        )
    raise Unhealthy(
        f"the ECS Exec agent ({AGENT}) of task {task_id} is {status or 'not reported yet'}{because}: it starts "
        "seconds after the task does",
        hint="wait a few seconds and run `ecsup exec` again",
    )


def target(ctx: Context, task: dict[str, Any], container: dict[str, Any]) -> str:
    return f"ecs:{ctx.names.cluster}_{task['taskArn'].split('/')[-1]}_{container['runtimeId']}"


@dataclass
class Handover:
    """What the plugin is run with (its argv, and environment variables to add); the CLI runs it."""

    argv: list[str]
    task_id: str
    description: str
    env: dict[str, str] = field(default_factory=dict)


def _handover(plugin: str, by_env: bool, session: dict[str, Any], rest: list[str], task_id: str, what: str) -> Handover:
    text = json.dumps(session)
    if by_env:
        return Handover([plugin, SESSION_VARIABLE, *rest], task_id, what, {SESSION_VARIABLE: text})
    return Handover([plugin, text, *rest], task_id, what)


def prepare(
    ctx: Context, task: str | None, command: list[str] | None, forward: Forward | None, workload: str | None = None
) -> Handover:
    """Check the config and the plugin (no AWS call before), pick the task (of the web service, or
    of the worker ``workload``), open the session."""
    reach = target_of(ctx, workload)
    require_exec(ctx)
    plugin = find_plugin()
    by_env = reads_session_from_environment(plugin)
    chosen, container = pick_task(ctx, task, reach)
    task_id = str(chosen["taskArn"]).split("/")[-1]
    where = target(ctx, chosen, container)
    profile = ctx.profile or ""
    if forward is None:
        ecs = ctx.client("ecs")
        text = shlex.join(command) if command else shlex.join(DEFAULT_COMMAND)
        with doing(f"execute a command in task {task_id}"):
            resp = ecs.execute_command(
                cluster=ctx.names.cluster,
                task=chosen["taskArn"],
                container=reach.container,
                command=text,
                interactive=True,
            )
        rest = [ctx.region, "StartSession", profile, json.dumps({"Target": where}), str(ecs.meta.endpoint_url)]
        return _handover(plugin, by_env, dict(resp["session"]), rest, task_id, f"{text} in task {task_id}")
    ssm = ctx.client("ssm")
    params = {
        "Target": where,
        "DocumentName": FORWARD_DOCUMENT,
        "Parameters": {
            "host": [forward.host],
            "portNumber": [str(forward.remote)],
            "localPortNumber": [str(forward.local)],
        },
    }
    with doing(f"start a port-forwarding session through task {task_id}"):
        resp = ssm.start_session(**params)
    session = {k: resp[k] for k in ("SessionId", "TokenValue", "StreamUrl") if k in resp}
    rest = [ctx.region, "StartSession", profile, json.dumps(params), str(ssm.meta.endpoint_url)]
    what = f"localhost:{forward.local} -> {forward.host}:{forward.remote} through task {task_id}"
    return _handover(plugin, by_env, session, rest, task_id, what)


def hand_over(handover: Handover) -> int:
    """Run the plugin in the foreground; Ctrl-C and friends go to it (the AWS CLI's
    ignore_user_entered_signals), its exit code is ours."""
    import signal
    import subprocess

    ignored = [s for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP) if hasattr(signal, s.name)]
    before = {s: signal.getsignal(s) for s in ignored}
    try:
        for s in ignored:
            with contextlib.suppress(ValueError):  # not the main thread: nothing to hand over
                signal.signal(s, signal.SIG_IGN)
        return subprocess.call(handover.argv, env={**os.environ, **handover.env})
    finally:
        for s, handler in before.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(s, handler)
