"""Rough edges a newcomer meets before any graph exists: the version, a port already taken, and output\nthat goes to a log or a pipe rather than a terminal."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

from kgrec.cli import app
from kgrec.cli.output import out, progress_bar

KGREC = Path(sys.executable).with_name("kgrec")


def test_version_prints_the_installed_version_and_exits_zero() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"kgrec {version('kgrec')}"


def test_serve_on_a_taken_port_fails_before_announcing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"PATH": "/usr/bin:/bin", "KGREC_HOME": str(tmp_path)}
        done = subprocess.run(
            [str(KGREC), "serve", "--port", str(port)], capture_output=True, text=True, env=env, timeout=120
        )
    assert done.returncode == 1
    assert f"error: cannot serve on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "serving" not in done.stderr


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(quiet=False) as progress:
        assert progress is not None
        progress("starting Neo4j", 0, 0)
        progress("starting Neo4j", 0, 0)  # a stage of unknown size is named once
        for done in range(0, 1001, 100):
            progress("ratings", done, 1000)  # within ten seconds: the start and the end only
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["starting Neo4j", "ratings 0/1,000", "ratings 1,000/1,000 done"]


def test_a_piped_table_keeps_its_cells_whole(capsys: pytest.CaptureFixture[str]) -> None:
    table = Table(*(f"column {i}" for i in range(12)))
    table.add_row(*(f"popularity {i}" for i in range(12)))
    out.print(table)
    printed = capsys.readouterr().out
    assert "…" not in printed and all(f"popularity {i}" in printed for i in range(12))
    assert max(len(line) for line in printed.splitlines()) > 80
