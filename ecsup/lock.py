"""A lock that lives in AWS: an SSM parameter that only one writer can create.

Taken only when a run has something to change (a no-op create makes no mutating
call) and released on exit. A lock whose holder is provably gone -- same host,
process no longer alive (or this very process, after an aborted run) -- is taken
over; any other refuses, naming the holder, unless --force-unlock.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from .context import Context
from .errors import EXIT_LOCKED, EcsupError, doing, is_code


class LockHeld(EcsupError):
    exit_code = EXIT_LOCKED


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _stale(holder: dict[str, Any]) -> bool:
    if holder.get("host") != socket.gethostname():
        return False  # cannot prove anything about another machine
    pid = int(holder.get("pid", 0))
    return pid == os.getpid() or not _alive(pid)


def read(ctx: Context) -> dict[str, Any] | None:
    with doing(f"read lock {ctx.names.lock_parameter}"):
        try:
            value = ctx.client("ssm").get_parameter(Name=ctx.names.lock_parameter)["Parameter"]["Value"]
        except Exception as exc:
            if is_code(exc, "ParameterNotFound"):
                return None
            raise
    try:
        holder = json.loads(value)
    except ValueError:
        holder = {"raw": value}
    return holder if isinstance(holder, dict) else {"raw": value}


def _put(ctx: Context, me: dict[str, Any]) -> bool:
    with doing(f"take lock {ctx.names.lock_parameter}"):
        try:
            ctx.client("ssm").put_parameter(
                Name=ctx.names.lock_parameter,
                Value=json.dumps(me),
                Type="String",
                Overwrite=False,
                Tags=ctx.names.tag_list(),
                Description=f"ecsup lock for {ctx.names.stack}",
            )
        except Exception as exc:
            if is_code(exc, "ParameterAlreadyExists"):
                return False
            raise
    return True


def _delete(ctx: Context) -> None:
    with doing(f"release lock {ctx.names.lock_parameter}"):
        try:
            ctx.client("ssm").delete_parameter(Name=ctx.names.lock_parameter)
        except Exception as exc:
            if not is_code(exc, "ParameterNotFound"):
                raise


@contextmanager
def held(ctx: Context, command: str, force_unlock: bool = False) -> Iterator[None]:
    me = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": command,
        "run": ctx.run_id,
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if force_unlock:
        _delete(ctx)
    if not _put(ctx, me):
        holder = read(ctx)
        if holder is not None and not _stale(holder):
            raise LockHeld(
                f"{ctx.names.stack} is locked by `ecsup {holder.get('command', '?')}` on {holder.get('host', '?')} "
                f"(pid {holder.get('pid', '?')}) since {holder.get('since', '?')}",
                hint="wait for that run to finish; if it is gone for good, re-run with --force-unlock",
            )
        _delete(ctx)  # its holder is gone: take it over
        if not _put(ctx, me):
            raise LockHeld(
                f"{ctx.names.stack} was locked by another run just now",
                hint="wait for that run to finish; if it is gone for good, re-run with --force-unlock",
            )
    try:
        yield
    finally:
        current = read(ctx)
        if current is not None and current.get("run") == ctx.run_id:
            _delete(ctx)
