"""Shopper events in the real Neo4j (kg.events): written once per id however often and however
concurrently they are sent, counted per user and item, read back for fold-in, and kept out of the training
schema."""

from __future__ import annotations

import threading

import pandas as pd

from core.schema import VIEWED
from kg import EventRow, GraphStore
from kg.events import (
    ensure_event_schema,
    event_items,
    graph_answers,
    record_events,
    remove_implicit_events,
    stored_events,
    user_event_interactions,
)
from loaders import Dataset, LoadReport


def _catalogue(store: GraphStore) -> None:
    ratings = pd.DataFrame(
        {"user": ["old"] * 3, "item": ["I1", "I2", "I3"], "rating": [4.0, 2.0, 5.0], "ts": 10}
    )
    store.write(Dataset(report=LoadReport(source="test"), ratings=ratings))
    ensure_event_schema(store)


def _row(i: str, user: str, item: str, kind: str, value: float | None = None, ts: int = 100) -> EventRow:
    return {"id": i, "user": user, "item": item, "kind": kind, "value": value, "ts": ts}


def test_events_are_written_once_and_counted(store: GraphStore) -> None:
    _catalogue(store)
    rows = [
        _row("v1", "new", "I1", "view", ts=100),
        _row("v2", "new", "I1", "view", ts=50),
        _row("c1", "new", "I2", "cart"),
        _row("p1", "new", "I2", "purchase"),
        _row("r1", "old", "I1", "rating", 1.0, ts=5),  # older than the loaded rating: kept as it was
        _row("r2", "old", "I2", "rating", 5.0, ts=20),  # newer: replaces it
        _row("x1", "new", "nope", "view"),
    ]
    done = record_events(store, rows)
    assert done.written == ["v1", "v2", "c1", "p1", "r1", "r2"] and done.duplicates == []
    assert done.unknown_item == ["x1"]
    again = record_events(store, rows[:3])
    assert again.written == [] and again.duplicates == ["v1", "v2", "c1"]
    items = {(r["item"], r["type"]): (r["count"], r["last"]) for r in event_items(store, "new")}
    assert items == {("I1", "VIEWED"): (2, 100), ("I2", "CARTED"): (1, 100), ("I2", "PURCHASED"): (1, 100)}
    rated = store.rated_items("old").set_index("item")
    assert (
        rated.loc["I1", "rating"] == 4.0 and rated.loc["I2", "rating"] == 5.0 and rated.loc["I2", "ts"] == 20
    )
    touched = {(r["item"], r["type"]) for r in user_event_interactions(store, "old")}
    assert touched == {("I1", "RATED"), ("I2", "RATED")}  # the loaded I3 rating is not an event's
    assert all(r["recorded"] > 0 for r in user_event_interactions(store, "new"))
    assert {e["id"] for e in stored_events(store, ["v1", "x1", "zz"])} == {"v1"}
    assert graph_answers(store)


def test_concurrent_retries_of_one_batch_write_each_event_once(store: GraphStore) -> None:
    _catalogue(store)
    rows = [_row(f"e{n}", f"u{n % 4}", f"I{1 + n % 3}", "view") for n in range(60)]
    results = []
    threads = [threading.Thread(target=lambda: results.append(record_events(store, rows))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i for r in results for i in r.written) == sorted(r["id"] for r in rows)
    counted = sum(int(r["count"]) for u in ("u0", "u1", "u2", "u3") for r in event_items(store, u))
    assert counted == 60


def test_event_relationships_stay_out_of_the_training_schema_and_can_be_undone(store: GraphStore) -> None:
    _catalogue(store)
    views = [_row(f"v{n}", "old", "I1", "view") for n in range(1, 5)]
    record_events(store, views + [_row("c1", "old", "I2", "cart")])
    schema = store.schema()
    assert VIEWED.type not in {r.type for r in schema.rel_types} and not schema.item_links
    export = store.export()
    assert "VIEWED" not in export.edges and len(export.edges["RATED"]) == 3
    assert remove_implicit_events(store, ["v1", "c1"]) == 2
    assert [(r["type"], r["count"]) for r in event_items(store, "old")] == [("VIEWED", 3)]
    assert remove_implicit_events(store, ["v2", "v1", "v3", "v4"]) == 3
    assert event_items(store, "old") == [] and stored_events(store, [e["id"] for e in views]) == []
