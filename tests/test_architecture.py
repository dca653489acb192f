"""The layer contract of pyproject.toml holds, and it is not a contract that cannot fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "loaders", "kg", "gnn", "rank", "explain", "kgrec")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH puts the scratch tree ahead of the editable install of the real one.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A copy of the packages and the contract, to break on purpose."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_every_contract(scratch: Path) -> None:
    result = _lint_imports(scratch)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("core/errors.py", "import kgrec.results", "Layers point down"),
        ("loaders/records.py", "import kg.store", "Layers point down"),
        ("explain/sentences.py", "import neo4j", "Only kg talks to Neo4j"),
        ("kg/export.py", "import torch", "Only gnn imports torch and PyG"),
    ],
)
def test_an_import_that_points_up_breaks_the_lint(
    scratch: Path, module: str, bad_import: str, contract: str
) -> None:
    path = scratch / module
    path.write_text(path.read_text() + f"\n{bad_import}  # noqa\n")
    result = _lint_imports(scratch)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), result.stdout


def test_no_module_outgrows_one_job() -> None:
    """A module past ~400 lines has usually taken a second job; split it by job instead of growing it."""
    long = {
        str(path.relative_to(ROOT)): n
        for package in (*PACKAGES, "bench")
        for path in (ROOT / package).rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
