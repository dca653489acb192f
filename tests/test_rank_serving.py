"""The fused ranking served against the graph (rank/serving.py), and the held-out part of train_stack's split
kept away from the ranker, on the generated catalogue in the session's Neo4j."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from core.errors import NotFoundError
from core.schema import ITEM, RATED, USER
from gnn import TrainConfig
from kg import GraphExport, GraphStore
from loaders import Dataset, LoadReport
from loaders.demo import DemoTruth, demo_dataset
from rank import RankConfig, RatingModelScores, StackResult, train_stack
from rank.serving import FusedServing

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 5}, "als": {"iterations": 5}},
    candidates=30,
    fusion_users=200,
    trees=100,
    seed=0,
)
SMALL_TRAIN = TrainConfig(seed=0, text=False, hidden=16, max_epochs=20, mf_epochs=20)

UNRATE = (
    f"MATCH (:{USER.label} {{id: $user}})-[r:{RATED.type}]->(i:{ITEM.label}) WHERE i.id IN $items DELETE r"
)


@pytest.fixture(scope="module")
def stacked(session_store: GraphStore) -> Iterator[tuple[GraphStore, GraphExport, StackResult, DemoTruth]]:
    session_store.reset()
    dataset, truth = demo_dataset(n_users=120, n_items=96, ratings_per_user=16, seed=3)
    session_store.write(dataset)
    export = session_store.export()
    yield session_store, export, train_stack(export, "random", 0.2, 0, SMALL_TRAIN, SMALL_RANK), truth
    session_store.reset()


class _Counting:
    """The store, with every query it reads recorded."""

    def __init__(self, store: GraphStore, reads: list[str]) -> None:
        self._store, self._reads = store, reads

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def read(self, query: str, params: object = None) -> list[dict[str, object]]:
        self._reads.append(query)
        return self._store.read(query, params)  # type: ignore[arg-type]


def _ranked_unseen(result: StackResult, store: GraphStore, user: str, k: int) -> list[str]:
    """What the ranker ranks for ``user``, less what the graph says they rated: the first ``k``."""
    data = result.ranker.trained_data()
    rated = set(store.rated_items(user)["item"])
    ranked = result.ranker.rank([user], data.n_items).items[0]
    return [str(data.item_keys[c]) for c in ranked if c >= 0 and data.item_keys[c] not in rated][:k]


def test_served_list_is_the_fused_ranking_after_the_graph_seen_filter(stacked) -> None:  # type: ignore[no-untyped-def]
    store, _, result, truth = stacked
    serving = FusedServing(result.ranker, store)
    users = list(truth.user_branch)[:12]
    served = serving.recommend(users, k=6)
    for user in users:
        assert [s.item for s in served[user]] == _ranked_unseen(result, store, user, 6)
        assert all(s.predicted_rating is not None for s in served[user])
        # the served stars (those items alone) are the rating model's for the pair, as a catalogue pass gives
        items = [s.item for s in served[user]]
        whole = result.model.score_items([user])[0][result.model.id_map.rows("item", items)]
        np.testing.assert_allclose([s.predicted_rating for s in served[user]], whole, rtol=0, atol=1e-5)
        assert result.model.predict(pd.DataFrame({"user": user, "item": items})) == pytest.approx(
            whole, abs=1e-5
        )
    # a batch ranks each user as alone (kgrec serve ranks the requests waiting together)
    for user in users[:4]:
        alone = serving.recommend([user], k=6)[user]
        assert [s.item for s in alone] == [s.item for s in served[user]]
        assert [s.score for s in alone] == pytest.approx([s.score for s in served[user]], abs=1e-6)
    # the cards come from the graph once, then from memory
    reads = []
    serving.store = _Counting(store, reads)
    serving.cards.store = serving.store
    again = serving.recommend(users, k=6)
    assert again == served and not [q for q in reads if "title" in q]
    # each user's held-out items are in the graph, so they never come back
    held = result.split.test
    for user in users:
        assert not set(held[held.user == user].item) & {s.item for s in served[user]}


def test_ratings_written_after_training_leave_the_list(stacked) -> None:  # type: ignore[no-untyped-def]
    store, _, result, truth = stacked
    serving = FusedServing(result.ranker, store)
    user = list(truth.user_branch)[-1]
    before = [s.item for s in serving.recommend([user], k=10)[user]]
    store.write(
        Dataset(
            report=LoadReport(source="test"),
            ratings=pd.DataFrame({"user": user, "item": before[:6], "rating": 5.0, "ts": 0}),
        )
    )
    try:
        after = [s.item for s in serving.recommend([user], k=10)[user]]
        expected = _ranked_unseen(result, store, user, 10)
        kept = [s.item for s in serving.recommend([user], k=10, exclude_seen=False)[user]]
    finally:
        store.write_query(UNRATE, {"user": user, "items": before[:6]})
    assert after == expected and not set(after) & set(before[:6]) and after[:4] == before[6:]
    data = result.ranker.trained_data()
    own = result.ranker.rank([user], 10).items[0]
    assert kept == [str(data.item_keys[c]) for c in own]  # without the graph's filter: the ranker's list


def test_graph_user_unknown_to_the_ranker_is_ranked_from_what_the_graph_says_they_rated(stacked) -> None:  # type: ignore[no-untyped-def]
    store, _, result, truth = stacked
    comics = [i for i, b in truth.item_branch.items() if b == "Comics"][:4]
    ratings = pd.DataFrame({"user": "U-late", "item": comics, "rating": 5.0, "ts": 0})
    store.write(Dataset(report=LoadReport(source="test"), ratings=ratings))
    try:
        served = FusedServing(result.ranker, store).recommend(["U-late"], k=5)["U-late"]
    finally:
        store.write_query("MATCH (u:User {id: 'U-late'}) DETACH DELETE u")
    data = result.ranker.trained_data()
    newcomer = result.ranker.rank_new(comics, 5).items[0]
    assert [s.item for s in served] == [str(data.item_keys[c]) for c in newcomer]
    assert sum(truth.item_branch[s.item] == "Comics" for s in served) >= 4
    with pytest.raises(NotFoundError, match="nobody"):
        FusedServing(result.ranker, store).recommend(["nobody"], k=5)


def test_filters_and_newcomers(stacked) -> None:  # type: ignore[no-untyped-def]
    store, _, result, truth = stacked
    serving = FusedServing(result.ranker, store)
    user = next(iter(truth.user_branch))
    assert {s.card["brand"] for s in serving.recommend([user], k=4, brand="Velocita")[user]} == {"Velocita"}
    kitchen = serving.recommend([user], k=8, category="Kitchen")[user]
    assert kitchen and {truth.item_branch[s.item] for s in kitchen} <= {"Coffee", "Baking"}
    stated = serving.recommend_for_new_user(brands=["Inkwell", "Flourish"], categories=["Reading"], k=4)
    assert stated and {s.card["brand"] for s in stated} == {"Inkwell"}
    nothing = serving.recommend_for_new_user(k=5)
    data = result.ranker.trained_data()
    assert [s.item for s in nothing] == [
        str(data.item_keys[c]) for c in result.ranker.rank_new([], 5).items[0]
    ]


# -- leakage ----------------------------------------------------------------------------------------------
def test_held_out_interactions_are_not_in_the_rankers_training_data(stacked) -> None:  # type: ignore[no-untyped-def]
    _, _, result, _ = stacked
    data = result.ranker.trained_data()
    held = result.split.test
    rows, cols = data.user_rows(held.user.astype(str)), data.item_rows(held.item.astype(str))
    assert (rows >= 0).all() and (cols >= 0).all()
    assert np.asarray(data.matrix[rows, cols]).ravel().sum() == 0
    assert data.matrix.nnz == len(result.split.train)


def test_changing_the_held_out_interactions_does_not_change_the_ranker(stacked) -> None:  # type: ignore[no-untyped-def]
    _, export, result, truth = stacked
    rated = export.edges["RATED"].sort_values(["user", "item"], kind="stable").reset_index(drop=True)
    changed = rated.copy()
    test_idx = result.split.test_idx
    # every held-out rating flipped and stamped as the newest interaction: any leak into popularity,
    # recency, item age or the rating model's stars would move the ranking
    changed.loc[test_idx, "rating"] = 6.0 - changed.loc[test_idx, "rating"]
    changed.loc[test_idx, "ts"] = int(rated["ts"].max()) + 86_400
    again = train_stack(
        replace(export, edges={**export.edges, "RATED": changed}), "random", 0.2, 0, SMALL_TRAIN, SMALL_RANK
    )
    assert np.array_equal(again.split.test_idx, test_idx)
    users = list(truth.user_branch)
    first, second = result.ranker.rank(users, 10), again.ranker.rank(users, 10)
    assert np.array_equal(first.items, second.items)
    np.testing.assert_allclose(first.scores, second.scores, rtol=1e-5)
    assert result.fusion.importances == pytest.approx(again.fusion.importances)
    assert result.ranking == again.ranking  # the held-out items themselves did not change
    assert result.rating.test != again.rating.test  # their ratings did, and the test RMSE sees it


def test_the_rating_feature_scores_a_few_items_alone_as_the_catalogue_pass_does(stacked) -> None:  # type: ignore[no-untyped-def]
    _, export, result, _ = stacked
    catalogue = np.asarray(export.node_keys("Item"))
    users = list(result.ranker.trained_data().user_keys[:7])
    stars = RatingModelScores(result.model)
    whole = stars(users, catalogue)
    # a batch's candidates on a larger catalogue: under a quarter of it, one key the model never saw
    some = np.r_[catalogue[::5][:20], ["no-such-item"]]
    alone = stars(users, some)
    np.testing.assert_allclose(alone[:, :-1], whole[:, ::5][:, :20], rtol=0, atol=1e-5)
    assert np.isnan(alone[:, -1]).all() and not np.isnan(alone[:, :-1]).any()
