"""One module per resource family. Each step observes with read calls only and
returns Actions (see plan.py); it never prints and never sleeps (waits go through
waiting.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..context import Context
from ..plan import Action


class Step:
    """A resource family. What it reads and provides is declared by fact name (facts.py); the
    engine derives from it which steps it waits for, when planning and when applying:

    - ``reads``: the facts it reads, while planning and when its actions run. It waits for every
      step before it (in pipeline order) that provides one of them. None (the default): not
      declared -- it waits for every step before it, the safe order;
    - ``plan_reads``: facts it reads only while planning (a listing another step made, the
      account id another step's ARN gives): no wait when applying;
    - ``apply_reads``: facts only its actions read (when they run): it waits for their steps when
      applying, not while planning (the jobs move to a new image once the web service's release
      succeeded, and are planned beside it);
    - ``provides``: the facts its planning or its actions write, or the resources its actions
      make that another step's need (markers, facts.py);
    - ``needs``: steps (class names) waited for besides, while planning and applying;
    - ``after``: steps (class names) whose first mutating call comes before this step's (in the
      same round at the earliest: rounds.py), although it reads nothing of theirs: which of two
      long waits starts first;
    - ``concurrent``: its actions are independent of one another, so each runs as soon as the
      step may (by default they run one after another, in order)."""

    title = ""
    reads: tuple[str, ...] | None = None
    plan_reads: tuple[str, ...] = ()
    apply_reads: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    concurrent = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr in ("reads", "plan_reads", "apply_reads", "provides", "needs", "after"):
            value = cls.__dict__.get(attr)
            if value is not None and (not isinstance(value, tuple) or not all(isinstance(v, str) for v in value)):
                raise TypeError(f"{cls.__name__}.{attr} must be a tuple of names, not {value!r}")

    def plan(self, ctx: Context) -> list[Action]:
        """Observe and say what ``create`` must do (read calls only)."""
        raise NotImplementedError

    def plan_destroy(self, ctx: Context) -> list[Action]:
        """Observe and say what ``destroy`` must do (read calls only)."""
        return []

    def groups(self, actions: list[Action]) -> list[list[Action]]:
        """Its runnable actions (in plan order) as the engine runs them, each group one after another
        in a thread of its own: all in one, or each alone when ``concurrent``."""
        if not actions:
            return []
        return [[a] for a in actions] if self.concurrent else [actions]

    def after_apply(self, ctx: Context) -> None:
        """Once every action of a changing ``create`` ran: waits that must not hold up the stack."""


T = TypeVar("T")
U = TypeVar("U")


def both(ctx: Context, first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """Two independent reads at once (the first error, in this order, is raised)."""
    found: dict[int, tuple[Any, Any]] = ctx.in_parallel({0: first, 1: second})
    for _, error in found.values():
        if error is not None:
            raise error
    return found[0][0], found[1][0]


def resolve(ctx: Context, items: list[Action | Callable[[], Action]]) -> list[Action]:
    """Actions, some still to be read (callables): read those at once, keep the order."""
    pending = {i: item for i, item in enumerate(items) if callable(item) and not isinstance(item, Action)}
    found = ctx.in_parallel(pending)
    for _, error in found.values():
        if error is not None:
            raise error
    return [found[i][0] if i in pending else item for i, item in enumerate(items)]  # type: ignore[misc]


def check_owner(ctx: Context, resource: str, name: str, tags: Mapping[str, str]) -> bool:
    """True when ecsup owns the resource for this app/env; otherwise record a conflict."""
    if ctx.names.owns(tags):
        return True
    ctx.conflicts.append(
        f"{resource} {name!r} exists but does not carry ecsup's tags for app={ctx.names.app}, env={ctx.names.env}"
    )
    return False


# What destroy's deletions wait for (Action.after names other deletions by their ref).
def service_ref(ctx: Context) -> str:
    return f"ECS service {ctx.names.service}"


def listeners_ref(ctx: Context) -> str:
    """What forwards to the stack's target groups: its listeners, or on a shared load balancer
    its rule (steps/shared.py)."""
    if ctx.names.shared:
        return f"listener rule {ctx.names.rule}"
    return f"listeners {ctx.names.alb}"


def load_balancer_ref(ctx: Context) -> str:
    return f"load balancer {ctx.names.alb}"


def foreign(ctx: Context, resource: str, name: str) -> Action:
    """Destroy's note about a same-named resource that is not ecsup's."""
    return Action("skip", resource, name, "not ecsup's (no matching ownership tags): left alone")
