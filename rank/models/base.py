"""The contract every candidate model keeps, in the shape of ``implicit``'s models: ``fit`` on interactions,
``scores`` of the whole catalogue for users, ``save`` to a file and ``load`` from it; and what a model may
know besides the interactions (:class:`Context`).

A model's hyperparameters are a pydantic class of its own (``params_type``), with their defaults and
meanings next to the model; ``RankConfig.params`` overrides them by model name. A model that chooses a
hyperparameter on validation interactions overrides :meth:`CandidateModel.tune`; the ranker calls it once,
on the first fit, and refits keep the choice.

Example:
    >>> from rank.models.popularity import Popularity, PopularityParams
    >>> model = Popularity(PopularityParams(half_life_days=30.0))
    >>> model.name, model.params.half_life_days
    ('popularity', 30.0)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict

from gnn.device import DeviceName
from rank.evaluate import top_k
from rank.interactions import Interactions
from rank.knowledge import Knowledge

__all__ = ["CandidateModel", "Context", "ItemItemModel", "NoParams", "strongest"]


def _no_knowledge() -> Knowledge:
    empty = np.zeros(0, dtype=np.int64)
    return Knowledge({}, (empty, empty))


@dataclass(frozen=True)
class Context:
    """What a model may use besides its hyperparameters and the interactions: the knowledge graph's item
    relations (side information), the seed of every random choice, and where a torch model trains."""

    knowledge: Knowledge = field(default_factory=_no_knowledge)
    seed: int = 0
    device: DeviceName = "auto"


class NoParams(BaseModel):
    """The hyperparameters of a model that has none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CandidateModel(ABC):
    """A model that proposes items: ``scores`` is ``[len(user_rows), n_items]``, higher is better.

    ``user_rows`` index ``Interactions.user_keys`` of the data the model was fitted on; ``-1`` is a user the
    model was not fitted on (a newcomer), known only by ``seen``: the users' interactions, ``[len(user_rows),
    n_items]``. A model with per-user parameters uses them for known rows and places a newcomer from
    ``seen``; an item-based model scores from ``seen`` alone.

    A subclass sets ``name`` (its key in :data:`rank.models.MODELS`, the prefix of its feature columns) and
    ``params_type``, and implements ``fit`` (and ``refit`` where it can start warm), ``scores``, ``state``
    (its fitted arrays, saved without pickle) and ``restore`` (the reverse).
    """

    name: ClassVar[str]
    params_type: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, params: Any = None, context: Context | None = None) -> None:
        self.params: Any = self.params_type() if params is None else self.params_type.model_validate(params)
        self.context = context or Context()

    @abstractmethod
    def fit(self, data: Interactions) -> Self: ...

    @abstractmethod
    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray: ...

    @abstractmethod
    def state(self) -> dict[str, np.ndarray]:
        """The fitted model as named arrays (what :meth:`save` writes)."""

    @abstractmethod
    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Take the arrays :meth:`state` gave back (what :meth:`load` reads)."""

    def embeddings(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray] | None:
        """For a model whose scores are inner products: the users' vectors ``[len(user_rows), d]`` and every
        item's ``[n_items, d]`` (what an approximate nearest-neighbour index serves its list from); ``None``
        for a model that scores otherwise."""
        return None

    def scores_of(self, user_rows: np.ndarray, seen: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """:meth:`scores` at the catalogue columns ``items`` only, ``[len(user_rows), len(items)]``; a model
        overrides it where that costs less than scoring the whole catalogue."""
        pair = self.embeddings(user_rows, seen)
        if pair is not None:
            return np.asarray(pair[0] @ pair[1][items].T, dtype=np.float32)
        return np.asarray(self.scores(user_rows, seen))[:, items]

    def top(
        self,
        user_rows: np.ndarray,
        seen: sp.csr_matrix,
        n: int,
        hide: sp.csr_matrix,
        allowed: np.ndarray | None,
    ) -> np.ndarray:
        """The model's own ``n`` best columns per user, as :func:`rank.evaluate.top_k` orders :meth:`scores`:
        ``hide`` (non-zero: leave out) and columns ``allowed`` (``[n_items]`` bool) does not mark left out,
        ``-1`` padded. A model whose scores are sparse or the same for everyone overrides it."""
        scores = np.array(self.scores(user_rows, seen), dtype=np.float64)
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        return top_k(scores, n, exclude=hide)

    def tune(self, data: Interactions, users: np.ndarray, relevant: Sequence[np.ndarray]) -> dict[str, float]:
        """Fit on ``data``, choosing what the model chooses on validation: ``users`` (rows of ``data``) and
        their held-out item columns ``relevant``; gives each setting tried and its validation NDCG@10 (empty
        for a model that chooses nothing, which only fits)."""
        self.fit(data)
        return {}

    def refit(self, data: Interactions) -> Self:
        """Fit on ``data``, which holds the users and items of the last fit and more interactions (the
        ranker's last fit, on every training interaction after the fusion's validation slices): a model that
        can start from its last fit does, in fewer passes; by default a fit from scratch."""
        return self.fit(data)

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path`` (an ``.npz``, read back without pickle)."""
        with open(path, "wb") as f:
            np.savez(f, allow_pickle=False, **self.state())

    @classmethod
    def load(cls, path: str | Path, params: Any = None, context: Context | None = None) -> Self:
        """A model with ``params`` and ``context``, fitted as the one :meth:`save` wrote to ``path``."""
        model = cls(params, context)
        with np.load(path, allow_pickle=False) as z:
            model.restore({k: z[k] for k in z.files})
        return model


def strongest(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` largest entries (the rest dropped): an item-item model's neighbours."""
    m.sort_indices()
    lengths = np.diff(m.indptr)
    if (lengths <= k).all():
        return m.astype(np.float32)
    keep = np.ones(m.nnz, dtype=bool)
    for row in np.flatnonzero(lengths > k):
        lo, hi = m.indptr[row], m.indptr[row + 1]
        weakest = np.argpartition(m.data[lo:hi], hi - lo - k)[: hi - lo - k]
        keep[lo + weakest] = False
    rows = np.repeat(np.arange(m.shape[0]), lengths)
    return sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape, dtype=np.float32)


class ItemItemModel(CandidateModel):
    """A model whose fit is a sparse item-item weight matrix ``W`` (each item's neighbours): a user's scores
    are ``x_u W`` for the items ``x_u`` they took, so a newcomer scores like anyone from ``seen``. A subclass
    implements ``fit``, setting :attr:`weights`."""

    weights = sp.csr_matrix((0, 0), dtype=np.float32)

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        return np.asarray(self._sparse(seen).todense(), dtype=np.float32)

    def scores_of(self, user_rows: np.ndarray, seen: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        return np.asarray(self._sparse(seen)[:, items].todense(), dtype=np.float32)

    def top(
        self,
        user_rows: np.ndarray,
        seen: sp.csr_matrix,
        n: int,
        hide: sp.csr_matrix,
        allowed: np.ndarray | None,
    ) -> np.ndarray:
        """The best of each user's non-zero scores (a user's neighbourhood is a few thousand items of any
        catalogue); a user with fewer than ``n`` of them gets a shorter list, where the dense order would
        add items of score 0."""
        scores = self._sparse(seen)
        out = np.full((len(user_rows), n), -1, dtype=np.int64)
        for u in range(len(user_rows)):
            cols = scores.indices[scores.indptr[u] : scores.indptr[u + 1]]
            values = scores.data[scores.indptr[u] : scores.indptr[u + 1]]
            keep = ~np.isin(cols, hide.indices[hide.indptr[u] : hide.indptr[u + 1]])
            if allowed is not None:
                keep &= allowed[cols]
            order = np.lexsort((cols[keep], -values[keep].astype(np.float64)))[:n]
            out[u, : len(order)] = cols[keep][order]
        return out

    def _sparse(self, seen: sp.csr_matrix) -> sp.csr_matrix:
        """``x_u W`` as a sparse ``[users, items]``."""
        x = (seen > 0).astype(np.float32)
        return sp.csr_matrix(x @ self.weights)

    def state(self) -> dict[str, np.ndarray]:
        w = self.weights
        return {"data": w.data, "indices": w.indices, "indptr": w.indptr, "shape": np.asarray(w.shape)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        shape = (int(state["shape"][0]), int(state["shape"][1]))
        self.weights = sp.csr_matrix((state["data"], state["indices"], state["indptr"]), shape=shape)
