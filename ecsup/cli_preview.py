"""`ecsup preview up/down/list/gc`: a stack per pull request (previews.py), as a typer sub-app.

Each command is a few lines: build the environment's context, derive the preview's, run the
same engine as `create` / `destroy` (locks, resume after a crash, the plan), render.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli import (
    ConfigOption,
    EndpointOption,
    JsonOption,
    ProfileOption,
    RegionOption,
    VerboseOption,
    _aws_options,
    _handled,
    _setup,
    run_create,
    run_destroy,
)

if TYPE_CHECKING:
    from .context import Context
    from .render import ConsoleUI

preview_app = typer.Typer(
    name="preview",
    help="A stack per pull request on the [preview] shared load balancer: up, down, list, gc.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

NameOption = Annotated[
    str, typer.Option("--name", metavar="NAME", help="The preview's name (e.g. pr-123): its stack is <app>-NAME.")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
ForceUnlock = Annotated[
    bool, typer.Option("--force-unlock", help="Break the preview stack's lock (only when its holder is gone).")
]


def run_preview_up(
    base: Context, ui: ConsoleUI, name: str, image: str = "", verbose: bool = False, force_unlock: bool = False
) -> dict[str, Any]:
    """Marker, the previews' certificate, then `create` of the preview's stack; its URL."""
    from .previews import prepare_up, secrets_line

    p = base.config.preview
    domain = p.domain if p else "?"
    ui.print(f"ecsup preview up {name} of {base.config.app} at https://{name}.{domain}/", style="bold")
    prepared = prepare_up(base, name, image)
    ctx = prepared.ctx
    ui.print(f"previews' certificate *.{domain}: {prepared.certificate}")
    line = secrets_line(ctx.config)
    if line:
        ui.print(line)
    if base.config.jobs:
        ui.print(f"jobs: none in a preview ({', '.join(j.name for j in base.config.jobs)} not scheduled)", style="dim")
    run_create(ctx, ui, False, force_unlock, verbose)
    return {"name": name, "url": ctx.config.url, "stack": ctx.names.stack, "image": ctx.config.service.image}


def run_preview_down(
    base: Context,
    ui: ConsoleUI,
    name: str,
    confirm: Callable[[str], None] | None = None,
    force_unlock: bool = False,
) -> dict[str, Any]:
    """`destroy` of the preview's stack, then its marker and (the domain's last preview) the
    previews' certificate. ``confirm`` is called with the stack's name when there is something to
    delete."""
    from .previews import prepare_down, release_certificate

    prepared = prepare_down(base, name)
    ctx = prepared.ctx
    result = run_destroy(ctx, ui, False, (lambda: confirm(ctx.names.stack)) if confirm else None, force_unlock)
    if result["failed"]:
        return dict(result, name=name, stack=ctx.names.stack, released=[])
    released = release_certificate(ctx, prepared.exists)
    for what, done in released:
        ui.print(f"  {what}: {done}")
    ui.print(f"preview {name} is down", style="bold")
    return dict(result, name=name, stack=ctx.names.stack, released=[{"what": w, "result": r} for w, r in released])


def _confirmer(yes: bool, what: str) -> Callable[[str], None]:
    from .errors import Refused

    def confirm(stack: str) -> None:
        if yes:
            return
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise Refused(f"refusing to {what} {stack} without confirmation", hint="pass --yes to confirm")
        typed = typer.prompt(f"Type {stack} to delete the resources above")
        if typed.strip() != stack:
            raise Refused(f"{typed!r} is not {stack!r}: nothing was deleted")

    return confirm


def _settings(ctx: Context) -> None:
    from .previews import settings

    settings(ctx.config)


@preview_app.command("up")
def preview_up(
    tctx: typer.Context,
    name: NameOption,
    image: Annotated[
        str | None, typer.Option(metavar="IMAGE", help="The image the preview runs (default: service.image).")
    ] = None,
    build: Annotated[
        bool,
        typer.Option(
            "--build",
            help="Build the image ([service] build, else the current directory) and push it to the app's ECR "
            "repository first; what `preview up` does without --image when [service] build is set.",
        ),
    ] = False,
    config: ConfigOption = "ecsup.toml",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print {name, url, stack, image} as one JSON document on stdout.")
    ] = False,
    verbose: VerboseOption = False,
    force_unlock: ForceUnlock = False,
    certificate_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds to wait for ACM validation.")
    ] = 1800,
    service_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds to wait for the service to be stable.")
    ] = 1200,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Create or update the preview NAME: the stack <app>-NAME from ecsup.toml with the [preview]
    overrides, at https://NAME.<domain>/ on the shared load balancer; prints its URL."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .context import Timeouts
    from .render import make_console

    with _handled(make_console(sys.stderr)):
        timeouts = Timeouts(certificate=certificate_timeout, service=service_timeout)
    ctx, ui, err = _setup(tctx, config, json_output, timeouts=timeouts)
    with _handled(err, ctx.redact, "re-running `ecsup preview up` resumes where it stopped"):
        _settings(ctx)
        if build and image:
            from .errors import OptionError

            raise OptionError("--image and --build exclude each other", hint="give one of them")
        if build or (ctx.config.service.build and not image):
            from .build import build_image

            # the preview runs what this checkout builds: by digest, in the app's repository
            image = build_image(ctx, None if ctx.config.service.build else ".").image
        doc = run_preview_up(ctx, ui, name, image or "", verbose, force_unlock)
        if json_output:
            typer.echo(json.dumps(doc, indent=2))


@preview_app.command("down")
def preview_down(
    tctx: typer.Context,
    name: NameOption,
    config: ConfigOption = "ecsup.toml",
    yes: YesOption = False,
    json_output: JsonOption = False,
    force_unlock: ForceUnlock = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Delete the preview NAME (its stack, its marker); the last preview of the domain also
    deletes the previews' certificate. Its logs and the parameters it read are kept."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .errors import EXIT_FAILURE

    ctx, ui, err = _setup(tctx, config, json_output, build=False)
    with _handled(err, ctx.redact, "re-running `ecsup preview down` resumes where it stopped"):
        _settings(ctx)
        result = run_preview_down(ctx, ui, name, _confirmer(yes, "delete preview"), force_unlock)
        if json_output:
            typer.echo(json.dumps(result, indent=2))
    if result["failed"]:
        raise typer.Exit(EXIT_FAILURE)


def _prices(ctx: Context, offline: bool) -> Any:
    from .prices import choose_prices

    return choose_prices(
        ctx.region, offline=offline, client=lambda: ctx.client("pricing", "us-east-1"), endpoint=ctx.endpoint
    )


OfflineOption = Annotated[
    bool, typer.Option("--offline", help="Monthly costs from the price table shipped with ecsup (no Price List API).")
]


@preview_app.command("list")
def preview_list(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    json_output: JsonOption = False,
    offline: OfflineOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """The app's previews: name, URL, age, image, monthly cost (read-only)."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .previews import age_text, list_previews

    ctx, ui, err = _setup(tctx, config, json_output, build=False)
    with _handled(err, ctx.redact):
        _settings(ctx)
        found = list_previews(ctx, prices=_prices(ctx, offline))
        if json_output:
            typer.echo(json.dumps({"previews": [p.as_dict() for p in found]}, indent=2))
            return
        if not found:
            ui.print(f"no previews of {ctx.config.app}")
            return
        ttl = ctx.config.preview.ttl_hours if ctx.config.preview else 0
        for p in found:
            old = p.age_seconds is not None and p.age_seconds > ttl * 3600
            ui.print(
                f"{p.name}  {p.url}  {age_text(p.age_seconds)}  {p.image or '-'}  {p.state}  "
                f"{p.monthly or '?'} a month" + ("  (older than ttl_hours: `preview gc` deletes it)" if old else ""),
                style="yellow" if old else None,
            )
        ui.print(f"{len(found)} preview(s)", style="bold")


@preview_app.command("gc")
def preview_gc(
    tctx: typer.Context,
    config: ConfigOption = "ecsup.toml",
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than", metavar="AGE", help="Delete previews older than AGE (72h, 3d, 90m; default: ttl_hours)."
        ),
    ] = None,
    yes: YesOption = False,
    json_output: JsonOption = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Delete the app's previews older than [preview] ttl_hours (or --older-than), each as
    `preview down` does; their age is from their first `preview up`."""
    _aws_options(tctx, profile, region, endpoint_url)
    from .errors import EXIT_FAILURE, Refused
    from .previews import age_text, expired, list_previews, parse_duration

    ctx, ui, err = _setup(tctx, config, json_output, build=False)
    failed: list[str] = []
    with _handled(err, ctx.redact, "re-running `ecsup preview gc` resumes where it stopped"):
        _settings(ctx)
        assert ctx.config.preview is not None
        limit = parse_duration(older_than) if older_than else ctx.config.preview.ttl_hours * 3600.0
        found = list_previews(ctx, costs=False)
        doomed = expired(found, limit)
        ui.print(
            f"ecsup preview gc {ctx.config.app}: {len(doomed)} of {len(found)} preview(s) older than {age_text(limit)}",
            style="bold",
        )
        for p in doomed:
            ui.print(f"  {p.name}  {p.url}  {age_text(p.age_seconds)}")
        if doomed and not yes:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                raise Refused("refusing to delete previews without confirmation", hint="pass --yes to confirm")
            if not typer.confirm(f"Delete these {len(doomed)} preview(s)?", default=False, err=True):
                raise Refused("nothing was deleted")
        results = []
        for p in doomed:
            result = run_preview_down(ctx, ui, p.name)
            if result["failed"]:
                failed.append(p.name)
            results.append(result)
        if json_output:
            typer.echo(
                json.dumps(
                    {
                        "deleted": [r["name"] for r in results if not r["failed"]],
                        "failed": failed,
                        "kept": [p.name for p in found if p not in doomed],
                    },
                    indent=2,
                )
            )
    if failed:
        raise typer.Exit(EXIT_FAILURE)


def demo_previews(path: Any, zone: str, step: Callable[..., None]) -> None:
    """`ecsup demo`: a pull request's preview of shop joins "edge" beside shop and blog (one
    certificate for *.pr.<zone>), is listed, and goes down; shown by its main lines."""
    import io

    from .previews import age_text, list_previews
    from .prices import shipped_prices
    from .render import ConsoleUI, make_console

    path.write_text(path.read_text() + f'\n[preview]\ndomain = "pr.{zone}"\nshared = "edge"\n')
    shown: tuple[str, ...] = ("previews' certificate", "secrets:", "+ created", "- deleted", "URL:", "done in")
    shown += ("preview marker", "certificate *.", "listener certificate", "validation records")

    def briefly(run: Callable[[Context, Any], object]) -> Callable[[Context, Any], None]:
        def body(ctx: Context, ui: Any) -> None:
            buffer = io.StringIO()
            quiet = ConsoleUI(make_console(buffer), redact=ctx.redact, interactive=False)
            ctx.ui = quiet
            run(ctx, quiet)
            for line in buffer.getvalue().splitlines():
                if line.strip().startswith(shown):
                    ui.print("  " + line.strip())

        return body

    def listed(ctx: Context, ui: Any) -> None:
        for p in list_previews(ctx, prices=shipped_prices(ctx.region)):
            ui.print(f"  {p.name}  {p.url}  {age_text(p.age_seconds)}  {p.image}  {p.monthly} a month")

    step(
        "ecsup preview up --name pr-42 -c shop.toml   # with [preview] added: the stack shop-pr-42 joins edge "
        "at pr-42.pr.<zone>, on Spot, with one certificate for *.pr.<zone> that every preview shares",
        briefly(lambda ctx, ui: run_preview_up(ctx, ui, "pr-42")),
        path,
    )
    step("ecsup preview list -c shop.toml", listed, path)
    step(
        "ecsup preview down --yes --name pr-42 -c shop.toml   # the last preview out takes the certificate",
        briefly(lambda ctx, ui: run_preview_down(ctx, ui, "pr-42")),
        path,
    )
