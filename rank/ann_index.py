"""Approximate nearest neighbours by inner product over a candidate model's item vectors: faiss's HNSW graph.

A model whose scores are inner products of user and item vectors (ALS, LightGCN: see
``CandidateModel.embeddings``) proposes a user's list from the index instead of scoring the whole catalogue:
the index finds the items of (nearly) largest inner product with the user's vector in a few hundred distance
computations. HNSW over inner product, not an inverted file: the item vectors' norms grow with popularity,
and clusters drawn by k-means (IVF) then miss most of the true neighbours (on vectors of that shape, 20% of
the top 100 at 64 of 1,788 lists, against 97% for HNSW).

The index is rebuilt from the vectors, never read from a file (a damaged faiss file could crash the
process): :class:`ItemIndexes` keeps one per model and builds it again when the model's item vectors are new
arrays (a refit, a load).

Example:
    >>> import numpy as np
    >>> items = np.eye(4, dtype=np.float32) * np.arange(1, 5, dtype=np.float32)[:, None]
    >>> ItemIndex(items, links=4, breadth=16).search(np.ones((1, 4), np.float32), 2).tolist()
    [[3, 2]]
"""

from __future__ import annotations

import faiss
import numpy as np

__all__ = ["ItemIndex", "ItemIndexes"]

_BUILD_BREADTH = 40
"""``efConstruction``: faiss's default; more bought no recall worth its build time on the bench's vectors."""


class ItemIndex:
    """An HNSW graph over ``items`` (``[n_items, d]``) for largest inner products: ``links`` per node
    (``M``), and at least ``breadth`` candidates kept while searching (``efSearch``)."""

    def __init__(self, items: np.ndarray, links: int, breadth: int) -> None:
        self.items = items  # the very array it was built from: ItemIndexes rebuilds when a model's changes
        self.breadth = breadth
        self.index = faiss.IndexHNSWFlat(items.shape[1], links, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = _BUILD_BREADTH
        self.index.add(np.ascontiguousarray(items, dtype=np.float32))

    def search(self, users: np.ndarray, n: int) -> np.ndarray:
        """Per user vector, the columns of the ``n`` items of (nearly) largest inner product, best first;
        ``-1`` pads a short answer."""
        n = min(n, self.index.ntotal)
        if n == 0 or not len(users):
            return np.zeros((len(users), n), dtype=np.int64)
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing from faiss's stubs
        params.efSearch = max(self.breadth, n)
        _, found = self.index.search(np.ascontiguousarray(users, dtype=np.float32), n, params=params)
        return np.asarray(found, dtype=np.int64)


class ItemIndexes:
    """One :class:`ItemIndex` per model name, built on first use and again whenever the model's item vectors
    are another array than the one the index holds."""

    def __init__(self, links: int, breadth: int) -> None:
        self.links, self.breadth = links, breadth
        self._built: dict[str, ItemIndex] = {}

    def get(self, name: str, items: np.ndarray) -> ItemIndex:
        index = self._built.get(name)
        if index is None or index.items is not items:
            index = self._built[name] = ItemIndex(items, self.links, self.breadth)
        return index
