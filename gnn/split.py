"""Train / validation / test splits of a ratings frame: random (seeded) or temporal (per user, latest last).

Example:
    >>> import pandas as pd
    >>> r = pd.DataFrame({"source": ["u"] * 10, "target": list("abcdefghij"),
    ...                   "rating": [5.0] * 10, "ts": range(10)})
    >>> s = split_ratings(r, kind="temporal")
    >>> s.test["target"].tolist(), len(s.train)
    (['j'], 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.errors import ModelError

__all__ = ["RatingSplit", "split_ratings"]


@dataclass(frozen=True)
class RatingSplit:
    """Positions (into ``ratings``) of the training, validation and test ratings; disjoint, covering all.

    ``ratings`` has the columns of an exported ``RATED`` frame: ``source`` (user key), ``target`` (item
    key), ``rating`` and ``ts``; its index is reset to ``0..n-1``.
    """

    ratings: pd.DataFrame
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    kind: str
    seed: int

    @property
    def train(self) -> pd.DataFrame:
        return self.ratings.iloc[self.train_idx]

    @property
    def val(self) -> pd.DataFrame:
        return self.ratings.iloc[self.val_idx]

    @property
    def test(self) -> pd.DataFrame:
        return self.ratings.iloc[self.test_idx]


def split_ratings(
    ratings: pd.DataFrame,
    kind: Literal["random", "temporal"] = "random",
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> RatingSplit:
    """Split ratings into train / validation / test.

    ``random``: a seeded permutation cut at the fractions. ``temporal``: each user's ratings sorted by
    ``ts`` (ties by position), the latest ``fractions[2]`` share to test and the ``fractions[1]`` share
    before it to validation, rounded per user so that a user with a single rating keeps it in training.

    Example:
        >>> split = split_ratings(export.edges["RATED"], kind="random", seed=0)  # doctest: +SKIP
        >>> len(split.train), len(split.val), len(split.test)  # doctest: +SKIP
        (156632, 19579, 19580)
    """
    missing = {"source", "target", "rating"} - set(ratings.columns)
    if missing:
        raise ModelError(f"ratings frame lacks columns {sorted(missing)}; got {list(ratings.columns)}")
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ModelError(f"fractions must be three non-negative shares summing to 1; got {fractions}")
    frame = ratings.reset_index(drop=True)
    if "ts" not in frame:
        frame = frame.assign(ts=0)
    n = len(frame)
    if kind == "random":
        order = np.random.default_rng(seed).permutation(n)
        n_train = int(round(fractions[0] * n))
        n_val = int(round(fractions[1] * n))
        train, val, test = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    elif kind == "temporal":
        train, val, test = _temporal(frame, fractions)
    else:
        raise ModelError(f"split kind must be 'random' or 'temporal'; got {kind!r}")
    return RatingSplit(frame, np.sort(train), np.sort(val), np.sort(test), kind, seed)


def _temporal(frame: pd.DataFrame, fractions: tuple[float, float, float]) -> tuple[np.ndarray, ...]:
    # stable sort by (user, ts, position) so that ties resolve the same way on every run
    order = np.lexsort(
        (np.arange(len(frame)), frame["ts"].to_numpy(), frame["source"].astype(str).to_numpy())
    )
    users = frame["source"].astype(str).to_numpy()[order]
    starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, sizes)  # 0 = oldest rating of the user
    from_end = np.repeat(sizes, sizes) - rank  # 1 = latest
    # a user keeps at least one rating for training: held-out counts are capped at size - 1
    n_test = np.minimum(np.floor(sizes * fractions[2] + 0.5), sizes - 1)
    n_val = np.minimum(np.floor(sizes * fractions[1] + 0.5), sizes - 1 - n_test)
    n_test, n_val = np.repeat(n_test, sizes), np.repeat(n_val, sizes)
    is_test = from_end <= n_test
    is_val = ~is_test & (from_end <= n_test + n_val)
    return order[~is_test & ~is_val], order[is_val], order[is_test]
