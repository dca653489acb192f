"""Popularity, weighted to what is recent: each interaction counts ``0.5 ** (age / half_life)``, its age
measured back from the latest interaction in the training data. An interaction without a timestamp counts
one, so without timestamps this is plain popularity.

Example:
    >>> import pandas as pd
    >>> from rank.interactions import Interactions
    >>> day = 86_400
    >>> r = pd.DataFrame({"user": ["u", "v", "w"], "item": ["old", "old", "new"],
    ...                   "rating": [5.0] * 3, "ts": [day, day, 301 * day]})
    >>> data = Interactions.build(r)
    >>> u = data.user_rows(["u"])
    >>> Popularity(PopularityParams(half_life_days=100)).fit(data).scores(u, data.seen(u)).round(3).tolist()
    [[0.25, 1.0]]
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from rank.interactions import Interactions
from rank.models.base import CandidateModel

__all__ = ["Popularity", "PopularityParams"]


class PopularityParams(BaseModel):
    """half_life_days: an interaction's weight halves every this many days of age."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    half_life_days: float = Field(default=365.0, gt=0.0)


class Popularity(CandidateModel):
    """The same list for everyone: items by their recency-weighted interaction count."""

    name = "popularity"
    params_type = PopularityParams
    params: PopularityParams
    item_scores = np.zeros(0, dtype=np.float32)
    _sorted: tuple[np.ndarray, np.ndarray] | None = None  # item scores, and their order

    def fit(self, data: Interactions) -> Self:
        latest = float(data.ts.max()) if len(data.ts) else 0.0
        # an interaction without a timestamp (0) counts as recent: nothing says it is old
        age_days = np.where(data.ts > 0, (latest - data.ts) / 86_400.0, 0.0)
        weights = np.power(0.5, age_days / self.params.half_life_days)
        self.item_scores = np.bincount(data.cols, weights=weights, minlength=data.n_items).astype(np.float32)
        return self

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(user_rows), len(self.item_scores))).copy()

    def scores_of(self, user_rows: np.ndarray, seen: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_scores[items], (len(user_rows), len(items))).copy()

    def top(
        self,
        user_rows: np.ndarray,
        seen: sp.csr_matrix,
        n: int,
        hide: sp.csr_matrix,
        allowed: np.ndarray | None,
    ) -> np.ndarray:
        """Down the one order (best first, ties by column), past what each user hides."""
        order = self._order()
        if allowed is not None:
            order = order[allowed[order]]
        out = np.full((len(user_rows), n), -1, dtype=np.int64)
        for u in range(len(user_rows)):
            hidden = hide.indices[hide.indptr[u] : hide.indptr[u + 1]]
            head = order[: n + len(hidden)]
            head = head[~np.isin(head, hidden)][:n]
            out[u, : len(head)] = head
        return out

    def _order(self) -> np.ndarray:
        """Every column by score, best first, worked out once per fit."""
        known = self._sorted
        if known is None or known[0] is not self.item_scores:
            scores = self.item_scores.astype(np.float64)
            known = self._sorted = (self.item_scores, np.lexsort((np.arange(len(scores)), -scores)))
        return known[1]

    def state(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.item_scores = state["item_scores"]
