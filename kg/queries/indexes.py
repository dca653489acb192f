"""Constraints and indexes: created ``IF NOT EXISTS`` before a load, and awaited.

Index names are defined once here (:data:`ITEM_TEXT_INDEX`, :func:`embedding_index`); every statement that
names an index takes it from these.
"""

from __future__ import annotations

from core.schema import ITEM, RATED, NodeType

__all__ = [
    "AWAIT_INDEXES",
    "CREATE_ITEM_TEXT_INDEX",
    "CREATE_RATING_INDEX",
    "ITEM_EMBEDDING_INDEX",
    "ITEM_TEXT_INDEX",
    "RATING_INDEX",
    "SCHEMA_NAMES",
    "SHOW_CONSTRAINT_STATEMENTS",
    "SHOW_INDEX_STATEMENTS",
    "VECTOR_INDEX_OPTIONS",
    "create_key_constraint",
    "create_vector_index",
    "drop_vector_index",
    "embedding_index",
]


def embedding_index(node: NodeType) -> str:
    """The name of the vector index on a label's ``embedding`` property (``item_embedding`` for items)."""
    return f"{node.pyg}_embedding"


ITEM_EMBEDDING_INDEX = embedding_index(ITEM)
"""The vector index that similar-item queries search."""

ITEM_TEXT_INDEX = "item_text"
"""The full-text index on item title and description."""


def create_key_constraint(node: NodeType) -> str:
    name = f"{node.pyg}_{node.key}_unique"
    return f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{node.label}) REQUIRE n.{node.key} IS UNIQUE"


CREATE_ITEM_TEXT_INDEX = (
    f"CREATE FULLTEXT INDEX {ITEM_TEXT_INDEX} IF NOT EXISTS "
    f"FOR (i:{ITEM.label}) ON EACH [i.title, i.description]"
)
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"

RATING_INDEX = "rated_rating"
"""The range index on ``RATED.rating``: the graph's lowest and highest rating in a few index reads."""
CREATE_RATING_INDEX = (
    f"CREATE RANGE INDEX {RATING_INDEX} IF NOT EXISTS FOR ()-[r:{RATED.type}]-() ON (r.rating)"
)


def create_vector_index(node: NodeType, dimensions: int) -> str:
    # Dimensions must be a literal in index options; it is an int the caller computed, never user text.
    return (
        f"CREATE VECTOR INDEX {embedding_index(node)} IF NOT EXISTS FOR (n:{node.label}) ON n.embedding "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dimensions)}, "
        "`vector.similarity_function`: 'cosine'}}"
    )


def drop_vector_index(node: NodeType) -> str:
    return f"DROP INDEX {embedding_index(node)} IF EXISTS"


VECTOR_INDEX_OPTIONS = "SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options"
"""The options (``indexConfig``) of the vector index named ``$name``; no row when there is none."""


# What a bulk import (kg.bulk_import) replaces the store with has no constraints and no indexes but the two
# token lookup indexes the import tool creates itself: those of the store it replaces are read first and
# created again (each statement as the server itself wrote it), then the load's own.
SHOW_CONSTRAINT_STATEMENTS = "SHOW CONSTRAINTS YIELD name, createStatement RETURN name, createStatement"
SHOW_INDEX_STATEMENTS = (
    "SHOW INDEXES YIELD name, type, owningConstraint, createStatement "
    "WHERE owningConstraint IS NULL AND type <> 'LOOKUP' RETURN name, createStatement"
)
SCHEMA_NAMES = "SHOW INDEXES YIELD name RETURN collect(name) AS names"
"""Every index's name, which for an index that backs a constraint is the constraint's."""
