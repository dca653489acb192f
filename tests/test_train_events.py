"""``kgrec train`` learns from the events the service stores: the export reads views, carts and purchases,
the ranker counts them as interactions (rank.interactions.with_events), the rating model keeps learning
from ratings only, and after a retrain a user known only by events is a user the ranker knows (no longer
folded in)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.settings import Settings
from gnn import TrainConfig
from kg import EventRow, GraphStore
from kg.events import ensure_event_schema, record_events
from kgrec import Recommender
from kgrec.models import model_version
from kgrec.service.foldin import CLOCK_MARGIN_S, FoldIn
from kgrec.service.metrics import ServiceMetrics
from kgrec.service.swap import Served
from loaders.demo import demo_dataset
from rank import RankConfig
from rank.interactions import Interactions, with_events
from rank.pipeline import train_stack

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 2}, "als": {"iterations": 2}},
    candidates=20,
    fusion_users=60,
    trees=20,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=10, mf_epochs=10, patience=5, bias_epochs=3)
NEWCOMER = "shopper-1"


def _frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item", "ts"])


def test_the_rule_one_interaction_per_pair_latest_time_held_out_pairs_left_out() -> None:
    ratings = pd.DataFrame(
        {"user": ["u", "u", "v"], "item": ["a", "b", "a"], "rating": [5.0, 1.0, 4.0], "ts": [10, 20, 30]}
    )
    assert with_events(ratings, {}) is ratings  # no events: the ratings frame itself
    events = {
        "VIEWED": _frame([("u", "a", 99), ("w", "c", 5), ("w", "c", 7), ("v", "x", 1)]),
        "CARTED": _frame([("w", "c", 6)]),
        "PURCHASED": _frame([("w", "d", 8), ("v", "b", 3)]),
        "LIKED": _frame([("z", "a", 1)]),  # not an event type the ranker trains on
    }
    held = pd.DataFrame({"user": ["v"], "item": ["x"]})  # a held-out test pair: its view is left out
    train = with_events(ratings, events, leave_out=held)
    rows = {(u, i): (r, ts) for u, i, r, ts in train[["user", "item", "rating", "ts"]].itertuples(False)}
    assert len(train) == len(rows) == 6
    assert rows[("u", "a")] == (5.0, 99)  # rated and viewed: the stars kept, the later time
    assert rows[("u", "b")] == (1.0, 20) and rows[("v", "a")] == (4.0, 30)
    assert np.isnan(rows[("w", "c")][0]) and rows[("w", "c")][1] == 7  # viewed twice and carted: once
    assert np.isnan(rows[("w", "d")][0]) and rows[("v", "b")][1] == 3
    assert ("v", "x") not in rows and not (train["user"] == "z").any()
    assert train.iloc[:3][["user", "item"]].equals(ratings[["user", "item"]])  # ratings first
    # min_rating drops low stars, never an event (chosen, not rated low)
    data = Interactions.build(train, item_keys=list("abcdx"), min_rating=4.0)
    taken = {(data.user_keys[r], data.item_keys[c]) for r, c in zip(data.rows, data.cols, strict=True)}
    assert taken == {("u", "a"), ("v", "a"), ("w", "c"), ("w", "d"), ("v", "b")}


def test_a_temporal_split_trains_on_no_event_from_the_time_it_holds_out() -> None:
    ratings = pd.DataFrame({"user": ["u", "v"], "item": ["a", "a"], "rating": [5.0, 4.0], "ts": [10, 10]})
    held = pd.DataFrame({"user": ["u", "u"], "item": ["h", "k"], "ts": [50, 60]})  # u from 50 on
    events = {"VIEWED": _frame([("u", "b", 49), ("u", "c", 50), ("u", "a", 70), ("v", "d", 90)])}
    train = with_events(ratings, events, leave_out=held, before=held)
    rows = {(u, i): ts for u, i, ts in train[["user", "item", "ts"]].itertuples(False)}
    # u's views from 50 on are the future; v holds nothing out, so all of v's count
    assert rows == {("u", "a"): 10, ("v", "a"): 10, ("u", "b"): 49, ("v", "d"): 90}
    assert len(with_events(ratings, events, leave_out=held)) == 5  # a random split: no such cut


def _events(store: GraphStore, old: str, old_bought: str, items: list[str]) -> list[EventRow]:
    rows: list[EventRow] = [
        {"id": "p1", "user": NEWCOMER, "item": items[0], "kind": "purchase", "value": None, "ts": 1_000},
        {"id": "c1", "user": NEWCOMER, "item": items[1], "kind": "cart", "value": None, "ts": 1_100},
        {"id": "v1", "user": NEWCOMER, "item": items[2], "kind": "view", "value": None, "ts": 1_200},
        {"id": "v2", "user": NEWCOMER, "item": items[2], "kind": "view", "value": None, "ts": 1_300},
        {"id": "p2", "user": old, "item": old_bought, "kind": "purchase", "value": None, "ts": 2_000},
    ]
    ensure_event_schema(store)
    assert record_events(store, rows).written == [r["id"] for r in rows]
    return rows


def _served(rec: Recommender) -> Served:
    version = model_version(rec.settings.model_path)
    assert version is not None
    return Served(rec, version)


def test_a_retrain_learns_events_and_knows_a_user_known_only_by_them(
    store: GraphStore, neo4j_settings: Settings, tmp_path: Path
) -> None:
    dataset, truth = demo_dataset(n_users=60, n_items=48, ratings_per_user=12, seed=3)
    store.write(dataset)
    settings = neo4j_settings.model_copy(update={"model_dir": tmp_path / "model"})
    rec = Recommender(store, settings)
    first = rec.fit(SMALL, SMALL_RANK)
    before = store.export()
    old = sorted(truth.user_branch)[0]
    old_rated = set(store.rated_items(old)["item"])
    old_bought = next(i for i in sorted(truth.item_branch) if i not in old_rated)
    bought = [i for i in sorted(truth.item_branch) if i != old_bought][:3]
    _events(store, old, old_bought, bought)

    # before the retrain the newcomer is folded in (the served models know nothing of them)
    metrics = ServiceMetrics()
    fold = FoldIn(metrics)
    served = _served(rec)
    assert not {r.item for r in fold.recommend(served, NEWCOMER, k=5)} & set(bought)
    assert metrics.registry.get_sample_value("kgrec_foldins_total") == 1

    # the export for training reads the events; the ratings it hands the rating model are unchanged
    export = store.export()
    views = export.events["VIEWED"]
    assert views[["user", "item", "count", "ts"]].values.tolist() == [[NEWCOMER, bought[2], 2, 1_300]]
    purchases = {(u, i): ts for u, i, ts in export.events["PURCHASED"][["user", "item", "ts"]].values}
    assert purchases == {(NEWCOMER, bought[0]): 1_000, (old, old_bought): 2_000}
    assert len(export.events["CARTED"]) == 1
    key = ["user", "item"]
    pd.testing.assert_frame_equal(
        before.edges["RATED"].sort_values(key).reset_index(drop=True),
        export.edges["RATED"].sort_values(key).reset_index(drop=True),
    )
    assert "VIEWED" not in export.edges  # events are no edge type of the rating model's graph

    time.sleep(CLOCK_MARGIN_S)  # events this close before a training count as new to it (see FoldIn)
    second = rec.fit(SMALL, SMALL_RANK)  # what `kgrec train` runs
    ranker = rec.trained_ranker()
    data = ranker.trained_data()
    row = int(data.user_rows([NEWCOMER])[0])
    assert row >= 0, "after a retrain the ranker knows the user known only by events"
    trained_items = set(data.item_keys[data.matrix[row].indices])
    assert trained_items == set(bought)  # purchase, cart and view: each one interaction
    old_row = int(data.user_rows([old])[0])
    assert old_bought in set(data.item_keys[data.matrix[old_row].indices])
    assert second.fusion.train_interactions == first.fusion.train_interactions + 4
    # ... and their list is the ranker's own list for them, their training items left out, not a fold-in
    top = rec.recommend(NEWCOMER, k=10)
    assert len(top) == 10 and not {r.item for r in top} & trained_items
    assert old_bought not in {r.item for r in rec.recommend(old, k=10)}
    served = _served(rec)
    assert [r.item for r in fold.recommend(served, NEWCOMER, k=10)] == [r.item for r in top]
    assert metrics.registry.get_sample_value("kgrec_foldins_total") == 1  # no further fold-in

    # an event recorded while a training ran (after it read the graph, before it wrote the models) is in
    # neither: the user is folded in, because the models say which graph they were trained from
    assert served.version.data_as_of < served.version.trained_at
    late = served.version.data_as_of + (served.version.trained_at - served.version.data_as_of) / 2
    record_events(
        store, [{"id": "v9", "user": old, "item": bought[1], "kind": "view", "value": None, "ts": 9}]
    )
    store.write_query(
        "MATCH (:User {id: $u})-[r:VIEWED]->(:Item {id: $i}) SET r.recorded = $t",
        {"u": old, "i": bought[1], "t": late},
    )
    assert bought[1] not in {r.item for r in fold.recommend(served, old, k=10)}
    assert metrics.registry.get_sample_value("kgrec_foldins_total") == 2

    # the rating model learned from the same ratings as without any event: the same model
    plain = train_stack(replace(export, events={}), "random", 0.2, 0, SMALL, SMALL_RANK)
    assert second.rating.ratings == plain.rating.ratings == first.rating.ratings
    assert sum(second.rating.ratings.values()) == len(export.edges["RATED"])
    assert second.rating.test["blend"].rmse == pytest.approx(plain.rating.test["blend"].rmse, abs=1e-9)
    assert plain.fusion.train_interactions == second.fusion.train_interactions - 4
