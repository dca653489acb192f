"""Shared fixtures: one real Neo4j per test session (kgrec's own managed server), a clean graph per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Neo4jSettings, Settings
from kg import GraphStore, ManagedNeo4j

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the session's Neo4j (through any fixture) as ``neo4j``.

    The mark follows the fixture closure, so a new graph test is marked without anyone remembering to, and
    ``pytest -m "not neo4j"`` runs the unit tests without starting a server.
    """
    for item in items:
        if "neo4j_settings" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.neo4j)


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a throw-away workspace whose managed server runs for the whole session.

    ``NEO4J_URI`` is ignored on purpose: the suite wipes the graph and must never touch a real one.
    """
    settings = Settings(
        workspace="pytest", home=tmp_path_factory.mktemp("kgrec-home"), neo4j=Neo4jSettings(uri=None)
    )
    server = ManagedNeo4j(settings)
    server.start()
    yield settings
    server.stop()


@pytest.fixture(scope="session")
def session_store(neo4j_settings: Settings) -> Iterator[GraphStore]:
    store = GraphStore.connect(neo4j_settings)
    yield store
    store.close()


@pytest.fixture
def store(session_store: GraphStore) -> GraphStore:
    """The session's store on an empty graph."""
    session_store.reset()
    return session_store


@pytest.fixture
def cli_env(neo4j_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI at the session's server through the environment, as a user would."""
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("KGREC_HOME", str(neo4j_settings.home))
    monkeypatch.setenv("KGREC_WORKSPACE", neo4j_settings.workspace)
    return neo4j_settings
