"""The GNN part: id embeddings plus projected features, a ``to_hetero`` SAGE encoder, biases, a decoder.

``x_t = emb_t[n_id] + W_t feat_t[n_id]`` for each node type ``t`` (``[N_t, hidden]``), then ``layers``
rounds of heterogeneous SAGE message passing over every edge type of the graph's metadata (sum across
relations), then ``r(u, i) = mu + b_u + b_i + (P z_u).(Q z_i) + MLP([z_u, z_i, z_u * z_i])``.

The encoder's layer is written once (:func:`_layer_update` after the SAGE messages); :meth:`RatingNet.
encoder_layer` applies the same layer to some nodes of one type, which is what the exact counterfactual
encoder (:mod:`gnn.counterfactual`) recomputes.

Example:
    >>> net = RatingNet.for_graph(graph, TrainConfig(hidden=64), mu=4.06)  # doctest: +SKIP
    >>> z = net.encode_graph(graph)  # doctest: +SKIP
    >>> net.decode(z["user"], z["item"], u, i, u, i)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import SAGEConv, to_hetero
from torch_geometric.nn.to_hetero_transformer import key2str
from torch_geometric.typing import Metadata

from core.errors import ModelError
from core.schema import EdgeType
from gnn.config import TrainConfig

__all__ = ["RatingNet", "node_inputs"]


def node_inputs(graph: HeteroData) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The encoder's inputs for every node of ``graph``: features ``{t: x}`` and rows ``{t: arange(N_t)}``."""
    x = {t: graph[t].x for t in graph.node_types if "x" in graph[t]}
    return x, {t: torch.arange(graph[t].num_nodes) for t in graph.node_types}


def _layer_update(h: Tensor, messages: Tensor, norm: nn.Module) -> Tensor:
    """A node's next state from its state and its summed messages.

    Residual: a node keeps its own identity even where its neighbourhood is thin or noisy.
    """
    return h + torch.relu(norm(messages))


class _Encoder(nn.Module):
    """Homogeneous SAGE stack; ``to_hetero`` copies it per edge type. ``edge_index`` must keep this name."""

    def __init__(self, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList([SAGEConv((-1, -1), hidden) for _ in range(layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(layers)])
        # a module, not F.dropout(training=...): FX tracing in to_hetero would freeze the training flag
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        h = x
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = _layer_update(h, conv(h, edge_index), norm)
            h = self.drop(h)
        return h


class RatingNet(nn.Module):
    """Heterogeneous GNN rating regressor.

    Args:
        metadata: ``(node_types, edge_types)`` of the message-passing graph.
        num_nodes: rows per node type (size of each id embedding table).
        feature_dims: input feature width per node type; types absent or 0 have only id embeddings.
        hidden: embedding and layer width.
        layers: SAGE layers.
        dropout: dropout in encoder and decoder.
        mu: the global training mean, the decoder's starting point.
    """

    def __init__(
        self,
        metadata: Metadata,
        num_nodes: dict[str, int],
        feature_dims: dict[str, int],
        *,
        hidden: int,
        layers: int,
        dropout: float,
        mu: float,
    ) -> None:
        super().__init__()
        node_types, edge_types = metadata
        self.edge_types: list[EdgeType] = [(s, r, d) for s, r, d in edge_types]
        self.layers = layers
        tables = {t: nn.Embedding(max(num_nodes[t], 1), hidden) for t in node_types}
        for table in tables.values():
            nn.init.normal_(table.weight, std=0.1)
        self.emb = nn.ModuleDict(tables)
        self.proj = nn.ModuleDict({t: nn.Linear(d, hidden) for t, d in feature_dims.items() if d > 0})
        self.encoder = to_hetero(_Encoder(hidden, layers, dropout), metadata, aggr="sum")
        self.user_bias = nn.Embedding(max(num_nodes["user"], 1), 1)
        self.item_bias = nn.Embedding(max(num_nodes["item"], 1), 1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        # the decoder's first layer on [z_u, z_i, z_u * z_i], split in three so that the user and item
        # blocks run once per node instead of once per rating (the rating-level matmul dominated an epoch)
        self.dec_user = nn.Linear(hidden, hidden)
        self.dec_item = nn.Linear(hidden, hidden, bias=False)
        self.dec_pair = nn.Linear(hidden, hidden, bias=False)
        self.dec_out = nn.Linear(hidden, 1)
        # a low-rank term next to the MLP: without it the MLP memorises pairs on small graphs
        self.dot_user = nn.Linear(hidden, hidden, bias=False)
        self.dot_item = nn.Linear(hidden, hidden, bias=False)
        for lin in (self.dot_user, self.dot_item):
            nn.init.normal_(lin.weight, std=0.3 / hidden**0.5)
        self.dropout = dropout
        self.register_buffer("mu", torch.tensor(float(mu)))

    @classmethod
    def for_graph(cls, graph: HeteroData, config: TrainConfig, mu: float) -> RatingNet:
        """A network for ``graph`` with its lazy layers initialised by one dry forward pass."""
        x, _ = node_inputs(graph)
        net = cls(
            graph.metadata(),
            {t: int(graph[t].num_nodes) for t in graph.node_types},
            {t: int(v.shape[1]) for t, v in x.items()},
            hidden=config.hidden,
            layers=config.layers,
            dropout=config.dropout,
            mu=mu,
        )
        with torch.no_grad():
            net.encode_graph(graph)
        return net

    def inputs(self, x_dict: dict[str, Tensor], n_id_dict: dict[str, Tensor]) -> dict[str, Tensor]:
        """Node inputs ``{t: [N_t, hidden]}``: id embedding plus projected features, for the given rows."""
        out = {}
        for t, n_id in n_id_dict.items():
            h = self.emb[t](n_id)
            if t in self.proj and t in x_dict:
                h = h + self.proj[t](x_dict[t])
            out[t] = h
        return out

    def encode(
        self,
        x_dict: dict[str, Tensor],
        n_id_dict: dict[str, Tensor],
        edge_index_dict: dict[EdgeType, Tensor],
    ) -> dict[str, Tensor]:
        """Final node embeddings ``{t: [N_t, hidden]}`` after message passing."""
        return self.encoder(self.inputs(x_dict, n_id_dict), edge_index_dict)

    def encode_graph(
        self, graph: HeteroData, edge_index_dict: dict[EdgeType, Tensor] | None = None
    ) -> dict[str, Tensor]:
        """:meth:`encode` of every node of ``graph``, over its edges or over ``edge_index_dict``."""
        x, n_id = node_inputs(graph)
        return self.encode(x, n_id, graph.edge_index_dict if edge_index_dict is None else edge_index_dict)

    def encoder_layer(
        self, layer: int, node_type: str, x_dst: Tensor, incoming: Mapping[EdgeType, tuple[Tensor, Tensor]]
    ) -> Tensor:
        """Encoder layer ``layer`` (0-based, eval mode) for some nodes of ``node_type``: ``[D, hidden]``.

        ``x_dst`` ``[D, hidden]`` are the nodes' states before the layer; ``incoming`` holds, per edge type
        into ``node_type``, the source states ``[S, hidden]`` and the edges ``[2, E]`` as rows of those
        sources and of ``x_dst``. The same SAGE per edge type, sum and update as :meth:`encode`'s layer.
        """
        convs, norms = self.encoder.convs[layer], self.encoder.norms[layer]
        total = None
        for edge_type in self.edge_types:
            if edge_type[2] != node_type:
                continue
            x_src, edge_index = incoming[edge_type]
            # to_hetero keeps each edge type's copy of a layer under PyG's key for that edge type
            msg = convs[key2str(edge_type)]((x_src, x_dst), edge_index)
            total = msg if total is None else total + msg
        if total is None:
            raise ModelError(
                f"node type {node_type!r} receives no messages; the message graph should give it some"
            )
        return _layer_update(x_dst, total, norms[node_type])

    def bias_penalty(self, user_ids: Tensor, item_ids: Tensor) -> Tensor:
        """Mean squared user and item bias of the given pairs ``[B]``: the decoder biases' L2 term."""
        return (self.user_bias(user_ids) ** 2 + self.item_bias(item_ids) ** 2).mean()

    def parameter_groups(self, weight_decay: float) -> list[dict[str, object]]:
        """Optimiser groups: every weight with ``weight_decay``, the bias terms without (they have
        :meth:`bias_penalty`)."""
        biases = [self.user_bias.weight, self.item_bias.weight]
        no_decay = {"user_bias.weight", "item_bias.weight"}
        return [
            {
                "params": [p for n, p in self.named_parameters() if n not in no_decay],
                "weight_decay": weight_decay,
            },
            {"params": biases, "weight_decay": 0.0},
        ]

    def item_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The items' id embeddings ``[I, hidden]`` and decoder biases ``[I, 1]`` (views, not copies)."""
        emb = self.emb["item"]
        assert isinstance(emb, nn.Embedding)
        return emb.weight.detach().numpy(), self.item_bias.weight.detach().numpy()

    def set_item_tables(self, embeddings: np.ndarray, biases: np.ndarray) -> None:
        """Overwrite the items' id embeddings and decoder biases (shapes as :meth:`item_tables`)."""
        emb = self.emb["item"]
        assert isinstance(emb, nn.Embedding)
        with torch.no_grad():
            emb.weight.copy_(torch.from_numpy(embeddings))
            self.item_bias.weight.copy_(torch.from_numpy(biases))

    def decode(
        self,
        z_user: Tensor,
        z_item: Tensor,
        user_index: Tensor,
        item_index: Tensor,
        user_ids: Tensor,
        item_ids: Tensor,
    ) -> Tensor:
        """Ratings ``[B]`` of the pairs ``(z_user[user_index[b]], z_item[item_index[b]])``.

        ``z_user``/``z_item`` are encoder outputs ``[N, hidden]``; ``user_index``/``item_index`` ``[B]``
        index into them; ``user_ids``/``item_ids`` ``[B]`` are the global rows, for the bias terms (they
        equal the index in full-batch mode and differ in a sampled subgraph).
        """
        zu, zi = z_user[user_index], z_item[item_index]
        h = self.dec_user(z_user)[user_index] + self.dec_item(z_item)[item_index] + self.dec_pair(zu * zi)
        h = nn.functional.dropout(torch.relu(h), p=self.dropout, training=self.training)
        bias = self.user_bias(user_ids).squeeze(-1) + self.item_bias(item_ids).squeeze(-1)
        dot = (self.dot_user(z_user)[user_index] * self.dot_item(z_item)[item_index]).sum(-1)
        return self.mu + bias + dot + self.dec_out(h).squeeze(-1)

    def item_terms(self, z_item: Tensor, item_ids: Tensor) -> tuple[Tensor, ...]:
        """The per-item parts of :meth:`decode` for ``z_item`` ``[N, hidden]``, computed once for ranking."""
        return z_item, self.dot_item(z_item), self.item_bias(item_ids).squeeze(-1)

    def decode_all(self, z_user: Tensor, user_ids: Tensor, item_terms: tuple[Tensor, ...]) -> Tensor:
        """Ratings ``[B, N]`` of every item in ``item_terms`` (see :meth:`item_terms`) for each user row.

        The same function as :meth:`decode` (in eval mode), reshaped for ranking: the decoder's first
        layer ``W_u z_u + W_i z_i + W_p (z_u * z_i)`` is ``z_i (W_i + W_p diag(z_u))^T + W_u z_u``, one
        ``[N, hidden] x [hidden, hidden]`` product per user over the item embeddings and nothing else.
        """
        z_item, dot_item, item_bias = item_terms
        weight = self.dec_item.weight + self.dec_pair.weight * z_user.unsqueeze(1)  # [B, out, in]
        h = torch.matmul(z_item, weight.transpose(1, 2))  # [B, N, hidden]
        h += self.dec_user(z_user).unsqueeze(1)
        mlp = h.relu_() @ self.dec_out.weight.squeeze(0) + self.dec_out.bias
        dot = self.dot_user(z_user) @ dot_item.T
        bias = self.user_bias(user_ids).squeeze(-1).unsqueeze(1) + item_bias
        return self.mu + bias + dot + mlp
