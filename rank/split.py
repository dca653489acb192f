"""Per-user hold-out splits for ranking evaluation: every user keeps most of their interactions for
training and has a share held out, chosen at random (seeded) or as their latest.

A user keeps at least one interaction for training; a user whose share rounds to nothing has nothing held
out and is skipped (and counted) by the evaluation.

Example:
    >>> import pandas as pd
    >>> r = pd.DataFrame({"source": ["u"] * 5 + ["v"], "target": list("abcdeb"),
    ...                   "rating": [5.0] * 6, "ts": [1, 2, 3, 4, 5, 1]})
    >>> s = holdout_split(r, kind="temporal", fraction=0.2)
    >>> s.test["target"].tolist(), len(s.train)
    (['e'], 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.errors import ModelError

__all__ = ["Holdout", "SplitKind", "holdout_split"]

SplitKind = Literal["random", "temporal"]


@dataclass(frozen=True)
class Holdout:
    """Training and held-out interactions (frames with ``source``, ``target``, ``rating``, ``ts``), and their
    positions in the frame that was split (``train_idx``, ``test_idx``, sorted)."""

    train: pd.DataFrame
    test: pd.DataFrame
    train_idx: np.ndarray
    test_idx: np.ndarray
    kind: str
    fraction: float
    seed: int


def holdout_split(
    ratings: pd.DataFrame, kind: SplitKind = "random", fraction: float = 0.2, seed: int = 0
) -> Holdout:
    """Hold out ``fraction`` of each user's interactions: a seeded random choice, or the latest by ``ts``
    (ties by position). Per user ``round(fraction * n)`` are held out, at most ``n - 1``."""
    missing = {"source", "target"} - set(ratings.columns)
    if missing:
        raise ModelError(f"ratings frame lacks columns {sorted(missing)}; got {list(ratings.columns)}")
    if not 0.0 < fraction < 1.0:
        raise ModelError(f"the held-out fraction must be between 0 and 1; got {fraction}")
    frame = ratings.reset_index(drop=True)
    if "ts" not in frame:
        frame = frame.assign(ts=0)
    n = len(frame)
    if kind == "random":
        within = np.random.default_rng(seed).random(n)  # a random order inside each user
    elif kind == "temporal":
        within = frame["ts"].to_numpy(dtype=np.float64)
    else:
        raise ModelError(f"split kind must be 'random' or 'temporal'; got {kind!r}")
    users = frame["source"].astype(str).to_numpy()
    order = np.lexsort((np.arange(n), within, users))
    sorted_users = users[order]
    starts = np.r_[0, np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1] if n else np.array([0])
    sizes = np.diff(np.r_[starts, n]) if n else np.array([], dtype=int)
    from_end = np.repeat(sizes, sizes) - (np.arange(n) - np.repeat(starts, sizes))  # 1 = last of the user
    held = np.minimum(np.floor(sizes * fraction + 0.5), sizes - 1)
    is_test = np.zeros(n, dtype=bool)
    is_test[order] = from_end <= np.repeat(held, sizes)
    return Holdout(
        frame[~is_test].reset_index(drop=True),
        frame[is_test].reset_index(drop=True),
        np.flatnonzero(~is_test),
        np.flatnonzero(is_test),
        kind,
        fraction,
        seed,
    )
