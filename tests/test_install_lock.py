"""Installs are reproducible: ``constraints.txt`` pins every package kgrec and its test tools need, the
virtualenv holds those versions, and ``make setup`` installs through it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "loaders", "kg", "gnn", "rank", "explain", "kgrec")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_every_declared_dependency_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("dev", "text"):  # what `make setup` installs
        declared += project["optional-dependencies"][extra]
    pins = _pins()
    missing = [r for r in declared if canonicalize_name(Requirement(r).name) not in pins]
    assert not missing, f"not in constraints.txt: {missing}"
    for text in declared:
        requirement = Requirement(text)
        assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)]), text


def test_the_virtualenv_holds_the_pinned_versions() -> None:
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    pins = _pins()
    differ = {n: (v, installed[n]) for n, v in pins.items() if n in installed and installed[n] != v}
    assert not differ, f"installed versions differ from constraints.txt (pinned, installed): {differ}"
    for name in ("torch", "lightgbm", "neo4j", "fastapi"):
        assert name in pins and name in installed


def test_make_setup_installs_through_the_constraints_and_an_optional_torch_index() -> None:
    def dry_run(*args: str) -> str:
        # -B: print the set-up's commands even where its stamp is fresh; -n: print, run nothing.
        done = subprocess.run(
            ["make", "-Bn", "-C", str(ROOT), *args, ".venv/.kgrec-stamp-probe"],
            capture_output=True,
            text=True,
        )
        return done.stdout + done.stderr

    plain = [line for line in dry_run("STAMP=.venv/.kgrec-stamp-probe").splitlines() if "pip install" in line]
    assert any("-c constraints.txt" in line and "--extra-index-url" not in line for line in plain), plain
    index = "https://download.pytorch.org/whl/cpu"
    cpu = dry_run("STAMP=.venv/.kgrec-stamp-probe", f"TORCH_INDEX={index}")
    assert re.search(rf"pip install .*-c constraints.txt --extra-index-url {re.escape(index)} ", cpu), cpu


# The editable wheel `pip install -e` builds, through the same setuptools hook pip calls, with every Python
# warning the build raises recorded (pip shows each one as a BuildBackendWarning).
_EDITABLE = """
import json, sys, warnings, zipfile
from setuptools import build_meta
out = sys.argv[1]  # read first: the build rewrites sys.argv
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    name = build_meta.build_editable(out)
with zipfile.ZipFile(f"{out}/{name}") as wheel:
    pth = {n: wheel.read(n).decode() for n in wheel.namelist() if n.endswith(".pth")}
print(json.dumps({"warnings": [str(w.message) for w in caught], "pth": pth}))
"""


def test_the_editable_install_is_a_plain_path_entry_and_warns_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, project / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    (tmp_path / "wheel").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _EDITABLE, str(tmp_path / "wheel")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    built = json.loads(done.stdout.splitlines()[-1])
    # A flat layout without package-dir gets setuptools' import finder, which warns "Editable installation"
    # on every `make setup`; the root as the one source folder gets a .pth line, and no warning.
    assert built["warnings"] == []
    assert list(built["pth"].values()) == [f"{project}\n"], built["pth"]
