"""Writes: batched ``UNWIND $rows ... MERGE`` loads, embeddings, and removal of everything.

A load runs these in one transaction (:meth:`kg.GraphStore.write`), so a failed load leaves nothing behind
and needs no clean-up statements.
"""

from __future__ import annotations

from core.schema import ITEM, RATED, USER, NodeType, RelType

__all__ = [
    "DELETE_NODES_BATCH",
    "DELETE_RELATIONSHIPS_BATCH",
    "DROP_NAME_KEYED_CATEGORY_CONSTRAINT",
    "GRAPH_IS_EMPTY",
    "MERGE_NAIVE_RATING",
    "MERGE_RATINGS",
    "merge_links",
    "merge_nodes",
    "set_embeddings",
]


def merge_nodes(node: NodeType) -> str:
    """Rows ``{key, props}``; properties given as null are left as they were."""
    return f"UNWIND $rows AS row MERGE (n:{node.label} {{{node.key}: row.key}}) SET n += row.props"


def merge_links(rel: RelType) -> str:
    """Rows ``{source, target}`` between existing nodes of the relationship's end types."""
    s, t = rel.source, rel.target
    return (
        f"UNWIND $rows AS row MATCH (s:{s.label} {{{s.key}: row.source}}) "
        f"MATCH (t:{t.label} {{{t.key}: row.target}}) "
        f"MERGE (s)-[r:{rel.type}]->(t)"
    )


# A rating already stored keeps its value unless the incoming one is at least as recent.
MERGE_RATINGS = (
    f"UNWIND $rows AS row MATCH (u:{USER.label} {{id: row.user}}) MATCH (i:{ITEM.label} {{id: row.item}}) "
    f"MERGE (u)-[r:{RATED.type}]->(i) "
    "ON CREATE SET r.rating = row.rating, r.ts = row.ts "
    "ON MATCH SET r.rating = CASE WHEN row.ts >= r.ts THEN row.rating ELSE r.rating END, "
    "r.ts = CASE WHEN row.ts >= r.ts THEN row.ts ELSE r.ts END"
)

# One rating per transaction: the benchmark's slow peer of MERGE_RATINGS.
MERGE_NAIVE_RATING = (
    f"MERGE (u:{USER.label} {{id: $user}}) MERGE (i:{ITEM.label} {{id: $item}}) "
    f"MERGE (u)-[r:{RATED.type}]->(i) SET r.rating = $rating, r.ts = $ts"
)


def set_embeddings(node: NodeType) -> str:
    """Rows ``{key, vector}``: store each node's embedding as a list of floats."""
    return (
        f"UNWIND $rows AS row MATCH (n:{node.label} {{{node.key}: row.key}}) "
        "CALL db.create.setNodeVectorProperty(n, 'embedding', row.vector)"
    )


# Before categories were keyed by path they were keyed by name, under this constraint; name is no longer
# unique (the same name under two parents), so the old constraint goes.
DROP_NAME_KEYED_CATEGORY_CONSTRAINT = "DROP CONSTRAINT category_name_unique IF EXISTS"

# Whether a load may take the bulk import path (kg.bulk_import): a graph without a node.
GRAPH_IS_EMPTY = "MATCH (n) WITH n LIMIT 1 RETURN count(n) = 0 AS empty"

# Emptying the graph goes in batches of relationships first, then of nodes: a batch of nodes alone is not
# bounded by the relationships that go with it (10,000 nodes can carry 400,000 ratings: past the transaction
# memory of the managed server's default 1g heap).
DELETE_RELATIONSHIPS_BATCH = "MATCH ()-[r]->() WITH r LIMIT $limit DELETE r RETURN count(*) AS n"
DELETE_NODES_BATCH = "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS n"
