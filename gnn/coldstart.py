"""Cold start: parameters for items without training ratings, borrowed from their graph neighbours.

An item nobody rated in training still has edges: its brand, categories, dataset entities (``View``...),
``ALSO_BOUGHT`` links. Its bias, factors and id embedding become the average of the warm items reached
through those edges (``item -> brand -> items``, item-to-item links directly), so the model scores it like
its siblings. Users have no edges besides ratings: a user without training ratings falls back to the biases.

Example:
    >>> import numpy as np
    >>> nbrs = {("item", "made_by", "brand"): (np.array([0, 1, 2]), np.array([0, 0, 1]), 2)}
    >>> filled, (bias,) = fill_cold_items(nbrs, np.array([True, False, False]), [np.array([0.5, 9.0, 9.0])])
    >>> filled.tolist(), bias.tolist()
    ([False, True, False], [0.5, 0.5, 9.0])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from torch_geometric.data import HeteroData

from core.schema import EdgeType

__all__ = ["fill_cold_items", "item_neighbourhoods"]

ItemLinks = Mapping[EdgeType, tuple[np.ndarray, np.ndarray, int]]
"""Per edge type out of items: item rows ``[E]``, neighbour rows ``[E]``, number of neighbour nodes."""


def item_neighbourhoods(graph: HeteroData) -> dict[EdgeType, tuple[np.ndarray, np.ndarray, int]]:
    """The item-side edges of the message graph, every type except ratings, as :data:`ItemLinks`."""
    out: dict[EdgeType, tuple[np.ndarray, np.ndarray, int]] = {}
    for edge_type in graph.edge_types:
        src, _, dst = edge_type
        if src != "item" or dst == "user":
            continue
        items, other = graph[edge_type].edge_index.numpy()
        out[edge_type] = (items, other, int(graph[dst].num_nodes))
    return out


def fill_cold_items(
    links: ItemLinks, warm: np.ndarray, tables: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Fill the rows of cold items in each table (``[num_items]`` or ``[num_items, d]``).

    A cold item's value is the mean, over its neighbours that reach at least one warm item, of the mean of
    those warm items (for an item-to-item link, of the warm neighbour itself). Returns the mask of items
    filled this way (``[num_items]``) and the new tables; cold items with no such neighbour keep their row.
    """
    num_items = len(warm)
    cold = ~warm
    tables2d = [t.reshape(num_items, -1).astype(np.float64) for t in tables]
    width = sum(t.shape[1] for t in tables2d)
    stacked = np.concatenate(tables2d, axis=1) if tables2d else np.zeros((num_items, 0))
    acc = np.zeros((num_items, width))
    hits = np.zeros(num_items)
    for (_, _, dst), (items, other, n_other) in links.items():
        if dst == "item":
            # item links: the neighbour itself is the evidence, in either direction
            for a, b in ((items, other), (other, items)):
                keep = cold[a] & warm[b]
                np.add.at(acc, a[keep], stacked[b[keep]])
                np.add.at(hits, a[keep], 1.0)
            continue
        # two hops through an entity: entity mean over its warm items, then averaged per cold item
        w = warm[items]
        ent_sum = np.zeros((n_other, width))
        np.add.at(ent_sum, other[w], stacked[items[w]])
        ent_n = np.bincount(other[w], minlength=n_other).astype(np.float64)
        keep = cold[items] & (ent_n[other] > 0)
        np.add.at(acc, items[keep], ent_sum[other[keep]] / ent_n[other[keep], None])
        np.add.at(hits, items[keep], 1.0)
    filled = cold & (hits > 0)
    stacked[filled] = acc[filled] / hits[filled, None]
    out, start = [], 0
    for original, t in zip(tables, tables2d, strict=True):
        end = start + t.shape[1]
        out.append(stacked[:, start:end].reshape(original.shape).astype(original.dtype))
        start = end
    return filled, out
