"""One server per workspace whatever the concurrency, secrets kept off command lines, files kept private,
and read-only Cypher that cannot reach past its own read. Real Neo4j servers throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import WriteRefusedError
from core.settings import Neo4jSettings, Settings
from kg import GraphStore, ManagedNeo4j

KGREC = [str(Path(sys.executable).parent / "kgrec")]


def _cmdlines() -> Iterator[tuple[int, bytes]]:
    """Every running process and its NUL-separated command line."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            yield int(proc.name), (proc / "cmdline").read_bytes()
        except OSError:
            continue


def _server_pids(root: Path) -> list[int]:
    marker = f"--home-dir={root}".encode()
    return [pid for pid, cmdline in _cmdlines() if marker in cmdline.split(b"\0")]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Settings, dict[str, str]]]:
    home = tmp_path / "home"
    settings = Settings(workspace="safety", home=home, heap="768m", neo4j=Neo4jSettings(uri=None))
    env = {**os.environ, "KGREC_HOME": str(home), "KGREC_WORKSPACE": "safety", "KGREC_HEAP": "768m"}
    env.pop("NEO4J_URI", None)
    yield settings, env
    ManagedNeo4j(settings).stop()


@pytest.mark.neo4j
def test_first_start_keeps_the_password_off_every_command_line(
    fresh: tuple[Settings, dict[str, str]],
) -> None:
    settings, _ = fresh
    server = ManagedNeo4j(settings)
    password = server.password().encode()
    seen_admin: list[bytes] = []
    leaked: list[bytes] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for _, cmdline in _cmdlines():
                if b"set-initial-password" in cmdline:
                    seen_admin.append(cmdline)
                if password in cmdline:
                    leaked.append(cmdline)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        server.start()
    finally:
        done.set()
        watcher.join()
    assert not leaked
    # The watcher did see the admin step: java reading its 0600 argument file.
    assert any(b"@" in cmdline for cmdline in seen_admin)
    assert not list((server.root / "run").glob("*.args")), "the argument file is removed after use"
    for path in (settings.workspace_dir, server.root, server.root / "data", server.root / "logs"):
        assert path.stat().st_mode & 0o777 == 0o700, path
    assert server.password_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.neo4j
def test_two_starts_at_once_share_one_server_and_orphans_are_stopped(
    fresh: tuple[Settings, dict[str, str]],
) -> None:
    settings, env = fresh
    server = ManagedNeo4j(settings)
    starts = [
        subprocess.Popen([*KGREC, "neo4j", "start"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in starts]
    assert [p.returncode for p in starts] == [0, 0], outputs
    uris = {line.split()[4] for line in outputs}
    assert len(uris) == 1 and uris == {server.uri()}
    assert len(_server_pids(server.root)) == 1
    # KGREC_HEAP (docs/loading.md's answer to a load past the transaction memory) sizes the server's JVM
    started = dict(_cmdlines())[_server_pids(server.root)[0]].split(b"\0")
    assert b"-Xmx768m" in started
    stats = subprocess.run([*KGREC, "stats", "--json"], env=env, capture_output=True, text=True, check=False)
    assert stats.returncode == 0 and "nodes" in json.loads(stats.stdout)

    # A state file lost while the server runs leaves an orphan: the next start stops it and starts one.
    orphan = _server_pids(server.root)[0]
    (server.root / "run" / "kgrec-server.json").unlink()
    uri = server.start()
    assert _server_pids(server.root) != [orphan] and len(_server_pids(server.root)) == 1
    assert server.status().answers and server.uri() == uri

    # A state file naming a dead process is stale: status says not running and start repairs it.
    assert server.stop()
    (server.root / "run" / "kgrec-server.json").write_text(json.dumps({"pid": 999_999, "port": 1}))
    assert not server.status().running
    server.start()
    assert server.status().answers


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("TERMINATE TRANSACTIONS 'neo4j-transaction-1'", "TERMINATE TRANSACTIONS"),
        ("CALL db.clearQueryCaches()", "db.clearQueryCaches"),
        ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD CSV"),
        ("CALL { MATCH (b:Brand) RETURN b } IN TRANSACTIONS RETURN 1", r"IN TRANSACTIONS"),
        ("MATCH (b:Brand) DETACH DELETE b", "--write"),
    ],
)
def test_read_only_cypher_refuses_what_reaches_past_its_read(
    store: GraphStore, query: str, refused: str
) -> None:
    store.write_query("CREATE (:Brand {name: 'Acme'})")
    with pytest.raises(WriteRefusedError, match=refused):
        store.typed_query(query)
    assert store.stats().nodes["Brand"] == 1


def test_read_only_cypher_allows_reads_show_and_listed_procedures(store: GraphStore) -> None:
    store.write_query("CREATE (:Brand {name: 'Acme'})")
    assert store.typed_query("MATCH (b:Brand) RETURN b.name AS name") == [{"name": "Acme"}]
    assert {"label": "Brand"} in store.typed_query("CALL db.labels()")
    assert store.typed_query("SHOW INDEXES YIELD name RETURN count(*) AS n")[0]["n"] >= 0
    # --write is the explicit way past the allow-list.
    assert store.typed_query("CALL db.clearQueryCaches()", write=True)
