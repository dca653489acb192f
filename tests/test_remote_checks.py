"""The pure parts of using a Neo4j kgrec did not start: which ``NEO4J_URI`` schemes are taken, the lines the
connect-time checks print, the one line of a refused write, and the compose example of ``deploy/``. The
checks against real servers are in tests/test_remote_neo4j.py."""

from __future__ import annotations

import re
from pathlib import Path

import neo4j
import pytest
import yaml
from typer.testing import CliRunner

from core.settings import URI_SCHEMES, Neo4jSettings, Settings
from kg.checks import ServerCheck, write_refusal
from kgrec.cli import app
from kgrec.service import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("scheme", URI_SCHEMES)
def test_every_scheme_of_the_driver_is_taken(scheme: str) -> None:
    uri = f"{scheme}://db.example.com:7687"
    assert Neo4jSettings(uri=uri).uri == uri
    driver = neo4j.GraphDatabase.driver(uri, auth=("neo4j", "secret"))  # nothing is reached before a query
    driver.close()
    assert set(URI_SCHEMES) == {f"{base}{tls}" for base in ("bolt", "neo4j") for tls in ("", "+s", "+ssc")}


@pytest.mark.parametrize(
    "uri", ["http://db.example.com:7474", "db.example.com:7687", "bolt://", "neo4j+tls://h"]
)
def test_another_uri_is_one_line(uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KGREC_HOME", str(tmp_path))
    monkeypatch.setenv("NEO4J_URI", uri)
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: uri: NEO4J_URI {uri!r} must start with one of bolt://, bolt+s://, bolt+ssc://, neo4j://, "
        "neo4j+s://, neo4j+ssc:// and name a host"
    ]


def test_an_empty_uri_means_kgrec_runs_its_own_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "")
    assert Settings().neo4j.uri is None


def _check(**changes: object) -> ServerCheck:
    values: dict[str, object] = {
        "address": "db:7687",
        "version": "5.26.30",
        "database": "neo4j",
        "apoc": True,
        "read_only": False,
        "vector_index": True,
        "user_writes": True,
    }
    return ServerCheck(**(values | changes))  # type: ignore[arg-type]  # the fields, varied per test


def test_a_server_without_the_vector_index_is_one_line_naming_what_stops() -> None:
    (line,) = _check(version="5.12.0", vector_index=False).notes()
    assert line.startswith("Neo4j 5.12.0 at db:7687 has no vector index (Neo4j 5.15 or later)")
    assert "train cannot store item embeddings" in line and "kgrec similar" in line


def test_a_newer_server_is_one_line_and_everything_missing_is_one_line_each() -> None:
    assert _check(version="2025.01.0").notes() == [
        "Neo4j 2025.01.0 at db:7687 is newer than Neo4j 5.26, which kgrec is tested with"
    ]
    lines = _check(apoc=False, read_only=True, vector_index=False, user_writes=False).notes()
    assert [re.sub(r":.*", "", line) for line in lines] == [
        "Neo4j database 'neo4j' at db",
        "this Neo4j user may not write to database 'neo4j' at db",
        "Neo4j 5.26.30 at db",
        "Neo4j at db",
    ]


def test_a_user_with_a_read_only_role_is_one_line_at_connect_time() -> None:
    (line,) = _check(database="shop", user_writes=False).notes()
    assert line.startswith("this Neo4j user may not write to database 'shop' at db:7687: recommend, explain")
    assert "load, reset, train (it stores embeddings) and shopper events will be refused" in line


def test_a_user_who_may_not_write_is_one_line() -> None:
    line = write_refusal("Neo.ClientError.Security.Forbidden", "shop")
    assert line is not None and "may not write to database 'shop'" in line and "\n" not in line
    assert write_refusal(None, "shop") is None


def test_the_compose_example_gives_kgrec_only_settings_it_reads() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.remote-neo4j.yml").read_text())
    neo4j_service, kgrec = compose["services"]["neo4j"], compose["services"]["kgrec"]
    assert (
        neo4j_service["image"].startswith("neo4j:5.26")
        and "apoc" in neo4j_service["environment"]["NEO4J_PLUGINS"]
    )
    env = kgrec["environment"]
    known = {f"NEO4J_{name.upper()}" for name in Neo4jSettings.model_fields} | {
        f"KGREC_{name.upper()}" for name in Settings.model_fields | ServiceSettings.model_fields
    }
    assert set(env) <= known, set(env) - known
    assert Neo4jSettings(uri=env["NEO4J_URI"]).uri == "bolt://neo4j:7687"
    assert kgrec["command"][0] == "serve" and kgrec["depends_on"]["neo4j"]["condition"] == "service_healthy"


def test_the_image_copies_every_package_that_pip_installs() -> None:
    dockerfile = (ROOT / "deploy" / "kgrec.Dockerfile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    included = re.search(r"include = \[(.*?)\]", pyproject)
    assert included is not None
    packages = {p.strip('" *') for p in included[1].split(",")}
    assert packages == set(re.findall(r"^COPY (\w+) \1$", dockerfile, flags=re.M))
