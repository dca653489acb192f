"""RP3beta (Paudel et al., "Updatable, accurate, diverse, and scalable recommendations for interactive
applications", 2017): a random walk user -> item -> user -> item, its item-item step divided by the
destination's popularity to the power ``beta``.

With ``P_ui`` the users' interactions normalised per user and ``P_iu`` the items' normalised per item (each
raised elementwise to ``alpha``), the weights are ``W = P_iu P_ui / pop^beta``, kept to each item's
``neighbours`` strongest; a user's scores are ``x_u W``. Sparse throughout, so it fits any catalogue: the
cost grows with the co-interactions, not with ``items^2``. The popularity penalty (``beta``) weighs an item
that fewer people took against the best-sellers a plain co-occurrence count favours.

Example:
    >>> import pandas as pd
    >>> from rank.interactions import Interactions
    >>> r = pd.DataFrame({"user": ["u", "u", "v", "w", "w"], "item": ["a", "b", "a", "b", "c"],
    ...                   "rating": [5.0] * 5, "ts": [0] * 5})
    >>> data = Interactions.build(r)
    >>> v = data.user_rows(["v"])
    >>> s = Rp3Beta().fit(data).scores(v, data.seen(v))
    >>> int(s[0, 1] > s[0, 2])        # v took a; a goes with b (through u), c only two steps further
    1
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from rank.interactions import Interactions
from rank.models.base import ItemItemModel, strongest

__all__ = ["Rp3Beta", "Rp3Params"]


class Rp3Params(BaseModel):
    """alpha: the exponent of the walk's steps. beta: the popularity penalty's. neighbours: how many
    neighbours each item keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(default=0.8, gt=0.0)
    beta: float = Field(default=0.5, ge=0.0)
    neighbours: int = Field(default=200, ge=1)


class Rp3Beta(ItemItemModel):
    """Item-item random-walk weights with a popularity penalty; see the module docstring."""

    name = "rp3"
    params_type = Rp3Params
    params: Rp3Params

    def fit(self, data: Interactions) -> Self:
        x = (data.matrix > 0).astype(np.float32).tocsr()
        p_ui = _row_normalised(x).power(self.params.alpha)
        p_iu = _row_normalised(x.T.tocsr()).power(self.params.alpha)
        popularity = np.asarray(x.sum(axis=0)).ravel()
        penalty = np.where(popularity > 0, np.power(np.maximum(popularity, 1.0), -self.params.beta), 0.0)
        walk = (p_iu @ p_ui @ sp.diags(penalty.astype(np.float32))).tocsr()
        walk.setdiag(0.0)
        walk.eliminate_zeros()
        self.weights = strongest(walk, self.params.neighbours)
        return self


def _row_normalised(m: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(m.sum(axis=1)).ravel()
    return (sp.diags(np.where(sums > 0, 1.0 / np.maximum(sums, 1e-12), 0.0).astype(np.float32)) @ m).tocsr()
