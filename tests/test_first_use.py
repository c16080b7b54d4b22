"""Issue 20: what a first-time user trips over -- each stumble with its outcome: the output,
the exit code, no traceback."""

from __future__ import annotations

import sys

import pytest
from conftest import explain, invoke


@pytest.mark.parametrize("command", [["sandbox"], ["sandbox", "--service-delay", "1"], ["demo"]])
def test_without_the_sandbox_extra_every_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    for module in ("moto", "moto.server"):  # a plain `pip install .`: no moto
        monkeypatch.setitem(sys.modules, module, None)
    result = invoke(*command)
    assert result.exit_code == 1, explain(result)
    assert isinstance(result.exception, SystemExit), explain(result)
    assert "Traceback" not in result.output and "ModuleNotFoundError" not in result.output, explain(result)
    assert "the sandbox needs moto's server, which is not installed" in result.stderr, explain(result)
    assert "pip install 'ecsup[sandbox]'" in result.stderr, explain(result)
