"""A lock that lives in AWS: an SSM parameter that only one writer can create.

Taken only when a run has something to change (a no-op create makes no mutating
call) and released on exit. A lock whose holder is provably gone -- same host,
process no longer alive (or this very process, after an aborted run) -- is taken
over; any other refuses, naming the holder, unless --force-unlock.

A run plans before it takes the lock. Its plan is still good under the lock if no
other run changed the stack since the plan began: no lock was held then, and the
generation parameter (rewritten by every changing run as it releases the lock) is
unchanged. Otherwise the run plans again under the lock.
"""

from __future__ import annotations

import json
import os
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .context import Context
from .errors import EXIT_LOCKED, EcsupError, doing, is_code


class LockHeld(EcsupError):
    exit_code = EXIT_LOCKED


_MY_RUNS: set[str] = set()  # runs of this very process (an aborted one leaves its lock behind)
# (lock parameter, run) -> how many threads of this process hold it (or are taking it) right now
_HOLDING: Counter[tuple[str, str]] = Counter()


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def _started(pid: int) -> str | None:
    """The process's start time since boot (clock ticks), which tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _stale(holder: dict[str, Any], key: LockKey | None = None) -> bool:
    """Only what can be proved: an earlier run of this process, or a process of this very
    machine (same host name and boot id) that is gone. Containers sharing a host name have
    their own pid namespace: with another boot id, or our own pid, nothing is proved."""
    if holder.get("run") in _MY_RUNS:  # unless another thread of this process holds it right now
        return key is None or _HOLDING[(key.parameter, str(holder.get("run")))] <= 0
    if holder.get("host") != socket.gethostname():
        return False
    boot = _boot_id()
    if holder.get("boot") and boot and holder["boot"] != boot:
        return False
    try:
        pid = int(holder.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    if not _alive(pid):
        return True
    return bool(holder.get("started")) and _started(pid) not in (None, holder["started"])  # pid reused


@dataclass(frozen=True)
class LockKey:
    """Whose lock: a stack's (its app/env) or a shared load balancer's (its own name), each an
    SSM parameter of its own, tagged with its owner's tags."""

    parameter: str
    generation: str  # "" for none (the shared load balancer's: its changes are re-read under the lock)
    label: str
    tags: tuple[tuple[str, str], ...]

    def tag_list(self) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self.tags]


def stack_key(ctx: Context) -> LockKey:
    n = ctx.names
    return LockKey(n.lock_parameter, n.generation_parameter, n.stack, tuple(n.tags().items()))


def shared_key(ctx: Context) -> LockKey:
    """The shared load balancer's own lock: changes to the shared part (its creation and
    deletion, rule priorities, the listener's certificates) are made only under it."""
    n = ctx.names
    return LockKey(
        n.shared_lock_parameter,
        "",  # every change to the shared part reads it again under the lock: no plan to validate
        f"shared load balancer {n.shared}",
        tuple(n.shared_tags().items()),
    )


@dataclass(frozen=True)
class Snapshot:
    """The lock and the generation as they were when a plan began."""

    locked: bool
    generation: str | None


def snapshot(ctx: Context) -> Snapshot:
    names = [ctx.names.lock_parameter, ctx.names.generation_parameter]
    with doing("read the stack's lock"):
        found = {p["Name"]: p["Value"] for p in ctx.client("ssm").get_parameters(Names=names)["Parameters"]}
    return Snapshot(ctx.names.lock_parameter in found, found.get(ctx.names.generation_parameter))


def generation(ctx: Context) -> str | None:
    with doing("read the stack's generation"):
        try:
            return str(ctx.client("ssm").get_parameter(Name=ctx.names.generation_parameter)["Parameter"]["Value"])
        except Exception as exc:
            if is_code(exc, "ParameterNotFound"):
                return None
            raise


def plan_still_valid(ctx: Context, before: Snapshot) -> bool:
    """Under the lock: did no other run change the stack since ``before``?"""
    return not before.locked and not ctx.lock_taken_over and generation(ctx) == before.generation


def read(ctx: Context, key: LockKey | None = None) -> dict[str, Any] | None:
    key = key or stack_key(ctx)
    with doing(f"read lock {key.parameter}"):
        try:
            value = ctx.client("ssm").get_parameter(Name=key.parameter)["Parameter"]["Value"]
        except Exception as exc:
            if is_code(exc, "ParameterNotFound"):
                return None
            raise
    try:
        holder = json.loads(value)
    except ValueError:
        holder = {"raw": value}
    return holder if isinstance(holder, dict) else {"raw": value}


def _put(ctx: Context, me: dict[str, Any], key: LockKey) -> bool:
    with doing(f"take lock {key.parameter}"):
        try:
            ctx.client("ssm").put_parameter(
                Name=key.parameter,
                Value=json.dumps(me),
                Type="String",
                Overwrite=False,
                Tags=key.tag_list(),
                Description=f"ecsup lock for {key.label}",
            )
        except Exception as exc:
            if is_code(exc, "ParameterAlreadyExists"):
                return False
            raise
    return True


def _delete(ctx: Context, key: LockKey) -> None:
    with doing(f"release lock {key.parameter}"):
        try:
            ctx.client("ssm").delete_parameter(Name=key.parameter)
        except Exception as exc:
            if not is_code(exc, "ParameterNotFound"):
                raise


@contextmanager
def held(
    ctx: Context, command: str, force_unlock: bool = False, key: LockKey | None = None, wait: float = 0.0
) -> Iterator[None]:
    """Hold the stack's lock (or ``key``'s) for the block. Sets ctx.lock_taken_over when a dead
    holder's stack lock was taken (its run may have changed the stack after this run's plan
    began). With ``wait``, a live holder is waited for (bounded) rather than refused: the shared
    load balancer's lock is held for seconds, by runs of other stacks."""
    key = key or stack_key(ctx)
    me = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "boot": _boot_id(),
        "started": _started(os.getpid()),
        "command": command,
        "run": ctx.run_id,
        "stack": ctx.names.stack,
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    stack = key == stack_key(ctx)
    if stack:
        ctx.lock_taken_over = force_unlock
    # In this process, a holder whose run is not in _HOLDING is a dead run's (a thread of ours that
    # crashed): so this run is in it from before its lock exists until after it is released.
    _HOLDING[(key.parameter, ctx.run_id)] += 1
    # ours from the start: a run of this process aborted while taking the lock over may leave a
    # take-over claim behind, which a later run must be able to tell is a dead run's
    _MY_RUNS.add(ctx.run_id)
    try:
        _acquire(ctx, me, key, force_unlock, wait, stack)
    except BaseException:
        _HOLDING[(key.parameter, ctx.run_id)] -= 1
        raise
    left: dict[str, str] | None = None
    try:
        yield
    except BaseException as exc:
        left = getattr(exc, "left", None) if stack else None
        if left and not _leave(ctx, key, left):
            left = None
        elif left and isinstance(exc, EcsupError):
            exc.hint = (exc.hint + "; " if exc.hint else "") + (
                f"{key.label} stays locked until it has stopped (the next run checks)"
            )
        raise
    finally:
        try:
            if not left:
                _release(ctx, key)
        finally:
            _HOLDING[(key.parameter, ctx.run_id)] -= 1


def _leave(ctx: Context, key: LockKey, left: dict[str, str]) -> bool:
    """An interrupted run leaves the stack locked while what it started may still run (a one-off
    task it could not see stopped: run.Interrupted.left): the lock names it, and the next run
    takes the lock over only once that has stopped (_left_running). Whether the lock says so."""
    try:
        current = read(ctx, key)
        if current is None or current.get("run") != ctx.run_id:
            return False
        with doing(f"leave lock {key.parameter} held"):
            ctx.client("ssm").put_parameter(
                Name=key.parameter, Value=json.dumps(dict(current, left=left)), Type="String", Overwrite=True
            )
    except (EcsupError, KeyboardInterrupt):
        return False
    return True


def _left_running(ctx: Context, holder: dict[str, Any]) -> str | None:
    """For a lock an interrupted run left held (_leave): what of it still runs, else None."""
    left = holder.get("left")
    if not isinstance(left, dict):
        return None
    from .run import still_running

    return still_running(ctx, {str(k): str(v) for k, v in left.items()})


def _acquire(ctx: Context, me: dict[str, Any], key: LockKey, force_unlock: bool, wait: float, stack: bool) -> None:
    if force_unlock:
        _delete(ctx, key)
    if wait > 0:
        from . import waiting

        def free() -> tuple[bool, str]:
            if _put(ctx, me, key):
                return True, "taken"
            holder = read(ctx, key)
            if holder is None:
                return False, "released"
            if _stale(holder, key):
                try:
                    _take_over(ctx, me, key, holder)
                except LockHeld:
                    return False, "taken by another run just now"
                return True, "taken over"
            return False, f"held by `ecsup {holder.get('command', '?')}` of {holder.get('stack', '?')}"

        waiting.poll(
            ctx,
            f"the lock of {key.label}",
            free,
            wait,
            on_timeout=lambda state: LockHeld(
                f"{key.label} stays locked ({state})",
                hint="wait for that run to finish; if it is gone for good, remove the SSM parameter "
                f"{key.parameter} and run the command again",
            ),
            first=0.5,
            cap=2.0,
        )
    elif not _put(ctx, me, key):
        holder = read(ctx, key)
        running = _left_running(ctx, holder) if holder is not None and holder.get("left") else None
        if holder is not None and running:
            raise LockHeld(
                f"{key.label} is locked: `ecsup {holder.get('command', '?')}` on {holder.get('host', '?')} was "
                f"interrupted and left {running}",
                hint="run this command again once it has stopped",
            )
        if holder is not None and not holder.get("left") and not _stale(holder, key):
            raise LockHeld(
                f"{key.label} is locked by `ecsup {holder.get('command', '?')}` on {holder.get('host', '?')} "
                f"(pid {holder.get('pid', '?')}) since {holder.get('since', '?')}",
                hint="wait for that run to finish; if it is gone for good, re-run with --force-unlock",
            )
        _take_over(ctx, me, key, holder)
        if stack:
            ctx.lock_taken_over = True


def _release(ctx: Context, key: LockKey) -> None:
    try:
        current = read(ctx, key)
        if current is not None and current.get("run") == ctx.run_id:
            if key.generation:
                with doing(f"record the new generation of {key.label}"):
                    ctx.client("ssm").put_parameter(
                        Name=key.generation, Value=ctx.run_id, Type="String", Overwrite=True
                    )
            _delete(ctx, key)
    except EcsupError as exc:  # never hide the run's own outcome behind the release
        ctx.notes.append(
            f"could not release the lock {key.parameter}: {exc.message} (the next run on this machine takes it over)"
        )


def _take_over(ctx: Context, me: dict[str, Any], key: LockKey, holder: dict[str, Any] | None) -> None:
    """Replace a dead holder's lock (only the dead one's: another run may have just taken it).

    Read and overwrite are two calls: two runs that both judged the same holder dead could each
    overwrite, the second replacing the first one's live lock. So the take-over itself is claimed
    first with a create-only parameter named after the dead run: one run gets it."""
    busy = LockHeld(
        f"{key.label} was locked by another run just now",
        hint="wait for that run to finish; if it is gone for good, re-run with --force-unlock",
    )
    again = read(ctx, key)
    if again is not None and again.get("run") != (holder or {}).get("run"):
        raise busy
    claim = replace(key, parameter=f"{key.parameter}-takeover-{(holder or {}).get('run') or 'none'}")
    # The claim says who made it (as a lock does): a run that died between claiming and removing
    # its claim would otherwise block every later take-over of this holder for good (and leave
    # the parameter behind). A dead claimant's claim is itself taken over, the same way.
    _HOLDING[(claim.parameter, ctx.run_id)] += 1
    try:
        with doing(f"claim the take-over of {key.parameter}"):
            if not _put(ctx, me, claim):
                claimant = read(ctx, claim)
                if claimant is None or not _stale(claimant, claim):
                    raise busy
                _take_over(ctx, me, claim, claimant)
    except BaseException:
        _HOLDING[(claim.parameter, ctx.run_id)] -= 1
        raise
    try:
        again = read(ctx, key)  # still the dead run's, now that the take-over is ours alone?
        if again is not None and again.get("run") != (holder or {}).get("run"):
            raise busy
        if again is None:
            if not _put(ctx, me, key):
                raise busy
        else:
            # replaced in one call, never deleted first: a run dying in between would leave no lock
            # and its claim for good. The lock names its claim: if this run dies before removing
            # it, whoever takes this lock over next removes it.
            with doing(f"take lock {key.parameter} over"):
                ctx.client("ssm").put_parameter(
                    Name=key.parameter, Value=json.dumps(dict(me, claim=claim.parameter)), Type="String", Overwrite=True
                )
    finally:
        try:
            with doing(f"remove the take-over claim {claim.parameter}"):
                _delete(ctx, claim)
        finally:
            _HOLDING[(claim.parameter, ctx.run_id)] -= 1
    left = (holder or {}).get("claim")  # the dead holder's own take-over claim, if it died before removing it
    if isinstance(left, str) and left.startswith(f"{key.parameter}-takeover-"):
        with doing(f"remove the take-over claim {left}"):
            _delete(ctx, replace(key, parameter=left))


def forget(ctx: Context) -> None:
    """The stack is gone: remove its generation too (destroy)."""
    with doing("remove the stack's generation"):
        try:
            ctx.client("ssm").delete_parameter(Name=ctx.names.generation_parameter)
        except Exception as exc:
            if not is_code(exc, "ParameterNotFound"):
                raise


def network_key(ctx: Context, network: str = "") -> LockKey:
    """ecsup's own network's lock ([network] shared; steps/vpc.py): its creation and deletion and
    the stacks' membership markers change only under it. ``network``: another network than the
    configured one (a stack's marker left on the network it was on before)."""
    from .names import network_lock_parameter, network_tags

    name = network or ctx.config.network.shared
    return LockKey(network_lock_parameter(name), "", f"network {name}", tuple(network_tags(name).items()))
