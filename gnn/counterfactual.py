"""Exact counterfactual encoder outputs for one (user, item) pair, recomputing only what an edge removal changes.

The encoder's layer ``l`` output of a node depends only on its own layer ``l - 1`` state and the mean of its
in-neighbours' (SAGE, summed over edge types). Removing edges therefore changes, at layer 1, only the
targets of the removed edges, and at layer ``l`` only those nodes plus the out-neighbours of nodes changed at
layer ``l - 1``. Of these, only the nodes from which the user or the item can be reached in the remaining
``L - l`` layers matter. :class:`EdgeRemovalEncoder` keeps every layer's states of the intact graph and, per
removal, recomputes exactly that set of nodes, layer by layer, from the in-edges of each (read from a
destination-sorted index, so a hub costs one slice of its edges, not a scan of the graph). All removals of
one call are batched: one SAGE call per edge type per layer. The result equals a full encoder pass over
:func:`gnn.graph.drop_edges` (up to float summation order).

A hub (a category, a popular item) would cost all its in-edges at every recomputation. For nodes with at least
``hub_degree`` in-edges of a type, the intact graph's sum of those sources' states is kept per layer, and a
recomputation corrects it: minus the removed edges' sources, plus the change of each source the removal
changed before. The corrected mean reaches the same SAGE layer as the in-edges of one virtual source holding
it (the mean of one message is that message), so the layer stays PyG's. This needs the graph's edges to be
unique per edge type, as :func:`gnn.graph.message_graph` makes them.

Example:
    >>> enc = EdgeRemovalEncoder(model.net, model.graph)  # doctest: +SKIP
    >>> z_user, z_item = enc.pair(3, 17, [{("user", "rated", "item"): ([3], [5])}])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from core.errors import ModelError
from core.schema import EdgeType, reverse_edge_type
from gnn.graph import EdgeRows
from gnn.model import RatingNet, node_inputs

__all__ = ["EdgeRemovalEncoder"]

# per node type: the nodes changed in some removal as codes ``removal * N_t + row``, sorted, and their
# new states in the same order. Index bookkeeping is numpy (per call it is many tiny operations, where
# numpy's overhead is a fraction of torch's); only the states are tensors.
_Changed = dict[str, tuple[np.ndarray, Tensor]]

HUB_DEGREE = 32
"""In-edges of one type from which a node's intact sum is kept and corrected instead of gathered again."""


class EdgeRemovalEncoder:
    """Encoder outputs of one user and one item with sets of edges removed from ``graph``, exactly.

    Args:
        net: the trained network; each layer is recomputed with :meth:`gnn.model.RatingNet.encoder_layer`.
        graph: its message-passing graph (every edge type with its reverse, as :func:`gnn.graph.message_graph`).
        hub_degree: nodes with at least this many in-edges of a type are corrected from their kept sum.
    """

    def __init__(self, net: RatingNet, graph: HeteroData, hub_degree: int = HUB_DEGREE) -> None:
        self.net = net
        self.edge_types: list[EdgeType] = list(graph.edge_types)
        self.num_nodes = {t: int(graph[t].num_nodes) for t in graph.node_types}
        self.layers = net.layers
        # in-edges (sources sorted by destination) and out-edges (destinations sorted by source), with
        # row pointers: a node's edges are one slice, so a hub costs its edges and not a scan of the graph
        self._in: dict[EdgeType, tuple[np.ndarray, np.ndarray]] = {}
        self._out: dict[EdgeType, tuple[np.ndarray, np.ndarray]] = {}
        for et in self.edge_types:
            src, dst = graph[et].edge_index.numpy()
            self._in[et] = _csr(dst, src, self.num_nodes[et[2]])
            self._out[et] = _csr(src, dst, self.num_nodes[et[0]])
        net.eval()
        with torch.no_grad():
            h = net.inputs(*node_inputs(graph))
            self.states = [h]  # [L + 1] of {t: [N_t, hidden]}: the intact graph's state after each layer
            for layer in range(self.layers):
                incoming = {et: (h[et[0]], graph[et].edge_index) for et in self.edge_types}
                h = {t: net.encoder_layer(layer, t, h[t], incoming) for t in self.num_nodes}
                self.states.append(h)
        # per edge type: each node's position among the hubs (-1: not one), and per layer the hubs' sums
        self._hub_at: dict[EdgeType, np.ndarray] = {}
        self._hub_sums: list[dict[EdgeType, np.ndarray]] = [{} for _ in range(self.layers)]
        for et in self.edge_types:
            sources, ptr = self._in[et]
            hubs = np.flatnonzero(np.diff(ptr) >= hub_degree)
            self._hub_at[et] = np.full(ptr.size - 1, -1, dtype=np.int64)
            self._hub_at[et][hubs] = np.arange(hubs.size)
            if not hubs.size:
                continue
            edges, owner = _slices(sources, ptr, hubs)
            adjacency = sp.csr_matrix(
                (np.ones(edges.size, dtype=np.float32), (owner, edges)),
                shape=(hubs.size, self.num_nodes[et[0]]),
            )
            # summed in float32 as the encoder's own aggregation is (a float64 copy of every node's state
            # would cost a large graph more memory than the sums), kept in float64 for the corrections
            for layer in range(self.layers):
                self._hub_sums[layer][et] = (adjacency @ self.states[layer][et[0]].numpy()).astype(np.float64)

    def pair(self, user: int, item: int, removals: Sequence[EdgeRows]) -> tuple[Tensor, Tensor]:
        """Final states ``z_user [R, hidden]`` and ``z_item [R, hidden]`` of the pair, one row per removal.

        Each removal names edges by forward edge type and rows, as :func:`gnn.graph.drop_edges`; the reverse
        (or mirrored) edge goes too. Unknown edge types raise :class:`core.errors.ModelError`.
        """
        dropped = self._dropped(removals)
        reach = self._reach(user, item)
        changed: _Changed = {}
        # layer 1: the targets of removed edges; later layers: those changed before and their out-neighbours
        grown: dict[str, list[np.ndarray]] = {}
        for et, (k, _, dst) in dropped.items():
            grown.setdefault(et[2], []).append(k * self.num_nodes[et[2]] + dst)
        with torch.no_grad():
            for layer in range(1, self.layers + 1):
                frontier = {t: self._reaching(t, np.concatenate(v), reach[layer]) for t, v in grown.items()}
                changed = self._recompute(layer, frontier, dropped, changed)
                grown = {t: [c] for t, (c, _) in changed.items()}
                for et in self.edge_types:
                    if et[0] in changed:
                        grown.setdefault(et[2], []).append(self._out_codes(et, changed[et[0]][0]))
        r = len(removals)
        z_user = self._lookup(self.layers, changed, "user", np.arange(r), np.full(r, user))
        z_item = self._lookup(self.layers, changed, "item", np.arange(r), np.full(r, item))
        return z_user, z_item

    # ------------------------------------------------------------------------------------------ internals

    def _dropped(self, removals: Sequence[EdgeRows]) -> dict[EdgeType, np.ndarray]:
        """Per edge type, the removed directed edges as ``[3, E]`` rows (removal, source, destination)."""
        parts: dict[EdgeType, list[np.ndarray]] = {}
        for k, removal in enumerate(removals):
            for edge_type, (src_rows, dst_rows) in removal.items():
                if edge_type not in self._in:
                    raise ModelError(
                        f"cannot drop edges of {edge_type}: not in the graph ({self.edge_types})"
                    )
                src = np.asarray(src_rows, dtype=np.int64).reshape(-1)
                dst = np.asarray(dst_rows, dtype=np.int64).reshape(-1)
                if src.size != dst.size:
                    raise ModelError(f"removal {k} of {edge_type}: {src.size} sources, {dst.size} targets")
                ks = np.full_like(src, k)
                parts.setdefault(edge_type, []).append(np.stack([ks, src, dst]))
                # mirrored the way drop_edges mirrors: same-type relations both ways, others on rev_<rel>
                back = reverse_edge_type(edge_type)
                if back in self._in:
                    parts.setdefault(back, []).append(np.stack([ks, dst, src]))
        return {et: np.concatenate(v, axis=1) for et, v in parts.items()}

    def _reach(self, user: int, item: int) -> list[dict[str, np.ndarray]]:
        """``[L + 1]``: per layer ``l``, per node type, the sorted rows whose layer-``l`` state reaches the
        user's or the item's final state (within ``L - l`` hops along the intact graph's edges)."""
        reach: list[dict[str, np.ndarray]] = [{} for _ in range(self.layers + 1)]
        reach[self.layers] = {"user": np.array([user]), "item": np.array([item])}
        for layer in range(self.layers - 1, 0, -1):
            grown = {t: [v] for t, v in reach[layer + 1].items()}
            for et in self.edge_types:
                if et[2] in reach[layer + 1]:
                    grown.setdefault(et[0], []).append(_slices(*self._in[et], reach[layer + 1][et[2]])[0])
            reach[layer] = {t: np.unique(np.concatenate(v)) for t, v in grown.items()}
        return reach

    def _reaching(self, t: str, codes: np.ndarray, reach: dict[str, np.ndarray]) -> np.ndarray:
        """The distinct ``codes`` (``removal * N_t + row``) whose rows reach the pair, sorted; filtered before
        the ``unique``, since a hub's out-neighbours are many and few of them reach the pair."""
        return np.unique(codes[np.isin(codes % self.num_nodes[t], reach.get(t, []))])

    def _out_codes(self, et: EdgeType, codes: np.ndarray) -> np.ndarray:
        """Out-neighbours along ``et`` of nodes given as ``removal * N_src + row``, as ``removal * N_dst + row``."""
        n_src = self.num_nodes[et[0]]
        targets, owner = _slices(*self._out[et], codes % n_src)
        return (codes // n_src)[owner] * self.num_nodes[et[2]] + targets

    def _recompute(
        self,
        layer: int,
        frontier: dict[str, np.ndarray],
        dropped: dict[EdgeType, np.ndarray],
        before: _Changed,
    ) -> _Changed:
        """New layer-``layer`` states of the frontier nodes (codes per node type, each reaching the pair)."""
        out: _Changed = {}
        for t, codes in frontier.items():
            if not codes.size:
                continue
            n_t = self.num_nodes[t]
            job_k, job_v = codes // n_t, codes % n_t
            incoming: dict[EdgeType, tuple[Tensor, Tensor]] = {}
            for et in self.edge_types:
                if et[2] != t:
                    continue
                hub = self._hub_at[et][job_v] >= 0
                plain = np.flatnonzero(~hub)
                src, owner = _slices(*self._in[et], job_v[plain])
                owner = plain[owner]
                gone = dropped.get(et)
                if gone is not None and src.size:
                    # a removed edge is (removal, source, destination); it leaves only that removal's job
                    n_s = self.num_nodes[et[0]]
                    here = (job_k[owner] * n_t + job_v[owner]) * n_s + src
                    keep = ~np.isin(here, (gone[0] * n_t + gone[2]) * n_s + gone[1])
                    src, owner = src[keep], owner[keep]
                # one source row per edge, so edge e goes from row e to its job
                x_src = self._lookup(layer - 1, before, et[0], job_k[owner], src)
                if hub.any():  # each hub job's in-edges as one virtual source holding their mean
                    jobs = np.flatnonzero(hub)
                    mean, fed = self._hub_means(layer - 1, et, codes[jobs], gone, before)
                    x_src = torch.cat([x_src, mean[fed]])
                    owner = np.concatenate([owner, jobs[fed]])
                incoming[et] = (x_src, torch.from_numpy(np.stack([np.arange(owner.size), owner])))
            x_dst = self._lookup(layer - 1, before, t, job_k, job_v)
            out[t] = (codes, self.net.encoder_layer(layer - 1, t, x_dst, incoming))
        return out

    def _hub_means(
        self, layer: int, et: EdgeType, job_codes: np.ndarray, gone: np.ndarray | None, before: _Changed
    ) -> tuple[Tensor, np.ndarray]:
        """The mean ``[J, hidden]`` of the layer-``layer`` states of each hub job's remaining in-edges along
        ``et`` (jobs as sorted codes ``removal * N_dst + row``), and whether any in-edge remains ``[J]``: the
        kept intact sum, minus each removed edge's source, plus each changed source's change."""
        n_s, n_t = self.num_nodes[et[0]], self.num_nodes[et[2]]
        sources, ptr = self._in[et]
        v = job_codes % n_t
        total = self._hub_sums[layer][et][self._hub_at[et][v]]
        degree = (ptr[v + 1] - ptr[v]).astype(np.float64)
        intact = self.states[layer][et[0]]
        removed = np.zeros(0, dtype=np.int64)  # (job, source) as job * N_src + source
        if gone is not None:
            at, hit = _find(job_codes, gone[0] * n_t + gone[2])
            job, src = at[hit], gone[1][hit]
            # only edges of the graph (a path's edge may be absent from it, e.g. a held-out rating)
            real = _in_slices(sources, ptr[v[job]], ptr[v[job] + 1], src)
            removed = np.unique(job[real] * n_s + src[real])
            job, src = removed // n_s, removed % n_s
            np.subtract.at(total, job, intact[torch.from_numpy(src)].numpy())
            np.subtract.at(degree, job, 1.0)
        if et[0] in before:
            codes, states = before[et[0]]
            targets, owner = _slices(*self._out[et], codes % n_s)
            at, hit = _find(job_codes, (codes // n_s)[owner] * n_t + targets)
            job, which = at[hit], owner[hit]
            src = codes[which] % n_s
            kept = ~np.isin(job * n_s + src, removed)
            job, which, src = job[kept], which[kept], src[kept]
            change = states[torch.from_numpy(which)] - intact[torch.from_numpy(src)]
            np.add.at(total, job, change.numpy())
        fed = degree > 0
        return torch.from_numpy((total / np.maximum(degree, 1.0)[:, None]).astype(np.float32)), fed

    def _lookup(self, layer: int, changed: _Changed, t: str, k: np.ndarray, v: np.ndarray) -> Tensor:
        """States ``[len(v), hidden]`` of nodes ``v`` at ``layer`` in removals ``k``: the intact graph's,
        except where that removal changed the node."""
        out = self.states[layer][t][torch.from_numpy(v)]
        if t in changed and v.size:
            codes, new = changed[t]
            at, hit = _find(codes, k * self.num_nodes[t] + v)
            if hit.any():
                out[torch.from_numpy(hit)] = new[torch.from_numpy(at[hit])]
        return out


def _csr(key: np.ndarray, value: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``value`` sorted by ``key``, then by value, and row pointers ``[n + 1]``: node ``v``'s values are one
    sorted slice."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(key, minlength=n))
    return value[np.lexsort((value, key))], ptr


def _in_slices(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Whether each ``wanted[e]`` is in the sorted slice ``values[lo[e]:hi[e]]`` (a call's few removed
    edges)."""
    out = np.zeros(wanted.size, dtype=bool)
    for e in range(wanted.size):
        at = lo[e] + int(np.searchsorted(values[lo[e] : hi[e]], wanted[e]))
        out[e] = at < hi[e] and values[at] == wanted[e]
    return out


def _find(sorted_codes: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per code: its position in ``sorted_codes`` and whether it is there."""
    if not sorted_codes.size:
        return np.zeros(codes.size, dtype=np.int64), np.zeros(codes.size, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_codes, codes), sorted_codes.size - 1)
    return at, sorted_codes[at] == codes


def _slices(values: np.ndarray, ptr: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The concatenated slices of ``nodes`` and, per entry, the index into ``nodes`` it came from."""
    start, count = ptr[nodes], ptr[nodes + 1] - ptr[nodes]
    owner = np.repeat(np.arange(nodes.size), count)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    return values[start[owner] + offset], owner
