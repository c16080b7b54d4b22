"""The whole `ecsup` process as a user starts it: what it imports, how it ends, how many
sequential rounds of AWS calls its read-only commands need. Deterministic guards of what
scripts/bench measures in seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ecsup.cli import app

HEAVY = ("boto3", "botocore", "rich", "pydantic", "moto", "ecsup.engine", "ecsup.context")


def _modules_after(argv: list[str], cwd: Path | None = None) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Which of HEAVY a fresh interpreter has imported after running `ecsup <argv>`."""
    code = (
        "import sys\n"
        f"sys.argv = ['ecsup', *{argv!r}]\n"
        "from ecsup.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"print('MODULES', *[m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=cwd)
    line = next(line for line in proc.stdout.splitlines() if line.startswith("MODULES"))
    return line.split()[1:], proc


def test_help_imports_neither_boto3_nor_rich_nor_pydantic() -> None:
    for argv in (["--help"], ["create", "--help"], ["--version"]):
        modules, proc = _modules_after(argv)
        assert modules == [], f"`ecsup {' '.join(argv)}` imported {modules}\n{proc.stderr}"
        assert proc.stdout.strip(), proc.stderr


def test_reading_the_options_of_a_command_imports_no_pydantic(tmp_path: Path) -> None:
    # a command that stops at its configuration (none here): every option it has was read by then
    for argv in (["plan", "-c", "none.toml"], ["status", "--json"], ["create", "--verbose", "--region", "eu-west-1"]):
        modules, proc = _modules_after(argv, cwd=tmp_path)
        assert "pydantic" not in modules, f"`ecsup {' '.join(argv)}` imported pydantic\n{proc.stderr}"
        assert "is missing" in proc.stderr and proc.returncode == 0, proc.stderr  # app() exited 2 (SystemExit)


def test_option_values_are_still_checked_and_converted(tmp_path: Path, monkeypatch) -> None:
    from ecsup import cli

    runner = CliRunner()
    bad = runner.invoke(app, ["create", "--certificate-timeout", "soon"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2
    assert "Invalid value for '--certificate-timeout'" in bad.output and "valid number" in bad.output

    seen: list[tuple[float, float, float]] = []

    def fake_create(ctx, ui, json_output=False, force_unlock=False, verbose=False):  # type: ignore[no-untyped-def]
        seen.append((ctx.timeouts.certificate, ctx.timeouts.service, ctx.wait_for_alarms))
        return {}

    monkeypatch.setattr(cli, "run_create", fake_create)
    path = tmp_path / "ecsup.toml"
    from tests.conftest import config_text

    path.write_text(config_text())
    given = runner.invoke(app, ["create", "-c", str(path), "--service-timeout", "60", "--wait-for-alarms", "1.5"])
    assert given.exit_code == 0, given.output
    defaults = runner.invoke(app, ["create", "-c", str(path)])
    assert defaults.exit_code == 0, defaults.output
    assert seen == [(1800.0, 60.0, 1.5), (1800.0, 1200.0, 0.0)]
    assert all(type(v) is float for row in seen for v in row)


def test_the_process_ends_without_tearing_its_modules_down(tmp_path: Path) -> None:
    """The exit code and every line of output, and no teardown of the interpreter's objects
    (a process that made AWS clients spent 0.1-0.2 s in it)."""
    code = (
        "import sys\n"
        "class Witness:\n"
        "    def __del__(self):\n"
        "        sys.stderr.write('TORN DOWN')\n"
        "witness = Witness()\n"
        "sys.argv = ['ecsup', *sys.argv[1:]]\n"
        "from ecsup.cli import run\n"
        "run()\n"
    )

    def ecsup(*argv: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-c", code, *argv]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    version = ecsup("--version")
    assert version.returncode == 0 and version.stdout.startswith("ecsup "), version
    assert "TORN DOWN" not in version.stderr
    refused = ecsup("plan", "-c", "none.toml")
    assert refused.returncode == 2, refused
    assert "none.toml" in refused.stderr and "TORN DOWN" not in refused.stderr
    usage = ecsup("plan", "--no-such")
    assert usage.returncode == 2 and "--no-such" in usage.stderr, usage


# -- sequential rounds of calls -------------------------------------------------------------------
class Rounds:
    """The critical path of a command in rounds of AWS calls, whatever the machine: every call
    takes one round on a virtual clock of its own thread; the tasks of ``Context.in_parallel`` start
    at their caller's time and it goes on from the latest of them; a planned step starts once the
    steps it is observed after (engine._needs) are done, the plan ends with the last of them.
    At 30 ms a call (and moto's time) each round is what a user waits, however fast the rest."""

    def __init__(self, monkeypatch, recorder) -> None:  # type: ignore[no-untyped-def]
        import threading

        from ecsup import context as context_module
        from ecsup import engine

        self.local = threading.local()
        self.steps: dict[str, int] = {}
        self.end: dict[str, int] = {}
        recorder_hook = recorder.hook

        def hook(session: Any) -> None:
            recorder_hook(session)
            session.events.register("before-call", self._before)
            session.events.register("after-call", self._after)
            session.events.register("after-call-error", self._after)

        monkeypatch.setattr(context_module, "SESSION_HOOKS", [hook])
        in_parallel = context_module.Context.in_parallel

        def forked(ctx: Any, tasks: dict[Any, Any], workers: int = 8) -> Any:
            start, ends = self.now, [self.now]

            def at(fn: Any) -> Any:
                def task() -> Any:
                    self.now = start
                    try:
                        return fn()
                    finally:
                        ends.append(self.now)

                return task

            found = in_parallel(ctx, {key: at(fn) for key, fn in tasks.items()}, workers)
            self.now = max(ends)
            return found

        monkeypatch.setattr(context_module.Context, "in_parallel", forked)
        observe = engine.observe

        def observed(ctx: Any, steps: list[Any], method: str) -> Any:
            start, self.steps = self.now, {}
            for step in steps:
                plan = getattr(step, method)

                def timed(c: Any, plan: Any = plan, name: str = type(step).__name__) -> Any:
                    self.now = 0
                    try:
                        return plan(c)
                    finally:
                        self.steps[name] = self.now

                setattr(step, method, timed)
            planned = observe(ctx, steps, method)
            needs = engine.plan_dependencies(ctx, steps)  # what the engine waits for, as it runs them
            names = [type(step).__name__ for step in steps]
            end: dict[str, int] = {}
            for i, name in enumerate(names):
                end[name] = max([0, *(end[names[j]] for j in needs[i])]) + self.steps[name]
            self.end = end
            self.now = start + max(end.values())
            return planned

        monkeypatch.setattr(engine, "observe", observed)

    @property
    def now(self) -> int:
        return int(getattr(self.local, "now", 0))

    @now.setter
    def now(self, value: int) -> None:
        self.local.now = value

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        context["rounds_start"] = self.now

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        self.now = context.get("rounds_start", self.now) + 1


def test_the_read_only_commands_take_few_sequential_rounds_of_calls(stack, make_ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ecsup import engine
    from ecsup.status import collect

    rounds = Rounds(monkeypatch, stack)
    ctx = make_ctx()
    ctx.mode = "plan"
    assert not engine.make_plan(ctx).changes()
    plan = rounds.now
    rounds.now = 0
    collect(make_ctx())
    status = rounds.now
    rounds.now = 0
    assert not engine.create(make_ctx()).changes()
    create = rounds.now
    # plan: the load balancer's chain -- the move detection (1), the security groups and subnets (4),
    # the load balancer and its target groups (7), then the deployment alarms that watch them (9), as
    # the service (9); the jobs are observed beside it (they wait for the web service's release when
    # applying only: JobsStep.apply_reads), the workers once the task definition is (5); status: the
    # health reads after it; create: the lock's state before it
    assert (plan, status, create) == (9, 12, 10), rounds.end
    assert ("sts", "GetCallerIdentity") not in stack.calls  # the account id comes from the ARNs read


# -- what a process makes ------------------------------------------------------------------------
def test_service_models_load_without_listing_every_service(monkeypatch) -> None:
    from botocore.exceptions import UnknownServiceError
    from botocore.loaders import Loader, create_loader

    from ecsup import context as context_module

    reference = {
        (service, kind): create_loader().load_service_model(service, kind)
        for service in ("ec2", "ecs", "elbv2", "ssm")
        for kind in ("service-2", "endpoint-rule-set-1", "paginators-1")
    }
    listed: list[str] = []
    every = Loader.list_available_services

    def listing(self: Any, type_name: str) -> Any:
        listed.append(type_name)
        return every(self, type_name)

    monkeypatch.setattr(Loader, "list_available_services", listing)
    loader = context_module._shared_loader.__wrapped__()  # a fresh one
    for (service, kind), model in reference.items():
        assert loader.load_service_model(service, kind) == model
    assert listed == []  # ~420 directories per kind of model, not read
    with pytest.raises(UnknownServiceError):
        loader.load_service_model("no-such-service", "service-2")


def test_a_client_quick_to_make_is_not_held_up_by_another_being_made(monkeypatch) -> None:
    import threading

    from ecsup.config import parse
    from ecsup.context import Context
    from tests.conftest import config_text

    ctx = Context(parse(config_text()), credentials={"aws_access_key_id": "x", "aws_secret_access_key": "y"})
    ctx.client("sts")  # the first client: the session's shared parts
    make = Context._make_client
    elbv2_made = threading.Event()

    def slow_ec2(self: Context, service: str, region: str) -> Any:
        if service == "ec2":
            assert elbv2_made.wait(10), "elbv2's client waited for ec2's"
        return make(self, service, region)

    monkeypatch.setattr(Context, "_make_client", slow_ec2)
    ec2 = threading.Thread(target=ctx.client, args=("ec2",))
    ec2.start()
    ctx.client("elbv2")
    elbv2_made.set()
    ec2.join(15)
    assert {service for service, _ in ctx._clients} == {"sts", "elbv2", "ec2"}
    assert ctx.client("ec2") is ctx.client("ec2")  # made once


def test_a_process_builds_only_the_command_it_runs(tmp_path: Path) -> None:
    code = (
        "import sys, typer.main\n"
        "built = []\n"
        "make = typer.main.get_command_from_info\n"
        "def counted(command_info, **kwargs):\n"
        "    built.append(command_info.callback.__name__)\n"
        "    return make(command_info, **kwargs)\n"
        "typer.main.get_command_from_info = counted\n"
        "import atexit\n"
        "atexit.register(lambda: sys.stderr.write('BUILT ' + ' '.join(built) + '\\n'))\n"
        "sys.argv = ['ecsup', *sys.argv[1:]]\n"
        "from ecsup.cli import run\n"
        "run()\n"
    )

    def ecsup(*argv: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        proc = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        built = next(line for line in proc.stderr.splitlines() if line.startswith("BUILT")).split()[1:]
        return proc, built

    plan, built = ecsup("plan", "-c", "none.toml")
    assert plan.returncode == 2 and "none.toml is missing" in plan.stderr and built == ["plan"]
    listing, built = ecsup("secrets", "list", "--help")
    assert listing.returncode == 0 and "secrets list" in listing.stdout
    assert set(built) == {"secrets_set", "secrets_list", "secrets_unset"}  # the group only
    everything, built = ecsup("--help")
    assert everything.returncode == 0 and len(built) > 10
    assert all(name in everything.stdout for name in ("plan", "create", "status", "destroy", "secrets"))
    unknown, built = ecsup("no-such")
    assert unknown.returncode == 2 and "No such command 'no-such'" in unknown.stderr


def test_the_collector_seldom_runs_in_a_command(tmp_path: Path) -> None:
    """A command's process makes millions of objects: Python's default young-generation threshold
    (700) had the cyclic collector run hundreds of times (~0.15 s of CPU of a no-op plan)."""
    code = (
        "import gc, sys\n"
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: runs.append(info['generation']) if phase == 'start' else None)\n"
        "import atexit\n"
        "atexit.register(lambda: sys.stderr.write(f'COLLECTIONS {len(runs)}\\n'))\n"
        "sys.argv = ['ecsup', 'plan', '-c', 'none.toml']\n"
        "from ecsup.cli import run\n"
        "runs.clear()\n"
        "run()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    line = next(line for line in proc.stderr.splitlines() if line.startswith("COLLECTIONS"))
    assert proc.returncode == 2 and int(line.split()[1]) <= 2, proc.stderr  # the engine and rich were imported
