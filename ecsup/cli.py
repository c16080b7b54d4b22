"""The typer layer: each command builds a context, calls the engine, renders.

Only this module turns an EcsupError into a message on stderr and an exit code.
Heavy imports (boto3, rich tables, the engine) happen inside the commands so that
`ecsup --help` and `ecsup --version` stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import __version__

if TYPE_CHECKING:
    from .context import Context
    from .render import ConsoleUI


def _plain_values_need_no_pydantic() -> None:
    """typer coerces every option's value through a pydantic TypeAdapter built on the option's
    first use: importing pydantic and building them cost every command about 0.1 s before it
    starts. A str option's value is a str already (the command line gives strings), a flag's a
    bool, a number option's default a number: they need no coercion, and get none here -- exactly
    what pydantic returns for them. Any other value (a number given on the command line, a path,
    a choice, a list, an option with bounds or a parser) goes to typer's own coercion, as before.
    Done only when typer is built this way (its ``core.build_runtime_param``); otherwise nothing
    changes."""
    from dataclasses import dataclass

    try:
        from typer import _coercion
        from typer import core as typer_core
    except ImportError:
        return
    build = getattr(typer_core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if build is None or base is None or getattr(build, "ecsup_plain", False):
        return
    typers: Callable[[Any], Any] = build

    @dataclass(frozen=True)
    class Plain(base):  # type: ignore[misc, valid-type]
        descriptor: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is self.annotation:
                return value
            if self.annotation is float and type(value) is int:
                return float(value)  # pydantic's float of an int default
            return typers(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def plain_or_typers(descriptor: Any) -> Any:
        info = descriptor.parameter_info
        plain = (
            descriptor.annotation in (str, bool, int, float)
            and descriptor.file_annotation is None
            and not descriptor.is_path
            and getattr(info, "parser", None) is None
            and getattr(info, "min", None) is None
            and getattr(info, "max", None) is None
            and not getattr(info, "clamp", False)
        )
        if not plain:
            return typers(descriptor)
        return Plain(parameter_info=info, annotation=descriptor.annotation, descriptor=descriptor)

    plain_or_typers.ecsup_plain = True  # type: ignore[attr-defined]
    typer_core.build_runtime_param = plain_or_typers


_plain_values_need_no_pydantic()


class _InOrder(typer.core.TyperGroup):
    """`ecsup --help` lists commands and command groups (`secrets`) alike in _ORDER."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: _ORDER.index(n) if n in _ORDER else len(_ORDER))


app = typer.Typer(
    cls=_InOrder,
    name="ecsup",
    help="Stand up (and take down) an HTTPS web service on AWS ECS Fargate from one ecsup.toml.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@dataclass
class Globals:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


ConfigOption = Annotated[str, typer.Option("--config", "-c", metavar="PATH", help="Path of the configuration file.")]
# The global AWS options are accepted after the command too (`ecsup plan --region eu-west-1`).
ProfileOption = Annotated[
    str | None, typer.Option("--profile", metavar="NAME", help="AWS profile (else AWS_PROFILE / the default chain).")
]
RegionOption = Annotated[
    str | None, typer.Option("--region", metavar="REGION", help="AWS region, when ecsup.toml has none.")
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url", metavar="URL", help="Send every AWS call to this endpoint (AWS_ENDPOINT_URL works too)."
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecsup {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    ctx.obj = Globals(profile=profile, region=region, endpoint_url=endpoint_url)


def _aws_options(tctx: typer.Context, profile: str | None, region: str | None, endpoint_url: str | None) -> None:
    """Merge a command's --profile/--region/--endpoint-url into the ones given before it; the
    same option given twice with two values is a usage error (exit 2), not a silent choice."""
    from .errors import OptionError
    from .render import make_console

    g: Globals = tctx.obj or Globals()
    with _handled(make_console(sys.stderr)):
        for name, value in (("profile", profile), ("region", region), ("endpoint_url", endpoint_url)):
            if value is None:
                continue
            before = getattr(g, name)
            option = "--" + name.replace("_", "-")
            if before is not None and before != value:
                raise OptionError(
                    f"{option} is given twice, as {before!r} and {value!r}",
                    hint=f"give {option} once, before or after the command",
                )
            setattr(g, name, value)
    tctx.obj = g


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _terminate_as_interrupt() -> Callable[[], None]:
    """SIGTERM (a CI job cancelled, `kill`, a container stopping) is handled as Ctrl-C: what the
    command was doing is settled (a one-off task stopped, a lock released) and it exits 130.
    Returns what restores the previous handler (only the main thread can set one)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    from .errors import Terminated

    def terminated(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    return restore


@contextmanager
def _handled(console_err: Any, redact: Callable[[str], str] = lambda s: s, resume_hint: str = "") -> Iterator[None]:
    from .errors import EXIT_INTERRUPTED, ConfigError, EcsupError
    from .render import error

    restore = _terminate_as_interrupt()
    try:
        yield
    except ConfigError as exc:
        if len(exc.lines) == 1:
            error(console_err, redact(f"invalid configuration: {exc.lines[0]}"), exc.hint, exc.exit_code)
        else:
            error(
                console_err,
                f"invalid configuration ({len(exc.lines)} problems):\n  "
                + "\n  ".join(redact(line) for line in exc.lines),
                exc.hint,
                exc.exit_code,
            )
        raise typer.Exit(exc.exit_code) from None
    except EcsupError as exc:
        error(console_err, redact(exc.message), redact(exc.hint) if exc.hint else None, exc.exit_code)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        error(console_err, "interrupted", resume_hint or None, EXIT_INTERRUPTED)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        restore()


def _given(tctx: typer.Context, name: str) -> bool:
    """Whether the option was on the command line (not its default)."""
    source = tctx.get_parameter_source(name)  # typer's own click: compare by name
    return getattr(source, "name", "") == "COMMANDLINE"


def _setup(
    tctx: typer.Context,
    config_path: str,
    json_output: bool = False,
    quiet: bool = False,
    build: bool = True,
    **context_kwargs: Any,
) -> tuple[Context, ConsoleUI, Any]:
    """``build=False`` for commands that only read or destroy the stack (status, logs, destroy): the
    checks that only forbid building or changing it (config.parse's build problems) do not stop them."""
    from .config import load
    from .context import Context
    from .errors import ConfigError
    from .render import ConsoleUI, make_console

    g: Globals = tctx.obj or Globals()
    err = make_console(sys.stderr)
    out = make_console(sys.stderr if json_output else sys.stdout, quiet=quiet)
    with _handled(err):
        from .context import iam_settle_from_environment, log_quiet_from_environment

        iam_settle_from_environment()  # a bad ECSUP_IAM_SETTLE: one line, exit 2, before anything
        log_quiet_from_environment()  # the same for ECSUP_LOG_QUIET
        cfg = load(config_path, given=_given(tctx, "config"), build=build)
        if cfg.region and g.region and cfg.region != g.region:
            raise ConfigError(
                [("region", f"ecsup.toml says {cfg.region!r} but --region says {g.region!r}")],
                hint="drop one of them: the stack lives in one region",
            )
    context_kwargs.setdefault("endpoint_url", g.endpoint_url)
    ctx = Context(cfg, profile=g.profile, region=g.region, **context_kwargs)
    ui = ConsoleUI(out, redact=ctx.redact)
    ctx.ui = ui
    return ctx, ui, err


VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="List the unchanged resources too (else only their count).")
]


def show_actions(ui: ConsoleUI, actions: list[Any], verbose: bool = False) -> None:
    """A plan's changes first (and what it leaves alone as not ecsup's), then the unchanged
    resources: their count, or each of them with --verbose."""
    unchanged = [a for a in actions if a.kind in ("noop", "keep")]
    for action in actions:
        if action.kind not in ("noop", "keep"):
            ui.action_planned(action)
    if verbose:
        for action in unchanged:
            ui.action_planned(action)
    elif unchanged:
        ui.print(f"  = {len(unchanged)} unchanged (--verbose lists them)", style="dim")


def run_create(
    ctx: Context, ui: ConsoleUI, json_output: bool = False, force_unlock: bool = False, verbose: bool = False
) -> dict[str, Any]:
    import time

    from .engine import Outcome, cost_change, cost_line, create, result_summary, sharing_line
    from .render import plan_summary

    start = time.monotonic()
    ui.print(f"ecsup create {ctx.names.stack} in {ctx.region}{ctx.whereabouts()} -> {ctx.config.url}", style="bold")

    def show_plan(outcome: Outcome) -> None:  # the same plan `ecsup plan` prints, then its execution
        changes = outcome.changes()
        ui.print(f"Plan: {plan_summary(outcome.actions)}", style="bold")
        show_actions(ui, outcome.actions, verbose)
        money = cost_change(ctx, outcome) if changes else None
        if money:
            ui.print(cost_line(money), style="cyan")
        saving = sharing_line(ctx, outcome)
        if saving:
            ui.print(saving, style="cyan")
        if changes:  # what the plan says (e.g. how a move between load balancers affects traffic) first
            for note in outcome.notes:
                ui.print(f"note: {note}", style="yellow")
                shown.append(note)
            ui.print("Applying:", style="bold")

    shown: list[str] = []
    outcome = create(
        ctx,
        report=ui.action_done,
        on_plan=show_plan,
        force_unlock=force_unlock,
        on_failure=ui.action_failed,
        on_left=ui.action_left,
    )
    outcome.notes = list(ctx.notes)  # including any from applying (e.g. the lock's release)
    for note in outcome.notes:
        if note in shown:
            shown.remove(note)
            continue
        ui.print(f"note: {note}", style="yellow")
    summary = result_summary(ctx, outcome)
    counts = summary["counts"]
    changed = sum(counts.get(k, 0) for k in ("create", "update", "replace"))
    ui.print(
        f"done in {time.monotonic() - start:.1f}s: {counts.get('create', 0)} created, "
        f"{counts.get('update', 0)} updated, {counts.get('noop', 0)} unchanged"
        + ("" if changed else " (nothing to do)"),
        style="bold",
    )
    if ui.console.quiet and not json_output:
        typer.echo(ctx.config.url)  # --quiet: errors and the result only
    ui.print(f"URL: {ctx.config.url}", style="bold green")
    summary["seconds"] = round(time.monotonic() - start, 2)
    if json_output:
        typer.echo(ctx.redact(json.dumps(summary, indent=2, default=str)))
    return summary


SkipBefore = Annotated[
    bool,
    typer.Option("--skip-before", help="Do not run the [service.deploy] before task before rolling out (loudly)."),
]
WaitForAlarms = Annotated[
    float,
    typer.Option(
        "--wait-for-alarms",
        metavar="SECONDS",
        help="When a deployment alarm is in ALARM already (ECS would not act on it), wait up to SECONDS for it to "
        "leave ALARM before starting the deployment.",
    ),
]
IgnoreAlarms = Annotated[
    bool,
    typer.Option(
        "--ignore-alarms",
        help="Start the deployment even when a deployment alarm is in ALARM already (ECS does not act on it: "
        "the release is not guarded by it).",
    ),
]


def _alarm_options(ctx: Context, wait: float, ignore: bool) -> None:
    from .errors import OptionError

    if wait < 0 or (wait > 0 and ignore):
        raise OptionError(
            "--wait-for-alarms takes a number of seconds (0: do not wait) and excludes --ignore-alarms",
            hint="e.g. --wait-for-alarms 600, or --ignore-alarms to go on without waiting",
        )
    ctx.wait_for_alarms, ctx.ignore_alarms = wait, ignore


@app.command()
def create(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    json_output: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the result.")] = False,
    force_unlock: Annotated[
        bool, typer.Option("--force-unlock", help="Break the stack's lock (only when its holder is gone).")
    ] = False,
    certificate_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds to wait for ACM validation.")
    ] = 1800,
    service_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds to wait for the service to be stable.")
    ] = 1200,
    skip_before: SkipBefore = False,
    verbose: VerboseOption = False,
    wait_for_alarms: WaitForAlarms = 0.0,
    ignore_alarms: IgnoreAlarms = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Create or converge the whole stack described by ecsup.toml (safe to re-run)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .context import Timeouts
    from .render import make_console

    with _handled(make_console(sys.stderr)):
        timeouts = Timeouts(certificate=certificate_timeout, service=service_timeout)  # reads ECSUP_IAM_SETTLE
    ctx, ui, err = _setup(tctx, config, json_output, quiet, timeouts=timeouts)
    ctx.skip_before = skip_before
    with _handled(err, ctx.redact, "re-running `ecsup create` resumes where it stopped"):
        _alarm_options(ctx, wait_for_alarms, ignore_alarms)
        run_create(ctx, ui, json_output, force_unlock, verbose)


@app.command()
def plan(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    json_output: JsonOption = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when there is nothing to do, 2 when there are changes, 1 on a configuration error.",
        ),
    ] = False,
    verbose: VerboseOption = False,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="text (the default), json (as --json) or markdown (for a pull request comment).",
        ),
    ] = "text",
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Show what `create` would do, without changing anything: the changes, then how many
    resources stay unchanged (--verbose lists them)."""
    _aws_options(tctx, profile, region, endpoint_url)
    fmt = _plan_format(output_format, json_output)
    try:
        changes = _plan(tctx, config, fmt == "json", verbose, fmt)
    except typer.Exit as done:
        if detailed_exitcode and done.exit_code == EXIT_CONFIG_CODE:
            raise typer.Exit(1) from None  # Terraform's convention: 2 means "changes", so errors are 1
        raise
    if detailed_exitcode and changes:
        raise typer.Exit(2)


EXIT_CONFIG_CODE = 2
PLAN_FORMATS = ("text", "json", "markdown")  # a new format: a name here and a branch in _plan


def _plan_format(value: str, json_output: bool) -> str:
    """--format's value (--json is --format json); a usage error (exit 2) for anything else."""
    from .errors import OptionError
    from .render import make_console

    fmt = value.strip().lower()
    with _handled(make_console(sys.stderr)):
        if fmt not in PLAN_FORMATS:
            raise OptionError(f"--format {value!r} is not one of {', '.join(PLAN_FORMATS)}")
        if json_output and fmt not in ("text", "json"):
            raise OptionError(f"--json and --format {fmt} ask for two formats", hint="give one of them")
    return "json" if json_output else fmt


def _plan(tctx: typer.Context, config: str, json_output: bool, verbose: bool = False, fmt: str = "text") -> bool:
    """Print the plan; True when it has changes."""
    from .engine import cost_change, cost_line, make_plan, sharing_line
    from .render import plan_markdown, plan_summary

    ctx, ui, err = _setup(tctx, config, json_output or fmt != "text")  # stdout: the document alone
    ctx.mode = "plan"
    with _handled(err, ctx.redact):
        ui.print(f"ecsup plan {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
        outcome = make_plan(ctx)
        changes = outcome.changes()
        money = cost_change(ctx, outcome) if changes else None
        saving = sharing_line(ctx, outcome)
        if fmt == "markdown":
            typer.echo(
                plan_markdown(ctx.names.stack, ctx.region, outcome.actions, outcome.notes, money, saving, ctx.redact),
                nl=False,
            )
        elif json_output:
            typer.echo(
                json.dumps(
                    {
                        "changes": len(changes),
                        "summary": plan_summary(outcome.actions),
                        "actions": [a.as_dict() for a in outcome.actions],
                        "notes": outcome.notes,
                        "monthly_cost": money,
                        "shared_load_balancer": saving,
                    },
                    indent=2,
                )
            )
        else:
            show_actions(ui, outcome.actions, verbose)
            for note in outcome.notes:
                ui.print(f"note: {note}", style="yellow")
            ui.print(f"Plan: {plan_summary(outcome.actions)}", style="bold")
            if money:
                ui.print(cost_line(money), style="cyan")
            if saving:
                ui.print(saving, style="cyan")
    return bool(changes)


@app.command()
def status(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    json_output: JsonOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Show every resource of the stack: present, as configured, healthy (read-only).

    Exit code 0 when the stack is complete and healthy, 6 otherwise."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .errors import EXIT_UNHEALTHY
    from .render import status_report
    from .status import collect

    ctx, ui, err = _setup(tctx, config, json_output, build=False)
    with _handled(err, ctx.redact):
        report = collect(ctx)
        if json_output:
            typer.echo(ctx.redact(json.dumps(report.as_dict(), indent=2, default=str)))
        else:
            status_report(ui.console, report, ctx.whereabouts())
        _build_problems_note(err, ctx)
    if not report.healthy:
        raise typer.Exit(EXIT_UNHEALTHY)


def _build_problems_note(err: Any, ctx: Context) -> None:
    """Say on stderr what in ecsup.toml stops create/deploy from changing this stack (the checks
    status and destroy do not apply: config.parse's build problems)."""
    for key, why in ctx.config.build_problems:
        err.print(f"note: {key}: {why} (create, plan and deploy refuse this file)", style="yellow", markup=False)


def run_destroy(
    ctx: Context,
    ui: ConsoleUI,
    purge: bool,
    confirm: Callable[[], None] | None = None,
    force_unlock: bool = False,
) -> dict[str, Any]:
    from .engine import DestroyResult, destroy, destroy_locked, plan_destroy

    ui.print(f"ecsup destroy {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
    outcome = plan_destroy(ctx, purge)
    doomed = [a for a in outcome.actions if a.kind == "delete"]
    result = DestroyResult()
    if not doomed:
        ui.print("nothing to delete: no resource of this stack exists", style="bold")
        for action in outcome.actions:
            ui.action_done(action)
    else:
        if confirm is not None:
            for action in doomed:
                ui.action_planned(action)
            confirm()
        with destroy_locked(ctx, force_unlock):
            result = destroy(ctx, outcome, ui.action_done, ui.action_failed, ui.action_left)
    kept = [a for a in outcome.actions if a.kind in ("keep", "skip")]  # including what chose to stay
    not_deleted = {id(a) for a, _ in result.failed + result.left}
    deleted = [a for a in doomed if a.kind == "delete" and id(a) not in not_deleted]
    summary = f"deleted {len(deleted)}, kept {len(kept)}, failed {len(result.failed)}"
    if result.left:
        summary += f", left {len(result.left)} that needed it gone"
    ui.print(summary, style="bold")
    if result.failed:
        ui.print(
            "nothing that depends on what failed was touched: fix the cause above, then `ecsup destroy` again "
            "finishes the job",
            style="yellow",
        )
    data = ("secret", "log group", "access log bucket")
    if any(a.kind == "keep" and a.resource in data for a in kept):
        ui.print("kept the secrets and the logs (they hold data): `ecsup destroy --purge` removes them", style="cyan")
    provider = _provider_leftovers(ctx, ui, doomed, result)
    return {
        **({"dns_provider_records": provider} if provider else {}),
        "deleted": [a.as_dict() | ({"result": a.result} if a.result else {}) for a in deleted],
        "kept": [a.as_dict() | ({"result": a.result} if a.result else {}) for a in kept],
        "failed": [dict(a.as_dict(), error=msg) for a, msg in result.failed],
        "left": [dict(a.as_dict(), reason=why) for a, why in result.left],
    }


def _provider_leftovers(ctx: Context, ui: ConsoleUI, doomed: list[Any], result: Any) -> list[dict[str, Any]]:
    """[dns] external: the records the user can now remove at their DNS provider (ecsup wrote none)."""
    from .steps import external

    if not external.is_external(ctx) or not doomed or result.failed or result.left:
        return []
    found = external.leftovers(
        ctx, ctx.facts.get("provider_leftover_validation", []), ctx.facts.get("provider_leftover_alb")
    )
    if found:
        ui.provider_records(
            f"{ctx.config.dns.hostname}: the stack is gone; at your DNS provider you can now remove these records:",
            [r["line"] for r in found],
        )
    return [{k: v for k, v in r.items() if k != "line"} for r in found]


@app.command()
def destroy(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    purge: Annotated[
        bool,
        typer.Option("--purge", help="Also delete the SSM parameters, the log group and the access log bucket (data)."),
    ] = False,
    force_unlock: Annotated[
        bool, typer.Option("--force-unlock", help="Break the stack's lock (only when its holder is gone).")
    ] = False,
    json_output: JsonOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Remove what ecsup created for this app/env, in reverse order; keep data unless --purge."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .errors import EXIT_FAILURE, Refused

    ctx, ui, err = _setup(tctx, config, json_output, build=False)
    _build_problems_note(err, ctx)
    name = ctx.names.stack

    def confirm() -> None:
        if yes:
            return
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise Refused(f"refusing to destroy {name} without confirmation", hint="pass --yes to confirm")
        typed = typer.prompt(f"Type {name} to delete the resources above")
        if typed.strip() != name:
            raise Refused(f"{typed!r} is not {name!r}: nothing was deleted")

    with _handled(err, ctx.redact, "re-running `ecsup destroy` resumes where it stopped"):
        result = run_destroy(ctx, ui, purge, confirm, force_unlock)
        if json_output:
            typer.echo(json.dumps(result, indent=2))
    if result["failed"]:
        raise typer.Exit(EXIT_FAILURE)


def run_release(
    ctx: Context,
    ui: ConsoleUI,
    operation: Callable[[], Any],
    json_output: bool,
    what: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a deploy or rollback: its result as JSON or a closing line; a rollback by ECS or a
    timeout is raised after the JSON document (exit codes 9 and 5)."""
    import time

    from .deploy import RolledBack

    start = time.monotonic()
    try:
        result = operation()
    except RolledBack as exc:
        ui.stop_live()
        if json_output and exc.result is not None:
            doc = exc.result.as_dict() | {"seconds": round(time.monotonic() - start, 1)} | (extra or {})
            typer.echo(ctx.redact(json.dumps(doc, indent=2)))
        raise
    except BaseException:
        ui.stop_live()
        raise
    doc = result.as_dict() | {"seconds": round(time.monotonic() - start, 1), "url": ctx.config.url} | (extra or {})
    if json_output:
        typer.echo(ctx.redact(json.dumps(doc, indent=2)))
    else:
        if result.message != ui.announced:  # said already when it started
            ui.print(result.message, style="bold")
        if result.status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL"):
            ui.print(
                f"{what}: {result.revision_after} ({result.image_after}) runs, after {doc['seconds']:.0f}s",
                style="bold green",
            )
        for name, done in sorted((getattr(result, "workloads", None) or {}).items()):  # workers and jobs
            ui.print(f"  {done['kind']} {name}: {done['revision_after']} ({done['status'] or 'unchanged'})")
    return doc


ReleaseTimeout = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", help="Seconds to watch before giving up (the deployment goes on in ECS)."
    ),
]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Start it and return (`ecsup deploy --watch` watches it).")]
WaitUntil = Annotated[
    str,
    typer.Option(
        "--wait-until",
        metavar="STAGE",
        help="Return once the deployment is started, once production traffic is on the new revision and the "
        "probe passed (production), or once ECS reports it SUCCESSFUL (complete). ECS keeps watching the alarms "
        "through the bake either way.",
    ),
]


def _ask(question: str) -> bool:
    """Ask on a terminal; False when there is none to ask on (the caller refuses, exit 7)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    return bool(typer.confirm(f"{question}. Go ahead?", default=False, err=True))


@app.command()
def deploy(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    image: Annotated[
        str | None,
        typer.Option(
            metavar="IMAGE",
            help="Image to ship. Without it: service.image from ecsup.toml, only after saying which running "
            "image it replaces and asking on a terminal (refused without one, exit 7).",
        ),
    ] = None,
    watch_only: Annotated[
        bool,
        typer.Option("--watch", help="Watch the deployment in progress (changes nothing; none: says what runs)."),
    ] = False,
    build: Annotated[
        bool,
        typer.Option(
            "--build",
            help="Build the image with Docker (from PATH, else [service] build), push it to the app's ECR "
            "repository and ship it by digest. With [service] build set, deploy builds without it.",
        ),
    ] = False,
    build_path: Annotated[
        Path | None,
        typer.Argument(
            metavar="PATH",
            help="With --build: the Docker build context [default: [service] build].",
            show_default=False,
        ),
    ] = None,
    no_wait: NoWait = False,
    wait_until: WaitUntil = "complete",
    json_output: JsonOption = False,
    timeout: ReleaseTimeout = 3600,
    skip_before: SkipBefore = False,
    wait_for_alarms: WaitForAlarms = 0.0,
    ignore_alarms: IgnoreAlarms = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Ship a new image with the service's ECS deployment (blue/green by default) and watch it.

    Registers a revision identical to the running one but for the image and updates the
    service with it; ECS moves tasks and traffic. `--watch` watches a deployment in progress.
    Exit 9 when ECS rolled it back (an alarm, the circuit breaker, or a failed probe of the new
    version), 5 when --timeout ran out, 10 when the [service.deploy] before task failed (nothing
    was rolled out), 7 when no --image was given and service.image would replace the running
    image without a terminal to confirm on. With [service] build set (or --build [PATH]) it first
    builds the image with Docker, pushes it to the app's ECR repository and ships it by digest;
    exit 12 when Docker is missing or the build or push failed (nothing was deployed)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .config import WAIT_UNTIL
    from .deploy import ATTACH_HINT, attach
    from .deploy import deploy as run
    from .errors import OptionError

    ctx, ui, err = _setup(tctx, config, json_output)
    ctx.skip_before = skip_before
    with _handled(err, ctx.redact, f"the deployment goes on in ECS: {ATTACH_HINT}"):
        if image is not None and (not image.strip() or any(c.isspace() for c in image)):
            raise OptionError(f"--image {image!r} is not an image reference", hint="e.g. --image ghcr.io/org/app:1.2.3")
        if wait_until not in WAIT_UNTIL:
            raise OptionError(
                f"--wait-until {wait_until!r} is not a stage", hint="use one of: " + ", ".join(WAIT_UNTIL)
            )
        if watch_only and image is not None:
            raise OptionError(
                f"--watch watches the deployment in progress and ships nothing, and --image {image} ships one",
                hint=f"`ecsup deploy --image {image}` ships it (and watches it); `ecsup deploy --watch` watches the "
                "deployment in progress",
            )
        if build_path is not None and not build:
            raise OptionError(
                f"{build_path}: a build context goes with --build", hint=f"`ecsup deploy --build {build_path}`"
            )
        building = not watch_only and (build or (image is None and bool(ctx.config.service.build)))
        if building and image is not None:
            raise OptionError(
                f"--build builds the image to ship, and --image {image} names one",
                hint="give one of them (with [service] build set, `ecsup deploy` builds)",
            )
        if watch_only and build:
            raise OptionError("--watch ships nothing, and --build builds an image to ship", hint="give one of them")
        if building:
            from .build import build_image, digest_of, protect

            _alarm_options(ctx, wait_for_alarms, ignore_alarms)  # a bad option: said before a build
            ui.print(f"ecsup deploy --build {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
            built = build_image(ctx, None if build_path is None else str(build_path))
            doc = run_release(
                ctx,
                ui,
                lambda: run(ctx, built.image, wait=not no_wait, timeout=timeout, wait_until=wait_until, confirm=_ask),
                json_output,
                "deployed",
                {"build": {"image": built.image, "tag": built.tag, "reused": built.reused}},
            )
            digest = digest_of(built.image)
            if digest and doc.get("status") not in ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
                protect(ctx, digest)  # what the environment runs now: kept by the repository's lifecycle policy
            return
        if watch_only:
            ui.print(f"ecsup deploy --watch {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
            run_release(
                ctx,
                ui,
                lambda: attach(ctx, timeout=timeout, wait_until="started" if no_wait else wait_until),
                json_output,
                "deployed",
            )
            return
        _alarm_options(ctx, wait_for_alarms, ignore_alarms)
        ui.print(f"ecsup deploy {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
        run_release(
            ctx,
            ui,
            lambda: run(ctx, image, wait=not no_wait, timeout=timeout, wait_until=wait_until, confirm=_ask),
            json_output,
            "deployed",
        )


@app.command()
def rollback(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    no_wait: NoWait = False,
    json_output: JsonOption = False,
    timeout: ReleaseTimeout = 3600,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Roll back: stop the deployment in progress (ECS rolls it back), or go back to the
    revision that ran before the last successful deployment."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .deploy import ATTACH_HINT
    from .deploy import rollback as run

    ctx, ui, err = _setup(tctx, config, json_output)
    with _handled(err, ctx.redact, f"the rollback goes on in ECS: {ATTACH_HINT}"):
        ui.print(f"ecsup rollback {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
        run_release(ctx, ui, lambda: run(ctx, wait=not no_wait, timeout=timeout), json_output, "rolled back")


@app.command("run")
def run_command(
    tctx: typer.Context,
    command: Annotated[
        list[str] | None, typer.Argument(metavar="CMD...", help="The command, after `--`.", show_default=False)
    ] = None,
    config: ConfigOption = "ecsup.toml",
    image: Annotated[
        str | None,
        typer.Option(metavar="IMAGE", help="Another image (a revision is registered for it, as deploy does)."),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env-var", "-e", metavar="KEY=VALUE", help="Set an environment variable (repeatable)."),
    ] = None,
    old_env: Annotated[list[str] | None, typer.Option("--env", hidden=True)] = None,
    cpu: Annotated[int | None, typer.Option(metavar="UNITS", help="Fargate cpu units for this task.")] = None,
    memory: Annotated[int | None, typer.Option(metavar="MIB", help="Memory (MiB) for this task.")] = None,
    timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds before the task is stopped (exit 125).")
    ] = 3600,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start it, print the task id, return.")] = False,
    job: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="Run the job [jobs.NAME] now, as its schedule does (--timeout: the job's timeout)."
        ),
    ] = None,
    json_output: JsonOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Run a one-off task of the service's revision, where its tasks run, and stream its logs.

    ecsup run [OPTIONS] -- CMD...   Exit code: the container's (like docker run); 125 when
    the task did not start or stopped without one; 130 on Ctrl-C or SIGTERM (the task is stopped).
    ecsup run --job NAME            the job now, with its own command."""
    from .run import TaskNotRun, run_job
    from .run import run as run_one_off

    _aws_options(tctx, profile, region, endpoint_url)
    ctx, ui, err = _setup(tctx, config, json_output or detach)  # --detach: stdout is the task id alone
    with _handled(err, ctx.redact):  # an interrupt once RunTask may have been sent: run.Interrupted says more
        if old_env:  # --env is the environment's name everywhere else (init): one meaning per option
            from .errors import OptionError

            raise OptionError(
                f"--env {old_env[0]}: a variable for the task is --env-var {old_env[0]} (or -e); "
                "--env is the environment's name (as in `ecsup init --env`)",
                hint=f"write `ecsup run --env-var {old_env[0]} -- CMD...`",
            )
        if job is not None:
            from .errors import OptionError

            if command:
                raise OptionError(
                    f"--job {job} runs the job's own command: drop {' '.join(command)!r} after `--`",
                    hint=f"`ecsup run --job {job}`, or `ecsup run -- CMD...` for another command",
                )
            if image is not None:
                raise OptionError(
                    f"--job {job} runs the job's revision: --image does not apply",
                    hint="`ecsup deploy --image` releases a new image to the jobs that follow the service's",
                )
            given = timeout if _given(tctx, "timeout") else None
            result = run_job(ctx, job, env, cpu, memory, given, detach)
        else:
            result = run_one_off(ctx, list(command or []), image, env, cpu, memory, timeout, detach)
        if detach:
            if json_output:
                typer.echo(json.dumps({"task_arn": result.task_arn, "task_id": result.task_id}, indent=2))
            else:
                typer.echo(result.task_id)
            return
        if json_output:
            typer.echo(ctx.redact(json.dumps(result.as_dict(), indent=2, default=str)))
        if result.status == 125:
            what, hint = result.explanation()
            raise TaskNotRun(what, hint, result)
        ui.print(f"task {result.task_id} exited {result.exit_code}", style="bold" if result.status else "bold green")
    if result.status:
        raise typer.Exit(result.status)


@app.command("exec")
def exec_command(
    tctx: typer.Context,
    command: Annotated[
        list[str] | None, typer.Argument(metavar="CMD...", help="The command, after `--` [default: /bin/sh].")
    ] = None,
    config: ConfigOption = "ecsup.toml",
    task: Annotated[
        str | None, typer.Option(metavar="ID", help="The task id [default: a running task of the live revision].")
    ] = None,
    forward: Annotated[
        str | None,
        typer.Option(metavar="LOCAL:HOST:REMOTE", help="Forward localhost:LOCAL to HOST:REMOTE through the task."),
    ] = None,
    workload: Annotated[
        str | None, typer.Option(metavar="NAME", help="A worker's task instead of the web service's [default: web].")
    ] = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """A shell (or a command) in a running task of the service (or of a worker: --workload), or a
    tunnel through it (ECS Exec).

    Needs `exec = true` under [service] and AWS's session-manager-plugin on PATH (exit 11
    without it); the exit code is the session's."""
    from .ecs_exec import hand_over, parse_forward, prepare

    _aws_options(tctx, profile, region, endpoint_url)
    ctx, ui, err = _setup(tctx, config)
    with _handled(err, ctx.redact):
        if forward is not None and command:
            from .errors import OptionError

            raise OptionError(
                "--forward opens a tunnel, not a command: drop the command after `--`",
                hint="`ecsup exec --forward LOCAL:HOST:REMOTE` for the tunnel, `ecsup exec -- CMD...` for a command",
            )
        tunnel = parse_forward(forward) if forward is not None else None
        handover = prepare(ctx, task, list(command or []), tunnel, workload)
        ui.print(f"ecsup exec: {handover.description} (session-manager-plugin; exit it to return)", style="bold")
        code = hand_over(handover)
    if code:
        raise typer.Exit(code)


# The sandbox's own delays (emulation.SANDBOX, which needs moto: not imported for --help);
# tests/test_first_use.py checks that they are the same.
SANDBOX_DELAY_DEFAULTS = {
    "certificate_validation": 1.0,
    "load_balancer_provisioning": 1.0,
    "service_start": 1.0,
    "service_draining": 2.0,
    "eni_release": 2.0,
}


@app.command()
def sandbox(
    zone: Annotated[
        str, typer.Option(metavar="ZONE", help="Public hosted zone to create in the sandbox.")
    ] = "example.test",
    region: Annotated[str, typer.Option(metavar="REGION", help="Default region for the sandbox.")] = "eu-west-1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Loopback port (0: any free port).")] = 0,
    validation_delay: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="Seconds ACM takes to issue a certificate once its validation records are in the zone.",
        ),
    ] = SANDBOX_DELAY_DEFAULTS["certificate_validation"],
    load_balancer_delay: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="Seconds a new load balancer stays 'provisioning' (its targets cannot pass health checks).",
        ),
    ] = SANDBOX_DELAY_DEFAULTS["load_balancer_provisioning"],
    service_delay: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="Seconds a service's new tasks stay PENDING before they run.",
        ),
    ] = SANDBOX_DELAY_DEFAULTS["service_start"],
    draining_delay: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="Seconds a deleted service stays DRAINING.",
        ),
    ] = SANDBOX_DELAY_DEFAULTS["service_draining"],
    env_file: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="Also write the exports to this file (for `. PATH` in another shell)."),
    ] = None,
    eni_delay: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="Seconds the network interfaces of a deleted load balancer or stopped tasks hold their security "
            "groups (DependencyViolation).",
        ),
    ] = SANDBOX_DELAY_DEFAULTS["eni_release"],
    no_default_vpc: Annotated[
        bool,
        typer.Option(
            "--no-default-vpc",
            help='Start an account without a default VPC (as landing zones leave one): try [network] shared = "main".',
        ),
    ] = False,
) -> None:
    """Run the local AWS (moto) in the foreground for trying ecsup by hand.

    It answers with AWS's delays, shortened: its banner lists them, the --*-delay options change them.
    """
    from .render import make_console
    from .sandbox import Sandbox, describe_delays, sandbox_delays

    err = make_console(sys.stderr)
    with _handled(err):
        delays = sandbox_delays(
            certificate_validation=validation_delay,
            load_balancer_provisioning=load_balancer_delay,
            service_start=service_delay,
            service_draining=draining_delay,
            eni_release=eni_delay,
        )
        box = Sandbox(zone=zone, region=region, port=port, delays=delays, no_default_vpc=no_default_vpc).start()

        def announce() -> None:
            typer.echo(f"ecsup sandbox: local AWS on {box.endpoint_url} with public hosted zone {zone}")
            typer.echo(f"AWS's delays, shortened: {describe_delays(box.delays)} (see ecsup sandbox --help)")
            _print_exports(box, env_file)
            typer.echo(
                "then `ecsup create` with an ecsup.toml whose dns.zone is "
                f"{zone}. Ctrl-C stops the sandbox (its state is lost)."
            )

        try:
            _serve_until_interrupted(announce)
        finally:
            box.stop()


def _print_exports(box: Any, env_file: str | None = None) -> None:
    """The lines that point another shell's ecsup (and aws) at the sandbox."""
    import shlex

    typer.echo("In another shell (paste these lines" + (f", or `. {env_file}`):" if env_file else "):"))
    exports = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in box.environment().items())
    typer.echo(exports, nl=False)
    if env_file:
        _write_env_file(env_file, exports)


SANDBOX_STOPPED = "sandbox stopped (its state is lost)"


def _serve_until_interrupted(announce: Callable[[], None]) -> None:
    """Say how to use the sandbox, then serve in the foreground until Ctrl-C, which is how a
    sandbox is meant to end (from the moment it is announced): a clean line and exit 0, not an
    error. The caller's `finally` stops the server."""
    import threading

    try:
        announce()
        threading.Event().wait()
    except KeyboardInterrupt:
        typer.echo(SANDBOX_STOPPED)


def _write_env_file(path: str, exports: str) -> None:
    from .errors import OptionError

    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(exports)
    except OSError as exc:
        raise OptionError(f"--env-file {path}: cannot write it ({exc.strerror or exc})") from None


DEMO_SECOND_IMAGE = "public.ecr.aws/nginx/nginx:mainline"
DEMO_THIRD_IMAGE = "public.ecr.aws/nginx/nginx:mainline-alpine"
DEMO_RUN = "echo checking 1042 orders; sleep 1; echo 3 orders without a status; exit 3"  # the sandbox's convention


@app.command()
def demo(
    zone: Annotated[str, typer.Option(metavar="ZONE", help="Zone for the demo stack.")] = "example.test",
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="Stop after create, create again and status, and keep the sandbox running with the stack in the "
            "foreground (its exports printed, for ecsup or aws in another shell) until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """The whole life of a stack on the embedded local AWS: create (with its before migration), create
    again, status, a one-off `run`, deploy (migration first), rollback, a secret's new version with a
    restart, scale, a deploy that ECS rolls back when its alarm goes into ALARM during the bake, a
    move onto a shared load balancer, destroy; then two apps on one shared load balancer, with a
    pull request's preview up and down beside them.
    With --keep: create, create again and status, then the sandbox stays up with the stack."""
    import secrets as pysecrets
    import tempfile
    from pathlib import Path

    from rich.markup import escape

    from .config import load
    from .context import Context
    from .render import ConsoleUI, make_console, status_report
    from .sandbox import DUMMY_CREDENTIALS, Sandbox, demo_config, demo_delays
    from .status import collect

    err = make_console(sys.stderr)
    out = make_console(sys.stdout)
    with _handled(err), Sandbox(zone=zone, delays=demo_delays()) as box, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ecsup.toml"
        path.write_text(demo_config(zone, box.region))
        out.print(f"[bold]ecsup demo[/] - local AWS at {box.endpoint_url}, public zone {zone}, ecsup.toml:")
        out.print(path.read_text(), markup=False, highlight=False)
        secret = pysecrets.token_urlsafe(16)  # stands for ECSUP_SECRET_DB_PASSWORD; never printed

        def new_ctx(where: Path) -> Context:
            return Context(
                load(where),
                endpoint_url=box.endpoint_url,
                credentials=dict(DUMMY_CREDENTIALS),
                secret_source=lambda var: secret,
            )

        def step(title: str, body: Callable[[Context, ConsoleUI], object], where: Path = path) -> None:
            ctx = new_ctx(where)
            ui = ConsoleUI(out, redact=ctx.redact, interactive=False)
            ctx.ui = ui
            out.print(f"[bold]$ {escape(title)}[/]")
            body(ctx, ui)
            out.print(f"[dim]({len(ctx.calls)} AWS calls, {len(ctx.mutating_calls())} of them mutating)[/]\n")

        from .deploy import deploy as ship
        from .deploy import rollback as back

        second = DEMO_SECOND_IMAGE
        step("ecsup create", lambda ctx, ui: run_create(ctx, ui))
        step("ecsup create   # again: converges, nothing to do", lambda ctx, ui: run_create(ctx, ui))
        step("ecsup status", lambda ctx, ui: status_report(out, collect(ctx)))
        if keep:  # the stack stays, on a sandbox that stays: try the other commands by hand

            def announce() -> None:
                out.print(f"[bold]The sandbox keeps running with the stack demo-dev[/] at {box.endpoint_url}.")
                _print_exports(box)
                typer.echo(
                    f"then e.g. `ecsup status -c {path}` or `ecsup deploy -c {path} --image {DEMO_SECOND_IMAGE}`. "
                    "Ctrl-C stops the sandbox (its state is lost)."
                )

            _serve_until_interrupted(announce)
            return

        def one_off(ctx: Context, ui: ConsoleUI) -> None:
            from .run import run as run_one_off

            result = run_one_off(ctx, ["sh", "-c", DEMO_RUN])
            ui.print(f"task {result.task_id} exited {result.exit_code}: `ecsup run` exits {result.status} too")

        step(f"ecsup run -- sh -c '{DEMO_RUN}'   # a one-off task: its logs live, its exit code", one_off)
        from .sandbox import DEMO_JOB

        if DEMO_JOB:  # the demo's [jobs.report] (sandbox.DEMO_JOB_CONFIG)

            def job_now(ctx: Context, ui: ConsoleUI) -> None:
                from .run import run_job

                result = run_job(ctx, "report")
                ui.print(f"task {result.task_id} exited {result.exit_code}: `run --job` exits {result.status}")

            step("ecsup run --job report   # the scheduled job now: its logs live, its exit code", job_now)
            step(
                "ecsup status   # with the job: its schedule, its next run, its last runs (the schedule fired too)",
                lambda ctx, ui: status_report(out, collect(ctx)),
            )
        step(
            f"ecsup deploy --image {second}   # the before migration first, then ECS blue/green, traffic moved, bake",
            lambda ctx, ui: run_release(ctx, ui, lambda: ship(ctx, second), False, "deployed"),
        )
        step(
            "ecsup rollback   # back to the revision before, the same way",
            lambda ctx, ui: run_release(ctx, ui, lambda: back(ctx), False, "rolled back"),
        )
        step(
            'printf %s "$NEW_PASSWORD" | ecsup secrets set DB_PASSWORD --restart   # a new version; ECS reads '
            "secrets when a task starts, so the tasks are replaced",
            _demo_secret,
        )
        step("ecsup scale --count 3   # a live change: later creates keep it, status shows it", _demo_scale)
        step(
            f"ecsup deploy --image {DEMO_THIRD_IMAGE}   # its 5xx alarm goes into ALARM during the bake",
            _demo_alarm_rollback,
        )
        path.write_text(demo_config(zone, box.region) + '\n[load_balancer]\nshared = "edge"\n')
        step(
            'ecsup create   # with [load_balancer] shared = "edge" added: the stack moves onto a shared '
            "load balancer, DNS follows once the new rule serves, then its own load balancer goes",
            lambda ctx, ui: run_create(ctx, ui),
        )
        step("ecsup destroy --yes", lambda ctx, ui: run_destroy(ctx, ui, purge=False))
        step("ecsup destroy --yes   # again: nothing left", lambda ctx, ui: run_destroy(ctx, ui, purge=False))
        _demo_shared(out, Path(tmp), zone, box.region, step, new_ctx)


def _demo_shared(
    out: Any, tmp: Any, zone: str, region: str, step: Callable[..., None], new_ctx: Callable[[Any], Context]
) -> None:
    """Two small apps on one shared load balancer: each its own host rule and releases, the load
    balancer's cost split between them, the shared part gone with the last one."""
    from .cost import Usage, estimate
    from .prices import shipped_prices
    from .sandbox import shared_demo_config
    from .steps.shared import sharing

    paths = {}
    for app_name in ("shop", "blog"):
        paths[app_name] = tmp / f"{app_name}.toml"
        paths[app_name].write_text(shared_demo_config(app_name, zone, region))
    out.print(
        "[bold]Two apps on one load balancer, on ecsup's own network[/] - shop.toml (blog.toml: the same with blog):"
    )
    out.print(paths["shop"].read_text(), markup=False, highlight=False)

    def cost(ctx: Context, ui: Any) -> None:
        result = estimate(ctx.config, Usage(), shipped_prices(ctx.region), sharing(ctx))
        for line in result.lines:
            if line.name in ("Load balancer hours", "Public IPv4 addresses"):
                ui.print(f"  {line.name}: {line.quantity} = {line.monthly_text} a month")
        ui.print(f"  {ctx.names.stack} in all: {result.total_text} a month ({sharing(ctx).note()})")

    def quietly(c: Context, run: Callable[[Context, Any], object]) -> tuple[object, str]:
        import io

        from .render import ConsoleUI, make_console

        buffer = io.StringIO()
        quiet = ConsoleUI(make_console(buffer), redact=c.redact, interactive=False)
        c.ui = quiet
        return run(c, quiet), buffer.getvalue()

    def at_once(run: Callable[[Context, Any], object], lines: Callable[[str], bool]) -> Callable[..., None]:
        """Both stacks' runs at once, each shown by its lines about the shared load balancer."""

        def body(ctx: Context, ui: Any) -> None:
            from functools import partial

            ctxs = {"shop": ctx, "blog": new_ctx(paths["blog"])}
            done = ctx.in_parallel({name: partial(quietly, c, run) for name, c in ctxs.items()}, len(ctxs))
            for name, (result, error) in done.items():
                if error is not None:
                    raise error
                assert result is not None
                ui.print(f"  {name}-dev:", style="bold")
                for line in result[1].splitlines():
                    if lines(line):
                        ui.print("  " + line.strip())

        return body

    def about_edge(line: str) -> bool:
        shared = " edge " in line or "edge:" in line or "network main" in line
        return shared and ("created" in line or "found" in line or "joined" in line or "shared load balancer" in line)

    def gone(line: str) -> bool:
        return (
            "load balancer edge" in line
            or "listener rule edge" in line
            or "network main" in line
            or line.startswith("deleted ")
        )

    step(
        'ecsup create -c shop.toml & ecsup create -c blog.toml   # both join "edge" and network "main" at once: '
        "one creates each",
        at_once(lambda c, u: run_create(c, u), about_edge),
        paths["shop"],
    )
    step("ecsup cost -c shop.toml   # half the load balancer each", cost, paths["shop"])
    step("ecsup cost -c blog.toml", cost, paths["blog"])
    from .cli_preview import demo_previews

    demo_previews(paths["shop"], zone, step)

    step(
        "ecsup destroy --yes -c shop.toml & ecsup destroy --yes -c blog.toml   # both leave at once",
        at_once(lambda c, u: run_destroy(c, u, purge=False), gone),
        paths["shop"],
    )


def _demo_secret(ctx: Context, ui: ConsoleUI) -> None:
    """`secrets set --restart`: a new parameter version (its value never shown), then every task
    replaced through the service's blue/green deployment so that they read it."""
    import secrets as pysecrets

    from .daytwo import set_secret
    from .deploy import restart

    change = set_secret(ctx, "DB_PASSWORD", pysecrets.token_urlsafe(16))
    ui.print(f"{change.action} {change.parameter} (DB_PASSWORD): version {change.version_before} -> {change.version}")
    run_release(ctx, ui, lambda: restart(ctx), False, "restarted")


def _demo_scale(ctx: Context, ui: ConsoleUI) -> None:
    from .daytwo import scale

    result = scale(ctx, 3, None, None)
    for change in result.changes:
        ui.print(f"changed {change}")
    for note in result.notes:
        ui.print(f"note: {note}", style="yellow")


def _demo_alarm_rollback(ctx: Context, ui: ConsoleUI) -> None:
    """A deploy whose 5xx alarm goes into ALARM during the bake (set by hand, as CloudWatch would
    on real traffic): ECS rolls it back by itself, and `ecsup deploy` exits 9 naming the alarm."""
    from .deploy import RolledBack
    from .deploy import deploy as ship

    alarm = ctx.names.alarm("5xx")
    shown = ui.deploy_progress
    fired: list[bool] = []

    def progress(state: Any) -> None:
        shown(state)
        if state.stage == "BAKE_TIME" and not fired:
            fired.append(True)
            ui.release_note(f"(demo) aws cloudwatch set-alarm-state --alarm-name {alarm} --state-value ALARM")
            ctx.client("cloudwatch").set_alarm_state(
                AlarmName=alarm,
                StateValue="ALARM",
                StateReason="Threshold Crossed: 1 datapoint [12.5] was greater than the threshold (5.0) (demo)",
            )

    ui.deploy_progress = progress  # type: ignore[method-assign]
    try:
        run_release(ctx, ui, lambda: ship(ctx, DEMO_THIRD_IMAGE), False, "deployed")
    except RolledBack as exc:
        ui.print(f"error: {exc.message}", style="bold red")
        ui.print(f"`ecsup deploy` exits {exc.exit_code}: ECS rolled the release back by itself", style="bold")
    # the errors stopped with the rollback: CloudWatch puts the alarm back to OK a few periods later
    # (a release started while it is still in ALARM would not be guarded by it: alarm_guard.py)
    ctx.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="OK", StateReason="Threshold Crossed: no datapoints over the threshold (demo)"
    )


def _on_terminal() -> bool:
    """Whether a person can be asked (stdin and stdout a terminal)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


@app.command()
def init(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    app_name: Annotated[
        str | None, typer.Option("--app", metavar="NAME", help="Application name (asked on a terminal).")
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", metavar="NAME", help="Environment name, e.g. dev (asked on a terminal).")
    ] = None,
    zone: Annotated[
        str | None, typer.Option(metavar="ZONE", help="Public Route53 hosted zone (chosen on a terminal).")
    ] = None,
    hostname: Annotated[
        str | None, typer.Option(metavar="NAME", help="Name served over HTTPS [default: www.<zone>].")
    ] = None,
    image: Annotated[str | None, typer.Option(metavar="IMAGE", help="Container image (asked on a terminal).")] = None,
    region: Annotated[
        str | None, typer.Option(metavar="REGION", help="AWS region of the stack (else left to the environment).")
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Container port [default: 80].")] = None,
    cpu: Annotated[int | None, typer.Option(metavar="UNITS", help="Fargate cpu units [default: 256].")] = None,
    memory: Annotated[
        int | None, typer.Option(metavar="MIB", help="Memory MiB [default: 512, or the least valid for --cpu].")
    ] = None,
    desired_count: Annotated[int | None, typer.Option(metavar="N", help="Number of tasks [default: 1].")] = None,
    health_check_path: Annotated[
        str | None, typer.Option(metavar="PATH", help="Health check path [default: /].")
    ] = None,
    record: Annotated[
        str | None, typer.Option(metavar="alias|cname", help="DNS record: alias or cname [default: alias].")
    ] = None,
    cloudfront_certificate: Annotated[
        bool, typer.Option("--cloudfront-certificate", help="Also request the certificate in us-east-1 (CloudFront).")
    ] = False,
    external: Annotated[
        bool,
        typer.Option(
            "--external", help="The domain's DNS is at another provider, not Route53 (needs --hostname; no --zone)."
        ),
    ] = False,
    secret: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME=/ssm/param", help="Secret variable -> SSM parameter name (repeatable; no value)."),
    ] = None,
    env_var: Annotated[
        list[str] | None,
        typer.Option("--env-var", "-e", metavar="NAME=value", help="Plain environment variable (repeatable)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Write a commented ecsup.toml (asks for what is missing when run on a terminal)."""
    _aws_options(tctx, profile, None, endpoint_url)
    from .init import InitOptions, account_zones, default_vpc_missing, environment_region, parse_pairs, run_init
    from .render import make_console

    g: Globals = tctx.obj or Globals()
    err = make_console(sys.stderr)
    with _handled(err):
        opts = InitOptions(
            app=app_name,
            env=env,
            zone=zone,
            hostname=hostname,
            image=image,
            region=region or g.region,
            port=port,
            cpu=cpu,
            memory=memory,
            desired_count=desired_count,
            health_check_path=health_check_path,
            record=record,
            cloudfront_certificate=cloudfront_certificate,
            external=external,
            secrets=parse_pairs(secret, "--secret", "DB_PASSWORD=/web/dev/DB_PASSWORD"),
            environment=parse_pairs(env_var, "--env-var", "APP_ENV=production"),
        )
        interactive = _on_terminal()
        cfg = run_init(
            opts,
            config,
            force,
            interactive=interactive,
            zones=lambda: account_zones(g.profile, opts.region, g.endpoint_url),
            default_region=environment_region(g.profile) if interactive and opts.region is None else None,
            no_default_vpc=lambda region: default_vpc_missing(g.profile, region, g.endpoint_url),
        )
    import shlex

    where = "" if config == "ecsup.toml" else f" -c {shlex.quote(config)}"
    typer.echo(f"wrote {config} for {cfg.names.stack} -> {cfg.url}")
    typer.echo(f"next: review it, then `ecsup plan{where}` and `ecsup create{where}`")


@app.command()
def logs(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    since: Annotated[str, typer.Option(metavar="DURATION", help="How far back to start: 30s, 10m, 1h, 2d.")] = "10m",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")] = False,
    filter_pattern: Annotated[
        str | None, typer.Option("--filter", metavar="PATTERN", help="CloudWatch Logs filter pattern, e.g. ERROR.")
    ] = None,
    workload: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Only this workload's logs: web, a worker or a job [default: every one]."),
    ] = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Print the workloads' container logs from CloudWatch, prefixed with the task id (and the
    workload's name when the stack has workers or jobs)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .logs import first_read_notice, parse_since, stream_prefix, tail, workloads
    from .render import LogPrinter, make_console, notice

    with _handled(make_console(sys.stderr)):
        seconds = parse_since(since)
    ctx, ui, err = _setup(tctx, config, build=False)
    with _handled(err, ctx.redact):
        if workload is not None:
            stream_prefix(ctx, workload)  # an unknown name: exit 2 before any AWS call
        names = workloads(ctx)
        width = max(map(len, names)) if workload is None and len(names) > 1 else 0

        def after_first(emitted: int) -> None:  # on stderr: stdout carries only the events
            said = first_read_notice(emitted, seconds, ctx.names.log_group, follow, filter_pattern, workload)
            if said:
                notice(err, said + (f" ({ctx.endpoint})" if ctx.endpoint else ""))

        try:
            tail(
                ctx,
                LogPrinter(ui.console, ctx.redact, workload_width=width),
                since=seconds,
                pattern=filter_pattern,
                follow=follow,
                after_first=after_first,
                workload=workload,
            )
        except KeyboardInterrupt:
            if not follow:
                raise
            # Ctrl-C is how --follow ends: not an error


@app.command()
def cost(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    json_output: JsonOption = False,
    requests_per_month: Annotated[
        int, typer.Option(min=0, metavar="N", help="Requests a month the load balancer serves (sets its LCUs).")
    ] = 1_000_000,
    log_gb_per_month: Annotated[float, typer.Option(min=0.0, metavar="GB", help="GB of container logs a month.")] = 1.0,
    network_gb_per_month: Annotated[
        float,
        typer.Option(
            min=0.0, metavar="GB", help="GB a month the tasks exchange through a NAT gateway or VPC endpoints."
        ),
    ] = 10.0,
    deploys_per_month: Annotated[
        int, typer.Option(min=0, metavar="N", help="Deployments a month (new and old tasks overlap in each).")
    ] = 20,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the price table shipped with ecsup: no AWS call, no credentials.")
    ] = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Estimate the stack's monthly cost in USD, line by line (read-only; the AWS Price List
    API when reachable, else the dated price table shipped with ecsup)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .cost import Usage, estimate
    from .prices import choose_prices
    from .render import cost_report

    ctx, ui, err = _setup(tctx, config, json_output)
    with _handled(err, ctx.redact):
        prices = choose_prices(
            ctx.region, offline=offline, client=lambda: ctx.client("pricing", "us-east-1"), endpoint=ctx.endpoint
        )
        usage = Usage(
            requests_per_month=requests_per_month,
            log_gb_per_month=log_gb_per_month,
            deploys_per_month=deploys_per_month,
            network_gb_per_month=network_gb_per_month,
        )
        sharing = None
        if ctx.config.load_balancer.shared:  # its hours and addresses are split among its stacks
            from .steps.shared import sharing as count_sharing

            sharing = count_sharing(ctx, offline)
        from .steps.network_sharing import network_sharing  # [network] shared: its NAT and endpoints split

        result = estimate(ctx.config, usage, prices, sharing, network_sharing(ctx, offline))
        if json_output:
            typer.echo(json.dumps(result.as_dict(), indent=2))
        else:
            cost_report(ui.console, result)


# -- day two: restart, scale, secrets ------------------------------------------------------------
@app.command()
def restart(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    no_wait: NoWait = False,
    wait_until: WaitUntil = "complete",
    json_output: JsonOption = False,
    timeout: ReleaseTimeout = 3600,
    wait_for_alarms: WaitForAlarms = 0.0,
    ignore_alarms: IgnoreAlarms = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Replace every task with a new deployment of the same revision (forceNewDeployment), through
    the service's strategy, watched like a deploy: how tasks pick up a secret's new value.

    Exit 9 when ECS rolled it back, 5 when --timeout ran out, 8 while another deployment is in
    progress, 7 when a deployment alarm is in ALARM already without a terminal to ask (as deploy)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .config import WAIT_UNTIL
    from .deploy import ATTACH_HINT
    from .deploy import restart as run
    from .errors import OptionError

    ctx, ui, err = _setup(tctx, config, json_output)
    with _handled(err, ctx.redact, f"the deployment goes on in ECS: {ATTACH_HINT}"):
        if wait_until not in WAIT_UNTIL:
            raise OptionError(
                f"--wait-until {wait_until!r} is not a stage", hint="use one of: " + ", ".join(WAIT_UNTIL)
            )
        _alarm_options(ctx, wait_for_alarms, ignore_alarms)
        ui.print(f"ecsup restart {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
        restarting = lambda: run(ctx, wait=not no_wait, timeout=timeout, wait_until=wait_until)  # noqa: E731
        run_release(ctx, ui, restarting, json_output, "restarted")


@app.command()
def scale(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    count: Annotated[int | None, typer.Option("--count", metavar="N", help="Desired number of tasks.")] = None,
    minimum: Annotated[
        int | None, typer.Option("--min", metavar="N", help="Auto scaling's minimum ([service.autoscaling]).")
    ] = None,
    maximum: Annotated[
        int | None, typer.Option("--max", metavar="N", help="Auto scaling's maximum ([service.autoscaling]).")
    ] = None,
    workload: Annotated[
        str | None,
        typer.Option(
            "--workload", metavar="NAME", help="A worker of ecsup.toml to scale instead of the web service (web)."
        ),
    ] = None,
    json_output: JsonOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Change the desired count (and auto scaling's range) on the live service, at once.

    A live change: later `create`s keep it until the value in ecsup.toml changes, and `status`
    shows it as different from the file. ECS starts or stops tasks to reach the count.
    `--workload NAME` scales a worker instead (exit 2 for a name that is not a worker)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .daytwo import scale_workload as run

    ctx, ui, err = _setup(tctx, config, json_output)
    with _handled(err, ctx.redact):
        ui.print(f"ecsup scale {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
        result = run(ctx, workload, count, minimum, maximum)
        for change in result.changes:
            ui.print(f"changed {change}", style="bold green")
        for note in result.notes:
            ui.print(f"note: {note}", style="yellow")
        if json_output:
            typer.echo(json.dumps(result.as_dict(), indent=2))


secrets_app = typer.Typer(
    name="secrets",
    help="The service's secrets in SSM Parameter Store: set (a new version), list, unset. Values are "
    "read from stdin or ECSUP_SECRET_<NAME>, never from arguments, and never printed.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(secrets_app)


def _secret_from_input(name: str) -> str:
    """The value: stdin when something is piped or redirected into it, else ECSUP_SECRET_<NAME>,
    else a hidden prompt asked twice on a terminal. Never an argument: argv is visible to every
    process. Both a piped stdin and the variable: refused (exit 2) -- the variable is usually
    still exported from a first `create` and would otherwise win silently over the new value."""
    import os

    from .errors import OptionError

    variable = f"ECSUP_SECRET_{name}"
    given = os.environ.get(variable) or None
    piped = _stdin_piped()
    if piped and given is not None:
        raise OptionError(
            f"{name}: a value is piped on stdin and {variable} is set too: refusing to guess which one to store",
            hint=f"to store stdin's, run without the variable (`unset {variable}`, or `env -u {variable} "
            f"ecsup secrets set {name} ...`); to store the variable's, give stdin nothing (`< /dev/null`)",
        )
    if piped:
        data = sys.stdin.read()
        value = data[:-1] if data.endswith("\n") else data
        value = value[:-1] if value.endswith("\r") else value
        if value:
            return value
    elif given is not None:
        return given
    elif sys.stdin.isatty() and sys.stdout.isatty():
        asked = typer.prompt(f"Value for {name} (input hidden)", hide_input=True, confirmation_prompt=True, err=True)
        return str(asked)
    raise OptionError(
        f"no value for {name}",
        hint=f"pipe it on stdin (`ecsup secrets set {name} < file`) or export {variable}; "
        "a value is never a command-line argument",
    )


def _stdin_piped() -> bool:
    """stdin is a pipe, a socket or a non-empty file: something was given on it (a terminal and
    /dev/null are not). A pipe is not read to find out: it may be a CI runner's own stdin, whose
    rest would be consumed. A stream with no file descriptor (in memory) is peeked at."""
    import io
    import os
    import stat

    if sys.stdin is None or sys.stdin.isatty():
        return False
    try:
        mode = os.fstat(sys.stdin.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        try:
            at = sys.stdin.tell()
            data = sys.stdin.read()
            sys.stdin.seek(at)
        except (OSError, ValueError, io.UnsupportedOperation):
            return True
        return bool(data)
    if stat.S_ISREG(mode.st_mode):
        return mode.st_size > 0
    return stat.S_ISFIFO(mode.st_mode) or stat.S_ISSOCK(mode.st_mode)


@secrets_app.command("set")
def secrets_set(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="A variable of [service.secrets].")],
    config: ConfigOption = "ecsup.toml",
    restart_tasks: Annotated[
        bool,
        typer.Option(
            "--restart",
            help="Replace the running tasks afterwards, which hold the old value (without it: asked on a terminal).",
        ),
    ] = False,
    json_output: JsonOption = False,
    timeout: ReleaseTimeout = 3600,
    wait_for_alarms: WaitForAlarms = 0.0,
    ignore_alarms: IgnoreAlarms = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Store a new version of a secret (its SSM SecureString parameter, same KMS key and tags).

    The value comes from stdin or ECSUP_SECRET_<NAME> (both: refused; a hidden prompt on a
    terminal). ECS reads secrets when a task starts: the running tasks keep the old value until
    replaced (--restart, guarded by the deployment alarms as `restart` is)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .daytwo import _configured, set_secret, task_starts
    from .deploy import ATTACH_HINT
    from .deploy import restart as run_restart

    ctx, ui, err = _setup(tctx, config, json_output)
    with _handled(err, ctx.redact, f"the deployment goes on in ECS: {ATTACH_HINT}"):
        _alarm_options(ctx, wait_for_alarms, ignore_alarms)
        ui.print(f"ecsup secrets set {name} {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
        _configured(ctx, name)  # a name not in [service.secrets] is said before any value is asked for
        value = _secret_from_input(name)
        change = set_secret(ctx, name, value)
        before = f"version {change.version_before} -> " if change.version_before is not None else ""
        ui.print(f"{change.action} {change.parameter} ({name}): {before}version {change.version}", style="bold green")
        for note in change.notes:
            ui.print(f"note: {note}", style="yellow")
        running = len(task_starts(ctx))
        doc: dict[str, Any] = {"secret": change.as_dict(), "running_tasks": running, "restart": None}
        if running:
            held = f"the {running} running task(s) still hold the previous value: ECS reads secrets when a task starts"
            if not restart_tasks and not json_output:
                restart_tasks = _ask(f"{held}. Restart them now (`ecsup restart`)")
            if restart_tasks:
                doc["restart"] = run_release(ctx, ui, lambda: run_restart(ctx, timeout=timeout), False, "restarted")
            else:
                ui.print(f"note: {held}; `ecsup restart` replaces them", style="yellow")
        if json_output:
            typer.echo(ctx.redact(json.dumps(doc, indent=2)))


@secrets_app.command("list")
def secrets_list(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    json_output: JsonOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Each secret: its parameter, type, version and last change -- never its value -- and whether
    it changed after the running tasks started (read-only)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .daytwo import secrets_info

    ctx, ui, err = _setup(tctx, config, json_output)
    with _handled(err, ctx.redact):
        found = secrets_info(ctx)
        if json_output:
            typer.echo(json.dumps({"secrets": [s.as_dict() for s in found]}, indent=2))
            return
        if not found:
            ui.print("no secrets: [service.secrets] in ecsup.toml is empty")
        for secret in found:
            ui.print(secret.line(), style=None if secret.exists and not secret.newer_than_tasks else "yellow")


@secrets_app.command("unset")
def secrets_unset(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="A variable of [service.secrets].")],
    config: ConfigOption = "ecsup.toml",
    purge: Annotated[bool, typer.Option("--purge", help="Delete the SSM parameter (asks; --yes).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --purge deletes.")] = False,
    json_output: JsonOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Stop passing a secret: says what to remove from ecsup.toml (ecsup never edits it); --purge
    also deletes its SSM parameter (only one ecsup created; asks on a terminal, or --yes)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .daytwo import unset_secret

    ctx, ui, err = _setup(tctx, config, json_output)
    with _handled(err, ctx.redact):
        ui.print(f"ecsup secrets unset {name} {ctx.names.stack} in {ctx.region}{ctx.whereabouts()}", style="bold")
        change = unset_secret(ctx, name, purge, confirm=(lambda q: True) if yes else _ask)
        if change.action == "deleted":
            ui.print(f"deleted {change.parameter} ({name})", style="bold green")
        for note in change.notes:
            ui.print(f"next: {note}" if "ecsup.toml" in note else f"note: {note}", style="yellow")
        if json_output:
            typer.echo(json.dumps(change.as_dict(), indent=2))


ci_app = typer.Typer(
    name="ci",
    help="CI: GitHub Actions' OIDC provider and deploy role (bootstrap), the workflow file (init github).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(ci_app)
ci_init_app = typer.Typer(name="init", help="Write a CI system's workflow file.", no_args_is_help=True)
ci_app.add_typer(ci_init_app)


@ci_app.command("bootstrap")
def ci_bootstrap(
    tctx: typer.Context,
    github: Annotated[
        str,
        typer.Option(
            "--github",
            metavar="OWNER/REPO",
            help="The repository whose workflows deploy (OWNER@OWNER_ID/REPO@REPO_ID: its numeric ids too).",
        ),
    ] = "",
    branch: Annotated[
        str, typer.Option("--branch", metavar="BRANCH", help="The branch whose pushes deploy (default main).")
    ] = "main",
    environment: Annotated[
        str,
        typer.Option("--environment", metavar="NAME", help="Also admit the jobs of this GitHub environment."),
    ] = "",
    delete: Annotated[
        bool,
        typer.Option(
            "--delete", help="Remove the deploy role (and the provider, if ecsup made it and no role trusts it)."
        ),
    ] = False,
    plan_only: Annotated[bool, typer.Option("--plan", help="Show what would be done, and do nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = "ecsup.toml",
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Create (or repair) what a GitHub Actions workflow needs in the account: GitHub's OIDC
    provider (if missing) and the role <app>-<env>-github-deploy, which trusts it for one repository
    (its pushes to --branch, its pull requests, --environment's jobs) and holds the stack's policy.
    Shows the plan, then asks (a terminal) or needs --yes; prints the role's ARN."""
    _aws_options(tctx, profile, region, endpoint_url)
    import os

    from . import ci
    from .errors import OptionError, Refused

    ctx, ui, err = _setup(tctx, config, build=False)
    with _handled(err, ctx.redact, "re-running `ecsup ci bootstrap` resumes where it stopped"):
        if delete:
            if github:
                raise OptionError("--delete takes no --github", hint="`ecsup ci bootstrap --delete` removes the role")
            ui.print(f"ecsup ci bootstrap --delete {ctx.names.stack}{ctx.whereabouts()}", style="bold")
            actions = ci.plan_delete(ctx)
        else:
            if not github:
                raise OptionError("--github OWNER/REPO is required", hint="e.g. --github acme/web")
            repository = ci.parse_repository(github)
            boot = ci.Bootstrap(repository, branch, environment)  # validates --branch, --environment
            if not repository.owner_id:
                token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or ""
                owner_id, repo_id = ci.github_ids(repository, token)
                boot = ci.Bootstrap(
                    ci.Repository(repository.owner, repository.name, owner_id, repo_id), branch, environment
                )
            ui.print(
                f"ecsup ci bootstrap {ctx.names.stack} for GitHub {repository.full}{ctx.whereabouts()}", style="bold"
            )
            actions = ci.plan_bootstrap(ctx, boot)
        doing = [a for a in actions if a.mutates]
        for action in actions:
            ui.action_planned(action)
        if plan_only or not doing:
            ui.print(
                "nothing to do" if not doing else f"Plan: {len(doing)} to change (--plan: nothing done)", style="bold"
            )
        else:
            if not yes and not _ask(f"{len(doing)} change(s) to IAM above"):
                raise Refused("ci bootstrap not confirmed: nothing was changed", hint="pass --yes to confirm")
            ui.print("Applying:", style="bold")
            ci.apply(actions, ui.action_done)
        if not delete:
            arn = ci.role_arn(ctx)
            ui.print(f"role-to-assume: {arn}", style="bold green")
            if not plan_only:
                ui.print(
                    f"next: `gh variable set ECSUP_ROLE_ARN --body {arn}` and `gh variable set AWS_REGION --body "
                    f"{ctx.region}`, then `ecsup ci init github` writes the workflow",
                    style="cyan",
                )


@ci_init_app.command("github")
def ci_init_github(
    path: Annotated[
        str, typer.Option("--path", metavar="PATH", help="Where to write it.")
    ] = ".github/workflows/ecsup.yml",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the GitHub Actions workflow (the one docs/ci.md shows): the plan on pull requests, a
    preview per pull request, deploy on main."""
    from pathlib import Path

    from . import ci
    from .render import make_console

    with _handled(make_console(sys.stderr)):
        written = ci.write_workflow(Path(path), force)
    typer.echo(f"wrote {written}")
    typer.echo("next: set the repository variables ECSUP_ROLE_ARN and AWS_REGION (`ecsup ci bootstrap` prints them)")


from .cli_preview import preview_app  # noqa: E402  (it builds on the options and runners above)

app.add_typer(preview_app)

# `ecsup --help` lists the commands in the order a user meets them (init first); commands
# added later keep their place after these.
_ORDER = ["init", "plan", "create", "status", "cost", "logs", "deploy", "rollback", "restart", "scale", "secrets"]
_ORDER += ["run", "exec", "preview", "ci"]
_ORDER += ["destroy", "sandbox", "demo"]


def _command_name(command: Any) -> str:
    return str(command.name or (command.callback.__name__ if command.callback else ""))


app.registered_commands.sort(
    key=lambda c: _ORDER.index(_command_name(c)) if _command_name(c) in _ORDER else len(_ORDER)
)


def run() -> None:  # console-script entry point
    import gc

    # A command's process makes millions of objects (botocore's service models, the sandbox's
    # moto): with Python's default thresholds (a young collection every 700 new objects) the
    # cyclic collector took ~0.15 s of CPU of a no-op plan. It still runs, ~70 times less often.
    gc.set_threshold(50_000, 20, 100)
    _only_the_command_run(sys.argv[1:])
    try:
        app()
    except SystemExit as done:
        _exit(done.code)
    _exit(0)


def _only_the_command_run(argv: list[str]) -> None:
    """typer builds every command (its options from its signature's annotations) before it runs
    one: ~20 of them, tens of ms of each process. When the first word is a command (or a command
    group), the process builds that one only: the same parsing, help and errors for it. Anything
    else (global options first, no command, an unknown one, shell completion) sees them all."""
    import os

    if not argv or argv[0].startswith("-") or any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return
    commands = [c for c in app.registered_commands if _command_name(c) == argv[0]]
    groups = [g for g in app.registered_groups if _group_name(g) == argv[0]]
    if commands or groups:
        app.registered_commands[:] = commands
        app.registered_groups[:] = groups


def _group_name(group: Any) -> str:
    if isinstance(group.name, str):
        return group.name
    return str(getattr(getattr(group.typer_instance, "info", None), "name", "") or "")


def _exit(code: Any) -> None:
    """End the process as soon as the command is done. Python's own exit then tears down every
    module and object one by one -- the AWS clients' service models are large: 0.1-0.3 s that
    nobody waits for. When nothing but this thread runs, the exit handlers run and the output is
    flushed here, then the process ends at once with the command's exit code; otherwise (a thread
    still working, an output that cannot be flushed) Python's usual exit does it all."""
    import atexit
    import os
    import threading

    status = 0 if code is None else code
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if not isinstance(status, int) or any(t.is_alive() and not t.daemon for t in others):
        raise SystemExit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe (`ecsup status | head`): Python's exit reports it
        raise SystemExit(code) from None
    os._exit(status & 0xFF if status >= 0 else 1)
