"""Before a release starts: the deployment alarms ECS will watch that are in ALARM already.

ECS fails (and rolls back) a deployment when one of its alarms *goes into* ALARM while it watches
the deployment and its bake; an alarm that is in ALARM when the deployment starts is no change,
and ECS does not act on it ("the rollback setting is ignored if the alarms are already in alarm
state" -- aws/copilot-cli#4512; the emulation does the same, emulation/deployments.py). After an
alarm rollback ecsup's own alarm stays in ALARM for a few periods, so the fix-forward deploy that
usually follows would run unguarded by it while the configuration says it is guarded.

So before a deployment starts (``ecsup deploy``, and ``ecsup create`` when it starts one), the
alarms it will be watched by are read, and one in ALARM is said by name. Then, as asked:
``--wait-for-alarms SECONDS`` waits (bounded, visibly: waiting.py) for them to leave ALARM;
``--ignore-alarms`` goes on knowingly (a warning line; the probe and the watch still run); on a
terminal the user is asked (wait, go on, or stop); without one the release is refused (exit 7)
with a hint naming both options. Nothing has been started when it stops.
"""

from __future__ import annotations

from typing import Any

from .context import Context
from .errors import Refused, WaitTimeout

WAIT_OPTION = "--wait-for-alarms"
IGNORE_OPTION = "--ignore-alarms"
ASKED_WAIT = 900.0  # seconds: the wait chosen at the prompt (a few evaluation periods and then some)


def watched_by(ctx: Context, svc: dict[str, Any] | None) -> list[str]:
    """The alarms the deployment about to start will be watched by: the live service's
    (``deploymentConfiguration.alarms``, when enabled) for a deploy; the configured ones (what
    ``create`` sets on the service) when ``svc`` is None."""
    if svc is None:
        from .steps.service import deployment_alarms

        alarms = deployment_alarms(ctx)
    else:
        alarms = (svc.get("deploymentConfiguration") or {}).get("alarms") or {}
    return [str(n) for n in alarms.get("alarmNames") or []] if alarms.get("enable") else []


def in_alarm(ctx: Context, names: list[str]) -> dict[str, str]:
    """name -> CloudWatch's reason, for each of ``names`` in ALARM now."""
    from .deployments import alarm_states

    found = alarm_states(ctx, names) if names else {}
    return {n: str(a.get("StateReason") or "") for n, a in sorted(found.items()) if a.get("StateValue") == "ALARM"}


def _describe(found: dict[str, str]) -> str:
    said = "; ".join(f"{n} ({reason})" if reason else n for n, reason in found.items())
    return (
        f"deployment alarm(s) already in ALARM: {said}. ECS acts only on an alarm that goes into ALARM during "
        "the deployment, so they would not guard this release"
    )


def guard_release(ctx: Context, svc: dict[str, Any] | None = None) -> list[str]:
    """Say so before a deployment starts when an alarm it will be watched by is in ALARM, and
    wait, go on or stop as asked (module docstring). Raises Refused or WaitTimeout to stop.
    Returns the alarms in ALARM the release goes on without (--ignore-alarms, or "go"): what
    the release must not claim ECS watches it with."""
    names = watched_by(ctx, svc)
    found = in_alarm(ctx, names)
    if not found:
        return []
    why = _describe(found)
    wait = float(getattr(ctx, "wait_for_alarms", 0.0) or 0.0)
    if wait > 0:
        ctx.ui.release_note(f"{why}; waiting up to {wait:.0f} s for them to leave ALARM ({WAIT_OPTION})")
        _wait(ctx, list(found), wait)
        return []
    if getattr(ctx, "ignore_alarms", False):
        ctx.ui.release_note(f"WARNING: {why}; going on as {IGNORE_OPTION} asks (the probe and the watch still run)")
        return list(found)
    choice = ctx.ui.ask_choice(
        f"{why}. Wait for them to leave ALARM (up to {ASKED_WAIT:.0f} s), go on unguarded, or stop?",
        ("wait", "go", "stop"),
        "wait",
    )
    hint = (
        f"wait for them to leave ALARM with `{WAIT_OPTION} SECONDS` (e.g. {WAIT_OPTION} 600), or go on "
        f"knowingly with `{IGNORE_OPTION}`; nothing was started"
    )
    if choice is None:
        raise Refused(f"not starting the release without a terminal to ask: {why}", hint=hint)
    if choice == "stop":
        raise Refused(f"stopped before the release started: {', '.join(found)} in ALARM", hint=hint)
    if choice == "go":
        ctx.ui.release_note(f"WARNING: going on unguarded by {', '.join(found)} (the probe and the watch still run)")
        return list(found)
    _wait(ctx, list(found), ASKED_WAIT)
    return []


def _wait(ctx: Context, names: list[str], bound: float) -> None:
    from . import waiting

    def check() -> tuple[bool, str]:
        still = in_alarm(ctx, names)
        return (not still, "in ALARM: " + ", ".join(still) if still else "none in ALARM")

    def timed_out(state: str) -> WaitTimeout:
        return WaitTimeout(
            f"the deployment alarms did not leave ALARM within {bound:.0f} s ({state}); the release was not started",
            hint=f"wait longer (`{WAIT_OPTION} SECONDS`), look at why they fire, or go on knowingly with "
            f"`{IGNORE_OPTION}`",
        )

    waiting.poll(ctx, "the deployment alarms to leave ALARM", check, bound, on_timeout=timed_out, cap=30.0)
