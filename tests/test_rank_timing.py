"""The time features (rank.timing): hand-computed values on a tiny history, a newcomer taken to be active now,
NaN without timestamps, and nothing but training interactions behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rank import Interactions, holdout_split
from rank.timing import MONTH_DAYS, TIME_FEATURES, TimeProfile

DAY = 86_400
MONTH = MONTH_DAYS * DAY


def _history() -> Interactions:
    """Item ``old`` is taken in month 0 by u and v, item ``new`` in month 24 by v and w."""
    rows = [
        ("u", "old", 0.0),
        ("v", "old", 2 * DAY),
        ("v", "new", 24 * MONTH + DAY),
        ("w", "new", 24 * MONTH + 3 * DAY),
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "ts"]).assign(rating=5.0)
    frame["ts"] += 1_000_000_000
    return Interactions.build(frame, item_keys=["old", "new", "never"])


def test_each_feature_matches_the_hand_computed_value() -> None:
    data = _history()
    t = TimeProfile(sigma_months=2.0).fit(data)
    u, v = data.user_rows(["u", "v"])
    f = t.features(np.array([u, v]), np.array([0, 0, 1]), np.array([0, 1, 1]))
    assert list(f) == list(TIME_FEATURES)
    # u (month 0) and item old (2 takes in month 0): the kernel at distance 0 is 1, so 2 takes nearby
    assert f["time_popularity"][0] == pytest.approx(np.log1p(2.0))
    # item new is 24 months away from u: exp(-0.5 * (24/2)^2) of its 2 takes, practically nothing
    assert f["time_popularity"][1] == pytest.approx(np.log1p(2 * np.exp(-0.5 * 144)), abs=1e-6)
    assert f["time_share"][0] == pytest.approx(1.0, abs=1e-6)
    assert f["time_item_share"][0] == pytest.approx(1.0)
    # v: half of their time in month 0, half in month 24, so half of item new's activity is near them
    assert f["time_item_share"][2] == pytest.approx(0.5, abs=1e-6)
    assert f["gap_first_days"][1] == pytest.approx(24 * MONTH_DAYS + 1)  # new appears long after u left
    assert f["gap_median_days"][2] == pytest.approx((24 * MONTH + DAY - 2 * DAY) / DAY)  # lower medians
    assert f["user_span_days"][2] == pytest.approx((24 * MONTH + DAY - 2 * DAY) / DAY)
    assert f["user_span_days"][0] == 0.0


def test_an_item_nobody_took_has_no_activity_and_no_times() -> None:
    data = _history()
    t = TimeProfile().fit(data)
    f = t.features(data.user_rows(["u"]), np.array([0]), np.array([2]))
    assert f["time_popularity"][0] == 0.0
    assert np.isnan(f["gap_first_days"][0]) and np.isnan(f["gap_median_days"][0])


def test_a_newcomer_is_active_at_the_latest_time() -> None:
    data = _history()
    t = TimeProfile(sigma_months=2.0).fit(data)
    f = t.features(np.array([-1]), np.array([0, 0]), np.array([0, 1]))
    assert f["time_popularity"][1] > f["time_popularity"][0]  # now is when item new is taken
    assert f["gap_first_days"][1] == pytest.approx((DAY - 3 * DAY) / DAY)
    assert f["user_span_days"][0] == 0.0


def test_without_timestamps_every_time_feature_is_missing() -> None:
    frame = pd.DataFrame({"user": ["u", "v"], "item": ["a", "b"], "rating": [5.0, 4.0], "ts": [0, 0]})
    data = Interactions.build(frame)
    t = TimeProfile().fit(data)
    f = t.features(np.array([0, -1]), np.array([0, 1]), np.array([1, 0]))
    assert all(np.isnan(f[name]).all() for name in TIME_FEATURES)


def test_the_profile_counts_training_interactions_only() -> None:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "user": [f"u{i % 40}" for i in range(n)],
            "item": [f"i{j}" for j in rng.integers(0, 30, n)],
            "rating": 5.0,
            "ts": 1_000_000_000 + rng.integers(0, 3 * 365, n) * DAY,
        }
    ).drop_duplicates(["user", "item"])
    split = holdout_split(frame, "random", 0.2, 0)
    items = sorted(frame["item"].unique())
    data = Interactions.build(split.train, item_keys=items)
    t = TimeProfile().fit(data)
    counts = split.train["item"].value_counts().reindex(items).to_numpy()
    assert t.item_count.tolist() == counts.tolist()  # not the held-out ones
    first = split.train.groupby("item")["ts"].min().reindex(items).to_numpy()
    assert np.array_equal(t.item_times[:, 0], first)


def test_times_spanning_less_than_four_kernel_widths_give_no_features() -> None:
    frame = pd.DataFrame(
        {
            "user": ["u", "v"],
            "item": ["a", "b"],
            "rating": 5.0,
            "ts": [1_000_000_000, 1_000_000_000 + 90 * DAY],
        }
    )
    data = Interactions.build(frame)
    short = TimeProfile(sigma_months=6.0).fit(data)  # 90 days < 24 months
    assert not short.active
    f = short.features(np.array([0]), np.array([0]), np.array([1]))
    assert all(np.isnan(f[name]).all() for name in TIME_FEATURES)
    assert TimeProfile(sigma_months=0.5).fit(data).active  # 3 months >= 2 months
