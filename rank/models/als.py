"""Alternating least squares for implicit feedback (Hu, Koren, Volinsky 2008), from the ``implicit`` library,
the field's standard implementation: kgrec only feeds it the interaction matrix and reads its factors.

Example:
    >>> import pandas as pd
    >>> from rank.interactions import Interactions
    >>> r = pd.DataFrame({"user": ["u", "u", "v"], "item": ["a", "b", "a"],
    ...                   "rating": [5.0] * 3, "ts": [0] * 3})
    >>> data = Interactions.build(r)
    >>> v = data.user_rows(["v"])
    >>> Als(AlsParams(factors=4, iterations=2)).fit(data).scores(v, data.seen(v)).shape
    (1, 2)
"""

from __future__ import annotations

import math
from typing import Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from pydantic import BaseModel, ConfigDict, Field
from threadpoolctl import threadpool_limits

from rank.interactions import Interactions
from rank.models.base import CandidateModel

__all__ = ["Als", "AlsParams"]


class AlsParams(BaseModel):
    """``implicit``'s ALS: factors, regularization, iterations, and ``alpha``, the confidence of an
    interaction. refit_share: a refit (:meth:`Als.refit`) starts from the last fit's factors and runs this
    share of ``iterations``, rounded up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factors: int = Field(default=64, ge=1)
    regularization: float = Field(default=0.05, ge=0.0)
    iterations: int = Field(default=30, ge=1)
    alpha: float = Field(default=1.0, gt=0.0)
    refit_share: float = Field(default=0.2, gt=0.0, le=1.0)


class Als(CandidateModel):
    """``implicit``'s ALS; a newcomer is placed by one ALS user step from the items they took."""

    name = "als"
    params_type = AlsParams
    params: AlsParams
    user_factors = np.zeros((0, 0), dtype=np.float32)
    item_factors = np.zeros((0, 0), dtype=np.float32)
    _gram: tuple[np.ndarray, np.ndarray] | None = None  # item factors, and their Y'Y

    def fit(self, data: Interactions) -> Self:
        return self._fit(data, self.params.iterations)

    def refit(self, data: Interactions) -> Self:
        known = self.user_factors.shape[0] == data.n_users and self.item_factors.shape[0] == data.n_items
        if not known or self.user_factors.shape[1] != self.params.factors:
            return self.fit(data)
        return self._fit(data, math.ceil(self.params.iterations * self.params.refit_share), warm=True)

    def _fit(self, data: Interactions, iterations: int, warm: bool = False) -> Self:
        # implicit parallelises itself; a BLAS thread pool underneath it only contends (its own advice, which
        # its constructor warns about unless the pool is held to one thread by then)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.params.factors,
                regularization=self.params.regularization,
                iterations=iterations,
                alpha=self.params.alpha,
                random_state=self.context.seed,
                calculate_training_loss=False,
            )
            if warm:  # implicit starts from factors already set (copies: it solves in place)
                model.user_factors, model.item_factors = self.user_factors.copy(), self.item_factors.copy()
            model.fit(data.matrix, show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        return self

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        users, items = self.embeddings(user_rows, seen)
        return users @ items.T

    def embeddings(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(user_rows)
        users = self.user_factors[np.where(rows >= 0, rows, 0)].copy()
        for n in np.flatnonzero(rows < 0):  # the row's columns as stored, without a scipy row slice
            users[n] = self._place(seen.indices[seen.indptr[n] : seen.indptr[n + 1]])
        return users, self.item_factors

    def _place(self, items: np.ndarray) -> np.ndarray:
        """A newcomer's factors from the items they took: the ALS user step, ``(Y'Y + a Ys'Ys + l I) x =
        (1 + a) Ys' 1`` (zero without items)."""
        if len(items) == 0:
            return np.zeros(self.params.factors, dtype=np.float32)
        ys = self.item_factors[items].astype(np.float64)
        p = self.params
        lhs = self._item_gram() + p.alpha * ys.T @ ys + p.regularization * np.eye(ys.shape[1])
        return np.linalg.solve(lhs, (1.0 + p.alpha) * ys.sum(axis=0)).astype(np.float32)

    def _item_gram(self) -> np.ndarray:
        """``Y'Y`` of the item factors, worked out once per set of factors (every newcomer needs it; an
        explanation places ten at a time)."""
        known = self._gram
        if known is None or known[0] is not self.item_factors:
            y = self.item_factors.astype(np.float64)
            known = self._gram = (self.item_factors, y.T @ y)
        return known[1]

    def state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors, self.item_factors = state["user_factors"], state["item_factors"]
