"""One module per resource family. Each step observes with read calls only and
returns Actions (see plan.py); it never prints and never sleeps (waits go through
waiting.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..context import Context
from ..plan import Action


class Step:
    title = ""

    def plan(self, ctx: Context) -> list[Action]:
        """Observe and say what ``create`` must do (read calls only)."""
        raise NotImplementedError

    def plan_destroy(self, ctx: Context) -> list[Action]:
        """Observe and say what ``destroy`` must do (read calls only)."""
        return []


def check_owner(ctx: Context, resource: str, name: str, tags: Mapping[str, str]) -> bool:
    """True when ecsup owns the resource for this app/env; otherwise record a conflict."""
    if ctx.names.owns(tags):
        return True
    ctx.conflicts.append(
        f"{resource} {name!r} exists but does not carry ecsup's tags for app={ctx.names.app}, env={ctx.names.env}"
    )
    return False


def foreign(ctx: Context, resource: str, name: str) -> Action:
    """Destroy's note about a same-named resource that is not ecsup's."""
    return Action("skip", resource, name, "not ecsup's (no matching ownership tags): left alone")
