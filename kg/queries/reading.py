"""Whole-graph reads: what the database holds (labels, types, counts) and the export to frames."""

from __future__ import annotations

from core.schema import CATEGORY, ITEM, RATED, USER, NodeType, RelType

__all__ = [
    "LIST_LABELS",
    "ITEM_IDS",
    "LIST_REL_TYPES",
    "count_nodes",
    "count_relationships",
    "export_links",
    "export_nodes",
    "starts_at_users",
]

LIST_LABELS = "CALL db.labels() YIELD label RETURN collect(label) AS labels"
LIST_REL_TYPES = (
    "CALL db.relationshipTypes() YIELD relationshipType RETURN collect(relationshipType) AS types"
)
ITEM_IDS = f"MATCH (i:{ITEM.label}) RETURN i.{ITEM.key} AS id"
"""Every item's id: what :class:`kg.fingerprint.GraphFingerprint` hashes (read from the id index alone)."""


def count_nodes(node: NodeType) -> str:
    return f"MATCH (n:{node.label}) RETURN count(n) AS n"


def count_relationships(rel: RelType) -> str:
    return f"MATCH ()-[r:{rel.type}]->() RETURN count(r) AS n"


def export_nodes(node: NodeType) -> str:
    """Every node of a label as ``key`` plus the properties training uses (items: text and price)."""
    if node == ITEM:
        return (
            f"MATCH (n:{ITEM.label}) RETURN n.id AS key, n.title AS title, "
            "n.description AS description, n.price AS price"
        )
    if node == CATEGORY:
        return f"MATCH (n:{CATEGORY.label}) RETURN n.{CATEGORY.key} AS key, coalesce(n.depth, 0) AS depth"
    return f"MATCH (n:{node.label}) RETURN n.{node.key} AS key"


def export_links(rel: RelType) -> str:
    """Every relationship of a type as its two ends' keys, named by :attr:`core.schema.RelType.end_columns`
    (ratings: ``user``, ``item``, and also ``rating``, ``ts``; other types: ``source``, ``target``)."""
    s, t = rel.source, rel.target
    start, end = rel.end_columns
    extra = ", r.rating AS rating, coalesce(r.ts, 0) AS ts" if rel == RATED else ""
    return (
        f"MATCH (s:{s.label})-[r:{rel.type}]->(t:{t.label}) "
        f"RETURN s.{s.key} AS {start}, t.{t.key} AS {end}{extra}"
    )


def starts_at_users(rel_type: str) -> str:
    """Whether relationships of ``rel_type`` start at users (``n``): answered from the count store, so it
    costs the same on any graph. ``rel_type`` must be a validated identifier (see :mod:`core.schema`)."""
    return f"MATCH (:{USER.label})-[r:{rel_type}]->() RETURN count(r) > 0 AS n"
