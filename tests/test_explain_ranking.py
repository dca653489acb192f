"""``RankingScorer``: a path's score is how much removing its anchor items from the user's interactions moves
the fusion score that ranked the item. A stand-in ranker with a known score checks the arithmetic exactly;
the real ranker, trained on the demo catalogue with a planted user in real Neo4j, checks the behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

from explain import (
    ExplainedPath,
    Explainer,
    Explanation,
    PathNode,
    PathRel,
    RankingScorer,
    ShapeScorer,
    anchors,
)
from explain.ranking_scorer import RatingLookup
from kg import GraphStore
from kg.paths import path_exists
from loaders.demo import DemoTruth, demo_dataset
from rank import Interactions, Knowledge, RankConfig, Ranked, Ranker

PLANTED = "U09999"


def path(user: str, anchor: str, target: str, kind: str = "brand") -> ExplainedPath:
    """(user)-[RATED]->(anchor)-[MADE_BY]->(brand)<-[MADE_BY]-(target)."""
    nodes = [
        PathNode(label="User", key=user, name=user),
        PathNode(label="Item", key=anchor, name=anchor),
        PathNode(label="Brand", key="B", name="B"),
        PathNode(label="Item", key=target, name=target),
    ]
    rels = [
        PathRel(type="RATED", start=0, end=1, properties={"rating": 5.0}),
        PathRel(type="MADE_BY", start=1, end=2),
        PathRel(type="MADE_BY", start=3, end=2),
    ]
    return ExplainedPath(kind=kind, nodes=nodes, rels=rels)


class WeightedRanker:
    """A stand-in whose fusion score of an item is the sum of planted weights ``w[taken, item]``."""

    def __init__(self, data: Interactions, weights: dict[tuple[str, str], float]) -> None:
        self.data, self.weights = data, weights
        self.asked: list[tuple[str, ...]] = []  # the ``taken`` of each call (shared by a shallow copy)
        self.rating: RatingLookup | None = None

    def fused_scores(self, user: str, taken: Sequence[str], items: Sequence[str]) -> np.ndarray:
        self.asked.append(tuple(taken))
        stars = self.rating([user], self.data.item_keys) if self.rating is not None else None
        columns = self.data.item_rows(list(items))
        extra = stars[0, columns] if stars is not None else np.zeros(len(items))
        return np.array([sum(self.weights.get((t, i), 0.0) for t in taken) for i in items]) + extra

    def trained_data(self) -> Interactions:
        return self.data

    def rank_new(self, taken: Sequence[str], k: int) -> Ranked:
        """The top ``k`` of the catalogue items not ``taken`` by their planted score (not counted a call)."""
        keys = [str(i) for i in self.data.item_keys if str(i) not in set(taken)]
        scores = np.array([sum(self.weights.get((t, i), 0.0) for t in taken) for i in keys])
        order = np.argsort(-scores, kind="stable")[:k]
        columns = self.data.item_rows([keys[o] for o in order])
        return Ranked(columns[None, :], scores[order][None, :])

    @property
    def calls(self) -> int:
        return len(self.asked)


def test_scores_are_the_drop_of_a_known_fusion_score() -> None:
    frame = pd.DataFrame({"user": ["u"] * 3 + ["v"], "item": ["a", "b", "c", "a"], "rating": 5.0, "ts": 0})
    data = Interactions.build(frame, item_keys=["a", "b", "c", "t"])
    ranker = WeightedRanker(data, {("a", "t"): 0.7, ("b", "t"): -0.2})
    scorer = RankingScorer(ranker)
    assert scorer.taken("u") == ["a", "b", "c"] and scorer.taken("nobody") == []
    paths = [path("u", "a", "t"), path("u", "b", "t"), path("u", "c", "t"), path("u", "a", "t", "category")]
    paths.append(path("u", "x", "t"))  # the user never took x: nothing to remove
    scores = scorer(paths=paths, user="u", item="t")
    assert scores.values == pytest.approx([0.7, -0.2, 0.0, 0.7, 0.0])
    assert scores.fused == pytest.approx(0.5) and scores.predicted is None and scores.rating_drops is None
    assert ranker.calls == 4  # the full set, then a, b and c once each: the repeated anchor shares a call
    # a similar-users path removes the item the user rated, not the other user's
    similar = ExplainedPath(
        kind="similar_users",
        nodes=[
            PathNode(label="User", key="u", name="u"),
            PathNode(label="Item", key="a", name="a"),
            PathNode(label="User", key="v", name="v"),
            PathNode(label="Item", key="t", name="t"),
        ],
        rels=[PathRel(type="RATED", start=0, end=1), PathRel(type="RATED", start=2, end=1)]
        + [PathRel(type="RATED", start=2, end=3)],
    )
    assert anchors(similar) == frozenset({"a"})
    # with a rating scorer beside it, its scores come back as the rating drops
    shape = ShapeScorer()
    both = RankingScorer(ranker, rating_scorer=shape)(user="u", item="t", paths=paths[:2])
    assert (
        both.values == pytest.approx([0.7, -0.2]) and both.rating_drops == shape("u", "t", paths[:2]).values
    )


@dataclass(frozen=True)
class Planted:
    store: GraphStore
    ranker: Ranker
    truth: DemoTruth
    liked: list[str]
    unrelated: list[str]
    disliked: str


@pytest.fixture(scope="module")
def planted(session_store: GraphStore) -> Planted:
    """The demo catalogue plus a user who rated three Coffee items and three Comics items 5 and one more
    Comics item 1; the ranker counts ratings from 4 as interactions, so the 1-star one is not among them."""
    dataset, truth = demo_dataset(n_users=200, n_items=96, ratings_per_user=16, seed=3)
    coffee = sorted(i for i, b in truth.item_branch.items() if b == "Coffee")
    comics = sorted(i for i, b in truth.item_branch.items() if b == "Comics")
    liked, unrelated, disliked = coffee[:3], comics[:3], comics[-1]
    rows = [(PLANTED, i, 5.0, 1_600_000_000) for i in liked + unrelated] + [(PLANTED, disliked, 1.0, 1)]
    extra = pd.DataFrame(rows, columns=["user", "item", "rating", "ts"])
    dataset = replace(dataset, ratings=pd.concat([dataset.ratings, extra], ignore_index=True))
    session_store.reset()
    session_store.write(dataset)
    export = session_store.export()
    items = np.asarray(export.node_keys("Item"))
    config = RankConfig(
        # the last fit as long as the first: a fifth of 2 epochs and 3 iterations is one pass each, and the
        # taste planted below then no longer showed in the explanation's effects
        params={"lightgcn": {"epochs": 2, "refit_share": 1.0}, "als": {"iterations": 3, "refit_share": 1.0}},
        candidates=20,
        fusion_users=200,
        min_rating=4.0,
    )
    ranker = Ranker(config)
    # sorted, so that the split does not depend on the order in which Neo4j returns the ratings
    rated = export.edges["RATED"].sort_values(["user", "item"], kind="stable").reset_index(drop=True)
    ranker.fit(rated, items, Knowledge.from_export(export, items))
    return Planted(session_store, ranker, truth, liked, unrelated, disliked)


@pytest.mark.neo4j
def test_a_path_through_a_taken_item_supports_the_fused_score(planted: Planted) -> None:
    p = planted
    data = p.ranker.trained_data()
    top = [str(data.item_keys[c]) for c in p.ranker.rank([PLANTED], 10).items[0] if c >= 0]
    targets = [i for i in top if p.truth.item_branch[i] == "Coffee"][:2]
    assert targets, "the planted Coffee taste reaches the fused top 10"
    scorer = RankingScorer(p.ranker)
    taken = scorer.taken(PLANTED)
    assert sorted(taken) == sorted(p.liked + p.unrelated)  # the 1-star rating is no interaction
    liked_all: list[float] = []
    unrelated_all: list[float] = []
    for item in targets:
        paths = [path(PLANTED, a, item) for a in [*p.liked, *p.unrelated, p.disliked]]
        scores = scorer(PLANTED, item, paths)
        full = float(p.ranker.fused_scores(PLANTED, taken, [item])[0])
        assert scores.fused == pytest.approx(full, abs=1e-6)
        # the batched call (what the scorer uses) gives each set's own fused_scores, row by row
        many = p.ranker.fused_scores_many(PLANTED, [taken, taken[1:]], [item, *targets])
        assert many.shape == (2, 1 + len(targets))
        assert many[1] == pytest.approx(p.ranker.fused_scores(PLANTED, taken[1:], [item, *targets]), abs=1e-9)
        for a, value in zip([*p.liked, *p.unrelated], scores.values, strict=False):
            without = float(p.ranker.fused_scores(PLANTED, [t for t in taken if t != a], [item])[0])
            assert value == pytest.approx(full - without, abs=1e-6)
        liked = scores.values[: len(p.liked)]
        assert max(liked) > 0  # taking away a Coffee item the user took lowers the Coffee item's score
        liked_all += list(liked)
        unrelated_all += list(np.abs(scores.values[len(p.liked) : -1]))
        assert scores.values[-1] == 0.0  # the ranker never used the 1-star rating
    # over the Coffee items of the top 10, a Comics item matters less to them than a Coffee one (the fusion
    # is piecewise constant, so one item alone can tie or flip; the planted taste shows on the whole)
    assert np.mean(liked_all) > np.mean(unrelated_all)


@pytest.mark.neo4j
def test_explanations_scored_by_the_ranking(planted: Planted) -> None:
    p = planted
    data = p.ranker.trained_data()
    top = [str(data.item_keys[c]) for c in p.ranker.rank([PLANTED], 10).items[0] if c >= 0]
    item = next(i for i in top if p.truth.item_branch[i] == "Coffee")
    scorer = RankingScorer(p.ranker, rating_scorer=ShapeScorer())
    explanation = Explainer(p.store, scorer, max_scored=8).explain(PLANTED, item, top=4)
    assert explanation.scoring == "ranking" and explanation.paths
    rated_well = {frozenset([a]) for a in p.liked + p.unrelated}
    assert {anchors(x) for x in explanation.paths} <= rated_well  # paths start from items rated >= 4
    scores = [x.score for x in explanation.paths]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    shape = ShapeScorer()
    assert all(x.support["rating_drop"] == shape.score(x) for x in explanation.paths)
    assert all(path_exists(p.store, x.model_dump()) for x in explanation.paths)
    again = Explanation.model_validate_json(explanation.model_dump_json())
    assert again == explanation
    # the same call on the scorer alone gives the same numbers (the explainer adds nothing of its own)
    alone = RankingScorer(p.ranker)(PLANTED, item, explanation.paths)
    assert alone.values == pytest.approx(scores, abs=1e-9)


class CountedStars:
    """A rating lookup that says 4 stars of everything and counts how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, users: Sequence[str], items: np.ndarray) -> np.ndarray:
        self.asked += 1
        return np.full((len(users), len(items)), 4.0)


def test_the_rating_model_is_asked_once_per_pair() -> None:
    frame = pd.DataFrame({"user": ["u", "u"], "item": ["a", "b"], "rating": 5.0, "ts": 0})
    ranker = WeightedRanker(Interactions.build(frame, item_keys=["a", "b", "t"]), {("a", "t"): 0.5})
    stars = CountedStars()
    ranker.rating = stars
    scores = RankingScorer(ranker)("u", "t", [path("u", "a", "t"), path("u", "b", "t")])
    assert scores.values == pytest.approx([0.5, 0.0]) and scores.fused == pytest.approx(4.5)
    assert scores.predicted == 4.0
    assert ranker.calls == 3 and stars.asked == 2  # one for the fused calls together, one for `predicted`
    assert ranker.rating is stars  # the ranker is left as it was


def test_a_user_the_ranker_never_saw_gets_zeros() -> None:
    frame = pd.DataFrame({"user": ["u"], "item": ["a"], "rating": 5.0, "ts": 0})
    ranker = WeightedRanker(Interactions.build(frame, item_keys=["a", "t"]), {("a", "t"): 1.0})
    scores = RankingScorer(ranker)("stranger", "t", [path("stranger", "a", "t")])
    assert scores.values == [0.0] and scores.fused is None and ranker.calls == 0
