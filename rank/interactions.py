"""Who interacted with what, as a sparse user x item matrix over the whole catalogue.

The candidate models are trained on interactions, not on star values: a rating says the user chose the item.
Every rating counts as one interaction of weight 1 by default; ``min_rating`` keeps only ratings at or above
a threshold (for data where low stars mean "did not like", if that is the signal wanted).

Shopper events that the HTTP service stored count too (:func:`with_events`, the rule ``kgrec train`` applies):
a purchase or a cart says the user chose the item, as a rating does; a view says they chose to look at it, a
weaker signal but the most plentiful one. All three count, views included, because the service's fold-in
ranks an eventful user from their views, carts and purchases and leaves those items out of the list until
the next training: training on the same items keeps what the user is shown the same kind of list across a
retrain (no viewed item comes back), and makes a user known only by events a user the ranker knows. A
(user, item) pair with any events is one interaction whose time is the latest event's (a pair also rated
keeps its stars and takes the later of the two times). Events carry no stars: a pair known only by events
has rating NaN, and ``min_rating`` keeps it (it was chosen, not rated low). The rating model never sees
events: it learns stars from ratings only.

Example:
    >>> import pandas as pd
    >>> r = pd.DataFrame({"user": ["u", "u", "v"], "item": ["a", "b", "a"],
    ...                   "rating": [5.0, 2.0, 4.0], "ts": [1, 2, 3]})
    >>> data = Interactions.build(r, item_keys=["a", "b", "c"])
    >>> data.matrix.toarray().tolist()
    [[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    >>> data.popularity().tolist()
    [2, 1, 0]
    >>> bought = pd.DataFrame({"user": ["u", "w"], "item": ["c", "a"], "ts": [9, 4]})
    >>> train = with_events(r, {"PURCHASED": bought})
    >>> train[["user", "item", "ts"]].values.tolist()[3:]
    [['u', 'c', 9], ['w', 'a', 4]]
    >>> Interactions.build(train, item_keys=["a", "b", "c"], min_rating=4.0).matrix.toarray().tolist()
    [[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.schema import CARTED, PURCHASED, VIEWED

__all__ = ["EVENT_TYPES", "Interactions", "Keys", "with_events"]

Keys = Sequence[str] | np.ndarray
"""Dataset keys, as a list or an array of strings."""

EVENT_TYPES = (PURCHASED.type, CARTED.type, VIEWED.type)
"""The event relationships the ranker trains on (all three; see the module docstring for why views too)."""


def with_events(
    ratings: pd.DataFrame,
    events: Mapping[str, pd.DataFrame],
    leave_out: pd.DataFrame | None = None,
    before: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ranker's training interactions: ``ratings`` (``user``, ``item``, ``rating``, ``ts``; their rows
    first, in their order) and, after them, each (user, item) pair of ``events`` (per relationship type of
    :data:`EVENT_TYPES`, a frame with ``user``, ``item``, ``ts``: :attr:`kg.GraphExport.events`) that is
    not rated, with rating NaN and ts its latest event's; a rated pair with events takes the later time.
    Pairs that ``leave_out`` holds (a held-out test part) are not added. With ``before`` (``user``, ``ts``:
    a temporal split's held-out part), a user's event no earlier than their first held-out interaction is
    not added either: it is the future the split holds out. Without events: ``ratings`` itself.
    """
    frames = [events[t][["user", "item", "ts"]] for t in EVENT_TYPES if t in events and len(events[t])]
    if not frames:
        return ratings
    pairs = ["user", "item"]
    taken = pd.concat(frames).astype({"user": str, "item": str})
    if before is not None and len(before):
        cutoff = before.astype({"user": str}).groupby("user")["ts"].min()
        limit = taken["user"].map(cutoff).to_numpy(np.float64)
        taken = taken[~(taken["ts"].to_numpy(np.float64) >= limit)]  # NaN limit: no held-out part, kept
    taken = taken.groupby(pairs, sort=True)["ts"].max().reset_index()
    taken_keys = pd.MultiIndex.from_frame(taken[pairs])
    if leave_out is not None and len(leave_out):
        held = taken_keys.isin(pd.MultiIndex.from_frame(leave_out[pairs].astype(str)))
        taken, taken_keys = taken[~held], taken_keys[~held]
    rated_keys = pd.MultiIndex.from_frame(ratings[pairs].astype(str))
    latest = pd.Series(taken["ts"].to_numpy(np.float64), index=taken_keys).reindex(rated_keys).to_numpy()
    rated_ts = ratings["ts"].to_numpy(np.float64) if "ts" in ratings else np.zeros(len(ratings))
    rated = ratings.assign(ts=np.fmax(rated_ts, latest).astype(np.int64))
    new = taken[~taken_keys.isin(rated_keys)].assign(rating=np.nan)[["user", "item", "rating", "ts"]]
    return pd.concat([rated, new], ignore_index=True)


_FEW_KEYS = 4096
"""Up to this many keys are looked up one by one in a dict: ``get_indexer`` builds an index of the keys first,
which costs a serving call (a request looks up its user and a few hundred candidate items, several times)
more than the lookups themselves."""


def _positions(positions: dict[str, int], keys: Keys) -> np.ndarray:
    # an array of strings gives Python strings at once; anything else is made strings as a lookup would
    wanted = (
        keys.tolist() if isinstance(keys, np.ndarray) and keys.dtype.kind == "U" else [str(k) for k in keys]
    )
    return np.fromiter(map(positions.get, wanted, repeat(-1)), dtype=np.intp, count=len(keys))


@dataclass(frozen=True)
class Interactions:
    """One entry per (user, item) pair: ``rows`` and ``cols`` index ``user_keys`` and ``item_keys``, ``ts`` is
    the pair's latest interaction time (unix seconds, 0 when unknown). ``matrix`` is the same as a
    ``[len(user_keys), len(item_keys)]`` CSR of ones."""

    user_keys: np.ndarray
    item_keys: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    ts: np.ndarray
    matrix: sp.csr_matrix

    @classmethod
    def build(
        cls,
        ratings: pd.DataFrame,
        item_keys: Keys | None = None,
        user_keys: Keys | None = None,
        min_rating: float | None = None,
    ) -> Interactions:
        """From a frame with ``user``, ``item``, ``rating`` and ``ts``. ``item_keys`` is the
        catalogue to rank (default: the items in ``ratings``); ratings of other items or users are dropped."""
        stars = ratings["rating"].to_numpy(np.float64) if min_rating is not None else None
        keep_rating = np.ones(len(ratings), bool) if stars is None else ~(stars < min_rating)  # NaN: an event
        frame = ratings.iloc[np.flatnonzero(keep_rating)]
        users = np.asarray(user_keys if user_keys is not None else pd.unique(frame["user"].astype(str)))
        items = np.asarray(item_keys if item_keys is not None else pd.unique(frame["item"].astype(str)))
        rows = pd.Index(users).get_indexer(frame["user"].astype(str))
        cols = pd.Index(items).get_indexer(frame["item"].astype(str))
        keep = (rows >= 0) & (cols >= 0)
        ts = frame["ts"].to_numpy(np.float64) if "ts" in frame else np.zeros(len(frame))
        raw = pd.DataFrame({"row": rows[keep], "col": cols[keep], "ts": ts[keep]})
        pairs = raw.groupby(["row", "col"], sort=True)["ts"].max().reset_index()  # a repeated pair: once
        r, c = pairs["row"].to_numpy(), pairs["col"].to_numpy()
        shape = (len(users), len(items))
        matrix = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=shape)
        return cls(users.astype(str), items.astype(str), r, c, pairs["ts"].to_numpy(), matrix)

    @cached_property
    def _user_index(self) -> pd.Index:
        # built once: a serving call looks users up at every request
        return pd.Index(self.user_keys)

    @cached_property
    def _item_index(self) -> pd.Index:
        return pd.Index(self.item_keys)

    @cached_property
    def _user_positions(self) -> dict[str, int]:
        return {str(k): n for n, k in enumerate(self.user_keys)}

    @cached_property
    def _item_positions(self) -> dict[str, int]:
        return {str(k): n for n, k in enumerate(self.item_keys)}

    @property
    def n_users(self) -> int:
        return len(self.user_keys)

    @property
    def n_items(self) -> int:
        return len(self.item_keys)

    def user_rows(self, keys: Keys) -> np.ndarray:
        """Row per user key, ``-1`` for a user without training interactions."""
        if len(keys) <= _FEW_KEYS:
            return _positions(self._user_positions, keys)
        return self._user_index.get_indexer(pd.Index([str(k) for k in keys]))

    def item_rows(self, keys: Keys) -> np.ndarray:
        """Column per item key, ``-1`` for an item outside the catalogue."""
        if len(keys) <= _FEW_KEYS:
            return _positions(self._item_positions, keys)
        return self._item_index.get_indexer(pd.Index([str(k) for k in keys]))

    def popularity(self) -> np.ndarray:
        """Interactions per item, ``[n_items]``."""
        return np.asarray(self.matrix.sum(axis=0)).ravel().astype(np.int64)

    def first_seen(self) -> np.ndarray:
        """Per item, the earliest known interaction time (0 when none is known), ``[n_items]``."""
        stamped = self.ts > 0
        first = np.full(self.n_items, np.inf)
        np.minimum.at(first, self.cols[stamped], self.ts[stamped])
        return np.where(np.isfinite(first), first, 0.0)

    def seen(self, user_rows: np.ndarray) -> sp.csr_matrix:
        """The training interactions of ``user_rows`` (``-1`` gives an empty row)."""
        safe = np.where(user_rows >= 0, user_rows, 0)
        out = self.matrix[safe].tocsr()
        out = sp.diags((user_rows >= 0).astype(np.float32)) @ out
        return sp.csr_matrix(out)
