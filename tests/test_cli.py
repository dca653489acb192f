"""The CLI as a user drives it, against the session's real Neo4j."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from core.settings import Settings
from kg import GraphStore
from kgrec.cli import app
from loaders.demo import write_demo_files

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_load_table_stats_and_reload(store: GraphStore, cli_env: Settings, tmp_path: Path) -> None:
    files = write_demo_files(tmp_path, n_users=20, n_items=24, ratings_per_user=6)
    args = [
        "load",
        "table",
        "--ratings",
        str(files["ratings"]),
        "--item-attr",
        f"Brand={files['brand']}",
        "--item-attr",
        f"Category={files['category']}",
        "--json",
    ]
    report = json.loads(_ok(*args))
    assert report["rows_accepted"] > 0 and report["rejected"] == []
    stats = json.loads(_ok("stats", "--json"))
    assert stats["nodes"]["User"] == 20 and stats["nodes"]["Item"] == 24
    _ok(*args)
    assert json.loads(_ok("stats", "--json")) == stats


def test_broken_file_fails_with_line_and_changes_nothing(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("u1\ti1\t5\t1\nu2\ti2\t4\n")
    before = _ok("stats", "--json")
    result = runner.invoke(app, ["load", "table", "--ratings", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2" in result.output and "Traceback" not in result.output
    assert _ok("stats", "--json") == before


def test_cypher_params_json_and_write_refusal(store: GraphStore, cli_env: Settings) -> None:
    _ok("cypher", "CREATE (:Brand {name: $name})", "--param", "name=Acme", "--write")
    rows = json.loads(
        _ok("cypher", "MATCH (b:Brand {name: $name}) RETURN b.name AS name", "-p", "name=Acme", "--json")
    )
    assert rows == [{"name": "Acme"}]
    refused = runner.invoke(app, ["cypher", "MATCH (b:Brand) DETACH DELETE b"])
    assert refused.exit_code == 1 and "--write" in refused.output
    assert store.stats().nodes["Brand"] == 1


def test_reset_needs_yes(store: GraphStore, cli_env: Settings) -> None:
    store.write_query("CREATE (:User {id: 'x'})")
    assert runner.invoke(app, ["reset"]).exit_code == 1
    assert store.stats().nodes["User"] == 1
    _ok("reset", "--yes")
    assert store.stats().nodes["User"] == 0


def test_neo4j_status_reports_the_running_server(cli_env: Settings) -> None:
    status = json.loads(_ok("neo4j", "status", "--json"))
    assert status["running"] and status["answers"] and status["uri"].startswith("bolt://127.0.0.1:")
    assert "password" not in json.dumps(status).lower()


def test_external_uri_is_used_and_start_says_so(cli_env: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    monkeypatch.setenv("NEO4J_PASSWORD", "irrelevant")
    assert "NEO4J_URI is set" in _ok("neo4j", "start")
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 1 and "bolt://127.0.0.1:1" in result.output


def test_demo_recommends_explains_and_writes_the_report(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    report = tmp_path / "demo.html"
    out = _ok("demo", "--user", "U00003", "--report", str(report))
    assert "recommendations for U00003" in out and out.count("why ") == 3
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert store.stats().nodes["User"] == 300
