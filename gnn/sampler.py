"""Mini-batch loaders over supervision ratings with neighbour-sampled subgraphs.

PyG's :class:`~torch_geometric.loader.LinkNeighborLoader` needs the compiled ``pyg-lib`` or
``torch-sparse``, which have no wheels for every torch build. When neither is installed, the same
:class:`~torch_geometric.loader.LinkLoader` runs with :class:`TorchNeighborSampler`, a pure-torch
heterogeneous neighbour sampler (uniform, per edge type and hop), so mini-batch training works everywhere.

Example:
    >>> loader = link_loader(graph, ("user", "rated", "item"), edge_label_index, edge_label,
    ...                      num_neighbors=[10, 5], batch_size=4096, seed=0)  # doctest: +SKIP
    >>> batch = next(iter(loader))  # doctest: +SKIP
    >>> batch["user", "rated", "item"].edge_label_index.shape  # doctest: +SKIP
    torch.Size([2, 4096])
"""

from __future__ import annotations

import torch
import torch_geometric.typing as pyg_typing
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.loader import LinkLoader, LinkNeighborLoader
from torch_geometric.sampler import BaseSampler, EdgeSamplerInput, HeteroSamplerOutput, NegativeSampling
from torch_geometric.sampler.neighbor_sampler import edge_sample

from core.schema import EdgeType

__all__ = ["TorchNeighborSampler", "link_loader"]


def link_loader(
    graph: HeteroData,
    edge_type: EdgeType,
    edge_label_index: Tensor,
    edge_label: Tensor,
    *,
    num_neighbors: list[int],
    batch_size: int,
    seed: int,
    shuffle: bool = True,
) -> LinkLoader:
    """Batches of ``edge_label_index`` (``[2, E]`` rows of ``edge_type``) with sampled neighbourhoods.

    Uses ``LinkNeighborLoader`` when a compiled sampler is installed, else :class:`TorchNeighborSampler`.
    The shuffle order is drawn from a generator seeded with ``seed``.
    """
    gen = torch.Generator().manual_seed(seed)
    common = dict(
        edge_label_index=(edge_type, edge_label_index),
        edge_label=edge_label,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=gen,
    )
    if pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE:
        return LinkNeighborLoader(graph, num_neighbors=num_neighbors, **common)  # type: ignore[arg-type]
    sampler = TorchNeighborSampler(graph, num_neighbors, seed=seed)
    return LinkLoader(graph, link_sampler=sampler, **common)  # type: ignore[arg-type]


class TorchNeighborSampler(BaseSampler):
    """Uniform heterogeneous neighbour sampling in plain torch.

    At each hop and for each edge type ``(s, r, d)``, every frontier node of type ``d`` keeps all its
    in-neighbours when it has at most ``num_neighbors[hop]`` of them, else that many drawn uniformly (with
    replacement; repeated draws collapse to one edge). Sampled sources join the next frontier.
    """

    def __init__(self, graph: HeteroData, num_neighbors: list[int], *, seed: int = 0) -> None:
        self.num_neighbors = list(num_neighbors)
        self.num_nodes = {t: int(graph[t].num_nodes) for t in graph.node_types}
        self.generator = torch.Generator().manual_seed(seed)
        # CSC per edge type: in-neighbours of each destination node, with their original edge positions
        self.csc: dict[EdgeType, tuple[Tensor, Tensor, Tensor]] = {}
        for edge_type in graph.edge_types:
            src, dst = graph[edge_type].edge_index
            order = torch.argsort(dst, stable=True)
            counts = torch.bincount(dst, minlength=self.num_nodes[edge_type[2]])
            colptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
            self.csc[edge_type] = (colptr, src[order], order)

    def sample_from_edges(
        self, inputs: EdgeSamplerInput, neg_sampling: NegativeSampling | None = None
    ) -> HeteroSamplerOutput:
        out = edge_sample(inputs, self._sample, self.num_nodes, False, None, neg_sampling)
        assert isinstance(out, HeteroSamplerOutput)
        return out

    def sample_from_nodes(self, inputs: object) -> HeteroSamplerOutput:
        raise NotImplementedError("TorchNeighborSampler only samples around edges")

    def _sample(
        self, seed: dict[str, Tensor], seed_time: object = None, **kwargs: object
    ) -> HeteroSamplerOutput:
        local = {t: torch.full((n,), -1, dtype=torch.long) for t, n in self.num_nodes.items()}
        nodes: dict[str, list[Tensor]] = {t: [] for t in self.num_nodes}
        frontier: dict[str, Tensor] = {}
        for t, ids in seed.items():
            self._add(t, ids, local, nodes)
            frontier[t] = ids
        edges: dict[EdgeType, list[tuple[Tensor, Tensor, Tensor]]] = {et: [] for et in self.csc}
        for k in self.num_neighbors:
            found: dict[str, list[Tensor]] = {t: [] for t in self.num_nodes}
            for edge_type, (colptr, rows, perm) in self.csc.items():
                dst_ids = frontier.get(edge_type[2])
                if dst_ids is None or dst_ids.numel() == 0:
                    continue
                src, dst, eid = self._neighbours(colptr, rows, perm, dst_ids, k)
                edges[edge_type].append((src, dst, eid))
                found[edge_type[0]].append(src)
            frontier = {}
            for t, parts in found.items():
                if parts:
                    frontier[t] = self._add(t, torch.cat(parts), local, nodes)
        node = {t: torch.cat(p) if p else torch.empty(0, dtype=torch.long) for t, p in nodes.items()}
        row: dict[EdgeType, Tensor] = {}
        col: dict[EdgeType, Tensor] = {}
        edge: dict[EdgeType, Tensor | None] = {}
        for edge_type, drawn in edges.items():
            if not drawn:
                continue
            src, dst, eid = (torch.cat(x) for x in zip(*drawn, strict=True))
            # a pair can be drawn at two hops (or twice with replacement): keep it once
            key = src * self.num_nodes[edge_type[2]] + dst
            _, first = _unique_first(key)
            row[edge_type] = local[edge_type[0]][src[first]]
            col[edge_type] = local[edge_type[2]][dst[first]]
            edge[edge_type] = eid[first]
        return HeteroSamplerOutput(node=node, row=row, col=col, edge=edge)

    def _neighbours(
        self, colptr: Tensor, rows: Tensor, perm: Tensor, dst_ids: Tensor, k: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        start = colptr[dst_ids]
        deg = colptr[dst_ids + 1] - start
        take = deg.clamp(max=k) if k >= 0 else deg
        owner = torch.repeat_interleave(torch.arange(len(dst_ids)), take)
        position = torch.arange(int(take.sum())) - torch.repeat_interleave(take.cumsum(0) - take, take)
        draw = (torch.rand(len(owner), generator=self.generator) * deg[owner]).long()
        offset = torch.where(deg[owner] <= take[owner], position, draw)
        slot = start[owner] + offset
        return rows[slot], dst_ids[owner], perm[slot]

    @staticmethod
    def _add(node_type: str, ids: Tensor, local: dict[str, Tensor], nodes: dict[str, list[Tensor]]) -> Tensor:
        """Register unseen ids (in first-seen order) and return them."""
        ids = ids[local[node_type][ids] < 0]
        if ids.numel() == 0:
            return ids
        ids, first = _unique_first(ids)
        ids = ids[torch.argsort(first)]
        offset = sum(int(p.numel()) for p in nodes[node_type])
        local[node_type][ids] = torch.arange(offset, offset + len(ids))
        nodes[node_type].append(ids)
        return ids


def _unique_first(values: Tensor) -> tuple[Tensor, Tensor]:
    """Distinct values and the position of each one's first occurrence."""
    uniq, inverse = torch.unique(values, return_inverse=True)
    first = torch.full((len(uniq),), len(values), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(values)), reduce="amin")
    return uniq, first
