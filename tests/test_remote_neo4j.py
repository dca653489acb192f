"""kgrec against a Neo4j it did not start: a second real server (the managed server of another workspace,
with its own home) reached only through ``NEO4J_URI`` / ``NEO4J_USER`` / ``NEO4J_PASSWORD``, as a user would.

The CLI loads the demo catalogue over ``bolt://`` and a small training runs once over the routing scheme
``neo4j://``; recommend, explain and the service (built from the environment, called in process) then run
over both. A TLS URI (``+s``, ``+ssc``) to this server, which has no TLS, is one line. Last, the same server
is started again without APOC and read-only: the connect-time checks say so in one line each, writes are
refused in one line, reads still answer.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from core.settings import Neo4jSettings, Settings
from gnn import TrainConfig
from kg import ManagedNeo4j
from kgrec import Recommender
from kgrec.cli import app
from kgrec.service import app_from_environment
from loaders.demo import write_demo_files
from rank import RankConfig

pytestmark = pytest.mark.neo4j

runner = CliRunner()
DEMO = {"n_users": 40, "n_items": 36, "ratings_per_user": 10, "seed": 5}
KEY = "remote-test-key-0123456789abcdefghijklmnop"
SCHEMES = ["bolt", "neo4j"]
SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 2}, "als": {"iterations": 2}},
    candidates=20,
    fusion_users=60,
    trees=20,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=10, mf_epochs=10, patience=5, bias_epochs=3)


@dataclass
class Remote:
    """The second server, and the environment of a user of it: a kgrec home of its own, no managed server."""

    server: ManagedNeo4j
    port: int
    env: dict[str, str]
    files: dict[str, Path]

    def env_for(self, scheme: str) -> dict[str, str]:
        return self.env | {"NEO4J_URI": f"{scheme}://127.0.0.1:{self.port}"}


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("KGREC_", "NEO4J_"))]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        yield


def _cli(env: dict[str, str], *args: str) -> Any:
    """Run ``kgrec ARGS`` under ``env``; the result (exit code, stdout, stderr apart)."""
    with _environment(env):
        return runner.invoke(app, list(args))


def _ok(env: dict[str, str], *args: str) -> Any:
    result = _cli(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _start(settings: Settings) -> int:
    uri = ManagedNeo4j(settings).start()
    return int(uri.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    """The second server, loaded and trained through the CLI over ``bolt://``; stopped after the module."""
    settings = Settings(
        workspace="remote", home=tmp_path_factory.mktemp("remote-server"), neo4j=Neo4jSettings(uri=None)
    )
    server = ManagedNeo4j(settings)
    port = _start(settings)
    client = tmp_path_factory.mktemp("remote-client")
    env = {
        "NEO4J_USER": "neo4j",
        "NEO4J_PASSWORD": server.password(),
        "KGREC_HOME": str(client / "home"),
        "KGREC_WORKSPACE": "shop",
        "KGREC_MODEL_DIR": str(client / "model"),
        "KGREC_API_KEY": KEY,
    }
    files = write_demo_files(client / "data", **DEMO)
    try:
        yield Remote(server, port, env, files)
    finally:
        server.stop()


def _load_args(files: dict[str, Path]) -> list[str]:
    return [
        "load",
        "table",
        "--ratings",
        str(files["ratings"]),
        "--items",
        str(files["items"]),
        "--item-attr",
        f"Brand={files['brand']}",
        "--item-attr",
        f"Category={files['category']}",
    ]


@pytest.fixture(scope="module")
def trained(remote: Remote) -> dict[str, Any]:
    """What ``kgrec load`` answered over ``bolt://``, and the result of a small training (the library's
    :meth:`Recommender.fit`, with the settings a user's environment gives) over ``neo4j://``."""
    loaded = _ok(remote.env_for("bolt"), *_load_args(remote.files))
    with _environment(remote.env_for("neo4j")):
        rec = Recommender.connect(Settings())
    try:
        result = rec.fit(SMALL, SMALL_RANK)
    finally:
        rec.close()
    return {"loaded": loaded, "trained": result.model_dump()}


def test_load_and_train_reach_the_remote_server_only(remote: Remote, trained: dict[str, Any]) -> None:
    assert trained["loaded"]["rejected"] == [] and trained["loaded"]["rows_accepted"] > 0
    assert trained["trained"]["rating"]["test"]["blend"]["rmse"] > 0
    assert (Path(remote.env["KGREC_MODEL_DIR"]) / "ranker" / "meta.json").exists()
    # the user's own kgrec home holds no server: everything went to NEO4J_URI
    assert not (Path(remote.env["KGREC_HOME"]) / "workspaces" / "shop" / "neo4j").exists()
    stats = _ok(remote.env_for("neo4j"), "stats")
    assert stats["nodes"]["User"] == DEMO["n_users"] and stats["nodes"]["Item"] == DEMO["n_items"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_status_recommend_explain_and_similar(remote: Remote, trained: dict[str, Any], scheme: str) -> None:
    env = remote.env_for(scheme)
    status = _cli(env, "neo4j", "status", "--json")
    assert status.exit_code == 0 and status.stderr == ""  # the server lacks nothing: no note
    payload = json.loads(status.stdout)
    assert payload["uri"] == env["NEO4J_URI"] and not payload["managed"]
    assert payload["version"].startswith("5.26.") and payload["apoc"] and payload["vector_index"]
    assert not payload["read_only"] and payload["user_writes"]
    # the connect-time write probe of every command so far was rolled back: no node without a label
    (unlabelled,) = _ok(env, "cypher", "MATCH (n) WHERE size(labels(n)) = 0 RETURN count(n) AS n")
    assert unlabelled == {"n": 0}
    rows = _ok(env, "recommend", "U00000", "--k", "5")
    assert len(rows) == 5 and len({r["item"] for r in rows}) == 5
    explained = _ok(env, "explain", "U00000", rows[0]["item"])
    assert explained["user"] == "U00000" and explained["item"] == rows[0]["item"]
    assert explained["scoring"] and (explained["paths"] or explained["note"])
    similar = _ok(env, "similar", rows[0]["item"], "--k", "3")  # the vector index of the remote server
    assert len(similar) == 3 and rows[0]["item"] not in {r["item"] for r in similar}


@contextmanager
def _service(env: dict[str, str]) -> Iterator[TestClient]:
    """The service as ``kgrec serve`` builds it from the environment, started and ready."""
    with _environment(env):
        service = app_from_environment()
    with TestClient(service, headers={"X-API-Key": KEY}) as client:
        deadline = time.monotonic() + 120
        while (ready := client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.2)
        yield client


@pytest.mark.parametrize("scheme", SCHEMES)
def test_serve(remote: Remote, trained: dict[str, Any], scheme: str) -> None:
    with _service(remote.env_for(scheme)) as client:
        listed = client.get("/users/U00001/recommendations", params={"k": 4})
        assert listed.status_code == 200, listed.text
        items = [r["item"] for r in listed.json()]
        assert len(items) == 4
        why = client.get(f"/users/U00001/explanations/{items[0]}")
        assert why.status_code == 200 and why.json()["item"] == items[0]
        event = {"id": f"{scheme}-1", "user": "U00001", "item": items[0], "kind": "purchase"}
        receipt = client.post("/events", json={"events": [event]})
        assert receipt.status_code == 200 and receipt.json()["accepted"] == [event["id"]]
        # the purchase is read back at once: the item leaves the user's list
        after = [r["item"] for r in client.get("/users/U00001/recommendations", params={"k": 4}).json()]
        assert items[0] not in after


@pytest.mark.parametrize("scheme", ["bolt+ssc", "neo4j+s"])
def test_a_tls_uri_to_a_server_without_tls_is_one_line(remote: Remote, scheme: str) -> None:
    refused = _cli(remote.env_for(scheme), "stats")
    assert refused.exit_code == 1 and refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"error: cannot reach Neo4j at {scheme}://127.0.0.1:{remote.port}: "), line


# --- the same server without APOC and read-only: last, it restarts the server -----------------------------


@pytest.fixture(scope="module")
def read_only(remote: Remote, trained: dict[str, Any]) -> Remote:
    remote.server.stop()
    settings = remote.server.settings.model_copy(update={"neo4j_plugins": False, "neo4j_read_only": True})
    remote.server = ManagedNeo4j(settings)
    remote.port = _start(settings)
    return remote


def test_connect_says_in_one_line_each_what_is_missing(read_only: Remote) -> None:
    status = _cli(read_only.env_for("bolt"), "neo4j", "status", "--json")
    assert status.exit_code == 0, status.output
    payload = json.loads(status.stdout)
    assert payload["read_only"] and not payload["apoc"] and payload["vector_index"]
    lines = status.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("note: Neo4j database 'neo4j' at 127.0.0.1:") and "is read-only" in lines[0]
    assert "load, reset, train" in lines[0]
    assert lines[1].startswith("note: Neo4j at 127.0.0.1:") and "has no APOC" in lines[1]
    assert "kgrec cypher queries that call apoc.*" in lines[1]


def test_a_read_only_server_refuses_a_load_in_one_line_and_still_recommends(read_only: Remote) -> None:
    env = read_only.env_for("neo4j")
    before = _ok(env, "stats")
    refused = _cli(env, *_load_args(read_only.files))
    assert refused.exit_code == 1
    error = [line for line in refused.stderr.splitlines() if not line.startswith("note: ")]
    assert len(error) == 1 and error[0].startswith("error: Neo4j refused the write: database 'neo4j' is read")
    assert "Traceback" not in refused.output
    assert _ok(env, "stats") == before
    rows = _ok(env, "recommend", "U00002", "--k", "3")
    assert len(rows) == 3
    apoc = _cli(env, "cypher", "RETURN apoc.coll.sum([1, 2]) AS s")
    assert apoc.exit_code == 1 and "apoc.coll.sum" in apoc.stderr


def test_a_read_only_server_serves_and_refuses_events(read_only: Remote) -> None:
    with _service(read_only.env_for("bolt")) as client:
        listed = client.get("/users/U00002/recommendations", params={"k": 3})
        assert listed.status_code == 200 and len(listed.json()) == 3
        item = listed.json()[0]["item"]
        event = {"id": "ro-1", "user": "U00002", "item": item, "kind": "view"}
        refused = client.post("/events", json={"events": [event]})
        assert refused.status_code == 503
        assert refused.json()["error"].startswith("Neo4j refused the write: database 'neo4j' is read-only")
