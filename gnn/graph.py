"""From a :class:`kg.export.GraphExport` to PyG: the full graph, and the message-passing graph of training.

Everything is driven by the schema: each node label becomes a node type and each relationship type an edge
type named by :attr:`core.schema.RelType.edge_type`, so a dataset that registered ``View`` or ``Genre``
entities trains with them without new code.

Example:
    >>> import pandas as pd
    >>> from kg.export import GraphExport
    >>> from core.schema import Schema
    >>> schema = Schema.core()
    >>> nodes = {n.label: pd.DataFrame({"key": []}) for n in schema.node_types}
    >>> nodes["User"] = pd.DataFrame({"key": ["u1"]})
    >>> nodes["Item"] = pd.DataFrame({"key": ["i1", "i2"]})
    >>> edges = {r.type: pd.DataFrame({c: [] for c in r.end_columns}) for r in schema.rel_types}
    >>> edges["RATED"] = pd.DataFrame({"user": ["u1"], "item": ["i2"], "rating": [4.0], "ts": [0]})
    >>> data, ids = to_hetero_data(GraphExport(schema, nodes, edges))
    >>> data["user", "rated", "item"].edge_index.tolist()
    [[0], [1]]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from core.errors import ModelError
from core.schema import RATED, EdgeType, reverse_edge_type
from gnn.idmap import IdMap
from kg.export import GraphExport

__all__ = ["RATED_EDGE", "EdgeRows", "drop_edges", "message_graph", "to_hetero_data"]

RATED_EDGE: EdgeType = RATED.edge_type
"""``("user", "rated", "item")``: the supervised edge type."""

EdgeRows = Mapping[EdgeType, tuple[np.ndarray | Tensor | list[int], np.ndarray | Tensor | list[int]]]
"""Edges to remove from message passing: per edge type, source rows and destination rows."""


def to_hetero_data(export: GraphExport) -> tuple[HeteroData, IdMap]:
    """The whole exported graph as a :class:`HeteroData`, and the id map of its rows.

    Node types are the schema's PyG names; every relationship type with at least one edge becomes an edge
    type ``(src, rel, dst)``. ``RATED`` edges carry ``rating`` (float32, ``[E]``) and ``ts`` (int64,
    ``[E]``) in the order of ``export.edges["RATED"]``. Item ``price`` and category ``depth`` are kept as
    node attributes (NaN when absent). A key an edge names but no node frame holds is added as a node, so
    an export that is a little inconsistent still loads.

    Example:
        >>> data, ids = to_hetero_data(export)  # doctest: +SKIP
        >>> ids.rows("item", ["B000123"])  # doctest: +SKIP
        array([17])
    """
    schema = export.schema
    keys: dict[str, list[str]] = {}
    seen: dict[str, set[str]] = {}
    for node in schema.node_types:
        frame = export.nodes.get(node.label)
        node_keys = [] if frame is None or frame.empty else [str(k) for k in frame["key"].tolist()]
        keys[node.pyg] = list(dict.fromkeys(node_keys))
        seen[node.pyg] = set(keys[node.pyg])
    for rel in schema.rel_types:
        frame = export.edges.get(rel.type)
        if frame is None or frame.empty:
            continue
        for end, node in zip(rel.end_columns, (rel.source, rel.target), strict=True):
            for key in pd.unique(frame[end].astype(str)):
                if key not in seen[node.pyg]:
                    seen[node.pyg].add(key)
                    keys[node.pyg].append(key)
    ids = IdMap({t: tuple(k) for t, k in keys.items()})

    data = HeteroData()
    for node in schema.node_types:
        data[node.pyg].num_nodes = ids.num_nodes(node.pyg)
    _node_attribute(data, export, ids, "Item", "item", "price")
    _node_attribute(data, export, ids, "Category", "category", "depth")

    for rel in schema.rel_types:
        frame = export.edges.get(rel.type)
        if frame is None or frame.empty:
            continue
        start, end = rel.end_columns
        src = ids.rows(rel.source.pyg, frame[start].tolist())
        dst = ids.rows(rel.target.pyg, frame[end].tolist())
        store = data[rel.edge_type]
        store.edge_index = torch.from_numpy(np.stack([src, dst]))
        if rel.type == RATED.type:
            if "rating" not in frame:
                raise ModelError(f"RATED edges need a 'rating' column; got columns {list(frame.columns)}")
            store.rating = torch.tensor(frame["rating"].to_numpy(dtype=np.float32))
            ts = frame["ts"] if "ts" in frame else pd.Series(0, index=frame.index)
            store.ts = torch.tensor(ts.fillna(0).to_numpy(dtype=np.int64))
    if RATED_EDGE not in data.edge_types:
        raise ModelError("the export holds no RATED edges; there is nothing to learn from")
    return data, ids


def _node_attribute(
    data: HeteroData, export: GraphExport, ids: IdMap, label: str, node_type: str, column: str
) -> None:
    values = np.full(ids.num_nodes(node_type), np.nan, dtype=np.float32)
    frame = export.nodes.get(label)
    if frame is not None and column in frame and not frame.empty:
        rows = ids.rows(node_type, frame["key"].tolist())
        values[rows] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float32)
    data[node_type][column] = torch.from_numpy(values)


def message_graph(full: HeteroData, train_users: np.ndarray, train_items: np.ndarray) -> HeteroData:
    """The graph the encoder passes messages over: training ``RATED`` edges only, plus every other edge.

    Ratings and timestamps are left out (no edge features), every edge type gets its reverse
    (``rev_<rel>``; same-type relations are made symmetric instead) so every node type receives messages,
    and node types without any edge are dropped so the lifted encoder has no dead inputs.
    ``train_users``/``train_items`` are the rows of the training ratings, ``[E_train]`` each.
    """
    graph = HeteroData()
    for node_type in full.node_types:
        graph[node_type].num_nodes = full[node_type].num_nodes
    for edge_type in full.edge_types:
        if edge_type == RATED_EDGE:
            edge_index = torch.from_numpy(np.stack([train_users, train_items]).astype(np.int64))
        else:
            edge_index = full[edge_type].edge_index
        if edge_index.numel() == 0:
            continue
        reverse = reverse_edge_type(edge_type)
        if reverse == edge_type:
            both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
            graph[edge_type].edge_index = torch.unique(both, dim=1)
        else:
            # unique: duplicate ratings of one pair would count twice in the mean aggregation
            edge_index = torch.unique(edge_index, dim=1)
            graph[edge_type].edge_index = edge_index
            graph[reverse].edge_index = edge_index.flip(0)
    linked = {t for et in graph.edge_types for t in (et[0], et[2])}
    for node_type in list(graph.node_types):
        if node_type not in linked and node_type not in ("user", "item"):
            del graph[node_type]
    return graph


def drop_edges(graph: HeteroData, remove: EdgeRows) -> HeteroData:
    """A shallow copy of ``graph`` without the given edges, in both directions.

    ``remove`` names edges by their forward type (``("user", "rated", "item")``); the reverse edge
    (``rev_rated``, or the mirrored one of a same-type relation) goes too, so a counterfactual "without
    this rating" is exact. Unknown edge types raise; edges not present are ignored.
    """
    out = graph.clone()
    for edge_type, (src_rows, dst_rows) in remove.items():
        if edge_type not in graph.edge_types:
            raise ModelError(f"cannot drop edges of {edge_type}: not in the graph (have {graph.edge_types})")
        src = torch.as_tensor(np.asarray(src_rows), dtype=torch.long).reshape(-1)
        dst = torch.as_tensor(np.asarray(dst_rows), dtype=torch.long).reshape(-1)
        if src.numel() != dst.numel():
            raise ModelError(f"drop_edges[{edge_type}]: {src.numel()} sources but {dst.numel()} targets")
        _remove(out, edge_type, src, dst)
        reverse = reverse_edge_type(edge_type)
        if reverse in out.edge_types:  # a same-type relation is its own reverse: the mirrored edges go
            _remove(out, reverse, dst, src)
    return out


def _remove(graph: HeteroData, edge_type: EdgeType, src: Tensor, dst: Tensor) -> None:
    edge_index = graph[edge_type].edge_index
    width = int(max(graph[edge_type[2]].num_nodes, 1))
    present = edge_index[0] * width + edge_index[1]
    gone = torch.isin(present, src * width + dst)
    graph[edge_type].edge_index = edge_index[:, ~gone]
