"""What the knowledge graph says about items, in the shape ranking needs: per relation from items to other
nodes (``MADE_BY`` brands, ``IN_CATEGORY`` categories, every ``HAS_X`` entity type), a sparse item x node
incidence; and the item-to-item links (``ALSO_BOUGHT``, ``ALSO_VIEWED``, a dataset's own).

Built from a :class:`kg.GraphExport` through the schema, so a dataset's own entity types count without new
code. A user's *affinity* to an item along a relation is how many of the user's items share a node of that
relation with it, over the user's item count: with brands, the share of what the user took that is of the
item's brand.

Example:
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> k = Knowledge({"MADE_BY": sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]]))}, (np.array([]), np.array([])))
    >>> seen = sp.csr_matrix(np.array([[1, 0, 1]]))          # the user took items 0 and 2
    >>> k.affinity(seen)["MADE_BY"].tolist()                 # item 1 shares item 0's brand
    [[0.5, 0.5, 0.5]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.schema import ITEM, USER
from kg.export import GraphExport

__all__ = ["Knowledge"]


@dataclass(frozen=True)
class Knowledge:
    """``relations``: per relationship type, ``[n_items, n_nodes_of_its_target]`` CSR of ones.
    ``item_links``: (item column, item column) pairs of every item-to-item relationship."""

    relations: dict[str, sp.csr_matrix]
    item_links: tuple[np.ndarray, np.ndarray]

    @classmethod
    def from_export(cls, export: GraphExport, item_keys: np.ndarray) -> Knowledge:
        items = pd.Index([str(k) for k in item_keys])
        relations: dict[str, sp.csr_matrix] = {}
        link_a: list[np.ndarray] = []
        link_b: list[np.ndarray] = []
        for rel in export.schema.rel_types:
            frame = export.edges.get(rel.type)
            if frame is None or frame.empty or rel.source != ITEM or rel.target == USER:
                continue
            rows = items.get_indexer(pd.Index(frame["source"].astype(str)))
            if rel.target == ITEM:
                cols = items.get_indexer(pd.Index(frame["target"].astype(str)))
                keep = (rows >= 0) & (cols >= 0)
                link_a.append(rows[keep])
                link_b.append(cols[keep])
                continue
            codes, uniques = pd.factorize(frame["target"].astype(str))
            keep = rows >= 0
            matrix = sp.csr_matrix(
                (np.ones(int(keep.sum()), np.float32), (rows[keep], codes[keep])),
                shape=(len(items), len(uniques)),
            )
            matrix.data[:] = 1.0
            relations[rel.type] = matrix
        empty = np.zeros(0, dtype=np.int64)
        links = (np.concatenate(link_a), np.concatenate(link_b)) if link_a else (empty, empty)
        return cls(relations, links)

    def incidence(self) -> sp.csr_matrix:
        """Every relation side by side: ``[n_items, all nodes]`` (the side information of EASE)."""
        if not self.relations:
            return sp.csr_matrix((self.n_items, 0), dtype=np.float32)
        return sp.csr_matrix(sp.hstack(list(self.relations.values())))

    @property
    def n_items(self) -> int:
        return next(iter(self.relations.values())).shape[0] if self.relations else 0

    def entity_pairs(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Every relation's (item column, node row) pairs with node rows numbered across relations, and the
        number of nodes: the knowledge edges of LightGCN."""
        item_cols, node_rows, offset = [], [], 0
        for matrix in self.relations.values():
            coo = matrix.tocoo()
            item_cols.append(coo.row)
            node_rows.append(coo.col + offset)
            offset += matrix.shape[1]
        if not item_cols:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
        return np.concatenate(item_cols), np.concatenate(node_rows), offset

    def affinity(self, seen: sp.csr_matrix, columns: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per relation, ``[users, items]`` (or ``[users, len(columns)]``): the user's items sharing a node
        of that relation with the item, over the user's item count (0 for a user without items)."""
        counts = np.asarray(seen.sum(axis=1)).ravel()
        scale = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        out = {}
        for rel, matrix in self.relations.items():
            # [users, nodes] dense: the share of the user's items on each node; then one sparse-dense product
            # rather than a chain of sparse ones, each of which costs a serving call more in scipy's checks
            # than in arithmetic
            per_node = (seen @ matrix).toarray() * scale[:, None]
            target = matrix if columns is None else matrix[columns]
            out[rel] = np.asarray((target @ per_node.T).T, dtype=np.float32)
        return out
