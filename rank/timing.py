"""When users and items were active, as fusion features: from training interactions only.

A per-user random hold-out takes items the user chose while they were active; an item-item model such as
EASE does not know when that was. Timestamps are bucketed into months (``MONTH_DAYS``). Per item, a
histogram of its training interactions over the months, smoothed with a Gaussian kernel of ``sigma_months``:
how active the item was around each month. Per user, the months of their training interactions. For a
(user, item) pair (:data:`TIME_FEATURES`, in this order):

- ``time_popularity``: log1p of the item's smoothed activity averaged over the user's months (a kernel
  density of the item's interactions evaluated at the user's times);
- ``time_share``: that activity over every item's activity at the user's times (the item's share of what
  was taken while the user was active);
- ``time_item_share``: that activity over the item's own interaction count (how much of the item's life
  falls near the user's);
- ``gap_first_days``: the item's first interaction minus the user's latest, in days (an item that appeared
  after the user left is unlikely to be theirs);
- ``gap_median_days``: the item's median interaction time minus the user's, in days;
- ``user_span_days``: the user's latest minus earliest interaction time.

Data whose training times span less than ``4 * sigma_months`` (two years by default: the demo's generated
90 days, say) gets no time features at all (every column missing): over so short a span the smoothed activity
is only popularity again and the day gaps are noise a small fusion would learn.
A newcomer (known only by the items they took, no times) is taken to be active now: at the latest time of
the training data. Everything is NaN where a time is unknown (a user without timestamps; data without any).
The model keeps the smoothed activity as ``[months, items]`` float32 and two times per item; per user, three
times and their months, so serving a user costs one ``[months] x [months, items]`` product.

Example:
    >>> import numpy as np, pandas as pd
    >>> from rank.interactions import Interactions
    >>> day = 86_400
    >>> r = pd.DataFrame({"user": ["u", "v", "v", "w"], "item": ["a", "a", "b", "b"],
    ...                   "rating": [5.0] * 4, "ts": [day, 2 * day, 900 * day, 901 * day]})
    >>> data = Interactions.build(r)
    >>> t = TimeProfile().fit(data)
    >>> f = t.features(data.user_rows(["u"]), np.array([0, 0]), np.array([0, 1]))
    >>> bool(f["time_popularity"][0] > f["time_popularity"][1])   # u was active when a was, not b
    True
    >>> f["gap_first_days"].tolist()
    [0.0, 899.0]
"""

from __future__ import annotations

import copy
from typing import Self

import numpy as np
import scipy.sparse as sp

from rank.interactions import Interactions

__all__ = ["MONTH_DAYS", "TIME_FEATURES", "TimeProfile", "no_time_features"]

MONTH_DAYS = 30.44
_DAY = 86_400.0

TIME_FEATURES = (
    "time_popularity",
    "time_share",
    "time_item_share",
    "gap_first_days",
    "gap_median_days",
    "user_span_days",
)
"""The feature columns this module adds, in order."""


class TimeProfile:
    """Item activity over the months and each user's active times; see the module docstring."""

    def __init__(self, sigma_months: float = 6.0) -> None:
        self.sigma_months = sigma_months
        self.origin = 0.0
        self.latest = np.nan  # the newcomer's time
        self.active = False  # whether the times span enough to say something
        self.by_month = np.zeros((0, 0), dtype=np.float32)  # [months, items], smoothed
        self.month_total = np.zeros(0, dtype=np.float32)  # [months]: every item's smoothed activity
        self.item_count = np.zeros(0, dtype=np.float32)
        self.item_times = np.zeros((0, 2), dtype=np.float64)  # first, median (nan: unknown)
        self.user_months = sp.csr_matrix((0, 0), dtype=np.float32)  # [users, months], rows sum to 1
        self.user_times = np.zeros((0, 3), dtype=np.float64)  # first, median, latest (nan: unknown)

    def fit(self, data: Interactions) -> Self:
        known = data.ts > 0
        ts = data.ts[known]
        self.origin = float(ts.min()) if len(ts) else 0.0
        self.latest = float(ts.max()) if len(ts) else np.nan
        span_months = (self.latest - self.origin) / (MONTH_DAYS * _DAY) if len(ts) else 0.0
        self.active = span_months >= 4 * self.sigma_months
        months = self._month(ts)
        n_months = int(months.max()) + 1 if len(ts) else 1
        counts = sp.csr_matrix(
            (np.ones(len(ts)), (data.cols[known], months)), shape=(data.n_items, n_months)
        ).toarray()
        grid = np.arange(n_months, dtype=np.float64)
        kernel = np.exp(-0.5 * ((grid[:, None] - grid[None, :]) / self.sigma_months) ** 2)
        self.by_month = np.ascontiguousarray((kernel @ counts.T).astype(np.float32))
        self.month_total = self.by_month.sum(axis=1)
        self.item_count = np.maximum(counts.sum(axis=1), 1.0).astype(np.float32)
        first, median, _ = _spread(data.cols[known], ts, data.n_items)
        self.item_times = np.column_stack([first, median])
        by_user = sp.csr_matrix(
            (np.ones(len(ts)), (data.rows[known], months)), shape=(data.n_users, n_months)
        )
        totals = np.asarray(by_user.sum(axis=1)).ravel()
        self.user_months = sp.csr_matrix(
            sp.diags(np.where(totals > 0, 1.0 / np.maximum(totals, 1.0), 0.0)) @ by_user, dtype=np.float32
        )
        self.user_times = np.column_stack(_spread(data.rows[known], ts, data.n_users))
        return self

    def features(self, user_rows: np.ndarray, user: np.ndarray, item: np.ndarray) -> dict[str, np.ndarray]:
        """The columns of :data:`TIME_FEATURES` for the pairs (``user_rows[user]``, ``item``); ``user_rows``
        are rows of the fitted data (``-1``: a newcomer, active at the latest time)."""
        if not self.active:
            return no_time_features(user, item)
        n_rows = len(user)
        known = user_rows >= 0
        safe = np.maximum(user_rows, 0)
        months = self.user_months[safe].toarray().astype(np.float32)  # [batch, months], float32 as by_month
        months[~known] = 0.0
        times = np.where(known[:, None], self.user_times[safe], self.latest)
        if not known.all() and np.isfinite(self.latest):
            months[~known, self._month(np.array([self.latest]))[0]] = 1.0
        has_time = np.isfinite(times[:, 2])
        near = months @ self.by_month  # [batch, items]
        at_user = months @ self.month_total
        pair_near = near[user, item] if n_rows else np.zeros(0)
        no_time = ~has_time[user]
        popularity = np.where(no_time, np.nan, np.log1p(pair_near))
        share = np.where(no_time, np.nan, pair_near / np.maximum(at_user[user], 1e-9))
        item_share = np.where(no_time, np.nan, pair_near / self.item_count[item])
        first, median = self.item_times[item, 0], self.item_times[item, 1]
        return {
            "time_popularity": popularity,
            "time_share": share,
            "time_item_share": item_share,
            "gap_first_days": (first - times[user, 2]) / _DAY,
            "gap_median_days": (median - times[user, 1]) / _DAY,
            "user_span_days": (times[user, 2] - times[user, 0]) / _DAY,
        }

    def of_items(self, cols: np.ndarray) -> TimeProfile:
        """The same profile over the catalogue columns ``cols`` only (item ``n`` of it is ``cols[n]``): the
        features of a few hundred candidates without the ``[users, items]`` product over a large catalogue."""
        narrow = copy.copy(self)
        narrow.by_month = np.ascontiguousarray(self.by_month[:, cols])
        narrow.item_count, narrow.item_times = self.item_count[cols], self.item_times[cols]
        return narrow

    def _month(self, ts: np.ndarray) -> np.ndarray:
        return np.floor((ts - self.origin) / (MONTH_DAYS * _DAY)).astype(np.int64)


def _spread(owner: np.ndarray, ts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per owner (user or item row) the earliest, median (lower) and latest of ``ts``; NaN without any."""
    order = np.lexsort((ts, owner))
    owner, ts = owner[order], ts[order]
    starts = np.searchsorted(owner, np.arange(n))
    sizes = np.searchsorted(owner, np.arange(n), side="right") - starts
    has = sizes > 0
    out = np.full((3, n), np.nan)
    out[0, has] = ts[starts[has]]
    out[1, has] = ts[starts[has] + (sizes[has] - 1) // 2]
    out[2, has] = ts[starts[has] + sizes[has] - 1]
    return out[0], out[1], out[2]


def no_time_features(user: np.ndarray, item: np.ndarray) -> dict[str, np.ndarray]:
    """Every time column missing (``RankConfig.time_features=False``: timestamps that carry no signal)."""
    return {name: np.full(len(user), np.nan) for name in TIME_FEATURES}
