"""Integration tests against the real Neo4j the session started."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import kg.queries as q
from core.errors import LoadError, WriteRefusedError
from core.schema import Schema
from kg import GraphStore
from loaders import read_amazon2018, read_hin, read_table
from loaders.demo import demo_dataset

from .conftest import SHARED_DATA


def test_demo_load_counts_and_idempotence(store: GraphStore) -> None:
    dataset, truth = demo_dataset(n_users=30, n_items=48, ratings_per_user=10, seed=3)
    store.write(dataset)
    stats = store.stats()
    assert stats.nodes["User"] == 30 and stats.nodes["Item"] == 48
    assert stats.nodes["Brand"] == len(set(truth.item_brand.values()))
    assert stats.nodes["Category"] == 3 + 6  # roots and branches
    assert stats.relationships["RATED"] == len(dataset.ratings)
    assert stats.relationships["SUBCATEGORY_OF"] == 6
    store.write(demo_dataset(n_users=30, n_items=48, ratings_per_user=10, seed=3)[0])
    assert store.stats() == stats


def test_an_export_is_in_key_order_whatever_order_the_graph_was_written_in(store: GraphStore) -> None:
    """The same graph exports the same frames, so the same data trains the same model: written forwards,
    then (on an empty graph) every frame backwards, which gives the nodes and relationships other ids."""
    dataset, _ = demo_dataset(n_users=20, n_items=24, ratings_per_user=6, seed=5)
    store.write(dataset)
    first = store.export()
    store.reset()
    frames = ("ratings", "items", "brands", "categories")
    store.write(dataclasses.replace(dataset, **{f: getattr(dataset, f).iloc[::-1] for f in frames}))
    second = store.export()
    assert first.nodes.keys() == second.nodes.keys() and first.edges.keys() == second.edges.keys()
    for label, frame in first.nodes.items():
        pd.testing.assert_frame_equal(frame, second.nodes[label])
    for rel, frame in first.edges.items():
        pd.testing.assert_frame_equal(frame, second.edges[rel])
    assert list(first.nodes["User"]["key"]) == sorted(first.nodes["User"]["key"])


def test_loading_more_ratings_adds_them_and_keeps_latest(store: GraphStore, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("user,item,rating,ts\nu1,i1,4,100\nu2,i1,2,100\n")
    store.write(read_table(first))
    second = tmp_path / "b.csv"
    second.write_text("user,item,rating,ts\nu1,i1,1,50\nu3,i2,5,100\n")
    store.write(read_table(second))
    assert store.stats().relationships["RATED"] == 3
    rows = store.read(
        "MATCH (:User {id: $u})-[r:RATED]->(:Item {id: $i}) RETURN r.rating AS rating", {"u": "u1", "i": "i1"}
    )
    assert rows == [{"rating": 4.0}]  # the older incoming rating does not overwrite the newer stored one


def test_broken_file_leaves_graph_unchanged(store: GraphStore, tmp_path: Path) -> None:
    store.write(demo_dataset(n_users=10, n_items=12, ratings_per_user=4)[0])
    before = store.stats()
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\nx,y,4\nbroken line\n")
    with pytest.raises(LoadError, match=r"bad.csv:3"):
        store.write(read_table(bad))
    assert store.stats() == before


def test_failure_mid_write_leaves_the_graph_as_it_was(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write(demo_dataset(n_users=10, n_items=12, ratings_per_user=4, seed=1)[0])
    before = store.stats()
    bigger, _ = demo_dataset(n_users=25, n_items=30, ratings_per_user=6, seed=2)
    original = GraphStore._batched
    calls = {"n": 0}

    def flaky(self: GraphStore, tx: object, query: str, *args: object, **kwargs: object) -> int:
        calls["n"] += 1
        if "RATED" in query and "MERGE (u)" in query:
            raise RuntimeError("connection lost mid-load")
        return original(self, tx, query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(GraphStore, "_batched", flaky)
    with pytest.raises(RuntimeError):
        store.write(bigger)
    monkeypatch.undo()
    assert calls["n"] > 1
    assert store.stats() == before


def test_read_path_refuses_writes(store: GraphStore) -> None:
    with pytest.raises(WriteRefusedError):
        store.read("CREATE (:Item {id: $id})", {"id": "x"})
    assert store.stats().nodes["Item"] == 0


def test_extra_entity_types_and_item_links_are_discovered(store: GraphStore, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("u1,i1,5\nu1,i2,3\n")
    (tmp_path / "g.csv").write_text("i1,jazz\ni2,jazz\n")
    (tmp_path / "l.csv").write_text("i1,i2\n")
    store.write(
        read_table(
            tmp_path / "r.csv",
            item_attrs={"Genre": tmp_path / "g.csv"},
            item_links={"SIMILAR_TO": tmp_path / "l.csv"},
        )
    )
    schema = store.schema()
    assert [e.label for e in schema.entities] == ["Genre"]
    export = store.export()
    assert export.edges["HAS_GENRE"].to_dict("records") == [
        {"source": "i1", "target": "jazz"},
        {"source": "i2", "target": "jazz"},
    ]
    assert len(export.edges["SIMILAR_TO"]) == 1
    assert sorted(export.edges["RATED"].columns) == ["item", "rating", "ts", "user"]


def test_constraints_and_fulltext_index_exist(store: GraphStore) -> None:
    store.write(demo_dataset(n_users=5, n_items=12, ratings_per_user=4)[0])
    constraints = {r["name"] for r in store.read("SHOW CONSTRAINTS YIELD name RETURN name")}
    assert {"user_id_unique", "item_id_unique", "brand_name_unique", "category_path_unique"} <= constraints
    hits = store.read(
        f"CALL db.index.fulltext.queryNodes('{q.ITEM_TEXT_INDEX}', $q) YIELD node RETURN node.id AS id",
        {"q": "grinder"},
    )
    assert hits and all(h["id"].startswith("I") for h in hits)


@pytest.mark.skipif(not (SHARED_DATA / "amazon-hin").exists(), reason="shared amazon-hin data not present")
def test_amazon_hin_counts_and_reload(store: GraphStore) -> None:
    store.write(read_hin(SHARED_DATA / "amazon-hin"))
    stats = store.stats()
    assert (stats.nodes["User"], stats.nodes["Item"], stats.nodes["Brand"], stats.nodes["Category"]) == (
        6170,
        2753,
        334,
        22,
    )
    assert stats.relationships["RATED"] == 195_791
    store.write(read_hin(SHARED_DATA / "amazon-hin"))
    assert store.stats() == stats


@pytest.mark.skipif(
    not (SHARED_DATA / "amazon2018-magazine").exists(), reason="shared magazine data not present"
)
def test_magazine_publishers_and_category_hierarchy(store: GraphStore) -> None:
    folder = SHARED_DATA / "amazon2018-magazine"
    store.write(
        read_amazon2018(
            folder / "meta_Magazine_Subscriptions.json.gz",
            ratings=folder / "Magazine_Subscriptions.ratings.csv",
        )
    )
    brands = {r["b"] for r in store.read("MATCH (b:Brand) RETURN b.name AS b")}
    assert "Reason Foundation" in brands or any("Reason" in b for b in brands)
    walk = store.read(
        "MATCH p = (c:Category)-[:SUBCATEGORY_OF*]->(root:Category {name: $root}) "
        "RETURN max(length(p)) AS depth",
        {"root": "Magazine Subscriptions"},
    )
    assert walk[0]["depth"] >= 3


def test_apoc_core_is_loaded(store: GraphStore) -> None:
    assert store.read("RETURN apoc.version() AS v")[0]["v"].startswith("5.26")


def _statements(schema: Schema) -> list[str]:
    """Every statement of kg.queries that plans (schema commands, SHOW and DROP do not take ``EXPLAIN``),
    built for every node and relationship type of ``schema``."""
    constants = [getattr(q, name) for name in q.__all__ if name.isupper() and not name.endswith("_INDEX")]
    statements = [s for s in constants if isinstance(s, str) and not s.startswith(("CREATE", "SHOW", "DROP"))]
    per_node = (q.merge_nodes, q.count_nodes, q.export_nodes, q.set_embeddings)
    per_rel = (
        q.merge_links,
        q.count_relationships,
        q.export_links,
        q.user_leaning,
    )
    statements += [build(node) for node in schema.node_types for build in per_node]
    statements += [build(rel) for rel in schema.rel_types for build in per_rel]
    statements += [q.item_link_paths(link) for link in schema.item_links]
    statements += [q.entity_paths(entity) for entity in schema.entities]
    rated = (schema.rel_type("RATED"), 0, 1, True)
    statements.append(q.recorded_path_exists([schema.node_type("User"), schema.node_type("Item")], [rated]))
    return statements


def test_every_query_plans_on_neo4j(store: GraphStore) -> None:
    """A typo in any statement (constant or built) fails here, not on the first user who reaches it."""
    schema = Schema.core().with_entity("Genre").with_item_link("SAME_AUTHOR")
    statements = _statements(schema)
    assert len(statements) > 60
    for statement in statements:
        assert store.write_query(f"EXPLAIN {statement}") == [], statement
