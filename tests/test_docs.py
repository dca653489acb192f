"""The README and docs/ say only what exists: every ``kgrec`` command and option they show is one the CLI
has, every link between them lands on a file (and a heading), the README stays a few screens long, and
every benchmark figure sits in a results file that a bench script writes. No Neo4j needed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from kgrec.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BENCH = sorted(  # the scripts; modules they share (common.py, ...) run nothing of their own
    p for p in (ROOT / "bench").glob("*.py") if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8")
)
CLI = typer.main.get_command(app)


def _shell_lines(page: Path) -> list[str]:
    """The lines of ``bash`` blocks that run ``kgrec``, continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    lines = []
    for block in blocks:
        joined = re.sub(r"\\\n", " ", block)
        for line in joined.splitlines():
            command = line.split("#", 1)[0].strip()
            if re.match(r"^(\.venv/bin/)?kgrec\b", command):
                lines.append(command)
    return lines


COMMANDS = [(page.name, line) for page in PAGES for line in _shell_lines(page)]


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")  # typer's own click: duck-typed, not isinstance


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The (sub)command the words name, and the words after it; the global ``-w NAME`` is skipped."""
    command: Any = CLI
    rest = words[1:]
    while rest:
        word = rest[0]
        if word in ("-w", "--workspace"):
            rest = rest[2:]
        elif _is_group(command) and word in command.commands:
            command, rest = command.commands[word], rest[1:]
        else:
            break
    return command, rest


def _options(command: Any) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}


def test_the_docs_show_kgrec_commands() -> None:
    assert len(COMMANDS) > 30


@pytest.mark.parametrize(("page", "line"), COMMANDS, ids=[f"{p}:{line[:60]}" for p, line in COMMANDS])
def test_every_command_and_option_shown_exists(page: str, line: str) -> None:
    words = shlex.split(re.sub(r"[\[\]|()]", " ", line).replace("'", " ").replace('"', " "))
    command, rest = _resolve(words)
    assert command is not CLI, f"{page}: {line!r} names no kgrec command"
    if _is_group(command):  # e.g. `kgrec neo4j start | stop | status`: each word a command
        assert all(w in command.commands for w in rest if not w.startswith("-")), line
        return
    shown = {w.split("=", 1)[0] for w in rest if w.startswith("--")}
    unknown = shown - _options(command)
    assert not unknown, f"{page}: {line!r}: {command.name} has no {sorted(unknown)}"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings (outside fenced blocks)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    heads = re.findall(r"^#+ (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


LINKS = [
    (page, target)
    for page in PAGES
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))
    if not re.match(r"^[a-z]+://", target)
]


@pytest.mark.parametrize(("page", "target"), LINKS, ids=[f"{p.name}->{t}" for p, t in LINKS])
def test_every_link_lands(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    landing = (page.parent / path).resolve() if path else page
    assert landing.exists(), f"{page.name} links to {target}, which is not there"
    if anchor:
        assert anchor in _anchors(landing), f"{page.name} links to {target}: no such heading"


def test_the_readme_is_a_few_screens() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


@pytest.mark.parametrize("script", BENCH, ids=[p.name for p in BENCH])
def test_every_bench_script_writes_its_results_file_and_is_listed(script: Path) -> None:
    assert "write_results(" in script.read_text(encoding="utf-8")
    assert f"`bench/{script.name}`" in (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")


RESULTS = sorted((ROOT / "docs" / "benchmarks").glob("*.md"))


@pytest.mark.parametrize("result", RESULTS, ids=[p.name for p in RESULTS])
def test_every_results_file_says_what_wrote_it_when_and_where(result: Path) -> None:
    head = result.read_text(encoding="utf-8").splitlines()[:10]
    script = re.search(r"Written by `bench/(\w+)\.py`", "\n".join(head))
    assert script and (ROOT / "bench" / f"{script.group(1)}.py").exists()
    for field in ("- command: `", "- date: ", "- machine: "):
        assert any(line.startswith(field) for line in head), f"{result.name} lacks {field!r}"
