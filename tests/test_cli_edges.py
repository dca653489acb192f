"""Rough edges a newcomer meets before any graph exists: the version, and a port already taken."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from typer.testing import CliRunner

from kgrec.cli import app

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
