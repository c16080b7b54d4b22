"""The kit's report: one outcome per assumption (pass, fail or skip, with what was observed and
the evidence), what was created and what could not be deleted; written as JSON and as a
readable summary."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..emulation.assumptions import CHECKED, by_id

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass
class Outcome:
    assumption: str
    check: str
    outcome: str  # pass | fail | skip
    observed: str  # one or two sentences: what AWS reported
    evidence: dict[str, Any] = field(default_factory=dict)  # statuses, reasons, weights, target health


@dataclass
class Report:
    target: str  # "aws" or "sandbox"
    region: str
    zone: str
    run_id: str
    account: str = ""
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    stacks: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # the life's steps: name, result, seconds
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # by assumption id
    created: list[str] = field(default_factory=list)  # what the inventory found before clean-up
    left: list[str] = field(default_factory=list)  # what it still found after
    cleanup_errors: list[str] = field(default_factory=list)
    error: str = ""  # what stopped the life early (the checks after it are skipped, with this reason)
    interrupted: bool = False

    def record(self, outcome: Outcome) -> None:
        """The first outcome of an assumption stands, except that a failure outranks a pass (an
        assumption observed several times, e.g. the weights after every deployment)."""
        known = self.outcomes.get(outcome.assumption)
        if known is None or (known.outcome != FAIL and outcome.outcome == FAIL) or known.outcome == SKIP:
            if known is not None and known.outcome != SKIP and outcome.outcome == FAIL:
                outcome.evidence = {"earlier": asdict(known), **outcome.evidence}
            self.outcomes[outcome.assumption] = outcome

    def finish_skips(self) -> None:
        """Every assumption gets an outcome: one the life did not reach is skipped, saying why."""
        why = self.error or ("interrupted" if self.interrupted else "")
        for a in CHECKED:
            if a.id not in self.outcomes:
                reason = f"not observed: the life stopped before its check ({why})" if why else "not observed"
                self.outcomes[a.id] = Outcome(a.id, a.check, SKIP, reason)

    @property
    def counts(self) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, SKIP: 0}
        for o in self.outcomes.values():
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        return (
            not self.error
            and not self.left
            and not self.cleanup_errors
            and not self.interrupted
            and all(o.outcome == PASS for o in self.outcomes.values())
        )

    def as_dict(self) -> dict[str, Any]:
        known = by_id()
        return {
            "kit": "ecsup acceptance",
            "target": self.target,
            "region": self.region,
            "zone": self.zone,
            "account": self.account,
            "run_id": self.run_id,
            "started": self.started,
            "finished": self.finished,
            "seconds": round(self.seconds, 1),
            "stacks": self.stacks,
            "counts": self.counts,
            "ok": self.ok,
            "error": self.error or None,
            "interrupted": self.interrupted,
            "assumptions": [
                {
                    "id": a.id,
                    "title": a.title,
                    "statement": a.statement,
                    "sources": list(a.sources),
                    "emulation": a.emulation,
                    "check": a.check,
                    "outcome": self.outcomes[a.id].outcome if a.id in self.outcomes else SKIP,
                    "observed": self.outcomes[a.id].observed if a.id in self.outcomes else "",
                    "evidence": self.outcomes[a.id].evidence if a.id in self.outcomes else {},
                }
                for a in known.values()
            ],
            "steps": self.steps,
            "cleanup": {"found_before": self.created, "left": self.left, "errors": self.cleanup_errors},
        }

    def summary(self) -> str:
        """The readable summary: one block per assumption, then the clean-up."""
        counts = self.counts
        lines = [
            f"ecsup acceptance kit, run {self.run_id} on {self.target} ({self.region}"
            + (f", account {self.account}" if self.account else "")
            + f", zone {self.zone}): {self.seconds / 60:.1f} min",
            f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped"
            + (f"; stopped early: {self.error}" if self.error else "")
            + ("; interrupted" if self.interrupted else ""),
            "",
        ]
        for a in CHECKED:
            o = self.outcomes.get(a.id)
            outcome = o.outcome if o else SKIP
            lines.append(f"[{outcome.upper():4}] {a.id}: {a.title}")
            lines.append(f"       assumed: {a.statement}")
            if o is not None:
                lines.append(f"       observed: {o.observed}")
                for key in ("status", "statusReason", "reason"):
                    if o.evidence.get(key):
                        lines.append(f"       {key}: {o.evidence[key]}")
            if outcome == FAIL:
                lines.append(f"       -> change the assumption in ecsup/emulation/assumptions.py and {a.emulation}")
            lines.append("")
        lines.append(
            f"clean-up: {len(self.created)} resource(s) found before it, {len(self.left)} left after it"
            + (f", {len(self.cleanup_errors)} error(s)" if self.cleanup_errors else "")
        )
        for item in self.left:
            lines.append(f"  NOT DELETED: {item}")
        for item in self.cleanup_errors:
            lines.append(f"  error: {item}")
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        json_path, text_path = directory / "report.json", directory / "report.txt"
        json_path.write_text(json.dumps(self.as_dict(), indent=2, default=str) + "\n")
        text_path.write_text(self.summary())
        return json_path, text_path
