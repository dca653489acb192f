"""The interaction GNN as a candidate model: :class:`gnn.InteractionGNN` (LightGCN with BPR) over the
training interactions plus the knowledge graph's item-entity and item-item edges.

Example:
    >>> import numpy as np, pandas as pd, scipy.sparse as sp
    >>> from rank.interactions import Interactions
    >>> from rank.knowledge import Knowledge
    >>> r = pd.DataFrame({"source": ["u", "u", "v"], "target": ["a", "b", "a"], "rating": [5.0] * 3, "ts": [0] * 3})
    >>> data = Interactions.build(r, item_keys=["a", "b", "c"])
    >>> brands = Knowledge({"MADE_BY": sp.csr_matrix(np.eye(3, dtype=np.float32))}, (np.array([0]), np.array([2])))
    >>> v = data.user_rows(["v"])
    >>> KnowledgeGCN(brands, epochs=1, dim=4).fit(data).scores(v, data.seen(v)).shape
    (1, 3)
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp

from gnn.device import DeviceName
from gnn.interaction import InteractionGNN
from rank.interactions import Interactions
from rank.knowledge import Knowledge

__all__ = ["KnowledgeGCN"]


class KnowledgeGCN:
    """LightGCN over users, items and every knowledge-graph node linked to items; ``device`` is where it
    trains (``auto``: CUDA when torch sees a GPU); its embeddings are numpy arrays on the CPU."""

    name = "kg_gcn"

    def __init__(
        self,
        knowledge: Knowledge,
        dim: int = 64,
        layers: int = 2,
        epochs: int = 30,
        lr: float = 0.02,
        seed: int = 0,
        device: DeviceName = "auto",
    ) -> None:
        self.knowledge = knowledge
        self.network = InteractionGNN(dim=dim, layers=layers, epochs=epochs, lr=lr, seed=seed, device=device)

    def fit(self, data: Interactions) -> Self:
        items, nodes, n_nodes = self.knowledge.entity_pairs()
        self.network.fit(
            (data.rows, data.cols),
            data.n_users,
            data.n_items,
            (items, nodes),
            n_nodes,
            self.knowledge.item_links,
        )
        return self

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        return self.network.scores(user_rows, seen)
