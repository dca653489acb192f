"""Writes: batched ``UNWIND $rows ... MERGE`` loads, embeddings, and removal of a load or of everything.

Each node and relationship a load creates carries ``load_id``, so that a failed load can be removed whole.
"""

from __future__ import annotations

from core.schema import ITEM, RATED, USER, NodeType, RelType

__all__ = [
    "DELETE_ALL_BATCH",
    "MERGE_NAIVE_RATING",
    "MERGE_RATINGS",
    "delete_load_nodes",
    "delete_load_relationships",
    "merge_links",
    "merge_nodes",
    "set_embeddings",
]


def merge_nodes(node: NodeType) -> str:
    """Rows ``{key, props}``; properties given as null are left as they were."""
    return (
        f"UNWIND $rows AS row MERGE (n:{node.label} {{{node.key}: row.key}}) "
        "ON CREATE SET n.load_id = $load_id "
        "SET n += row.props"
    )


def merge_links(rel: RelType) -> str:
    """Rows ``{source, target}`` between existing nodes of the relationship's end types."""
    s, t = rel.source, rel.target
    return (
        f"UNWIND $rows AS row MATCH (s:{s.label} {{{s.key}: row.source}}) "
        f"MATCH (t:{t.label} {{{t.key}: row.target}}) "
        f"MERGE (s)-[r:{rel.type}]->(t) ON CREATE SET r.load_id = $load_id"
    )


# A rating already stored keeps its value unless the incoming one is at least as recent.
MERGE_RATINGS = (
    f"UNWIND $rows AS row MATCH (u:{USER.label} {{id: row.user}}) MATCH (i:{ITEM.label} {{id: row.item}}) "
    f"MERGE (u)-[r:{RATED.type}]->(i) "
    "ON CREATE SET r.rating = row.rating, r.ts = row.ts, r.load_id = $load_id "
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


def delete_load_relationships(rel: RelType) -> str:
    """Up to ``$limit`` relationships of the load ``$load_id``; returns how many went (0: done)."""
    return (
        f"MATCH ()-[r:{rel.type}]->() WHERE r.load_id = $load_id "
        "WITH r LIMIT $limit DELETE r RETURN count(*) AS n"
    )


def delete_load_nodes(node: NodeType) -> str:
    """Up to ``$limit`` nodes of the load ``$load_id``, with their relationships; returns how many went."""
    return (
        f"MATCH (n:{node.label}) WHERE n.load_id = $load_id "
        "WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS n"
    )


DELETE_ALL_BATCH = "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS n"
