"""Item-based nearest neighbours (Sarwar et al. 2001, Deshpande and Karypis 2004): the cosine similarity of
two items' interaction columns, ``|U_i & U_j| / sqrt(|U_i| |U_j|)`` with ``U_i`` the users who took ``i``;
each item keeps its ``neighbours`` most similar, and a user's score for an item is the sum of its
similarities to the items the user took. Sparse, like RP3beta, but without RP3beta's popularity penalty:
a plain co-occurrence neighbourhood.

Example:
    >>> import pandas as pd
    >>> from rank.interactions import Interactions
    >>> r = pd.DataFrame({"user": ["u", "u", "v", "w", "w"], "item": ["a", "b", "a", "b", "c"],
    ...                   "rating": [5.0] * 5, "ts": [0] * 5})
    >>> data = Interactions.build(r)
    >>> v = data.user_rows(["v"])
    >>> ItemKnn().fit(data).scores(v, data.seen(v)).round(3).tolist()   # v took a; b goes with a, c does not
    [[0.0, 0.5, 0.0]]
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from rank.interactions import Interactions
from rank.models.base import ItemItemModel, strongest

__all__ = ["ItemKnn", "ItemKnnParams"]


class ItemKnnParams(BaseModel):
    """neighbours: how many most similar items each item keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    neighbours: int = Field(default=100, ge=1)


class ItemKnn(ItemItemModel):
    """Cosine item-item neighbourhoods over the interactions; see the module docstring."""

    name = "knn"
    params_type = ItemKnnParams
    params: ItemKnnParams

    def fit(self, data: Interactions) -> Self:
        x = (data.matrix > 0).astype(np.float32).tocsr()
        counts = np.asarray(x.sum(axis=0)).ravel()
        scale = sp.diags(np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0).astype(np.float32))
        unit = (x @ scale).tocsr()  # every item's column of unit length
        similarity = (unit.T @ unit).tocsr()
        similarity.setdiag(0.0)
        similarity.eliminate_zeros()
        self.weights = strongest(similarity, self.params.neighbours)
        return self
