"""LightGCN as a candidate model: :class:`gnn.lightgcn.LightGCN` (with BPR) over the training interactions
plus the knowledge graph's item-entity and item-item edges.

Example:
    >>> import numpy as np, pandas as pd, scipy.sparse as sp
    >>> from rank.interactions import Interactions
    >>> from rank.knowledge import Knowledge
    >>> r = pd.DataFrame({"user": ["u", "u", "v"], "item": ["a", "b", "a"], "rating": [5.0] * 3, "ts": [0] * 3})
    >>> data = Interactions.build(r, item_keys=["a", "b", "c"])
    >>> brands = Knowledge({"MADE_BY": sp.csr_matrix(np.eye(3, dtype=np.float32))}, (np.array([0]), np.array([2])))
    >>> v = data.user_rows(["v"])
    >>> LightGCN(LightGCNParams(epochs=1, dim=4), Context(brands)).fit(data).scores(v, data.seen(v)).shape
    (1, 3)
"""

from __future__ import annotations

import math
from typing import Self

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from gnn.lightgcn import LightGCN as Network
from rank.interactions import Interactions
from rank.models.base import CandidateModel, Context

__all__ = ["LightGCN", "LightGCNParams"]


class LightGCNParams(BaseModel):
    """dim: embedding size. layers: propagation steps. epochs: passes over the interactions. lr: Adam's
    learning rate. max_steps: at most this many training steps an epoch (``None``: no bound); above
    ``max_steps`` times the batch (32,768 pairs, about a million interactions) each step takes a larger share
    of them (:class:`gnn.lightgcn.LightGCN`; measured against the unbounded form in ``bench/lightgcn_steps.py``).
    refit_share: a refit (:meth:`LightGCN.refit`) starts from the last fit's embeddings and trains this share
    of ``epochs``, rounded up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: int = Field(default=64, ge=1)
    layers: int = Field(default=2, ge=1)
    epochs: int = Field(default=30, ge=1)
    lr: float = Field(default=0.02, gt=0.0)
    max_steps: int | None = Field(default=32, ge=1)
    refit_share: float = Field(default=0.2, gt=0.0, le=1.0)


class LightGCN(CandidateModel):
    """LightGCN over users, items and every knowledge-graph node linked to items; it trains where
    ``context.device`` says (``auto``: CUDA when torch sees a GPU); its embeddings are numpy arrays on the
    CPU."""

    name = "lightgcn"
    params_type = LightGCNParams
    params: LightGCNParams

    def __init__(self, params: LightGCNParams | None = None, context: Context | None = None) -> None:
        super().__init__(params, context)
        p, c = self.params, self.context
        self.network = Network(
            p.dim, p.layers, p.epochs, max_steps=p.max_steps, lr=p.lr, seed=c.seed, device=c.device
        )

    def fit(self, data: Interactions) -> Self:
        return self._fit(data, None)

    def refit(self, data: Interactions) -> Self:
        return self._fit(data, math.ceil(self.params.epochs * self.params.refit_share))

    def _fit(self, data: Interactions, warm_epochs: int | None) -> Self:
        knowledge = self.context.knowledge
        items, nodes, n_nodes = knowledge.entity_pairs()
        self.network.fit(
            (data.rows, data.cols),
            data.n_users,
            data.n_items,
            (items, nodes),
            n_nodes,
            knowledge.item_links,
            warm_epochs=warm_epochs,
        )
        return self

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        return self.network.scores(user_rows, seen)

    def embeddings(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        return self.network.user_vectors(user_rows, seen), self.network.item_embeddings

    def state(self) -> dict[str, np.ndarray]:
        return {"users": self.network.user_embeddings, "items": self.network.item_embeddings}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.network.user_embeddings, self.network.item_embeddings = state["users"], state["items"]
