"""Installs are reproducible: ``constraints.txt`` pins every package kgrec and its test tools need, the
virtualenv holds those versions, and ``make setup`` installs through it."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


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
