"""The bottom layer: what every kgrec package shares, importing none of them.

- :mod:`core.errors`: the one exception tree rooted at :class:`KGRecError`.
- :mod:`core.settings`: typed settings from ``KGREC_*`` and ``NEO4J_*`` environment variables.
- :mod:`core.schema`: the graph's vocabulary (labels, relationship types, their PyG edge types).
- :mod:`core.progress`: the progress callback long-running steps accept.
- :mod:`core.kinds`: named kinds shared across layers (explanation path kinds, prediction sources).

Example:
    >>> from core import Schema
    >>> Schema.core().rel_type("RATED").edge_type
    ('user', 'rated', 'item')
"""

from __future__ import annotations

from core.errors import (
    ConfigError,
    KGRecError,
    LoadError,
    ModelError,
    Neo4jError,
    NotFoundError,
    SchemaError,
    WriteRefusedError,
)
from core.progress import Progress
from core.schema import EdgeType, EntityType, NodeType, RelType, Schema
from core.settings import Neo4jSettings, Settings

__all__ = [
    "ConfigError",
    "EdgeType",
    "EntityType",
    "KGRecError",
    "LoadError",
    "ModelError",
    "Neo4jError",
    "Neo4jSettings",
    "NodeType",
    "NotFoundError",
    "Progress",
    "RelType",
    "Schema",
    "SchemaError",
    "Settings",
    "WriteRefusedError",
]
