"""The knowledge graph in Neo4j: the managed server, batched loads, exploration and export.

The graph's vocabulary (labels, relationship types, :class:`core.Schema`) lives one layer down in
:mod:`core.schema`; this package is the only one that talks to Neo4j. Every Cypher statement is in
:mod:`kg.queries`; what reads hand upwards are the typed records of :mod:`kg.records`.

Example:
    >>> from kg import GraphStore
    >>> from core import Settings
    >>> with GraphStore.connect(Settings()) as store:   # doctest: +SKIP
    ...     store.stats().relationships["RATED"]
"""

from kg.bulk_import import BulkMode, write_dataset
from kg.connection import connect_driver
from kg.events import EventRow, EventWrite
from kg.export import GraphExport
from kg.fingerprint import GraphFingerprint
from kg.following import FollowingGraphStore
from kg.records import (
    CatalogueCountsRecord,
    GraphStats,
    ItemCardRecord,
    ItemFactsRecord,
    LeaningRecord,
    PathNodeRecord,
    PathRecord,
    PathRelRecord,
    RaterRecord,
    SearchHitRecord,
    SimilarItemRecord,
)
from kg.server import ManagedNeo4j, ServerStatus
from kg.staged_load import LoadTransaction
from kg.store import GraphStore

__all__ = [
    "BulkMode",
    "CatalogueCountsRecord",
    "EventRow",
    "EventWrite",
    "FollowingGraphStore",
    "GraphExport",
    "GraphFingerprint",
    "GraphStats",
    "GraphStore",
    "ItemCardRecord",
    "ItemFactsRecord",
    "LeaningRecord",
    "LoadTransaction",
    "ManagedNeo4j",
    "PathNodeRecord",
    "PathRecord",
    "PathRelRecord",
    "RaterRecord",
    "SearchHitRecord",
    "ServerStatus",
    "SimilarItemRecord",
    "connect_driver",
    "write_dataset",
]
