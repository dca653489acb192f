"""The staged load's statements (:mod:`kg.staged_load`): its marker, its steps, each with what undoes it, and
the undoing.

A staged write returns what it changed: which rows created their node or relationship, and the values a
row overwrote (read before the ``SET``), so that the step recorded beside it can undo it. ``_kgrec_new``
is set on creation and removed in the same statement: it only tells a row that its ``MERGE`` created.
"""

from __future__ import annotations

from core.schema import ITEM, RATED, USER, NodeType, RelType

__all__ = [
    "CLAIM_LOAD",
    "CLOSE_LOAD",
    "CREATE_LOAD_SLOT_CONSTRAINT",
    "CREATE_LOAD_STEP_INDEX",
    "DROP_LOAD",
    "DROP_ORPHAN_STEPS",
    "DROP_STEP",
    "LAST_STEPS",
    "LOADS",
    "OPEN_LOAD",
    "PENDING_LOADS",
    "RECORD_STEP",
    "RESTORE_RATINGS",
    "ROLL_BACK_LOAD",
    "STAGE_RATINGS",
    "stage_links",
    "stage_nodes",
    "undo_created_links",
    "undo_created_nodes",
    "undo_changed_nodes",
]

_LOAD_MARKER = "KgrecLoad"
_LOAD_STEP = "KgrecLoadStep"

# One staged load at a time: every marker takes the one slot, and a second CREATE breaks the constraint.
CREATE_LOAD_SLOT_CONSTRAINT = (
    f"CREATE CONSTRAINT kgrec_load_slot IF NOT EXISTS FOR (m:{_LOAD_MARKER}) REQUIRE m.slot IS UNIQUE"
)
CREATE_LOAD_STEP_INDEX = (
    f"CREATE INDEX kgrec_load_step IF NOT EXISTS FOR (s:{_LOAD_STEP}) ON (s.load, s.step)"
)

# the server's clock (timestamp(), ms) dates the marker, so that the clocks of two machines never compare
OPEN_LOAD = (
    f"CREATE (:{_LOAD_MARKER} {{slot: 'load', id: $load, state: 'running', started: timestamp(), seen: timestamp(), "
    "host: $host, pid: $pid, pid_started: $pid_started})"
)
LOADS = (
    f"MATCH (m:{_LOAD_MARKER}) RETURN m.id AS id, m.state AS state, m.host AS host, m.pid AS pid, "
    "m.pid_started AS pid_started, m.started AS started, timestamp() - m.seen AS idle_ms ORDER BY m.started"
)
# Every step's transaction starts here: it locks the marker (the SET) before it reads the state, so that a
# roll-back taking the load over waits for the step, and a step after it finds the load no longer running.
CLAIM_LOAD = (
    f"MATCH (m:{_LOAD_MARKER} {{id: $load}}) SET m.seen = timestamp() RETURN m.state = 'running' AS running"
)
ROLL_BACK_LOAD = f"MATCH (m:{_LOAD_MARKER} {{id: $load}}) SET m.state = 'rolling back'"
# The load becomes the graph's in this one small transaction, unless a roll-back took it over (the marker
# locked before its state is read); its steps are then only left to drop.
CLOSE_LOAD = (
    f"MATCH (m:{_LOAD_MARKER} {{id: $load}}) SET m.seen = timestamp() "
    "WITH m WHERE m.state = 'running' DELETE m RETURN count(m) AS closed"
)
DROP_LOAD = f"MATCH (m:{_LOAD_MARKER} {{id: $load}}) DELETE m"
PENDING_LOADS = f"RETURN COUNT {{ MATCH (:{_LOAD_MARKER}) }} + COUNT {{ MATCH (:{_LOAD_STEP}) }} AS n"
DROP_ORPHAN_STEPS = (
    f"MATCH (s:{_LOAD_STEP}) WHERE NOT EXISTS {{ MATCH (m:{_LOAD_MARKER} {{id: s.load}}) }} "
    "WITH s LIMIT $limit DELETE s RETURN count(s) AS n"
)

RECORD_STEP = (
    f"CREATE (:{_LOAD_STEP} {{load: $load, step: $step, kind: $kind, names: $names, created: $created, "
    "sources: $sources, targets: $targets, changed: $changed})"
)
LAST_STEPS = (
    f"MATCH (s:{_LOAD_STEP} {{load: $load}}) RETURN s.step AS step, s.kind AS kind, s.names AS names, "
    "s.created AS created, s.sources AS sources, s.targets AS targets, s.changed AS changed "
    "ORDER BY s.step DESC LIMIT $limit"
)
# An undo starts by dropping its step: two processes rolling one load back undo each step once, in order.
DROP_STEP = f"MATCH (s:{_LOAD_STEP} {{load: $load, step: $step}}) DELETE s RETURN count(s) AS n"


def stage_nodes(node: NodeType) -> str:
    """As :func:`kg.queries.merge_nodes`, returning per row whether it created its node and, for a node it
    found, the ``[property, value]`` pairs it is about to overwrite."""
    return (
        f"UNWIND $rows AS row MERGE (n:{node.label} {{{node.key}: row.key}}) ON CREATE SET n._kgrec_new = true "
        "WITH n, row, n._kgrec_new IS NOT NULL AS created, [p IN keys(row.props) | [p, n[p]]] AS before "
        "SET n += row.props REMOVE n._kgrec_new "
        "RETURN row.key AS key, created, before"
    )


def stage_links(rel: RelType) -> str:
    """As :func:`kg.queries.merge_links`, returning the rows that created their relationship."""
    s, t = rel.source, rel.target
    return (
        f"UNWIND $rows AS row MATCH (s:{s.label} {{{s.key}: row.source}}) "
        f"MATCH (t:{t.label} {{{t.key}: row.target}}) "
        f"MERGE (s)-[r:{rel.type}]->(t) ON CREATE SET r._kgrec_new = true "
        "WITH r, row, r._kgrec_new IS NOT NULL AS created REMOVE r._kgrec_new "
        "WITH row, created WHERE created RETURN row.source AS source, row.target AS target"
    )


# As MERGE_RATINGS; returns the rows that created their rating, and the stored values of those they changed.
STAGE_RATINGS = (
    f"UNWIND $rows AS row MATCH (u:{USER.label} {{id: row.user}}) MATCH (i:{ITEM.label} {{id: row.item}}) "
    f"MERGE (u)-[r:{RATED.type}]->(i) ON CREATE SET r._kgrec_new = true "
    "WITH r, row, r._kgrec_new IS NOT NULL AS created, r.rating AS rating, r.ts AS ts "
    "SET r.rating = CASE WHEN created OR row.ts >= ts THEN row.rating ELSE rating END, "
    "r.ts = CASE WHEN created OR row.ts >= ts THEN row.ts ELSE ts END "
    "REMOVE r._kgrec_new "
    "WITH row, created, rating, ts WHERE created OR row.ts >= ts "
    "RETURN row.user AS user, row.item AS item, created, rating, ts"
)


def undo_created_nodes(node: NodeType) -> str:
    """Keys ``$keys``: delete those nodes, with whatever relationships they have."""
    return f"UNWIND $keys AS k MATCH (n:{node.label} {{{node.key}: k}}) DETACH DELETE n"


def undo_changed_nodes(node: NodeType) -> str:
    """Rows ``{key, before}``: put the properties back (a null value removes one the load added)."""
    return f"UNWIND $rows AS row MATCH (n:{node.label} {{{node.key}: row.key}}) SET n += row.before"


def undo_created_links(rel: RelType) -> str:
    """Rows ``{source, target}``: delete those relationships."""
    s, t = rel.source, rel.target
    return (
        f"UNWIND $rows AS row MATCH (:{s.label} {{{s.key}: row.source}})-[r:{rel.type}]->"
        f"(:{t.label} {{{t.key}: row.target}}) DELETE r"
    )


# Rows {user, item, rating, ts}: the values a staged step overwrote, put back.
RESTORE_RATINGS = (
    f"UNWIND $rows AS row MATCH (:{USER.label} {{id: row.user}})-[r:{RATED.type}]->"
    f"(:{ITEM.label} {{id: row.item}}) SET r.rating = row.rating, r.ts = row.ts"
)
