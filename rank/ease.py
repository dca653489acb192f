"""EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", 2019): an item-item model in closed
form. With ``X`` the user x item interactions and ``P = (X'X + lambda I)^-1``, the weights are
``B = I - P / diag(P)`` (so ``diag(B) = 0``) and a user's scores are ``x_u B``.

The inverse is dense, ``items x items``: above ``max_items`` (default 8,000, about 0.5 GB and tens of seconds
on two cores) only the ``max_items`` most-interacted items are modelled. The others score 0 here and are
left to the other candidate models; interactions with them still count as nothing for EASE. ``lambda`` is
chosen on validation interactions by :func:`tune_ease`.

With ``side`` (an item x node incidence of the knowledge graph: brands, categories, entities) the Gram
matrix becomes ``X'X + w S S'``: two items that share a brand count as ``w`` co-interactions per shared node,
as in collective SLIM (Ning and Karypis 2012). In ``bench/ranking.py`` on amazon-hin (random split, seed 0,
each with its ridge tuned on validation) NDCG@10 went from 0.1168 (plain) to 0.1233 at ``w = 4``.

Example:
    >>> import pandas as pd
    >>> from rank.interactions import Interactions
    >>> r = pd.DataFrame({"source": ["u", "u", "v", "w", "w"], "target": ["a", "b", "a", "b", "c"],
    ...                   "rating": [5.0] * 5, "ts": [0] * 5})
    >>> data = Interactions.build(r)
    >>> v = data.user_rows(["v"])
    >>> s = Ease(l2=0.1).fit(data).scores(v, data.seen(v))
    >>> int(s[0, 1] > s[0, 2])        # v took a; a goes with b, not with c
    1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import scipy.sparse as sp

from rank.interactions import Interactions

__all__ = ["Ease", "tune_ease"]


class Ease:
    """Closed-form item-item weights; ``l2`` is the ridge ``lambda``."""

    name = "ease"

    def __init__(
        self,
        l2: float = 500.0,
        max_items: int = 8_000,
        side: sp.csr_matrix | None = None,
        side_weight: float = 4.0,
    ) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.side = side
        self.side_weight = side_weight
        self.weights = np.zeros((0, 0), dtype=np.float32)
        self.modelled = np.zeros(0, dtype=np.int64)  # catalogue columns the weights cover
        self.n_items = 0

    def fit(self, data: Interactions) -> Self:
        popularity = data.popularity()
        order = np.argsort(-popularity, kind="stable")
        # an item nobody took is still modelled: side information can place it
        self.modelled = np.sort(order[: self.max_items])
        x = data.matrix[:, self.modelled]
        gram = (x.T @ x).toarray().astype(np.float64)
        if self.side is not None and self.side_weight > 0:
            s = self.side[self.modelled]
            gram += self.side_weight * (s @ s.T).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        b = p / (-np.diag(p))
        b[np.diag_indices_from(b)] = 0.0
        self.weights = b.astype(np.float32)
        self.n_items = data.n_items
        return self

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        out = np.zeros((len(user_rows), self.n_items), dtype=np.float32)
        out[:, self.modelled] = np.asarray(seen[:, self.modelled] @ self.weights)
        return out


def tune_ease(
    train: Interactions,
    val_users: np.ndarray,
    val_relevant: Sequence[np.ndarray],
    grid: Sequence[float] = (50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0),
    k: int = 10,
    max_items: int = 8_000,
    side: sp.csr_matrix | None = None,
    side_weight: float = 4.0,
) -> tuple[Ease, dict[float, float]]:
    """The ``lambda`` of ``grid`` with the best validation NDCG@k, its fitted model and every grid point's
    NDCG. ``val_users`` are rows of ``train``; ``val_relevant`` their validation item columns."""
    from rank.evaluate import top_k  # one ranking routine for tuning, evaluation and serving
    from rank.metrics import ranking_metrics

    results: dict[float, float] = {}
    best: Ease | None = None
    for l2 in grid:
        model = Ease(l2, max_items, side, side_weight).fit(train)
        seen = train.seen(val_users)
        top = top_k(model.scores(val_users, seen), k, exclude=seen)
        results[l2] = ranking_metrics(top, val_relevant, ks=(k,)).at(k).ndcg
        if best is None or results[l2] > results[best.l2]:
            best = model
    assert best is not None
    return best, results
