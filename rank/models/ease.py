"""EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", 2019): an item-item model in closed
form. With ``X`` the user x item interactions and ``P = (X'X + lambda I)^-1``, the weights are
``B = I - P / diag(P)`` (so ``diag(B) = 0``) and a user's scores are ``x_u B``.

The inverse is dense, ``items x items``: above ``max_items`` (default 8,000, about 0.5 GB and tens of seconds
on two cores) only the ``max_items`` most-interacted items are modelled. The others score 0 here and are
left to the other candidate models; interactions with them still count as nothing for EASE (what that costs
against the exact form: ``bench/ease_head.py``). ``lambda`` is chosen on validation interactions by
:meth:`Ease.tune`.

With ``side`` (an item x node incidence of the knowledge graph: brands, categories, entities) the Gram
matrix becomes ``X'X + w S S'``: two items that share a brand count as ``w`` co-interactions per shared node,
as in collective SLIM (Ning and Karypis 2012). In ``bench/ranking.py`` on amazon-hin (random split, seed 0,
each with its ridge tuned on validation) NDCG@10 went from 0.1168 (plain) to 0.1233 at ``w = 4``.

Example:
    >>> import pandas as pd
    >>> from rank.interactions import Interactions
    >>> r = pd.DataFrame({"user": ["u", "u", "v", "w", "w"], "item": ["a", "b", "a", "b", "c"],
    ...                   "rating": [5.0] * 5, "ts": [0] * 5})
    >>> data = Interactions.build(r)
    >>> v = data.user_rows(["v"])
    >>> s = Ease(EaseParams(l2=0.1)).fit(data).scores(v, data.seen(v))
    >>> int(s[0, 1] > s[0, 2])        # v took a; a goes with b, not with c
    1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from rank.evaluate import top_k
from rank.interactions import Interactions
from rank.metrics import ranking_metrics
from rank.models.base import CandidateModel

__all__ = ["Ease", "EaseParams"]

_GRAM_USERS = 50_000
"""Users per block of the Gram matrix's product."""


class EaseParams(BaseModel):
    """l2: the ridge ``lambda`` when none is tuned. grid: the ridges :meth:`Ease.tune` tries on validation.
    max_items: the dense item-item limit. side_weight: weight of the knowledge graph's co-membership in the
    Gram matrix (0: none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    l2: float = Field(default=500.0, gt=0.0)
    grid: tuple[float, ...] = (50.0, 100.0, 250.0, 500.0, 1000.0)
    max_items: int = Field(default=8000, ge=10)
    side_weight: float = Field(default=4.0, ge=0.0)


class Ease(CandidateModel):
    """Closed-form item-item weights; ``l2`` is the ridge ``lambda`` in use (``params.l2`` until tuned)."""

    name = "ease"
    params_type = EaseParams
    params: EaseParams
    weights = np.zeros((0, 0), dtype=np.float32)
    modelled = np.zeros(0, dtype=np.int64)  # catalogue columns the weights cover
    n_items = 0
    _l2: float | None = None  # the tuned ridge

    @property
    def l2(self) -> float:
        return self.params.l2 if self._l2 is None else self._l2

    def fit(self, data: Interactions) -> Self:
        self._solve(self._gram(data))
        self.n_items = data.n_items
        return self

    def _gram(self, data: Interactions) -> np.ndarray:
        """``X'X + w S S'`` over the modelled items (chosen here), dense, without the ridge."""
        popularity = data.popularity()
        order = np.argsort(-popularity, kind="stable")
        # an item nobody took is still modelled: side information can place it
        self.modelled = np.sort(order[: self.params.max_items])
        x = data.matrix[:, self.modelled].astype(np.float64)
        gram = np.zeros((len(self.modelled), len(self.modelled)))
        # a block of users at a time: the head's co-interactions are nearly dense, so the whole product as
        # one sparse matrix (an index and a value per entry) would cost more than the dense result
        for start in range(0, x.shape[0], _GRAM_USERS):
            block = x[start : start + _GRAM_USERS]
            gram += (block.T @ block).toarray()
        side = self.context.knowledge.incidence()
        if side.shape[1] and self.params.side_weight > 0:
            s = side[self.modelled]
            gram += self.params.side_weight * (s @ s.T).toarray()
        return gram

    def _solve(self, gram: np.ndarray) -> None:
        """The weights from a Gram matrix, which becomes the inverse in place (one dense matrix held, not
        three)."""
        gram[np.diag_indices_from(gram)] += self.l2
        # symmetric: its transpose is the Fortran-ordered array LAPACK inverts without a copy
        p = scipy.linalg.inv(gram.T, overwrite_a=True, check_finite=False).T
        p /= -np.diag(p).copy()  # B = I - P / diag(P), by column; the diagonal set to 0 below
        p[np.diag_indices_from(p)] = 0.0
        self.weights = p.astype(np.float32)

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        out = np.zeros((len(user_rows), self.n_items), dtype=np.float32)
        out[:, self.modelled] = np.asarray(seen[:, self.modelled] @ self.weights)
        return out

    def scores_of(self, user_rows: np.ndarray, seen: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(self.modelled, items), max(len(self.modelled) - 1, 0))
        held = (self.modelled[at] == items) if len(self.modelled) else np.zeros(len(items), bool)
        out = np.zeros((len(user_rows), len(items)), dtype=np.float32)
        # the user's rows of the weights, then the columns: a column gather of the dense head costs more
        out[:, held] = np.asarray(seen[:, self.modelled] @ self.weights)[:, at[held]]
        return out

    def top(
        self,
        user_rows: np.ndarray,
        seen: sp.csr_matrix,
        n: int,
        hide: sp.csr_matrix,
        allowed: np.ndarray | None,
    ) -> np.ndarray:
        """The best of the modelled items only: the rest score 0, which the dense order reaches only for a
        user with fewer than ``n`` modelled items above 0."""
        head = np.asarray(seen[:, self.modelled] @ self.weights, dtype=np.float64)
        if allowed is not None:
            head[:, ~allowed[self.modelled]] = -np.inf
        picked = top_k(head, n, exclude=hide[:, self.modelled])
        return np.where(picked >= 0, self.modelled[np.maximum(picked, 0)], -1)

    def tune(self, data: Interactions, users: np.ndarray, relevant: Sequence[np.ndarray]) -> dict[str, float]:
        """The ridge of ``params.grid`` with the best validation NDCG@10, kept (and the model fitted with
        it); gives every grid point's NDCG."""
        results: dict[float, float] = {}
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        seen = data.seen(users)
        gram = self._gram(data)
        self.n_items = data.n_items
        for l2 in self.params.grid:
            self._l2 = l2
            self._solve(gram.copy())
            top = self.top(users, seen, 10, seen, None)  # the head's scores: not [users, catalogue]
            results[l2] = ranking_metrics(top, relevant, ks=(10,)).at(10).ndcg
            if best is None or results[l2] > results[best[0]]:
                best = (l2, self.weights, self.modelled)
        assert best is not None
        self._l2, self.weights, self.modelled = best
        return {f"l2={k:g}": v for k, v in results.items()}

    def state(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weights,
            "modelled": self.modelled,
            "n_items": np.asarray(self.n_items),
            "l2": np.asarray(self.l2),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.weights, self.modelled = state["weights"], state["modelled"]
        self.n_items, self._l2 = int(state["n_items"]), float(state["l2"])
