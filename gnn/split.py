"""The splits of a ratings frame, one module for both models: the rating model's train / validation / test
cut (:func:`split_ratings`: random over all ratings, or each user's latest) and the per-user hold-out that
the ranking stack trains and is measured on (:func:`holdout_split`: every user keeps most of their
interactions and has a share held out, at random or their latest).

Both take the columns of an exported ``RATED`` frame: ``user`` (user key), ``item`` (item key),
``rating`` and ``ts`` (0 where there is none). A user keeps at least one rating for training; in a per-user
hold-out, a user whose share rounds to nothing has nothing held out and is skipped (and counted) by the
evaluation.

Example:
    >>> import pandas as pd
    >>> r = pd.DataFrame({"user": ["u"] * 10, "item": list("abcdefghij"),
    ...                   "rating": [5.0] * 10, "ts": range(10)})
    >>> s = split_ratings(r, kind="temporal")
    >>> s.test["item"].tolist(), len(s.train)
    (['j'], 8)
    >>> h = holdout_split(r, kind="temporal", fraction=0.2)
    >>> h.test["item"].tolist(), len(h.train)
    (['i', 'j'], 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.errors import ModelError

__all__ = ["Holdout", "RatingSplit", "SplitKind", "holdout_split", "split_ratings"]

SplitKind = Literal["random", "temporal"]


@dataclass(frozen=True)
class RatingSplit:
    """Positions (into ``ratings``) of the training, validation and test ratings; disjoint, covering all.

    ``ratings`` has the columns of an exported ``RATED`` frame: ``user`` (user key), ``item`` (item
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


@dataclass(frozen=True)
class Holdout:
    """Training and held-out interactions (frames with ``user``, ``item``, ``rating``, ``ts``), and their
    positions in the frame that was split (``train_idx``, ``test_idx``, sorted)."""

    train: pd.DataFrame
    test: pd.DataFrame
    train_idx: np.ndarray
    test_idx: np.ndarray
    kind: str
    fraction: float
    seed: int


def split_ratings(
    ratings: pd.DataFrame,
    kind: SplitKind = "random",
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
    frame = _frame(ratings, {"user", "item", "rating"})
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ModelError(f"fractions must be three non-negative shares summing to 1; got {fractions}")
    n = len(frame)
    if kind == "random":
        order = np.random.default_rng(seed).permutation(n)
        n_train = int(round(fractions[0] * n))
        n_val = int(round(fractions[1] * n))
        train, val, test = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    elif kind == "temporal":
        order, sizes, from_end = _per_user(frame, frame["ts"].to_numpy())
        held_test = _share(sizes, fractions[2], sizes - 1)
        held_val = _share(sizes, fractions[1], sizes - 1 - held_test)
        is_test = from_end <= np.repeat(held_test, sizes)
        is_val = ~is_test & (from_end <= np.repeat(held_test + held_val, sizes))
        train, val, test = order[~is_test & ~is_val], order[is_val], order[is_test]
    else:
        raise ModelError(f"split kind must be 'random' or 'temporal'; got {kind!r}")
    return RatingSplit(frame, np.sort(train), np.sort(val), np.sort(test), kind, seed)


def holdout_split(
    ratings: pd.DataFrame, kind: SplitKind = "random", fraction: float = 0.2, seed: int = 0
) -> Holdout:
    """Hold out ``fraction`` of each user's interactions: a seeded random choice, or the latest by ``ts``
    (ties by position). Per user ``round(fraction * n)`` are held out, at most ``n - 1``."""
    frame = _frame(ratings, {"user", "item"})
    if not 0.0 < fraction < 1.0:
        raise ModelError(f"the held-out fraction must be between 0 and 1; got {fraction}")
    n = len(frame)
    if kind == "random":
        within = np.random.default_rng(seed).random(n)  # a random order inside each user
    elif kind == "temporal":
        within = frame["ts"].to_numpy(dtype=np.float64)
    else:
        raise ModelError(f"split kind must be 'random' or 'temporal'; got {kind!r}")
    order, sizes, from_end = _per_user(frame, within)
    is_test = np.zeros(n, dtype=bool)
    is_test[order] = from_end <= np.repeat(_share(sizes, fraction, sizes - 1), sizes)
    return Holdout(
        frame[~is_test].reset_index(drop=True),
        frame[is_test].reset_index(drop=True),
        np.flatnonzero(~is_test),
        np.flatnonzero(is_test),
        kind,
        fraction,
        seed,
    )


def _frame(ratings: pd.DataFrame, needed: set[str]) -> pd.DataFrame:
    """``ratings`` indexed ``0..n-1``, with ``ts`` 0 where it has none; a :class:`ModelError` naming missing
    columns."""
    missing = needed - set(ratings.columns)
    if missing:
        raise ModelError(f"ratings frame lacks columns {sorted(missing)}; got {list(ratings.columns)}")
    frame = ratings.reset_index(drop=True)
    return frame if "ts" in frame else frame.assign(ts=0)


def _per_user(frame: pd.DataFrame, within: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions sorted by (user, ``within``, position), so that ties resolve the same way on every run;
    each user's size (in that order); and each sorted position's place from its user's end (1 = last)."""
    n = len(frame)
    users = frame["user"].astype(str).to_numpy()
    order = np.lexsort((np.arange(n), within, users))
    sorted_users = users[order]
    starts = np.r_[0, np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1] if n else np.array([0])
    sizes = np.diff(np.r_[starts, n]) if n else np.array([], dtype=int)
    from_end = np.repeat(sizes, sizes) - (np.arange(n) - np.repeat(starts, sizes))
    return order, sizes, from_end


def _share(sizes: np.ndarray, fraction: float, cap: np.ndarray) -> np.ndarray:
    """Per user, ``fraction`` of its size rounded half up, at most ``cap``."""
    return np.minimum(np.floor(sizes * fraction + 0.5), cap)
