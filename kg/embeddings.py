"""Embeddings in the graph: one vector per node, the cosine vector index over them, and the nearest items
through it. Mixed into :class:`kg.GraphStore`.

Example:
    >>> store.write_embeddings("Item", ["I1", "I2"], vectors)   # doctest: +SKIP
    2
    >>> store.similar_items("I1", k=1)[0]["item"]               # doctest: +SKIP
    'I2'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

import numpy as np

import kg.queries as q
from core.errors import Neo4jError
from core.schema import Schema
from kg.records import SimilarItemRecord

__all__ = ["Embeddings"]


class _Store(Protocol):
    batch_size: int

    def schema(self) -> Schema: ...

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def write_query(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...


class Embeddings:
    """The embedding writes and reads, mixed into :class:`kg.GraphStore` (which provides ``schema``, ``read``,
    ``write_query`` and ``batch_size``)."""

    def write_embeddings(self: _Store, label: str, keys: Sequence[str], vectors: np.ndarray) -> int:
        """Store one embedding per node (``vectors`` is ``[len(keys), dim]``) and its cosine vector index.

        A changed dimension drops and recreates the index. Returns the number of nodes written.
        """
        node = self.schema().node_type(label)
        if len(keys) != len(vectors):
            raise Neo4jError(f"{len(keys)} keys but {len(vectors)} vectors")
        dim = int(vectors.shape[1])
        existing = self.read(q.VECTOR_INDEX_OPTIONS, {"name": q.embedding_index(node)})
        if existing and existing[0]["options"]["indexConfig"].get("vector.dimensions") != dim:
            self.write_query(q.drop_vector_index(node))
        self.write_query(q.create_vector_index(node, dim))
        rows = [{"key": str(k), "vector": [float(x) for x in v]} for k, v in zip(keys, vectors, strict=True)]
        for start in range(0, len(rows), self.batch_size):
            self.write_query(q.set_embeddings(node), {"rows": rows[start : start + self.batch_size]})
        self.write_query(q.AWAIT_INDEXES)
        return len(rows)

    def similar_items(self: _Store, item: str, k: int = 10) -> list[SimilarItemRecord]:
        """Nearest items by stored embedding, through the vector index, nearest first."""
        return cast(list[SimilarItemRecord], self.read(q.SIMILAR_ITEMS, {"item": item, "k": k}))
