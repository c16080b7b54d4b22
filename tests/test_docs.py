"""The documentation's examples are checked against the code.

- Every ```toml block in docs/ is a valid configuration, parsed on top of a minimal file (so a
  fragment, or two files that leave the image out, can be checked too); a two-column block (two files side
  by side) is split into its columns first.
- Every ```json block parses.
- Every `ecsup ...` command line in a code block names a command that exists and only options
  that command (or the global options) accepts, so a renamed option cannot stay in the docs.
- The README stays one screen, and links only to pages that exist.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from ecsup import config
from ecsup.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
BASE = (
    'app = "web"\nenv = "dev"\n[dns]\nzone = "example.com"\nhostname = "www.example.com"\n[service]\nimage = "nginx"\n'
)


def _blocks(lang: str) -> list[tuple[str, int, str]]:
    found = []
    for page in DOCS:
        lines = page.read_text(encoding="utf-8").split("\n")
        start = None
        for i, line in enumerate(lines):
            if start is None and line.strip() == f"```{lang}":
                start = i
            elif start is not None and line.strip() == "```":
                found.append((page.name, start + 1, "\n".join(lines[start + 1 : i])))
                start = None
    return found


def _columns(text: str) -> list[str]:
    """A block of two files side by side (`# a/ecsup.toml   # b/ecsup.toml`): its two columns."""
    first = text.split("\n", 1)[0]
    m = re.match(r"#\s*\S+\s+(#\s*\S+)\s*$", first)
    if not m:
        return [text]
    cut = first.index(m.group(1))
    return ["\n".join(line[:cut] for line in text.split("\n")), "\n".join(line[cut:] for line in text.split("\n"))]


def _merge(fragment: str) -> str:
    """A fragment on top of the minimal file: its top-level keys and tables replace the base's."""
    data = config.tomllib.loads(fragment)
    base = config.tomllib.loads(BASE)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "dns":  # [dns] given whole
            if key == "service" and "build" in value:  # build instead of the base's image
                base[key].pop("image", None)
            base[key].update(value)
        else:
            base[key] = value
    return _dump(base)


def _dump(data: dict, prefix: str = "") -> str:
    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            scalars.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(scalars) + "\n"
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        out += f"[{name}]\n" + _dump(value, name)
    return out


TOML = [(page, line, col) for page, line, text in _blocks("toml") for col in _columns(text)]


@pytest.mark.parametrize(("page", "line", "text"), TOML, ids=[f"{p}:{n}" for p, n, _ in TOML])
def test_every_toml_example_in_the_docs_is_a_valid_configuration(page: str, line: int, text: str) -> None:
    data = config.tomllib.loads(text)
    whole = _merge(text) if data else BASE
    try:
        config.parse(whole, f"{page}:{line}")
    except config.ConfigError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"docs/{page} line {line}: {exc.message}")


JSON = _blocks("json")


@pytest.mark.parametrize(("page", "line", "text"), JSON, ids=[f"{p}:{n}" for p, n, _ in JSON])
def test_every_json_example_in_the_docs_parses(page: str, line: int, text: str) -> None:
    json.loads(text)


def _command_lines() -> list[tuple[str, int, list[str]]]:
    found = []
    for page in [*DOCS, ROOT / "README.md"]:
        lines = page.read_text(encoding="utf-8").split("\n")
        in_block = in_code = prompted = False
        for i, line in enumerate(lines, 1):
            if line.strip().startswith("```"):
                in_block, in_code = not in_block, not in_block and line.strip() in ("```", "```sh", "```bash")
                if in_code:  # a block with `$ ` prompts shows output too: only its prompted lines are commands
                    block = lines[i : next((j for j in range(i, len(lines)) if lines[j].startswith("```")), len(lines))]
                    prompted = any(b.startswith("$ ") for b in block)
                continue
            if not in_code or (prompted and not line.startswith("$ ")):
                continue
            text = line.strip().removeprefix("$ ")
            for part in re.split(r"&&|;|\s&\s|\|", text):
                part = part.split("  #", 1)[0].split(" # ", 1)[0].strip()
                if part.startswith("ecsup ") and "..." not in part.split()[1:2]:
                    try:
                        words = shlex.split(part)
                    except ValueError:
                        words = part.split()
                    found.append((page.name, i, words[1:]))
    return found


COMMANDS = _command_lines()
ROOT_COMMAND = typer.main.get_command(app)


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize(("page", "line", "words"), COMMANDS, ids=[f"{p}:{n}" for p, n, _ in COMMANDS])
def test_every_command_line_in_the_docs_names_real_options(page: str, line: int, words: list[str]) -> None:
    allowed = _options(ROOT_COMMAND)
    command: Any = ROOT_COMMAND
    rest = list(words)
    # Global options may come before the command name.
    while rest and rest[0].startswith("-"):
        opt = rest.pop(0).split("=", 1)[0]
        assert opt in allowed, f"docs/{page}:{line}: `ecsup {' '.join(words)}`: no global option {opt}"
        if rest and not rest[0].startswith("-") and opt not in ("--version", "--help"):
            rest.pop(0)  # its value
    while rest and hasattr(command, "commands") and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"docs/{page}:{line}: `ecsup {' '.join(words)}`: no command {name!r}"
        command = sub
    allowed |= _options(command)
    for word in rest:
        if word == "--":
            break
        if word.startswith("-") and len(word) > 1 and not re.match(r"^-\d", word):
            opt = word.split("=", 1)[0]
            assert opt in allowed, f"docs/{page}:{line}: `ecsup {' '.join(words)}`: {command.name} has no option {opt}"


def test_the_readme_is_one_screen_and_links_to_pages_that_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.split("\n")) <= 60
    assert not re.search(r"\bissue \d|#\d{2}\b", text)
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        assert (ROOT / target).exists(), target
    for page in DOCS:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"docs/{page.name} links to {target}"


def test_the_sandbox_exports_in_the_docs_are_the_ones_it_prints() -> None:
    from ecsup.sandbox import Sandbox, iam_settle

    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    block = text.split("It prints the exports", 1)[1].split("```", 2)[1]
    documented = dict(re.findall(r"^export (\w+)=(\S+)", block, re.M))
    printed = Sandbox(endpoint_url="http://127.0.0.1:41235").environment()
    assert set(documented) == set(printed)
    from ecsup import emulation

    assert documented["ECSUP_IAM_SETTLE"] == f"{iam_settle(emulation.SANDBOX):g}"


def test_the_demo_transcript_s_plan_is_what_plan_prints_for_the_demo_config(aws: Any, tmp_path: Path) -> None:
    """docs/getting-started.md shows `scripts/demo`'s first create: its plan (every planned line,
    the cost lines) is what `ecsup plan` prints today for the demo's ecsup.toml on the strict layer."""
    from conftest import SECRET_GIVEN, client
    from typer.testing import CliRunner

    from ecsup.sandbox import demo_config

    client("route53").create_hosted_zone(Name="example.test", CallerReference="docs")
    path = tmp_path / "ecsup.toml"
    path.write_text(demo_config("example.test", "eu-west-1"))
    result = CliRunner().invoke(app, ["plan", "-c", str(path)], env=SECRET_GIVEN)
    assert result.exit_code == 0, result.output

    def planned(lines: list[str]) -> list[str]:  # the plan's lines, and its cost (create prints both first)
        keep = ("  + ", "  ~ ", "  - ", "  = ", "monthly cost", "  not counted")
        return [line for line in lines if line.startswith(keep)]

    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    block = text.split("```\n$ ecsup create\n", 1)[1].split("```", 1)[0].splitlines()
    shown = planned(block[: block.index("Applying:")])
    # the demo hands its secret's value over itself; here it comes from the environment
    printed = [
        line.replace("SecureString from ECSUP_SECRET_DB_PASSWORD", "SecureString")
        for line in result.stdout.splitlines()
    ]
    assert len(shown) > 20 and shown == planned(printed)
