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
from packaging.specifiers import SpecifierSet
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
    # torch may be X+cpu (the CPU build, make setup without a GPU): the pin X accepts it, as pip does
    differ = {
        n: (v, installed[n])
        for n, v in pins.items()
        if n in installed and not SpecifierSet(f"=={v}").contains(installed[n])
    }
    assert not differ, f"installed versions differ from constraints.txt (pinned, installed): {differ}"
    for name in ("torch", "lightgbm", "neo4j", "fastapi"):
        assert name in pins and name in installed


CPU_INDEX = "https://download.pytorch.org/whl/cpu"
UNREACHABLE = f"no GPU here, but {CPU_INDEX} did not answer within 5 s"


def _dry_run(
    tmp_path: Path, *args: str, gpu: bool = False, cpu_index_up: bool = True
) -> tuple[str, list[str]]:
    """`make setup`'s commands as printed by a dry run on a simulated machine (PATH holds only what the
    Makefile runs: a fake nvidia-smi when ``gpu``, a fake curl that answers or fails as ``cpu_index_up``
    says), and the argument lists curl was called with."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "curl-calls"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("cat", "md5sum", "cut"):  # the stamp's name is computed when the Makefile is read
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    curl = bin_dir / "curl"
    curl.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit {0 if cpu_index_up else 6}\n')
    curl.chmod(0o755)
    if gpu:
        (bin_dir / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / "nvidia-smi").chmod(0o755)
    make = shutil.which("make")
    assert make is not None
    # -B: print the set-up's commands even where its stamp is fresh; -n: print, run nothing.
    stamp = ".venv/.kgrec-stamp-probe"
    done = subprocess.run(
        [make, "-Bn", "-C", str(ROOT), f"STAMP={stamp}", *args, stamp],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, calls.read_text().splitlines() if calls.exists() else []


def _install_line(printed: str) -> str:
    (line,) = [line for line in printed.splitlines() if "pip install -q -c constraints.txt" in line]
    return line


def test_without_a_gpu_torch_comes_from_the_cpu_index_when_it_answers(tmp_path: Path) -> None:
    printed, curl = _dry_run(tmp_path)
    assert f"--extra-index-url {CPU_INDEX} -e" in _install_line(printed), printed
    assert UNREACHABLE not in printed
    assert len(curl) == 1 and "--max-time 5" in curl[0] and CPU_INDEX in curl[0]  # one probe, bounded


def test_without_a_gpu_and_no_cpu_index_torch_comes_from_pypi_with_one_line_saying_so(tmp_path: Path) -> None:
    printed, curl = _dry_run(tmp_path, cpu_index_up=False)
    assert "--extra-index-url" not in _install_line(printed), printed
    assert [line for line in printed.splitlines() if UNREACHABLE in line] == [
        f'echo "{UNREACHABLE}: installing torch from PyPI, the CUDA build"'
    ]
    assert len(curl) == 1


def test_with_a_gpu_or_torch_cuda_the_cuda_build_comes_from_pypi_unprobed(tmp_path: Path) -> None:
    for args, gpu in (((), True), (("TORCH=cuda",), False)):
        printed, curl = _dry_run(tmp_path / str(gpu), *args, gpu=gpu)
        line = _install_line(printed)
        assert re.search(r"pip install -q -c constraints.txt +-e ", line) and "--extra-index-url" not in line
        assert curl == [] and UNREACHABLE not in printed


def test_a_given_torch_index_wins_unprobed(tmp_path: Path) -> None:
    index = "https://mirror.example/torch"
    printed, curl = _dry_run(tmp_path, f"TORCH_INDEX={index}", "TORCH=cuda")
    assert f"-c constraints.txt --extra-index-url {index} -e" in _install_line(printed)
    assert curl == []


def test_reading_the_makefile_probes_nothing(tmp_path: Path) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "curl-calls"
    _dry_run(tmp_path)  # sets up the fake tools
    calls.unlink(missing_ok=True)
    done = subprocess.run(
        [str(shutil.which("make")), "-n", "-C", str(ROOT), "clean"],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not calls.exists()  # only the set-up's recipe asks where torch comes from


def test_the_cpu_build_satisfies_the_pin() -> None:
    # PEP 440: a pin without a local label ignores the candidate's, so torch==X accepts X+cpu.
    pin = _pins()["torch"]
    assert SpecifierSet(f"=={pin}").contains(f"{pin}+cpu")


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
