"""Shopper events posted to the HTTP service: idempotent batched writes, the reads that fold them in, and
the export that ``kgrec train`` learns them from.

Each event is an ``(:Event {id})`` node (unique id) written in the same transaction as its effect on the
``(:User)-[...]->(:Item)`` relationship of its kind: a rating sets ``RATED {rating, ts}`` (the latest by
``ts`` wins), a view, cart or purchase adds one to ``count`` of ``VIEWED``, ``CARTED`` or ``PURCHASED`` and
keeps the latest ``last``. ``recorded`` is the server's commit time (epoch seconds) on both, so serving can
tell what arrived after the model was trained. An event whose id is already stored changes nothing: the
``MERGE`` of its node finds it, and only nodes created under this call's ``$batch`` token go on.

Example:
    >>> "MERGE (e:Event {id: row.id})" in RECORD_EVENTS
    True
"""

from __future__ import annotations

from core.kinds import EventKind
from core.schema import EVENT, EVENT_RELS, ITEM, RATED, USER, RelType

__all__ = [
    "EVENT_ITEMS",
    "EXISTING_ITEMS",
    "EXPORT_EVENTS",
    "GRAPH_ANSWERS",
    "GRAPH_NOW",
    "RATING_SCALE",
    "RECORD_EVENTS",
    "REMOVE_IMPLICIT_EVENTS",
    "STORED_EVENTS",
    "USER_EVENT_INTERACTIONS",
]

_EVENT_TYPES = "|".join(rel.type for rel in EVENT_RELS.values())


def _count(kind: str, rel: RelType) -> str:
    return (
        f"FOREACH (_ IN CASE WHEN row.kind = '{kind}' THEN [1] ELSE [] END | "
        f"MERGE (u)-[r:{rel.type}]->(i) "
        "SET r.count = coalesce(r.count, 0) + 1, r.recorded = now "
        "SET r.last = CASE WHEN r.last IS NULL OR row.ts > r.last THEN row.ts ELSE r.last END) "
    )


# `recorded` is Neo4j's clock (GRAPH_NOW), the clock a training's export is stamped with, so that the two
# compare; a retried write is stamped anew.
RECORD_EVENTS = (
    "WITH timestamp() / 1000.0 AS now "
    f"UNWIND $rows AS row MATCH (i:{ITEM.label} {{id: row.item}}) "
    f"MERGE (e:{EVENT.label} {{id: row.id}}) "
    "ON CREATE SET e.batch = $batch, e.kind = row.kind, e.user = row.user, e.item = row.item, "
    "e.value = row.value, e.ts = row.ts, e.recorded = now "
    "WITH now, row, i, e WHERE e.batch = $batch "
    f"MERGE (u:{USER.label} {{id: row.user}}) "
    f"FOREACH (_ IN CASE WHEN row.kind = '{EventKind.RATING}' THEN [1] ELSE [] END | "
    f"MERGE (u)-[r:{RATED.type}]->(i) "
    "SET r.rating = CASE WHEN r.ts IS NULL OR row.ts >= r.ts THEN row.value ELSE r.rating END, "
    "r.recorded = now "
    "SET r.ts = CASE WHEN r.ts IS NULL OR row.ts >= r.ts THEN row.ts ELSE r.ts END) "
    + "".join(_count(kind, rel) for kind, rel in EVENT_RELS.items())
    + "RETURN row.id AS id"
)
"""Rows ``{id, user, item, kind, value, ts}`` (ids unique within the call); returns the ids written now."""

# Undo views, carts and purchases (a benchmark's own traffic): each takes one off its count, a relationship
# left at zero goes, and the event node goes. Ratings are not undone (the rating they replaced is lost).
REMOVE_IMPLICIT_EVENTS = (
    f"UNWIND $ids AS key MATCH (e:{EVENT.label} {{id: key}}) WHERE e.kind IN $kinds "
    f"OPTIONAL MATCH (:{USER.label} {{id: e.user}})-[r]->(:{ITEM.label} {{id: e.item}}) "
    "WHERE type(r) = $types[e.kind] "
    "WITH r, collect(e) AS events "
    "SET r.count = r.count - size(events) "
    "FOREACH (_ IN CASE WHEN r.count <= 0 THEN [1] ELSE [] END | DELETE r) "
    "WITH events UNWIND events AS e DETACH DELETE e RETURN count(*) AS n"
)
"""Params: ``ids``, ``kinds`` (the implicit kinds) and ``types`` (kind to relationship type)."""

EXISTING_ITEMS = f"UNWIND $items AS key MATCH (i:{ITEM.label} {{id: key}}) RETURN i.id AS item"

STORED_EVENTS = (
    f"UNWIND $ids AS key MATCH (e:{EVENT.label} {{id: key}}) "
    "RETURN e.id AS id, e.kind AS kind, e.user AS user, e.item AS item"
)

# What the service wrote for a user: the items of every relationship an event touched, with its commit time.
USER_EVENT_INTERACTIONS = (
    f"MATCH (:{USER.label} {{id: $user}})-[r:{RATED.type}|{_EVENT_TYPES}]->"
    f"(i:{ITEM.label}) WHERE r.recorded IS NOT NULL "
    "RETURN i.id AS item, type(r) AS type, r.rating AS rating, r.count AS count, r.recorded AS recorded"
)

EVENT_ITEMS = (
    f"MATCH (:{USER.label} {{id: $user}})-[r:{_EVENT_TYPES}]->(i:{ITEM.label}) "
    "RETURN i.id AS item, type(r) AS type, r.count AS count, r.last AS last"
)

# What training reads: every view, cart and purchase relationship with its count and latest time (see
# kg.event_export for the frames it becomes, and rank.interactions for how the ranker counts them).
EXPORT_EVENTS = (
    f"MATCH (s:{USER.label})-[r:{_EVENT_TYPES}]->(t:{ITEM.label}) "
    f"RETURN type(r) AS type, s.{USER.key} AS user, t.{ITEM.key} AS item, coalesce(r.count, 1) AS count, "
    "coalesce(r.last, 0) AS ts"
)

GRAPH_NOW = "RETURN timestamp() / 1000.0 AS now"
"""Neo4j's clock (epoch seconds): when an export began, comparable with what RECORD_EVENTS stamps."""

# The loaded ratings' lowest and highest: a rating an event wrote (`recorded` set) is passed over, so no
# event widens the scale that events are held to. Each side is one ordered read of the RATING_INDEX
# (kg.queries.indexes) that stops at its first loaded rating; without the index, a scan.
RATING_SCALE = (
    f"CALL {{ MATCH ()-[r:{RATED.type}]->() WHERE r.rating IS NOT NULL AND r.recorded IS NULL "
    "RETURN r.rating AS low ORDER BY r.rating LIMIT 1 } "
    f"CALL {{ MATCH ()-[r:{RATED.type}]->() WHERE r.rating IS NOT NULL AND r.recorded IS NULL "
    "RETURN r.rating AS high ORDER BY r.rating DESC LIMIT 1 } "
    "RETURN low, high"
)
"""One row ``low, high`` (no row when the graph holds no loaded rating)."""

GRAPH_ANSWERS = "RETURN 1 AS ok"
"""The readiness probe: the database answers a query."""
