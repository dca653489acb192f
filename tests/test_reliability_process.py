"""Reliability against stale state and careless input: a state file never gets an unrelated process
signalled, an empty workspace name is refused, and ``reset`` empties a graph of amazon-hin's size within the
managed server's default transaction memory. Real CLI, real Neo4j, real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Neo4jSettings, Settings
from kg import GraphStore, ManagedNeo4j

KGREC = [str(Path(sys.executable).parent / "kgrec")]

# the size of the amazon-hin graph that `kgrec reset --yes` failed on: 19,356 nodes, 405,737 relationships
USERS, ITEMS, RATINGS = 6_000, 13_356, 405_737


def _decoy(*argv: str) -> subprocess.Popen[bytes]:
    """A live process that is none of kgrec's business, leading its own process group as a server would."""
    code = "import time; time.sleep(300)"
    return subprocess.Popen([sys.executable, "-c", code, *argv], start_new_session=True)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[ManagedNeo4j, dict[str, str]]]:
    """A workspace of its own, so that its server can be started and stopped without the session's."""
    home = tmp_path / "home"
    server = ManagedNeo4j(Settings(workspace="process", home=home, neo4j=Neo4jSettings(uri=None)))
    env = {**os.environ, "KGREC_HOME": str(home), "KGREC_WORKSPACE": "process"}
    env.pop("NEO4J_URI", None)
    yield server, env
    server.stop()


@pytest.fixture
def decoys(fresh: tuple[ManagedNeo4j, dict[str, str]]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """A plain process, and one whose command line imitates the Neo4j of another workspace."""
    other = fresh[0].root.parent.parent / "other" / "neo4j"
    procs = [
        _decoy(),
        _decoy("org.neo4j.server.CommunityEntryPoint", f"--home-dir={other}", f"--config-dir={other}/conf"),
    ]
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.neo4j
def test_a_state_file_naming_another_process_never_gets_it_signalled(
    fresh: tuple[ManagedNeo4j, dict[str, str]], decoys: list[subprocess.Popen[bytes]]
) -> None:
    server, env = fresh
    state = server.root / "run" / "kgrec-server.json"
    state.parent.mkdir(parents=True)
    for decoy in decoys:
        state.write_text(json.dumps({"pid": decoy.pid, "port": 1}))
        stats = subprocess.run([*KGREC, "stats", "--json"], env=env, capture_output=True, text=True)
        assert stats.returncode == 0, stats.stderr
        assert "nodes" in json.loads(stats.stdout)
        assert decoy.poll() is None, "kgrec stats signalled a process it did not start"
        assert json.loads(state.read_text())["pid"] != decoy.pid, "the stale state was replaced"

        # The same stale file while the server runs: stop still finds and stops the real server.
        state.write_text(json.dumps({"pid": decoy.pid, "port": 1}))
        stop = subprocess.run([*KGREC, "neo4j", "stop"], env=env, capture_output=True, text=True)
        assert stop.returncode == 0, stop.stderr
        assert decoy.poll() is None, "kgrec neo4j stop signalled a process it did not start"
        assert not server.status().running and not state.exists()


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"pid": os.getpid(), "port": 1}),  # alive, but this test's process, not a Neo4j
        '{"pid": "x", "port": 1}',
        '{"pid": null}',
        "[1, 2]",
        '{"pid": 1.5, "port": "p"}',
        "{",
    ],
)
def test_a_stale_or_damaged_state_file_reads_as_no_server(tmp_path: Path, content: str) -> None:
    server = ManagedNeo4j(Settings(workspace="damaged", home=tmp_path, neo4j=Neo4jSettings(uri=None)))
    state = server.root / "run" / "kgrec-server.json"
    state.parent.mkdir(parents=True)
    state.write_text(content)
    assert server.uri() is None
    assert not server.status().running


@pytest.mark.parametrize(
    ("args", "env"),
    [(["-w", ""], {}), (["--workspace", ""], {}), ([], {"KGREC_WORKSPACE": ""})],
    ids=["-w", "--workspace", "KGREC_WORKSPACE"],
)
def test_an_empty_workspace_name_is_refused(tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
    home = tmp_path / "home"
    environ = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "KGREC_WORKSPACE")}
    try:
        done = subprocess.run(
            [*KGREC, *args, "stats"],
            env={**environ, "KGREC_HOME": str(home), **env},
            capture_output=True,
            text=True,
        )
    finally:  # the name slipping through would have started the default workspace's server
        if (home / "workspaces").exists():
            ManagedNeo4j(Settings(workspace="default", home=home, neo4j=Neo4jSettings(uri=None))).stop()
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "workspace name ''" in done.stderr
    assert not (home / "workspaces").exists(), "nothing was started or created for any workspace"


def test_reset_empties_a_graph_of_amazon_hins_size(store: GraphStore) -> None:
    # One transaction would delete every rating under the old 10,000-node batches: past the 70% of the
    # managed server's default 1g heap that a transaction may use.
    store.write_query("UNWIND range(0, $n - 1) AS i CREATE (:User {id: 'U' + i})", {"n": USERS})
    store.write_query("UNWIND range(0, $n - 1) AS i CREATE (:Item {id: 'I' + i})", {"n": ITEMS})
    store.write_query(
        "MATCH (u:User) WITH collect(u) AS users MATCH (i:Item) WITH users, collect(i) AS items "
        "UNWIND range(0, $n - 1) AS k "
        "WITH users[k % size(users)] AS u, items[(k / size(users)) % size(items)] AS i, k "
        "CREATE (u)-[:RATED {rating: 1.0 + k % 5, ts: k}]->(i)",
        {"n": RATINGS},
    )
    before = store.stats()
    assert (before.nodes["User"] + before.nodes["Item"], before.relationships["RATED"]) == (
        USERS + ITEMS,
        RATINGS,
    )

    store.reset()

    assert store.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0
    assert store.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"] == 0
