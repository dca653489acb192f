"""LightGCN (He et al. 2020) over the knowledge graph, trained with a ranking loss (BPR) on who interacted
with what, with every other node of the graph in message passing.

Users, items and the graph's other nodes (brands, categories, any entity type, as the caller lists them) get
one embedding each in a single homogeneous graph: user-item edges from the training interactions, and the
item-entity and item-item edges of the knowledge graph. Propagation is LightGCN's (symmetric-normalised
sums with PyG's ``gcn_norm``, no weights, layers averaged), so an item that shares a brand or category with
what a user took is pulled toward that user even before anyone took it. A user's score for an item is the
dot product of their final embeddings.

Launched in several processes (:func:`gnn.distributed.launch`), each rank takes its shard of every epoch's
shuffled pairs, ``batch_size / nproc`` of them per step with its own negatives, and
``DistributedDataParallel`` averages the gradients: an epoch takes as many steps as in one process, each on
``batch_size`` pairs in all. Every rank still propagates over the whole graph at every step, so several
processes share the batches' work, not the propagation's.

PyG's ``LightGCN`` module propagates with ``torch.sparse.mm``, whose backward pass transposes the adjacency
at every step: 1.0–1.7 s per forward and backward pass at amazon-hin's size on a loaded 2-core machine. The
normalised adjacency is symmetric, its own transpose, so here the backward pass reuses it
(:class:`_Propagate`): a whole training step (both passes and the optimiser) took 0.34 s on the same
machine.

Example:
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> pairs = (np.array([0, 0, 1]), np.array([0, 1, 0]))      # user rows, item columns
    >>> knowledge = (np.array([0, 1, 2]), np.array([0, 0, 1]))  # item columns, entity rows
    >>> fit = LightGCN(dim=8, epochs=2, seed=0).fit(pairs, 2, 3, knowledge, 2)
    >>> fit.scores(np.array([1, -1]), sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]]))).shape
    (2, 3)
"""

from __future__ import annotations

import warnings
from typing import Self

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from gnn.device import DeviceName, resolve_device
from gnn.distributed import parallel, world

__all__ = ["LightGCN"]

Pairs = tuple[np.ndarray, np.ndarray]


class LightGCN:
    """LightGCN over users, items and knowledge-graph entities, trained with BPR.

    Args:
        dim: embedding size. layers: propagation steps. epochs: passes over the training interactions.
        batch_size: positive pairs per step (each with one uniformly sampled negative item).
        max_steps: at most this many steps an epoch (``None``: no bound): past ``batch_size * max_steps``
            interactions each step takes ``ceil(n / max_steps)`` pairs. Every step propagates over the whole
            graph, whose size grows with the interactions, so without a bound an epoch's cost grows with
            their square: at 10M interactions one epoch of 32,768-pair steps took over 2.5 minutes here.
        lr: Adam learning rate. l2: weight of the L2 term on the batch's layer-0 embeddings in the BPR loss.
        device: where it trains (:func:`gnn.device.resolve_device`); negatives are drawn on the CPU, so a
            seed gives the same draws on any device, and the embeddings come back as numpy arrays.
    """

    def __init__(
        self,
        dim: int = 64,
        layers: int = 2,
        epochs: int = 30,
        batch_size: int = 32768,
        max_steps: int | None = None,
        lr: float = 0.02,
        l2: float = 1e-4,
        seed: int = 0,
        device: DeviceName = "auto",
    ) -> None:
        self.dim, self.layers, self.epochs, self.device = dim, layers, epochs, device
        self.batch_size, self.lr, self.l2, self.seed = batch_size, lr, l2, seed
        self.max_steps = max_steps
        self.user_embeddings = np.zeros((0, dim), dtype=np.float32)
        self.item_embeddings = np.zeros((0, dim), dtype=np.float32)
        # every node's embedding before propagation, ``[n_nodes, dim]``: what a warm fit starts from
        self.layer0 = np.zeros((0, dim), dtype=np.float32)
        self.losses: list[float] = []

    def fit(
        self,
        interactions: Pairs,
        n_users: int,
        n_items: int,
        knowledge: Pairs | None = None,
        n_entities: int = 0,
        item_links: Pairs | None = None,
        warm_epochs: int | None = None,
    ) -> Self:
        """``interactions``: (user rows, item columns) of the training pairs. ``knowledge``: (item columns,
        entity rows) for entities ``0..n_entities-1``. ``item_links``: (item column, item column) pairs.
        ``warm_epochs``: start from the last fit's :attr:`layer0` (the same nodes; more or other edges) and
        train this many epochs instead of ``epochs``; without a last fit of the same nodes, a cold fit."""
        if warm_epochs is None or self.layer0.shape != (n_users + n_items + n_entities, self.dim):
            warm_epochs, self.layer0 = None, np.zeros((0, self.dim), dtype=np.float32)  # a cold fit
        epochs = self.epochs if warm_epochs is None else warm_epochs
        fit = (interactions, n_users, n_items, knowledge, n_entities, item_links, epochs)
        device = resolve_device(self.device)
        if device.type != "cpu":
            return self._fit(device, *fit)
        # some of torch's parallel CPU kernels sum in the order their threads finish: the same data and seed
        # gave embeddings 1e-6 apart from run to run, enough to move a split of the fusion's trees
        before = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        try:
            return self._fit(device, *fit)
        finally:
            torch.use_deterministic_algorithms(before)

    def _fit(
        self,
        device: torch.device,
        interactions: Pairs,
        n_users: int,
        n_items: int,
        knowledge: Pairs | None,
        n_entities: int,
        item_links: Pairs | None,
        epochs: int,
    ) -> Self:
        self.losses = []
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        users, items = (np.asarray(a, dtype=np.int64) for a in interactions)
        edge_index = _undirected(users, items + n_users)
        if knowledge is not None and len(knowledge[0]):
            edge_index = torch.cat(
                [edge_index, _undirected(knowledge[0] + n_users, knowledge[1] + n_users + n_items)], dim=1
            )
        if item_links is not None and len(item_links[0]):
            edge_index = torch.cat(
                [edge_index, _undirected(item_links[0] + n_users, item_links[1] + n_users)], dim=1
            )
        n_nodes = n_users + n_items + n_entities
        # normalised once: the graph does not change while training
        norm_index, norm_weight = gcn_norm(edge_index, num_nodes=n_nodes, add_self_loops=False)
        with warnings.catch_warnings():
            # CSR is torch's fastest sparse x dense product on CPU; its "beta" notice says nothing to act on
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            coo = torch.sparse_coo_tensor(norm_index, norm_weight, (n_nodes, n_nodes), check_invariants=False)
            adjacency = coo.coalesce().to_sparse_csr().to(device)
        embedding = torch.nn.Embedding(n_nodes, self.dim)
        if len(self.layer0):  # a warm fit (:meth:`fit` left the start here)
            with torch.no_grad():
                embedding.weight.copy_(torch.from_numpy(self.layer0))
            self.layer0 = np.zeros((0, self.dim), dtype=np.float32)  # held once, by the embedding
        else:
            torch.nn.init.xavier_uniform_(embedding.weight)  # on the CPU: the same start on any device
        embedding.to(device)
        bpr = _BPR(embedding, adjacency, self.layers, self.l2)
        step = parallel(bpr, device, sampled=False)
        # fused: one kernel over each parameter instead of torch's loop of a dozen whole-tensor operations
        optimiser = torch.optim.Adam(embedding.parameters(), lr=self.lr, fused=True)
        team = world()
        # negatives from a generator apart from the shuffle's, one per rank: one process draws as rank 0 of
        # a team does, so a seed's spread over seeds is the same with one process or several
        negatives = np.random.default_rng((self.seed, team.rank))
        n = len(users)
        per_step = team.share(max(self.batch_size, -(-n // self.max_steps) if self.max_steps else 0))
        for _ in range(epochs):
            order = rng.permutation(n)
            if team.size > 1:
                order = order[team.rank :: team.size][: n // team.size]
            total = 0.0
            for start in range(0, len(order), per_step):
                batch = order[start : start + per_step]
                u = torch.from_numpy(users[batch]).to(device)
                pos = torch.from_numpy(items[batch] + n_users).to(device)
                neg = torch.from_numpy(negatives.integers(0, n_items, len(batch)) + n_users).to(device)
                loss = step(u, pos, neg)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(batch)
            self.losses.append(total / max(len(order), 1))  # alone, the whole epoch; a rank, its shard
        with torch.no_grad():
            final = _propagate(adjacency, embedding.weight, self.layers).cpu().numpy().astype(np.float32)
            self.layer0 = embedding.weight.cpu().numpy().astype(np.float32, copy=True)
        self.user_embeddings = final[:n_users]
        self.item_embeddings = final[n_users : n_users + n_items]
        return self

    def scores(self, user_rows: np.ndarray, taken: sp.csr_matrix) -> np.ndarray:
        """``[len(user_rows), n_items]`` dot products of :meth:`user_vectors` and the item embeddings."""
        return self.user_vectors(user_rows, taken) @ self.item_embeddings.T

    def user_vectors(self, user_rows: np.ndarray, taken: sp.csr_matrix) -> np.ndarray:
        """The users' embeddings; a row of ``-1`` is a newcomer, placed at the mean embedding of the items
        ``taken`` marks for it (LightGCN's first propagation step, unnormalised)."""
        rows = np.asarray(user_rows)
        users = self.user_embeddings[np.where(rows >= 0, rows, 0)].copy()
        new = np.flatnonzero(rows < 0)
        if len(new):
            picked = taken[new]
            counts = np.maximum(np.asarray(picked.sum(axis=1)).ravel(), 1.0)
            users[new] = np.asarray(picked @ self.item_embeddings) / counts[:, None]
        return users


class _BPR(torch.nn.Module):
    """One step's loss as a module's forward (what DistributedDataParallel wraps): BPR on the propagated
    embeddings, with the L2 term on the layer-0 embeddings of the batch (as LightGCN's paper)."""

    def __init__(
        self, embedding: torch.nn.Embedding, adjacency: torch.Tensor, layers: int, l2: float
    ) -> None:
        super().__init__()
        self.embedding, self.layers, self.l2 = embedding, layers, l2
        self.adjacency = adjacency  # not a buffer: DDP would broadcast it every step, and it is sparse

    def forward(self, u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        # one gather a table: each gather's backward builds a gradient the size of the whole table, so six
        # gathers held six of them (1.8 GB at 10M interactions) where two hold two
        batch = torch.cat([u, pos, neg])
        user, good, bad = _propagate(self.adjacency, self.embedding.weight, self.layers)[batch].chunk(3)
        reg = self.embedding.weight[batch].pow(2).sum() / len(u)
        rank_gap = (user * good).sum(-1) - (user * bad).sum(-1)
        return -torch.nn.functional.logsigmoid(rank_gap).mean() + self.l2 * reg


class _Propagate(torch.autograd.Function):
    """``A @ x`` for a symmetric sparse ``A``: the gradient is ``A @ grad`` (no transpose to build)."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, adjacency: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(adjacency)  # type: ignore[attr-defined]
        return adjacency @ x

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        (adjacency,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return None, adjacency @ grad


def _propagate(adjacency: torch.Tensor, x: torch.Tensor, layers: int) -> torch.Tensor:
    """LightGCN's output: the mean of ``x``, ``A x``, ..., ``A^layers x``."""
    out, h = x, x
    for _ in range(layers):
        h = _Propagate.apply(adjacency, h)
        out = out + h
    return out / (layers + 1)


def _undirected(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    # copies: the caller's arrays may be read-only views (pandas), which torch warns about sharing
    a_t, b_t = torch.from_numpy(np.array(a, dtype=np.int64)), torch.from_numpy(np.array(b, dtype=np.int64))
    return torch.stack([torch.cat([a_t, b_t]), torch.cat([b_t, a_t])])
