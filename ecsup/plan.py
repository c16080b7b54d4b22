"""Plans as data: what a step intends to do, before anything is done.

A step observes AWS with read calls only and returns ``Action``s. ``run`` is the
only code that mutates; it reads the identifiers it needs (``ctx.facts``) when it
runs, so a plan can be made before the resources it depends on exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["create", "update", "replace", "delete", "noop", "keep", "skip"]

KNOWN_AFTER_APPLY = "(known after apply)"
# A creation's result that starts so made nothing: another run made the resource meanwhile (e.g.
# another stack's run on a shared load balancer). engine.apply turns the action into a no-op, and
# the line reads "= found <resource> (<the rest of the result>)".
FOUND = "found"


@dataclass(frozen=True)
class Change:
    attribute: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.attribute}: {self.old} -> {self.new}"


@dataclass
class Action:
    kind: Kind
    resource: str  # a resource type, e.g. "load balancer"
    name: str  # its name or identifier
    detail: str = ""
    changes: list[Change] = field(default_factory=list)
    run: Callable[[], str | None] | None = field(default=None, compare=False, repr=False)
    result: str | None = field(default=None, compare=False)
    # destroy: the deletions (by ``ref``) that must succeed before this one can (a resource
    # still in use cannot go; see engine.destroy)
    after: tuple[str, ...] = field(default=(), compare=False)
    # create: facts its run reads besides its step's (Step.reads): it waits for the steps that
    # provide them too (engine.apply), while the step's other actions need not
    reads: tuple[str, ...] = field(default=(), compare=False)

    @property
    def ref(self) -> str:
        return f"{self.resource} {self.name}"

    @property
    def mutates(self) -> bool:
        return self.kind in ("create", "update", "replace", "delete")

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "resource": self.resource,
            "name": self.name,
            "detail": self.detail,
            "changes": [{"attribute": c.attribute, "old": c.old, "new": c.new} for c in self.changes],
        }


def summary(actions: list[Action]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in actions:
        counts[a.kind] = counts.get(a.kind, 0) + 1
    return counts
