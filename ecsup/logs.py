"""`ecsup logs`: read the workloads' container logs from the stack's CloudWatch log group, once
or following new events (render.LogPrinter prints them, one ``[task-id] message`` line each,
after the workload's name when the stack has workers or jobs).

The awslogs driver writes each task to the stream ``<prefix>/<container>/<task-id>``: the web
service's ``ecs/<app>/<task-id>``, a worker's or a job's ``<name>/<name>/<task-id>`` (its
``awslogs-stream-prefix`` and its container are both named after it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .context import Context
from .errors import OptionError, Unhealthy, doing, is_code
from .workloads import WEB

POLL_INTERVAL = 2.0  # seconds between polls when following
LOOKBACK_MS = 30_000  # re-read this much before the newest event seen: late-ingested events
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_since(text: str) -> float:
    """``30s``, ``10m``, ``1h``, ``2d``, ``1w`` -> seconds."""
    match = _DURATION.fullmatch(text or "")
    if not match:
        raise OptionError(f"--since {text!r}: not a duration; use a number and a unit (s, m, h, d, w), e.g. 10m or 2d")
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise OptionError(f"--since {text!r}: must be more than zero")
    return seconds


@dataclass(frozen=True)
class LogLine:
    event_id: str
    timestamp: int  # milliseconds since the epoch
    task: str  # the task id (the stream name's last part)
    message: str
    workload: str = ""  # web, a worker's or a job's name (the stream name's first part)


def describe_window(since: float) -> str:
    """600 -> "10m": the --since window as the user would write it."""
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if since >= size and since % size == 0:
            return f"{int(since // size)}{unit}"
    return f"{since:g}s"


def first_read_notice(
    emitted: int, since: float, group: str, follow: bool, pattern: str | None, workload: str | None = None
) -> str | None:
    """What to say after the first read: nothing when it printed events and is not following."""
    matching = (f" of {workload}" if workload else "") + (f" matching {pattern!r}" if pattern else "")
    if emitted == 0:
        said = f"no events{matching} in {group} in the last {describe_window(since)}"
        return said + ("; following, Ctrl-C stops" if follow else " (--since widens the window, -f follows)")
    return f"following {group}{matching}, Ctrl-C stops" if follow else None


def task_of(stream: str) -> str:
    """``ecs/<container>/<task-id>`` -> ``<task-id>`` (any other stream name as it is)."""
    return stream.rsplit("/", 1)[-1]


WEB_STREAM_PREFIX = "ecs"  # the web container's awslogs-stream-prefix


def workload_of(stream: str) -> str:
    """``ecs/<app>/<task-id>`` -> ``web``; ``<name>/<name>/<task-id>`` -> ``<name>``; "" otherwise."""
    first, sep, _rest = stream.partition("/")
    if not sep:
        return ""
    return WEB if first == WEB_STREAM_PREFIX else first


def workloads(ctx: Context) -> list[str]:
    """The stack's workloads as --workload names them: web, then the workers and the jobs."""
    return [WEB, *(w.name for w in ctx.config.workers), *(j.name for j in ctx.config.jobs)]


def stream_prefix(ctx: Context, workload: str) -> str:
    """The stream names of a workload's tasks start with this (FilterLogEvents logStreamNamePrefix);
    OptionError, listing the workloads, for a name that is none of them."""
    known = workloads(ctx)
    if workload not in known:
        raise OptionError(
            f"--workload {workload}: no such workload in {ctx.config.path or 'ecsup.toml'}",
            hint=f"the stack's workloads: {', '.join(known)}",
        )
    if workload == WEB:
        return f"{WEB_STREAM_PREFIX}/{ctx.names.container}/"
    return f"{workload}/{workload}/"


def _fetch(
    ctx: Context, start_ms: int, pattern: str | None, page_size: int | None, prefix: str | None = None
) -> Iterator[LogLine]:
    """Every event of the log group from start_ms on (of the streams starting with ``prefix``),
    page by page (nextToken)."""
    group = ctx.names.log_group
    logs = ctx.client("logs")
    params: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if pattern:
        params["filterPattern"] = pattern
    if prefix:
        params["logStreamNamePrefix"] = prefix
    if page_size:
        params["limit"] = page_size
    while True:
        with doing(f"read log group {group}"):
            try:
                page = logs.filter_log_events(**params)
            except Exception as exc:
                if is_code(exc, "ResourceNotFoundException"):
                    raise Unhealthy(f"log group {group} does not exist: run `ecsup create` first") from None
                raise
        for event in sorted(page.get("events", []), key=lambda e: e.get("timestamp", 0)):
            yield LogLine(
                event_id=str(event.get("eventId", "")),
                timestamp=int(event.get("timestamp", 0)),
                task=task_of(str(event.get("logStreamName", ""))),
                message=str(event.get("message", "")),
                workload=workload_of(str(event.get("logStreamName", ""))),
            )
        token = page.get("nextToken")
        if not token or token == params.get("nextToken"):
            return
        params["nextToken"] = token


def tail(
    ctx: Context,
    emit: Callable[[LogLine], None],
    since: float = 600.0,
    pattern: str | None = None,
    follow: bool = False,
    max_polls: int | None = None,
    interval: float = POLL_INTERVAL,
    now: Callable[[], float] = time.time,
    page_size: int | None = None,
    after_first: Callable[[int], None] | None = None,
    workload: str | None = None,
) -> int:
    """Emit the log group's events of the last ``since`` seconds (only ``workload``'s when given);
    when following, poll every ``interval`` seconds (ctx.sleep) for new ones, each emitted exactly
    once, until interrupted or ``max_polls`` reads were made. Returns how many lines were emitted.
    ``after_first`` hears how many lines the first read emitted (to say "none" or "following")."""
    prefix = stream_prefix(ctx, workload) if workload else None
    start_ms = int((now() - since) * 1000)
    seen: dict[str, int] = {}  # eventId -> timestamp, for the events still inside the look-back window
    newest = start_ms
    emitted = 0
    polls = 0
    while True:
        polls += 1
        for line in _fetch(ctx, start_ms, pattern, page_size, prefix):
            if line.event_id in seen:
                continue
            seen[line.event_id] = line.timestamp
            newest = max(newest, line.timestamp)
            emit(line)
            emitted += 1
        if polls == 1 and after_first is not None:
            after_first(emitted)
        if not follow or (max_polls is not None and polls >= max_polls):
            return emitted
        # next read: from a little before the newest event (events arrive late and
        # several share a millisecond); what was already emitted is skipped by eventId
        start_ms = max(start_ms, newest - LOOKBACK_MS)
        seen = {eid: ts for eid, ts in seen.items() if ts >= start_ms}
        ctx.sleep(interval)
