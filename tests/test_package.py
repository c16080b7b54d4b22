"""The built distribution, installed as `pipx install ecsup`, `uv tool install ecsup` and `uvx ecsup`
install it: the wheel, built by the project's build backend from a copy of the whole repository,
in a fresh venv of its own, its `ecsup` command run from that venv's bin/.

Offline: the wheel is built without build isolation (the dev extra carries the backend), and the
fresh venv gets the dependencies by a path to the running interpreter's site-packages (a .pth file)
instead of from an index; the wheel itself is installed with --no-deps."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import ecsup

ROOT = Path(__file__).resolve().parents[1]
NOT_THE_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "build", "dist", "*.egg-info", ".mypy_cache", ".ruff_cache", ".pytest_cache"
)


def _run(argv: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built as pip, pipx and uv build it (PEP 517, the project's backend) from the
    repository as it is -- tests/ and scripts/ included, for the wheel to leave them out."""
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    assert major >= 77, f"setuptools {setuptools.__version__}: the dev extra installs setuptools>=77 (scripts/_venv.sh)"
    source = tmp_path_factory.mktemp("source") / "ecsup"
    shutil.copytree(ROOT, source, ignore=NOT_THE_SOURCE)
    assert (source / "tests" / "test_package.py").exists() and (source / "scripts" / "_venv.sh").exists()
    dist = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", dist, source])
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = dist.glob("ecsup-*.whl")
    return found


def test_the_wheel_holds_the_package_and_its_metadata_only(wheel: Path) -> None:
    version = ecsup.__version__
    assert wheel.name == f"ecsup-{version}-py3-none-any.whl"
    info = f"ecsup-{version}.dist-info/"
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        metadata = email.message_from_bytes(whl.read(info + "METADATA"))
        entry_points = whl.read(info + "entry_points.txt").decode()
    assert [n for n in names if not n.startswith(("ecsup/", info))] == []  # no tests/, scripts/, docs/
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "ecsup").rglob("*.py"))
    assert sorted(n for n in names if n.endswith(".py")) == modules  # every module, subpackages too

    assert metadata["Name"] == "ecsup" and metadata["Version"] == version
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Summary"] and metadata["Description-Content-Type"] == "text/markdown"
    assert "# ecsup" in (metadata.get_payload() or "")  # the README, as PyPI shows it
    assert "sandbox" in metadata.get_all("Provides-Extra", [])
    requires = metadata.get_all("Requires-Dist", [])
    assert any(r.startswith("moto[server]") and 'extra == "sandbox"' in r for r in requires), requires
    assert not any(r.startswith("moto") and "extra" not in r for r in requires), requires  # moto only with it
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in metadata.get_all("Classifier", []))
    assert "ecsup = ecsup.cli:run" in entry_points


def test_the_wheel_installed_in_a_fresh_venv_runs_as_a_command(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    where = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    site = Path(where.stdout.strip())
    # the dependencies (boto3, typer, rich, tenacity; moto for `demo --help`'s module) from the running
    # interpreter's site-packages, as a plain path: its own .pth files (an editable ecsup) stay unread
    here = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(here)))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python]
    installed = _run([*pip, "install", "--no-deps", "--no-index", "-q", wheel])
    assert installed.returncode == 0, installed.stdout + installed.stderr

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    command = venv / "bin" / "ecsup"

    def ecsup_(*argv: str) -> subprocess.CompletedProcess[str]:
        return _run([command, *argv], env=env, cwd=tmp_path)  # not the repository: its ecsup/ is not on the path

    imported = _run([python, "-c", "import ecsup; print(ecsup.__file__)"], env=env, cwd=tmp_path)
    assert imported.stdout.strip() == str(site / "ecsup" / "__init__.py"), imported.stdout + imported.stderr

    version = ecsup_("--version")
    assert (version.returncode, version.stdout) == (0, f"ecsup {ecsup.__version__}\n"), version.stderr
    usage = ecsup_("--help")
    assert usage.returncode == 0, usage.stderr
    assert all(f" {c} " in usage.stdout for c in ("create", "deploy", "destroy", "demo", "sandbox")), usage.stdout
    demo = ecsup_("demo", "--help")
    assert demo.returncode == 0, demo.stderr
    assert "--keep" in demo.stdout and "Traceback" not in demo.stdout + demo.stderr


def test_the_release_workflow_publishes_a_version_tag_with_trusted_publishing() -> None:
    """PyPI's trusted publishing: a tag push builds, checks the tag against the one version and
    uploads with the job's OIDC token -- no stored PyPI token, and only the publishing job may ask
    for an OIDC token."""
    import yaml

    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    assert flow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    assert flow["permissions"] == {}
    build, publish = flow["jobs"]["build"], flow["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"}
    runs = "\n".join(step.get("run", "") for step in build["steps"])
    assert "ecsup.__version__" in runs and "GITHUB_REF_NAME" in runs  # the tag is the version
    assert "python -m build" in runs and "ecsup --version" in runs and "ecsup demo --help" in runs
    assert publish["needs"] == "build" and publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    (upload,) = [s for s in publish["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]
    assert "with" not in upload  # no password, no token: the OIDC exchange
