"""The whole `ecsup` process as a user starts it: what it imports, how it ends, how many
sequential rounds of AWS calls its read-only commands need. Deterministic guards of what
scripts/bench measures in seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
