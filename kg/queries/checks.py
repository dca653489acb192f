"""What kgrec asks a server when it connects (see :mod:`kg.checks`): its plugins and its database's access.

Two are ``SHOW`` commands: the procedures run on any database, the database's access on ``system``. The
third is a write that is always rolled back.
"""

from __future__ import annotations

__all__ = ["DATABASE_ACCESS", "SERVER_PROCEDURES", "WRITE_PROBE"]

_APOC = "apoc."  # every APOC procedure's namespace

# the procedure similar-item reads call on the vector index (Neo4j 5.11 and later)
_VECTOR_QUERY = "db.index.vector.queryNodes"

SERVER_PROCEDURES = (
    f"SHOW PROCEDURES YIELD name WHERE name STARTS WITH '{_APOC}' OR name = '{_VECTOR_QUERY}' "
    f"RETURN count(CASE WHEN name STARTS WITH '{_APOC}' THEN 1 END) > 0 AS apoc, "
    f"count(CASE WHEN name = '{_VECTOR_QUERY}' THEN 1 END) > 0 AS vector_query"
)
"""Whether APOC is installed and the vector index can be queried: one row."""

DATABASE_ACCESS = (
    "SHOW DATABASE $database YIELD access, currentStatus "
    "RETURN collect(DISTINCT access) AS access, collect(DISTINCT currentStatus) AS status"
)
"""The access (``read-write`` or ``read-only``) of one database, over every cluster member that hosts it; run
on the ``system`` database. Empty lists: no such database, or none this user may see."""

WRITE_PROBE = "CREATE ()"
"""A write in a transaction that is rolled back, never committed: whether this user may write (a server with
roles refuses it as ``Neo.ClientError.Security.Forbidden``). A node without labels or properties, so that the
rolled-back write creates no label or property-key token either."""
