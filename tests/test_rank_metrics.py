"""Ranking metrics against values computed by hand, and the per-user hold-out splits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import ModelError
from rank import holdout_split, ranking_metrics
from rank.evaluate import top_k


def test_metrics_match_hand_computed_values() -> None:
    # user 0: relevant {2, 7}; list [2, 5, 7, 1] -> hits at ranks 1 and 3
    # user 1: relevant {4}; list [0, 1, 3, 4] -> hit at rank 4 (outside the top 3)
    top = np.array([[2, 5, 7, 1], [0, 1, 3, 4]])
    relevant = [np.array([2, 7]), np.array([4])]
    m = ranking_metrics(top, relevant, ks=(3, 4), popularity=np.arange(10))
    at3, at4 = m.at(3), m.at(4)
    dcg0 = 1 / math.log2(2) + 1 / math.log2(4)
    idcg0 = 1 / math.log2(2) + 1 / math.log2(3)
    assert at3.ndcg == pytest.approx((dcg0 / idcg0 + 0.0) / 2)
    assert at4.ndcg == pytest.approx((dcg0 / idcg0 + 1 / math.log2(5)) / 2)
    assert at3.recall == pytest.approx((2 / 2 + 0) / 2)
    assert at4.recall == pytest.approx((1 + 1) / 2)
    assert at3.hit_rate == pytest.approx(0.5)
    assert at4.hit_rate == pytest.approx(1.0)
    assert at3.mrr == pytest.approx((1 + 0) / 2)
    assert at4.mrr == pytest.approx((1 + 1 / 4) / 2)
    # MAP@3: user 0 (P@1 + P@3) / min(3, 2) = (1 + 2/3) / 2; user 1: 0
    assert at3.map == pytest.approx(((1 + 2 / 3) / 2 + 0) / 2)
    # coverage@3: {2, 5, 7, 0, 1, 3} of 10 items
    assert at3.coverage == pytest.approx(0.6)
    # popularity = item id: percentile of item i is 100 * i / 9
    shown = [2, 5, 7, 0, 1, 3]
    assert at3.popularity_percentile == pytest.approx(np.mean([100 * i / 9 for i in shown]))
    assert m.users == 2 and m.skipped_users == 0


def test_users_with_nothing_held_out_are_skipped_and_counted() -> None:
    m = ranking_metrics(np.array([[0, 1], [1, 0]]), [np.array([1]), np.array([], dtype=int)], ks=(2,))
    assert (m.users, m.skipped_users) == (1, 1)
    assert m.at(2).ndcg == pytest.approx(1 / math.log2(3))


def test_a_best_seller_list_shows_as_such() -> None:
    popularity = np.array([100, 90, 80, 1, 1, 1])
    best_sellers = ranking_metrics(np.array([[0, 1, 2]]), [np.array([5])], ks=(3,), popularity=popularity)
    long_tail = ranking_metrics(np.array([[3, 4, 5]]), [np.array([5])], ks=(3,), popularity=popularity)
    assert best_sellers.at(3).popularity_percentile > 75 > long_tail.at(3).popularity_percentile


def test_top_k_leaves_out_excluded_items_and_pads() -> None:
    import scipy.sparse as sp

    scores = np.array([[0.9, 0.8, 0.1]])
    top = top_k(scores, 4, exclude=sp.csr_matrix(np.array([[1, 0, 0]])))
    assert top.tolist() == [[1, 2, -1, -1]]


def _ratings(n_users: int = 50, per_user: int = 10) -> pd.DataFrame:
    rows = [(f"u{u}", f"i{(u + j) % 40}", 4.0, 1000 + j) for u in range(n_users) for j in range(per_user)]
    return pd.DataFrame(rows, columns=["user", "item", "rating", "ts"])


def test_random_holdout_takes_the_share_of_every_user() -> None:
    ratings = _ratings()
    split = holdout_split(ratings, "random", 0.2, seed=3)
    assert len(split.train) + len(split.test) == len(ratings)
    assert (split.test.groupby("user").size() == 2).all()
    assert set(split.train["user"]) == set(ratings["user"])
    again = holdout_split(ratings, "random", 0.2, seed=3)
    assert split.test.equals(again.test)
    assert not split.test.equals(holdout_split(ratings, "random", 0.2, seed=4).test)


def test_temporal_holdout_takes_each_users_latest() -> None:
    split = holdout_split(_ratings(), "temporal", 0.2)
    assert (split.test["ts"] >= 1008).all()
    assert (split.train["ts"] < 1008).all()


def test_a_user_keeps_one_interaction_for_training() -> None:
    one = pd.DataFrame({"user": ["a"], "item": ["x"], "rating": [5.0], "ts": [1]})
    split = holdout_split(one, "random", 0.5)
    assert len(split.train) == 1 and split.test.empty


def test_bad_split_settings_are_refused() -> None:
    with pytest.raises(ModelError, match="fraction"):
        holdout_split(_ratings(), "random", 1.5)
    with pytest.raises(ModelError, match="kind"):
        holdout_split(_ratings(), "sideways", 0.2)  # type: ignore[arg-type]
