"""The knowledge graph in Neo4j: the managed server, batched loads, exploration and export.

The graph's vocabulary (labels, relationship types, :class:`core.Schema`) lives one layer down in
:mod:`core.schema`; this package is the only one that talks to Neo4j.

Example:
    >>> from kg import GraphStore
    >>> from core import Settings
    >>> with GraphStore.connect(Settings()) as store:   # doctest: +SKIP
    ...     store.stats().relationships["RATED"]
"""

from kg.export import GraphExport
from kg.server import ManagedNeo4j, ServerStatus
from kg.store import GraphStats, GraphStore, connect_driver

__all__ = [
    "GraphExport",
    "GraphStats",
    "GraphStore",
    "ManagedNeo4j",
    "ServerStatus",
    "connect_driver",
]
