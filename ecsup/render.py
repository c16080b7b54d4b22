"""The only module that prints: step lines, live waits, plans, summaries, errors.

On a terminal it uses colour and a live spinner line during waits; otherwise it
prints plain lines (no escape codes, no redraws) so CI logs stay readable.
"""

from __future__ import annotations

import getpass
import re
import sys
import threading
import time
import zlib
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from .plan import FOUND, Action

SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "noop": "=", "keep": "=", "skip": "!"}
DONE = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "noop": "unchanged",
    "keep": "kept",
    "skip": "skipped",
}
PLANNED = {
    "create": "create",
    "update": "update",
    "replace": "replace",
    "delete": "delete",
    "noop": "unchanged",
    "keep": "keep",
    "skip": "skip",
}
STYLE = {
    "create": "green",
    "update": "yellow",
    "replace": "magenta",
    "delete": "red",
    "noop": "dim",
    "keep": "cyan",
    "skip": "yellow",
}


def make_console(stream: IO[str] | None = None, quiet: bool = False) -> Console:
    console = Console(file=stream or sys.stdout, highlight=False, soft_wrap=True, quiet=quiet)
    if not console.is_terminal and console.width < 140:
        console.width = 140  # logs and pipes have no width: don't fold tables at 80 columns
    return console


class ConsoleUI:
    """Implements context.UI for the terminal (and for plain output)."""

    def __init__(self, console: Console, redact: Any = None, interactive: bool | None = None) -> None:
        self.console = console
        self.redact = redact or (lambda s: s)
        self.live = console.is_terminal
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self._status: Any = None
        self._last_plain: dict[str, tuple[str, float]] = {}
        self._live: Any = None  # the deploy view on a terminal
        self._last_deploy = ""
        # a release of several workloads (release.py): the latest look at each, watched from threads
        self._workloads: dict[str, Any] = {}
        self._last_lines: dict[str, str] = {}
        self._deploy_lock = threading.Lock()
        self.announced: str | None = None  # release_started's line
        self._build_shown: set[str] = set()  # docker's lines printed once (build_progress)

    def print(self, text: str = "", style: str | None = None) -> None:
        self._stop()
        self.console.print(escape(self.redact(text)), style=style)

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    # -- deploy / rollback --------------------------------------------------------
    def deploy_progress(self, state: Any) -> None:
        """A live view on a terminal (stage, traffic split, old and new tasks, bake countdown;
        new service events above it); elsewhere one plain line per change. A release of workers
        with the web service (looks from several threads): one view, a line per worker under the
        web service's grid; plain lines start with the worker's name."""
        with self._deploy_lock:
            if getattr(state, "workload", "") or self._workloads:
                self._release_progress(state)
            else:
                self._deploy_progress(state)

    def _release_progress(self, state: Any) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        name = getattr(state, "workload", "") or ""
        self._workloads[name] = state
        label = f"worker {name}: " if name else ""
        for text in state.events:
            self.console.print(escape(f"  event: {label}{self.redact(text)}"), style="dim")
        if not self.live:
            line = state.summary()
            if line != self._last_lines.get(name):
                self._last_lines[name] = line
                self.console.print(escape(f"  [{state.elapsed:>4.0f}s] {label}{self.redact(line)}"))
            if all(s.ended for s in self._workloads.values()):
                self._workloads.clear()
                self._last_lines.clear()
            return
        from rich.live import Live

        view = release_view(self._workloads)
        if self._live is None:
            self._live = Live(view, console=self.console, refresh_per_second=4, transient=True)
            self._live.start()
        else:
            self._live.update(view)
        if all(s.ended for s in self._workloads.values()):
            self._live.stop()
            self._live = None
            for key, ended in sorted(self._workloads.items()):
                self.console.print(escape(f"  {f'worker {key}: ' if key else ''}{ended.summary()}"))
            self._workloads.clear()

    def _deploy_progress(self, state: Any) -> None:
        if self._status is not None:  # a spinner from an earlier wait
            self._status.stop()
            self._status = None
        for text in state.events:
            self.console.print(escape(f"  event: {self.redact(text)}"), style="dim")
        if not self.live:
            line = state.summary()
            if line != self._last_deploy:
                self._last_deploy = line
                self.console.print(escape(f"  [{state.elapsed:>4.0f}s] {self.redact(line)}"))
            return
        from rich.live import Live

        view = deploy_view(state)
        if self._live is None:
            self._live = Live(view, console=self.console, refresh_per_second=4, transient=True)
            self._live.start()
        else:
            self._live.update(view)
        if state.ended:
            self._live.stop()
            self._live = None
            self.console.print(escape(f"  {state.summary()}"))

    # -- one-off tasks (ecsup run, the before task) ------------------------------------
    def task_event(self, text: str) -> None:
        self.stop_live()
        self._stop()
        self.console.print(escape(f"  {self.redact(text)}"), style="cyan")

    def task_log(self, task_id: str, message: str) -> None:
        self.stop_live()
        self._stop()
        LogPrinter(self.console, self.redact)(_TaskLine(task_id, message))

    def release_started(self, message: str) -> None:
        """What a deploy or rollback does, said when it starts (not after the watch)."""
        self._stop()
        self.announced = message
        self.console.print(escape(self.redact(message)), style="bold")

    def release_note(self, text: str) -> None:
        """One line during a release (the probe's summary), above the live view."""
        self._stop()
        self.console.print(escape(f"  {self.redact(text)}"), style="cyan")

    def provider_records(self, heading: str, lines: list[str]) -> None:
        """[dns] external: the records the user creates at their DNS provider, as a block."""
        self.stop_live()
        self._stop()
        self.console.print(escape(self.redact(heading)), style="bold yellow")
        for line in lines:
            self.console.print(escape(f"    {self.redact(line)}"), style="yellow")

    def ask_choice(self, question: str, choices: tuple[str, ...], default: str) -> str | None:
        """One of ``choices``, asked on the terminal; None without one (the caller refuses then)."""
        if not self.interactive:
            return None
        from rich.prompt import Prompt  # rich, not click: typer no longer brings click with it

        self.stop_live()
        self._stop()
        self.console.print(escape(self.redact(question)), style="yellow")
        return str(Prompt.ask("choose", choices=list(choices), default=default, console=self.console))

    def stop_live(self) -> None:
        self._workloads.clear()
        self._last_lines.clear()
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- [service] build (build.py) ------------------------------------------------
    def build_progress(self, stage: str, line: str) -> None:
        """docker's output, condensed: each build step, the pushes and the errors as lines (the rest of
        docker's output -- a step's own output, layer progress -- only on a terminal's status line,
        replaced by the next one)."""
        text = self.redact(line)
        if _BUILD_LINE.search(text) and text not in self._build_shown:
            self._build_shown.add(text)
            self._stop()
            self.console.print(escape(f"  {stage}: {text}"), style="dim" if "error" not in text.lower() else "red")
            return
        if self.live:
            status = escape(f"{stage}: {text[:120]}")
            if self._status is None:
                self._status = self.console.status(status)
                self._status.start()
            else:
                self._status.update(status)

    # -- context.UI ---------------------------------------------------------
    def wait_progress(self, what: str, state: str, elapsed: float, bound: float) -> None:
        line = f"waiting for {what}: {state} ({elapsed:.0f}s, at most {bound:.0f}s)"
        if self.live:
            if self._status is None:
                self._status = self.console.status(escape(line))
                self._status.start()
            else:
                self._status.update(escape(line))
            return
        last = self._last_plain.get(what)
        now = time.monotonic()
        if last is None or last[0] != state or now - last[1] >= 30:
            self._last_plain[what] = (state, now)
            self.console.print(escape(f"  ... {line}"), style="dim")

    def wait_done(self, what: str, state: str, elapsed: float) -> None:
        self._stop()
        self._last_plain.pop(what, None)
        if elapsed >= 1:
            self.console.print(escape(f"  ... {what}: {state} after {elapsed:.0f}s"), style="dim")

    def event(self, text: str) -> None:
        self._stop()
        self.console.print(escape(f"  event: {self.redact(text)}"), style="dim")

    def ask_secret(self, variable: str, parameter: str) -> str | None:
        if not self.interactive:
            return None
        self._stop()
        return getpass.getpass(f"Value for secret {variable} (SSM parameter {parameter}, input hidden): ") or None

    # -- actions ------------------------------------------------------------
    def action_done(self, action: Action) -> None:
        verb = DONE[action.kind]
        detail = action.result if action.result and action.kind != "noop" else action.detail
        if action.kind == "noop" and action.result and action.result.startswith(FOUND):  # made meanwhile
            verb, detail = FOUND, action.result[len(FOUND) :].strip(" :;,")
        self._action_line(action, verb, detail)

    def action_failed(self, action: Action, message: str) -> None:
        self._stop()
        self.console.print(
            escape(self.redact(f"  ! failed    {action.resource} {action.name}: {message}")), style="red"
        )

    def action_left(self, action: Action, why: str) -> None:
        self._stop()
        self.console.print(escape(self.redact(f"  ! left      {action.resource} {action.name}: {why}")), style="yellow")

    def action_planned(self, action: Action) -> None:
        self._action_line(action, PLANNED[action.kind], action.detail)
        for change in action.changes:
            self.console.print(escape(f"        {self.redact(str(change))}"), style="dim")

    def _action_line(self, action: Action, verb: str, detail: str | None) -> None:
        self._stop()
        text = f"{SYMBOL[action.kind]:>3} {verb:<9} {action.resource} {action.name}"
        if detail:
            text += f"  {detail}" if detail.startswith("(") else f"  ({detail})"
        self.console.print(escape(self.redact(text)), style=STYLE[action.kind])


# docker's lines worth a line of their own: BuildKit's steps (#5 [2/4] RUN ...), the classic builder's
# (Step 2/4 : RUN ...), the layers and manifest pushed, the digest, login, errors; build.py's own lines.
_BUILD_LINE = re.compile(
    r"^#\d+ \[[^\]]*\d+/\d+\]|^Step \d+/\d+ :|pushing (layers|manifest)|: Pushed$|digest: sha256:|"
    r"Login Succeeded|error|^pushed |repository already",
    re.IGNORECASE,
)


def _bar(weight: float, width: int = 20) -> str:
    filled = round(width * weight / 100.0)
    return "█" * filled + "░" * (width - filled)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def deploy_view(state: Any) -> Any:
    """The live deploy view: a small grid redrawn in place."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    stage = f" · {state.stage}" if state.stage and not state.ended else ""
    grid.add_row("deployment", f"{state.status}{stage}  ({_minutes(state.elapsed)})")
    for group, weight in sorted(state.traffic.items()):
        grid.add_row(f"  {group}", f"{_bar(weight)} {weight:g}%")
    grid.add_row(
        "new tasks",
        f"{state.revision_after or '?'}: {state.new_running} running, {state.new_pending} pending (of {state.desired})",
    )
    if state.revision_before:
        grid.add_row("old tasks", f"{state.revision_before}: {state.old_running} running, {state.old_pending} pending")
    for name, alarm_state in sorted(getattr(state, "alarms", {}).items()):
        grid.add_row(
            f"  alarm {escape(name)}", f"[{'bold red' if alarm_state == 'ALARM' else 'green'}]{alarm_state}[/]"
        )
    if state.bake_left is not None:
        grid.add_row("bake", f"{_minutes(state.bake_left)} left of {_minutes(state.bake_total or 0)}")
    elif state.stage == "BAKE_TIME" and state.bake_total:  # an emulator's bake: shorter than it says
        grid.add_row("bake", f"{_minutes(state.bake_total)}, shortened by this endpoint (no countdown)")
    return grid


def release_view(states: dict[str, Any]) -> Any:
    """The live view of a release: the web service's grid, then a line per worker."""
    from rich.console import Group
    from rich.table import Table

    parts: list[Any] = []
    if "" in states:
        parts.append(deploy_view(states[""]))
    workers = Table.grid(padding=(0, 2))
    workers.add_column(style="bold")
    workers.add_column()
    for name, state in sorted((k, v) for k, v in states.items() if k):
        old = f"; old {state.revision_before}: {state.old_running} running" if state.revision_before else ""
        workers.add_row(
            f"worker {escape(name)}",
            f"{state.status}  new {state.revision_after or '?'}: {state.new_running} running, "
            f"{state.new_pending} pending (of {state.desired}){old}",
        )
    parts.append(workers)
    return Group(*parts)


def plan_summary(actions: list[Action]) -> str:
    counts = {k: sum(1 for a in actions if a.kind == k) for k in ("create", "update", "replace", "delete")}
    parts = [f"{n} to {k}" for k, n in counts.items() if n]
    return ", ".join(parts) if parts else "no changes"


def error(console: Console, message: str, hint: str | None, code: int) -> None:
    console.print(escape(f"error: {message}"), style="bold red")
    if hint:
        console.print(escape(f"hint: {hint}"), style="yellow")


STATE_STYLE = {
    "OK": "green",
    "MISSING": "red",
    "DRIFT": "yellow",
    "FAILING": "bold red",
    "PENDING": "cyan",
    "FOREIGN": "magenta",
    "SKIPPED": "dim",
}


def status_report(console: Console, report: Any, where: str = "") -> None:
    """``where``: " at <endpoint>" or " in account <id>" (Context.whereabouts)."""
    from rich.table import Table

    console.print(escape(f"{report.stack} ({report.region}{where})  {report.url}"), style="bold")
    if not report.exists:
        console.print(
            escape(f"the stack {report.stack} does not exist in {report.region}: `ecsup create` builds it"),
            style="yellow",
        )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("STATE")
    table.add_column("RESOURCE")
    table.add_column("NAME")
    table.add_column("DETAIL", overflow="fold")
    for row in report.rows:
        table.add_row(
            f"[{STATE_STYLE.get(row.state, '')}]{row.state}[/]",
            escape(row.resource),
            escape(row.name),
            escape(row.detail),
        )
    console.print(table)
    if report.events:
        console.print("recent service events:", style="bold")
        for event in report.events:
            console.print(escape(f"  {event}"), style="dim")
    if report.stopped_reasons:
        console.print("stopped tasks:", style="bold red")
        for reason in report.stopped_reasons:
            console.print(escape(f"  {reason}"))
    for note in report.notes:
        console.print(escape(f"note: {note}"), style="yellow")
    jobs_section(console, getattr(report, "jobs", []))
    bad = [r for r in report.rows if r.state not in ("OK", "SKIPPED")]
    failing = getattr(report, "jobs_failing", [])
    for job in getattr(report, "jobs", []):
        last = job.last_finished if job.failing else None
        if last is not None:
            console.print(
                escape(
                    f"job {job.name}: its last run failed ({last.result}); `ecsup logs` has its lines, "
                    f"`ecsup run --job {job.name}` runs it again now"
                ),
                style="red",
            )
    if report.exists and not bad and not failing:
        console.print("healthy: every resource is present, as configured, and the service is stable", style="green")
    elif report.exists and bad:
        console.print(
            escape(f"{len(bad)} resource(s) not OK: `ecsup create` converges what is missing or different"),
            style="yellow",
        )


def jobs_section(console: Console, jobs: list[Any]) -> None:
    """`ecsup status`: per job, its schedule, its next run and its last runs (jobs_status.py)."""
    for job in jobs:
        state = "" if job.state == "ENABLED" else f" [{job.state}]"
        console.print(escape(f"job {job.name}: {job.schedule} ({job.timezone}){state}"), style="bold")
        console.print(escape(f"  next run: {job.next_run_text()}"))
        if not job.runs:
            console.print("  no runs yet", style="dim")
        for run in job.runs:
            started = f"{run.started:%Y-%m-%d %H:%M:%S}Z" if run.started else "?"
            took = f"{run.seconds:g} s" if run.seconds is not None else "?"
            style = "" if run.status == "RUNNING" else "green" if run.ok else "red"
            line = f"  {started}  {run.result:<12} {'running for' if run.status == 'RUNNING' else 'took'} {took}"
            console.print(escape(line), style=style)
        for note in job.notes:
            console.print(escape(f"  note: {note}"), style="yellow")


# -- ecsup logs ---------------------------------------------------------------------
TASK_PREFIX = 8
PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")


def task_style(task: str) -> str:
    """A colour per task id, the same in every run (not Python's salted hash)."""
    return PALETTE[zlib.crc32(task.encode("utf-8")) % len(PALETTE)]


class _TaskLine:
    def __init__(self, task: str, message: str) -> None:
        self.task, self.message = task, message


def notice(console: Console, text: str) -> None:
    """A one-line remark beside the output (e.g. on stderr, next to the log events on stdout)."""
    console.print(escape(text), style="dim", soft_wrap=True, highlight=False)


class LogPrinter:
    """Prints LogLines on a rich Console: coloured task prefixes on a terminal, plain
    text (no escape codes) otherwise. Colour codes inside a message are kept on a
    terminal and removed elsewhere."""

    def __init__(self, console: Console, redact: Callable[[str], str] = lambda s: s, workload_width: int = 0) -> None:
        self.console = console
        self.redact = redact
        self.workload_width = workload_width  # > 0: each line starts with its workload, padded to this width

    def __call__(self, line: Any) -> None:
        prefix = f"[{line.task[:TASK_PREFIX]}] "
        if self.workload_width:
            prefix = f"{line.workload or '-':<{self.workload_width}} {prefix}"
        style = task_style(line.task)
        for part in self.redact(line.message.rstrip("\r\n")).split("\n") or [""]:
            text = Text()
            text.append(prefix, style=style)  # only the prefix is coloured
            text.append_text(Text.from_ansi(part.rstrip("\r")) if "\x1b" in part else Text(part.rstrip("\r")))
            self.console.print(text, soft_wrap=True, highlight=False)


# -- ecsup cost ---------------------------------------------------------------------------------
def cost_report(console: Console, estimate: Any) -> None:
    """A cost.Estimate: one row per line item, the total, the notes, the assumptions, and
    where the prices came from."""
    from rich import box
    from rich.table import Table

    console.print(escape(f"{estimate.stack} in {estimate.region}: estimated cost per month (USD)"), style="bold")
    table = Table(
        show_header=True, header_style="bold", show_footer=True, box=box.SIMPLE, show_edge=False, pad_edge=False
    )
    table.add_column("ITEM", footer=Text("total", style="bold"))
    table.add_column("QUANTITY", overflow="fold")
    table.add_column("UNIT PRICE", overflow="fold")
    table.add_column("PER MONTH", justify="right", no_wrap=True, footer=Text(estimate.total_text, style="bold"))
    for line in estimate.lines:
        table.add_row(escape(line.name), escape(line.quantity), escape(line.unit_price), escape(line.monthly_text))
    console.print(table)
    console.print("notes:", style="bold")
    for line in estimate.lines:
        if line.note:
            console.print(escape(f"  {line.name}: {line.note}"), style="dim")
    console.print("assumptions:", style="bold")
    for text in estimate.assumptions:
        console.print(escape(f"  - {text}"))
    if estimate.prices.note:
        console.print(escape(f"note: {estimate.prices.note}"), style="yellow")
    console.print(escape(estimate.prices_source), style="cyan")


# -- a plan as Markdown (a pull request's comment: `ecsup plan --format markdown`) ----------------
PLAN_MARKER = "<!-- ecsup-plan:{stack} -->"  # the Action finds its earlier comment by it (action.yml)
WARN_KINDS = ("replace", "delete", "skip")  # what a reviewer must not miss: a resource gone, remade or left alone


def _md_cell(text: str) -> str:
    """A table cell: one line, its pipes escaped (GitHub's table syntax), no raw HTML."""
    one = " ".join(text.split()).replace(" -> ", " → ")
    return one.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _md_line(text: str) -> str:
    return " ".join(text.split()).replace(" -> ", " → ").replace("<", "&lt;").replace(">", "&gt;")


def _why(action: Action) -> str:
    parts = [str(c) for c in action.changes]
    if action.detail:
        parts.insert(0, action.detail.strip("()"))
    return "; ".join(parts)


def plan_markdown(
    stack: str,
    region: str,
    actions: list[Action],
    notes: list[str],
    money: dict[str, Any] | None,
    saving: str | None = None,
    redact: Callable[[str], str] = lambda s: s,
) -> str:
    """The plan for a pull request comment: a heading with the stack, the changes as a table
    (+ create, ~ update, -/+ replace, - delete; the resource, its name, why), the monthly cost
    and its delta, the warnings (deletions, replacements, what is left alone) and the notes;
    "No changes" when there are none. The first line is a hidden marker naming the stack, which
    the GitHub Action looks for to update its one comment instead of adding another."""
    changes = [a for a in actions if a.kind not in ("noop", "keep")]
    unchanged = len(actions) - len(changes)
    mutating = [a for a in changes if a.mutates]
    lines = [PLAN_MARKER.format(stack=stack), f"### ecsup plan: `{stack}` ({region})", ""]
    if not mutating:
        lines.append(f"**No changes.** {unchanged} resource{'s' if unchanged != 1 else ''} as configured.")
    else:
        lines.append(f"**Plan: {plan_summary(actions)}** ({unchanged} unchanged)")
    if changes:
        lines += ["", "| | resource | name | why |", "|---|---|---|---|"]
        for a in changes:
            lines.append(
                f"| `{SYMBOL[a.kind]}` {PLANNED[a.kind]} | {_md_cell(a.resource)} | `{_md_cell(a.name)}` "
                f"| {_md_cell(_why(a))} |"
            )
    if money:

        def usd(value: float | None) -> str:
            return "nothing" if value is None else f"${value:,.2f}"

        after = usd(money["after"]) + (f" to {usd(money['after_high'])}" if money.get("after_high") else "")
        sign = "+" if money["delta"] >= 0 else "-"
        lines += [
            "",
            f"**Monthly cost:** {usd(money['before'])} → {after} (**{sign}${abs(money['delta']):,.2f}** a month; "
            f"Fargate compute {usd(money['compute']['before'])} → {usd(money['compute']['after'])})",
            f"<sub>{_md_line(money['what'])}; not counted: {_md_line(money['not_counted'])}. "
            f"{_md_line(money['prices'])}</sub>",
        ]
    if saving:
        lines += ["", _md_line(saving)]
    warnings = [a for a in changes if a.kind in WARN_KINDS]
    if warnings:
        lines += ["", "**Warnings**", ""]
        for a in warnings:
            what = {"replace": "replaces", "delete": "deletes", "skip": "leaves alone"}[a.kind]
            why = _why(a)
            lines.append(
                f"- :warning: {what} {_md_line(a.resource)} `{_md_line(a.name)}`"
                + (f": {_md_line(why)}" if why else "")
            )
    if notes:
        lines += ["", "**Notes**", ""]
        lines += [f"- {_md_line(note)}" for note in notes]
    return redact("\n".join(lines)) + "\n"
