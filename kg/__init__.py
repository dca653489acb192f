"""The knowledge graph in Neo4j: schema, the managed server, batched loads, exploration and export.

Example:
    >>> from kg import GraphStore
    >>> from kgrec.settings import Settings
    >>> with GraphStore.connect(Settings()) as store:   # doctest: +SKIP
    ...     store.stats().relationships["RATED"]
"""

from kg.export import GraphExport
from kg.schema import EdgeType, NodeType, RelType, Schema
from kg.server import ManagedNeo4j, ServerStatus
from kg.store import GraphStats, GraphStore, Progress, connect_driver

__all__ = [
    "EdgeType",
    "GraphExport",
    "GraphStats",
    "GraphStore",
    "ManagedNeo4j",
    "NodeType",
    "Progress",
    "RelType",
    "Schema",
    "ServerStatus",
    "connect_driver",
]
