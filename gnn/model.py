"""The GNN part: id embeddings plus projected features, a ``to_hetero`` SAGE encoder, biases, a decoder.

``x_t = emb_t[n_id] + W_t feat_t[n_id]`` for each node type ``t`` (``[N_t, hidden]``), then ``layers``
rounds of heterogeneous SAGE message passing over every edge type of the graph's metadata (sum across
relations), then ``r(u, i) = mu + b_u + b_i + (P z_u).(Q z_i) + MLP([z_u, z_i, z_u * z_i])``.

Example:
    >>> net = RatingNet(graph.metadata(), num_nodes, feature_dims, hidden=64, layers=2, dropout=0.1,
    ...                 mu=4.06)  # doctest: +SKIP
    >>> z = net.encode(graph.x_dict, graph.n_id_dict, graph.edge_index_dict)  # doctest: +SKIP
    >>> net.decode(z["user"][u], z["item"][i], u_ids, i_ids)  # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv, to_hetero
from torch_geometric.typing import EdgeType, Metadata

__all__ = ["RatingNet"]


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
            # residual: a node keeps its own identity even where its neighbourhood is thin or noisy
            h = h + torch.relu(norm(conv(h, edge_index)))
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
        node_types, _ = metadata
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
