"""The bulk path of a first load (``neo4j-admin database import``, :mod:`kg.bulk_import`): the graph it builds
is the transactional load's, node for node and property for property (types included), with the same
constraints and indexes; a failing import, or ``kill -9`` of ``kgrec`` while the tool runs, leaves the
workspace as it was; ``kgrec load --bulk``.

The integration tests run their own managed server (a workspace of their own): the bulk path stops and starts
the server it imports into, which the session's shared server must not go through.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import kg.bulk_import as bulk
import kg.queries as q
from core.errors import InputError, Neo4jError
from core.schema import ITEM, Schema
from core.settings import Neo4jSettings, Settings
from kg import GraphStore, ManagedNeo4j
from kg.bulk_csv import ImportFiles, cells, column_type, write_import_files
from kg.bulk_import import BULK_FROM_ROWS, BulkMode, write_bulk, write_dataset
from kg.load_parts import dataset_rows
from kgrec.cli import app
from loaders import Dataset
from loaders.demo import demo_dataset, write_demo_files

runner = CliRunner()

NODES = (
    "MATCH (n) RETURN labels(n) AS labels, [k IN keys(n) | [k, n[k]]] AS props "
    "ORDER BY labels(n)[0], coalesce(n.id, n.path, n.name)"
)
RELATIONSHIPS = (
    "MATCH (a)-[r]->(b) RETURN labels(a)[0] + ':' + coalesce(a.id, a.path, a.name) AS source, type(r) AS type, "
    "labels(b)[0] + ':' + coalesce(b.id, b.path, b.name) AS target, [k IN keys(r) | [k, r[k]]] AS props"
)
SCHEMA = (
    "SHOW INDEXES YIELD name, type, labelsOrTypes, properties, owningConstraint "
    "RETURN name, type, labelsOrTypes, properties, owningConstraint"
)


def _typed(props: list[list[Any]]) -> list[tuple[str, str, Any]]:
    """Properties with their Python type, so that 4 (a long) and 4.0 (a double) differ."""
    return sorted((k, type(v).__name__, v) for k, v in props)


def _graph(store: GraphStore) -> dict[str, Any]:
    """Everything the graph holds, in an order of its own: nodes, relationships, indexes and constraints."""
    nodes = sorted((tuple(r["labels"]), _typed(r["props"])) for r in store.read(NODES))
    rels = sorted(
        (r["source"], r["type"], r["target"], _typed(r["props"])) for r in store.read(RELATIONSHIPS)
    )
    schema = sorted(
        (
            r["name"],
            r["type"],
            tuple(r["labelsOrTypes"] or ()),
            tuple(r["properties"] or ()),
            r["owningConstraint"],
        )
        for r in store.read(SCHEMA)
    )
    return {"nodes": nodes, "relationships": rels, "schema": schema}


def _planted() -> Dataset:
    """The demo catalogue plus every kind of frame a load writes, and values the CSV must carry whole: quotes,
    commas, a line break, an empty title, no title at all, an integer where others are floats, a rating given
    twice (the later one counts) and a user with a display name."""
    ds, _ = demo_dataset(n_users=60, n_items=48, ratings_per_user=8, seed=3)
    items = ds.items.astype(object)
    items.loc[0, "title"] = 'The "Grand" Tent, 2 people'
    items.loc[1, "description"] = "first line\nsecond line, with a comma"
    items.loc[2, "title"] = ""
    items.loc[3, "title"] = None
    items.loc[4, "price"] = None
    ds.items = items
    first = ds.ratings.iloc[0]
    again = pd.DataFrame([{**first.to_dict(), "rating": 6 - first["rating"], "ts": first["ts"] + 10}])
    ds.ratings = pd.concat([ds.ratings, again], ignore_index=True)
    some_items = ds.items["id"].tolist()
    some_users = ds.ratings["user"].unique().tolist()
    ds.entities = {"Genre": pd.DataFrame({"item": some_items[:10], "value": ["g1", "g2"] * 5})}
    ds.item_links = {"ALSO_BOUGHT": pd.DataFrame({"source": some_items[:6], "target": some_items[1:7]})}
    ds.users = pd.DataFrame({"id": some_users[:3], "name": ["Ann", 'Bo "B" Lee', None]})
    ds.user_entities = {"City": pd.DataFrame({"user": some_users[:8], "value": ["Oslo", "Rome"] * 4})}
    ds.user_links = {"FRIEND": pd.DataFrame({"source": some_users[:5], "target": some_users[1:6]})}
    return ds


# -- the files, without Neo4j ------------------------------------------------------------------------------
def test_cells_quote_strings_and_leave_missing_values_empty() -> None:
    assert cells(pd.Series(['a "b", c', "", None]), "string") == ['"a ""b"", c"', '""', ""]
    assert cells(pd.Series([1.5, None, 2.0]), "double") == ["1.5", "", "2.0"]
    assert cells(pd.Series([3, None], dtype=object), "long") == ["3", ""]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([1, 2], "long"),
        ([1.0, None], "double"),
        ([1, 2.5], "double"),
        (["a", 1], "string"),
        ([None], "string"),
    ],
)
def test_a_column_is_typed_as_the_driver_types_its_values(values: list[Any], kind: str) -> None:
    assert column_type(pd.Series(values, dtype=object)) == kind


def test_the_files_hold_one_row_per_node_and_per_pair(tmp_path: Path) -> None:
    ds = _planted()
    schema = Schema.core().with_entity("Genre")
    schema = schema.with_user_entity("City").with_user_link("FRIEND")
    files = write_import_files(ds, schema, tmp_path)
    assert files.multiline  # the description with a line break
    assert files.written["RATED"] == len(ds.ratings) - 1  # the pair rated twice is one relationship
    rated = pd.read_csv(dict(files.relationships)["RATED"])
    first = ds.ratings.iloc[0]
    kept = rated[(rated.iloc[:, 0] == first["user"]) & (rated.iloc[:, 1] == first["item"])]
    assert kept["rating:double"].tolist() == [6 - first["rating"]]  # the later rating
    assert files.written["Item"] == ds.items["id"].nunique()
    assert {label for label, _ in files.nodes} == {"Item", "User", "Brand", "Category", "Genre", "City"}


def test_auto_needs_the_threshold_and_never_asks_nothing() -> None:
    small, _ = demo_dataset(n_users=10, n_items=10, ratings_per_user=3)
    assert dataset_rows(small) < BULK_FROM_ROWS
    assert BulkMode("never") is BulkMode.NEVER


# -- against a server of the test's own --------------------------------------------------------------------
@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, GraphStore]]:
    settings = Settings(
        workspace="bulk", home=tmp_path_factory.mktemp("bulk-home"), neo4j=Neo4jSettings(uri=None)
    )
    server = ManagedNeo4j(settings)
    server.start()
    store = GraphStore.connect(settings)
    try:
        yield settings, store
    finally:
        store.close()
        server.stop()


@pytest.mark.neo4j
def test_the_bulk_import_builds_the_graph_the_transactional_load_builds(
    own: tuple[Settings, GraphStore],
) -> None:
    settings, store = own
    store.reset()
    # indexes made by training and events, which a bulk import must not lose
    store.write_query(q.CREATE_RATING_INDEX)
    store.write_query(q.create_vector_index(ITEM, 8))
    assert write_dataset(store, settings, _planted(), BulkMode.NEVER) is False
    transactional = _graph(store)
    assert len(transactional["nodes"]) > 100 and len(transactional["relationships"]) > 500

    store.reset()
    seen: list[str] = []
    ds = _planted()
    assert write_dataset(store, settings, ds, BulkMode.ALWAYS, lambda s, d, t: seen.append(s)) is True
    assert _graph(store) == transactional
    assert ds.report.written["RATED"] == len(ds.ratings) - 1
    assert "neo4j-admin import: Nodes" in seen and "constraints and indexes" in seen
    assert not (ManagedNeo4j(settings).root / "bulk-import").exists()

    with pytest.raises(InputError, match="the graph is not empty"):
        write_dataset(store, settings, _planted(), BulkMode.ALWAYS)
    with pytest.raises(InputError, match="the graph is not empty"):  # never a store in place of data
        write_bulk(store, settings, _planted())
    assert _graph(store) == transactional


@pytest.mark.neo4j
def test_a_failing_import_leaves_the_workspace_as_it_was(
    own: tuple[Settings, GraphStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, store = own
    store.reset()
    store.ensure_schema(Schema.core())
    before = _graph(store)

    def broken(*args: Any, **kwargs: Any) -> ImportFiles:
        files = write_import_files(*args, **kwargs)
        rated = dict(files.relationships)["RATED"]
        with rated.open("a") as f:
            f.write('"no such user","no such item",1.0,0\n')  # the tool refuses a link to a missing node
        return files

    monkeypatch.setattr(bulk, "write_import_files", broken)
    with pytest.raises(Neo4jError) as failed:
        write_bulk(store, settings, _planted())
    message = str(failed.value)
    assert "the bulk import failed, the graph is as it was" in message and "\n" not in message
    assert message.endswith("referring to missing node no such user")  # the tool's own reason
    assert _graph(store) == before  # empty, and the previous store's constraints: not a new store
    assert not (ManagedNeo4j(settings).root / "bulk-import").exists()


@pytest.mark.neo4j
def test_kgrec_load_bulk(
    own: tuple[Settings, GraphStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, store = own
    store.reset()
    for name in [n for n in os.environ if n.startswith(("KGREC_", "NEO4J_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KGREC_HOME", str(settings.home))
    monkeypatch.setenv("KGREC_WORKSPACE", settings.workspace)
    files = write_demo_files(tmp_path, n_users=40, n_items=30, ratings_per_user=5)
    args = ["load", "table", "--ratings", str(files["ratings"]), "--item-attr", f"Brand={files['brand']}"]

    uri = ManagedNeo4j(settings).uri()
    loaded = runner.invoke(app, [*args, "--bulk", "always"])
    assert loaded.exit_code == 0, loaded.output
    assert "written: Item 30, User 40" in loaded.stdout
    assert "neo4j-admin import: Nodes" in loaded.stderr  # progress lines: stderr is not a terminal here
    # back on its port: a driver opened before the restart (this test's) reads the new graph
    assert ManagedNeo4j(settings).uri() == uri
    assert store.stats().relationships["RATED"] == 200

    refused = runner.invoke(app, [*args, "--bulk", "always"])
    assert refused.exit_code == 1
    assert refused.stderr.strip().count("\n") == 0 and "the graph is not empty" in refused.stderr
    again = runner.invoke(app, [*args, "--bulk", "auto", "--json"])  # not empty: the transactional load
    assert again.exit_code == 0, again.output
    assert store.stats().relationships["RATED"] == 200


def _import_tool_running(marker: str) -> bool:
    """Whether a neo4j-admin import whose command line names ``marker`` (the workspace's import folder) runs."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "AdminTool" in argv and marker in argv:
            return True
    return False


@pytest.mark.neo4j
def test_kill_9_during_the_import_leaves_the_previous_store(
    own: tuple[Settings, GraphStore], tmp_path: Path
) -> None:
    settings, store = own
    store.reset()
    store.ensure_schema(Schema.core())
    before = _graph(store)
    files = write_demo_files(tmp_path, n_users=3000, n_items=400, ratings_per_user=20)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KGREC_", "NEO4J_"))}
    env |= {"KGREC_HOME": str(settings.home), "KGREC_WORKSPACE": settings.workspace}
    kgrec = str(Path(sys.executable).parent / "kgrec")
    marker = str(ManagedNeo4j(settings).root / "bulk-import")
    loading = subprocess.Popen(
        [kgrec, "load", "table", "--ratings", str(files["ratings"]), "--bulk", "always"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while loading.poll() is None and not _import_tool_running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert loading.poll() is None, "the import must still run when the kill lands"
    os.kill(loading.pid, signal.SIGKILL)
    loading.wait()
    # the next command starts the server again, on the previous store: empty, its constraints kept
    stats = subprocess.run([kgrec, "stats", "--json"], env=env, capture_output=True, text=True, check=False)
    assert stats.returncode == 0, stats.stderr
    store.reconnect(settings)
    assert _graph(store) == before
    deadline = time.monotonic() + 120  # the orphaned tool ends on its own (its output pipe is gone)
    while _import_tool_running(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
