"""Popularity, weighted to what is recent: each interaction counts ``0.5 ** (age / half_life)``, its age
measured back from the latest interaction in the training data. An interaction without a timestamp counts
one, so without timestamps this is plain popularity.

Example:
    >>> import pandas as pd
    >>> from rank.interactions import Interactions
    >>> day = 86_400
    >>> r = pd.DataFrame({"source": ["u", "v", "w"], "target": ["old", "old", "new"],
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

    def fit(self, data: Interactions) -> Self:
        latest = float(data.ts.max()) if len(data.ts) else 0.0
        # an interaction without a timestamp (0) counts as recent: nothing says it is old
        age_days = np.where(data.ts > 0, (latest - data.ts) / 86_400.0, 0.0)
        weights = np.power(0.5, age_days / self.params.half_life_days)
        self.item_scores = np.bincount(data.cols, weights=weights, minlength=data.n_items).astype(np.float32)
        return self

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(user_rows), len(self.item_scores))).copy()

    def state(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.item_scores = state["item_scores"]
