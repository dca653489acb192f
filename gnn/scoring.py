"""The serving maths of each part: the GNN part on pairs, on a users x items grid, and without some edges;
the MF part on pairs and on a grid; and the blend of the parts.

:class:`NetworkScorer` caches what every request shares (the encoder output, the per-item decoder terms, the
counterfactual encoder), so ranking all items for a user costs one ``[n_items, hidden] x [hidden, hidden]``
product. Every function here returns ratings clipped to the training range, as the blend consumes them.

Example:
    >>> import numpy as np
    >>> from gnn.params import RatingRange
    >>> weights = BlendWeights(intercept=0.5, bias=0.2, mf=0.3, gnn=0.5)
    >>> blend_parts(weights, RatingRange(1.0, 5.0), np.array([4.0]), np.array([4.0]), np.array([6.0])).tolist()
    [5.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from core.errors import ModelError
from gnn.counterfactual import EdgeRemovalEncoder
from gnn.graph import EdgeRows, drop_edges
from gnn.model import RatingNet
from gnn.params import MFParams, RatingRange
from gnn.records import BlendWeights

__all__ = ["NetworkScorer", "blend_parts", "mf_grid", "mf_pairs"]

_BLOCK = 262_144
"""Pairs (or grid cells) per decoder call: a block costs ``[block, hidden]`` floats in the decoder."""


class NetworkScorer:
    """The GNN part of a trained model at serving time (eval mode, no gradients).

    Args:
        net: the trained network.
        graph: its message-passing graph.
        rating_range: the range its predictions are clipped to.
    """

    def __init__(self, net: RatingNet, graph: HeteroData, rating_range: RatingRange) -> None:
        self.net = net
        self.graph = graph
        self.rating_range = rating_range
        self._z: dict[str, Tensor] | None = None
        self._item_terms: tuple[Tensor, ...] | None = None
        self._removal: EdgeRemovalEncoder | None = None

    def _eval(self) -> None:
        # eval() walks every submodule: at a few milliseconds a call it cost more than ranking a user
        if self.net.training:
            self.net.eval()

    def encode(self, drop: EdgeRows | None = None) -> dict[str, Tensor]:
        """Encoder output ``{t: [N_t, hidden]}`` of the graph, or of the graph without ``drop``'s edges.

        The intact graph's output is computed once and kept.
        """
        if not drop and self._z is not None:
            return self._z
        graph = self.graph if not drop else drop_edges(self.graph, drop)
        self._eval()
        with torch.no_grad():
            z = self.net.encode_graph(graph)
        if drop is None:
            self._z = z
        return z

    def embeddings(self, node_type: str) -> np.ndarray:
        """A copy of the intact graph's encoder output ``[N, hidden]`` for one node type."""
        z = self.encode()
        if node_type not in z:
            raise ModelError(f"no embeddings for node type {node_type!r}; have {sorted(z)}")
        return z[node_type].numpy().copy()

    def pairs(self, users: np.ndarray, items: np.ndarray, z: dict[str, Tensor]) -> np.ndarray:
        """Ratings ``[B]`` of pairs of user and item rows ``[B]`` from encoder output ``z``."""
        self._eval()
        out = np.empty(len(users))
        with torch.no_grad():
            for start in range(0, len(users), _BLOCK):
                rows_u, rows_i = users[start : start + _BLOCK], items[start : start + _BLOCK]
                u, u_at = np.unique(rows_u, return_inverse=True)
                i, i_at = np.unique(rows_i, return_inverse=True)
                # the decoder's per-node layers run on the rows asked for, not on every node's embedding
                pred = self.net.decode(
                    z["user"][torch.from_numpy(u)],
                    z["item"][torch.from_numpy(i)],
                    torch.from_numpy(u_at),
                    torch.from_numpy(i_at),
                    torch.from_numpy(rows_u),
                    torch.from_numpy(rows_i),
                )
                out[start : start + len(rows_u)] = pred.double().numpy()
        return self.rating_range.clip(out)

    def item_terms(self, items: np.ndarray | None = None) -> tuple[Tensor, ...]:
        """The per-item decoder terms of every item (computed once and kept), or of the given item rows."""
        if self._item_terms is None:
            z = self.encode()["item"]
            self._eval()
            with torch.no_grad():
                self._item_terms = self.net.item_terms(z, torch.arange(z.shape[0]))
        if items is None:
            return self._item_terms
        at = torch.from_numpy(items)
        return tuple(t[at] for t in self._item_terms)

    def grid(self, users: np.ndarray, item_terms: tuple[Tensor, ...]) -> np.ndarray:
        """Ratings ``[len(users), n]`` of user rows against the items of :meth:`item_terms`."""
        rows = torch.from_numpy(users)
        self._eval()
        with torch.no_grad():
            pred = self.net.decode_all(self.encode()["user"][rows], rows, item_terms)
        return self.rating_range.clip(pred.double().numpy())

    def pair_without(self, user: int, item: int, removals: Sequence[EdgeRows]) -> np.ndarray:
        """Ratings ``[len(removals)]`` of one pair with each removal's edges gone (see
        :class:`gnn.counterfactual.EdgeRemovalEncoder`; the first call builds it)."""
        if self._removal is None:
            self._removal = EdgeRemovalEncoder(self.net, self.graph)
        z_user, z_item = self._removal.pair(user, item, removals)
        self._eval()
        with torch.no_grad():
            at = torch.arange(len(removals))
            pred = self.net.decode(
                z_user, z_item, at, at, torch.full_like(at, user), torch.full_like(at, item)
            )
        return self.rating_range.clip(pred.double().numpy())


def mf_pairs(mf: MFParams, users: np.ndarray, items: np.ndarray, rating_range: RatingRange) -> np.ndarray:
    """The MF part ``[B]`` of pairs of rows ``[B]``."""
    dot = (mf.user_factors[users] * mf.item_factors[items]).sum(1)
    return rating_range.clip(mf.mu + mf.user_bias[users] + mf.item_bias[items] + dot)


def mf_grid(
    mf: MFParams, users: np.ndarray, item_factors: Tensor, item_bias: np.ndarray, rating_range: RatingRange
) -> np.ndarray:
    """The MF part ``[len(users), n]`` of user rows against items given by factors ``[n, k]`` and biases."""
    # torch, not numpy, multiplies: two thread pools spinning on two cores slowed both threefold
    dot = (torch.from_numpy(mf.user_factors[users]) @ item_factors.T).numpy()
    return rating_range.clip(mf.mu + mf.user_bias[users, None] + item_bias[None, :] + dot)


def blend_parts(
    weights: BlendWeights,
    rating_range: RatingRange,
    bias: np.ndarray | float,
    mf: np.ndarray | float,
    gnn: np.ndarray,
) -> np.ndarray:
    """``intercept + w_bias * bias + w_mf * mf + w_gnn * gnn``, clipped to the rating range."""
    w = weights
    return rating_range.clip(w.intercept + w.bias * bias + w.mf * mf + w.gnn * gnn)
