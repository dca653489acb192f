"""Serving from approximate nearest-neighbour candidates (``RankConfig.ann_above``): the index finds the exact
neighbours on a planted case, each model's own short list is the dense one, and a ranker above the threshold
ranks as the exact one where the index finds every model's list."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from rank import Interactions, Knowledge, Ranker, holdout_split
from rank.ann_candidates import build_indexes
from rank.ann_index import ItemIndex, ItemIndexes
from rank.evaluate import top_k
from rank.models import MODELS, Context
from tests.test_rank_models import SMALL

CLUSTERS, PER_CLUSTER, USERS = 8, 40, 800


def _shop(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, Knowledge]:
    """Users take 10 items of their cluster (popular ones more often) and 2 strays: 320 items, 800 users."""
    rng = np.random.default_rng(seed)
    n_items = CLUSTERS * PER_CLUSTER
    items = np.array([f"i{n:03d}" for n in range(n_items)])
    weights = 1.0 / np.arange(1, PER_CLUSTER + 1)
    rows = []
    for u in range(USERS):
        c = u % CLUSTERS
        mine = rng.choice(PER_CLUSTER, 10, replace=False, p=weights / weights.sum()) + c * PER_CLUSTER
        for n, i in enumerate([*mine, *rng.integers(0, n_items, 2)]):
            rows.append((f"u{u:03d}", items[i], 5.0, 1_000_000 + 86_400 * (n + u % 30)))
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "ts"])
    ratings = ratings.drop_duplicates(["user", "item"])
    brand = sp.csr_matrix(
        (np.ones(n_items, np.float32), (np.arange(n_items), np.arange(n_items) // PER_CLUSTER))
    )
    return ratings, items, Knowledge({"MADE_BY": brand}, (np.zeros(0, np.int64), np.zeros(0, np.int64)))


def test_the_index_finds_the_exact_neighbours_on_a_planted_catalogue() -> None:
    """20,000 items around 50 directions, norms spread as popularity spreads them; each of 10 users has 30
    planted items pushed further along its direction: the index's 30 are exactly those, in their exact
    order, and its next 30 are nearly the exact next."""
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((50, 32)).astype(np.float32)
    owner = rng.integers(0, 50, 20_000)
    norms = (1.0 + 3.0 / np.arange(1, 20_001) ** 0.5).astype(np.float32)[:, None]
    items = (centres[owner] + 0.3 * rng.standard_normal((20_000, 32)).astype(np.float32)) * norms
    planted = [rng.choice(np.flatnonzero(owner == c), 30, replace=False) for c in range(10)]
    for c, chosen in enumerate(planted):
        items[chosen] += 5.0 * centres[c]
    users = centres[:10] + 0.1 * rng.standard_normal((10, 32)).astype(np.float32)
    found = ItemIndex(items, links=32, breadth=256).search(users, 60)
    exact = top_k(users @ items.T, 60)
    assert all(set(exact[c, :30]) == set(planted[c]) for c in range(10))  # the plant holds
    assert np.array_equal(found[:, :30], exact[:, :30])
    assert np.mean([len(set(f) & set(e)) / 60 for f, e in zip(found, exact, strict=True)]) > 0.9


def test_an_index_is_built_again_for_new_vectors_only() -> None:
    items = np.eye(8, dtype=np.float32)
    indexes = ItemIndexes(links=8, breadth=16)
    first = indexes.get("als", items)
    assert indexes.get("als", items) is first
    assert indexes.get("als", items.copy()) is not first


@pytest.mark.parametrize("name", ["popularity", "ease", "als", "rp3", "knn"])
def test_each_models_own_list_is_the_dense_one(name: str) -> None:
    """``CandidateModel.top`` (and the scores at a few columns) as the dense scores give them, with items
    hidden and a filter: users with at least the list's length of non-zero scores."""
    ratings, items, knowledge = _shop()
    data = Interactions.build(ratings, items)
    params = {"als": {"iterations": 5, "factors": 8}}.get(name)
    model = MODELS[name](params, Context(knowledge)).fit(data)
    rows = np.r_[data.user_rows(list(data.user_keys[:40])), -1]
    seen = sp.csr_matrix(sp.vstack([data.seen(rows[:-1]), data.seen(rows[:1])]))
    allowed = np.arange(data.n_items) % 3 > 0
    dense = np.asarray(model.scores(rows, seen), dtype=np.float64)
    dense[:, ~allowed] = -np.inf
    expected = top_k(dense, 15, exclude=seen)
    assert np.array_equal(model.top(rows, seen, 15, seen, allowed), expected)
    cols = np.array([3, 50, 7, 300])
    assert np.allclose(model.scores_of(rows, seen, cols), model.scores(rows, seen)[:, cols], atol=1e-6)


@pytest.fixture(scope="module")
def twins() -> tuple[Ranker, Ranker, np.ndarray]:
    """One trained ranker, and the same trained state served with the threshold lowered to one item."""
    ratings, items, knowledge = _shop()
    exact = Ranker(SMALL)
    exact.fit(holdout_split(ratings, "random", 0.2, seed=0).train, items, knowledge)
    approximate = copy.copy(exact)
    approximate.config = exact.config.model_copy(update={"ann_above": 1})
    approximate.indexes = ItemIndexes(SMALL.ann_links, SMALL.ann_search)
    build_indexes(approximate)
    return exact, approximate, items


def test_serving_above_the_threshold_gives_the_exact_top_k(twins: tuple[Ranker, Ranker, np.ndarray]) -> None:
    exact, approximate, items = twins
    assert exact.trained_data().n_items < exact.config.ann_above  # the peer scores every item
    assert set(approximate.indexes._built) == {"als", "lightgcn"}  # built before the first request
    users = list(exact.trained_data().user_keys)
    a, b = exact.rank(users, k=10), approximate.rank(users, k=10)
    assert np.array_equal(a.items, b.items)
    assert np.allclose(a.scores, b.scores, atol=1e-6)
    allowed = np.arange(len(items)) % 2 == 0
    a, b = exact.rank(users[:50], k=10, allowed=allowed), approximate.rank(users[:50], k=10, allowed=allowed)
    assert np.array_equal(a.items, b.items) and allowed[b.items].all()
    taken = [str(i) for i in items[PER_CLUSTER : PER_CLUSTER + 4]]
    assert np.array_equal(exact.rank_new(taken, 10).items, approximate.rank_new(taken, 10).items)
    offered = [str(i) for i in items[::7]]
    assert np.allclose(
        exact.fused_scores("u001", taken, offered),
        approximate.fused_scores("u001", taken, offered),
        atol=1e-6,
    )
    # an explanation's one table: the removals' scores and the user's own list
    takens = [taken, taken[1:]]
    (a_scores, a_own), (b_scores, b_own) = (
        r.fused_scores_listed("u001", takens, offered[:2], 10) for r in twins[:2]
    )
    assert np.allclose(a_scores, b_scores, atol=1e-6) and np.array_equal(a_own.items, b_own.items)
