"""What text from a person may do in a query: read-only Cypher checked by its plan, search text escaped.

A read transaction already stops writes, but Neo4j still lets it terminate other sessions' transactions
(``TERMINATE TRANSACTIONS``), clear the query caches (``db.clearQueryCaches()``), read files on the server
(``LOAD CSV``) or call any procedure whose mode is not WRITE. ``kgrec cypher`` without ``--write`` runs
what users type, so its read path allows only an explicit list: plain queries, ``SHOW`` commands, and the
procedures in :data:`READ_PROCEDURES`. Everything else needs ``--write``.

Example:
    >>> plan = {"operatorType": "ProduceResults@neo4j", "args": {}, "children": [
    ...     {"operatorType": "ProcedureCall@neo4j", "args": {"Details": "db.clearQueryCaches() :: (value :: STRING)"}}]}
    >>> refused_operation(plan)
    'the procedure db.clearQueryCaches'
    >>> refused_operation({"operatorType": "NodeCountFromCountStore@neo4j", "args": {}}) is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["READ_PROCEDURES", "explained", "lucene_escaped", "refused_operation"]

#: Procedures a read-only query may call: schema introspection, index look-ups, health.
READ_PROCEDURES = frozenset(
    {
        "apoc.meta.schema",
        "apoc.meta.stats",
        "db.index.fulltext.queryNodes",
        "db.index.fulltext.queryRelationships",
        "db.index.vector.queryNodes",
        "db.info",
        "db.labels",
        "db.ping",
        "db.propertyKeys",
        "db.relationshipTypes",
        "db.schema.nodeTypeProperties",
        "db.schema.relTypeProperties",
        "db.schema.visualization",
        "dbms.components",
    }
)

# Plan operators (without the ``@neo4j`` suffix) that act on more than the query's own read.
_REFUSED_OPERATORS = {
    "TerminateTransactions": "TERMINATE TRANSACTIONS",
    "LoadCSV": "LOAD CSV",
    "TransactionApply": "CALL { ... } IN TRANSACTIONS",
    "TransactionForeach": "CALL { ... } IN TRANSACTIONS",
}


def refused_operation(plan: Mapping[str, Any]) -> str | None:
    """The first operation of an ``EXPLAIN`` plan that the read-only path refuses, or ``None``."""
    operator = str(plan.get("operatorType", "")).split("@")[0]
    if operator in _REFUSED_OPERATORS:
        return _REFUSED_OPERATORS[operator]
    if operator == "ProcedureCall":
        details = str(plan.get("args", {}).get("Details", ""))
        name = details.split("(")[0].strip()
        if name not in READ_PROCEDURES:
            return f"the procedure {name}"
    for child in plan.get("children", ()):
        refused = refused_operation(child)
        if refused:
            return refused
    return None


def explained(query: str) -> str:
    """The query prefixed with ``EXPLAIN``: Neo4j plans it without running it."""
    return f"EXPLAIN {query}"


_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')
_LUCENE_WORDS = re.compile(r"\b(AND|OR|NOT|TO)\b")


def lucene_escaped(text: str) -> str:
    r"""Search text as plain words for a Lucene full-text index: operators and keywords escaped.

    Example:
        >>> lucene_escaped('title:"a" AND b*')
        'title\\:\\"a\\" and b\\*'
    """
    return _LUCENE_WORDS.sub(lambda m: m.group().lower(), _LUCENE_SPECIAL.sub(r"\\\1", text))
