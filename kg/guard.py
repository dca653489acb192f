"""What text from a person may do in a query: read-only Cypher checked by its plan and its text, search text
escaped.

A read transaction already stops writes, but Neo4j still lets it terminate other sessions' transactions
(``TERMINATE TRANSACTIONS``), clear the query caches (``db.clearQueryCaches()``), read files on the server
(``LOAD CSV``), call any procedure whose mode is not WRITE, or call a function that runs Cypher of its own
(``apoc.cypher.runFirstColumnSingle("TERMINATE TRANSACTIONS ...", {})``), where the plan shows only the
outer call. ``kgrec cypher`` without ``--write`` runs what users type, so its read path allows only explicit
lists: plain queries and ``SHOW`` commands; the procedures in :data:`READ_PROCEDURES`; Cypher's built-in
functions and the APOC functions in :data:`READ_FUNCTIONS`, which compute from their arguments and nothing
else. Everything else needs ``--write``.

Functions are collected twice: from every operator of the ``EXPLAIN`` plan, whose details name each call
as Neo4j resolved it (backticks, comments, spaces and ``\\u`` escapes gone), and from the query's own text,
read as the lexer would. A plugin may not define a function outside a namespace, so only namespaced names
are judged.

Example:
    >>> plan = {"operatorType": "ProduceResults@neo4j", "args": {}, "children": [
    ...     {"operatorType": "ProcedureCall@neo4j", "args": {"Details": "db.clearQueryCaches() :: (value :: STRING)"}}]}
    >>> refused_operation(plan)
    'the procedure db.clearQueryCaches'
    >>> refused_operation({"operatorType": "Projection@neo4j",
    ...                    "args": {"Details": "apoc.cypher.runFirstColumnSingle($autostring_0, {}) AS x"}})
    'the function apoc.cypher.runFirstColumnSingle'
    >>> refused_operation({"operatorType": "NodeCountFromCountStore@neo4j", "args": {}}) is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "READ_FUNCTIONS",
    "READ_PROCEDURES",
    "called_names",
    "explained",
    "lucene_escaped",
    "refused_operation",
    "unexplained",
]

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

# Neo4j 5.26's built-in functions that live in a namespace (``SHOW FUNCTIONS WHERE isBuiltIn``), lower
# case: Cypher finds built-ins whatever their case. Built-ins outside a namespace are all allowed.
_BUILTIN_NAMESPACED = frozenset(
    f"{space}.{name}".lower()
    for space, names in {
        "date": "realtime statement transaction truncate",
        "datetime": "fromepoch fromepochmillis realtime statement transaction truncate",
        "duration": "between inDays inMonths inSeconds",
        "graph": "byElementId byName",
        "localdatetime": "realtime statement transaction truncate",
        "localtime": "realtime statement transaction truncate",
        "point": "distance withinBBox",
        "time": "realtime statement transaction truncate",
        "vector.similarity": "cosine euclidean",
    }.items()
    for name in names.split()
)

# APOC 5.26's functions that compute from their arguments (or the node, relationship or path they are
# given) and nothing else. Left out: apoc.cypher.* (runs Cypher), apoc.xml.parse (an XML parser may fetch
# external entities), apoc.hashing.fingerprintGraph (the whole graph in memory).
_APOC_FUNCTIONS = {
    "agg": "first graph last maxItems median minItems nth percentiles product slice statistics",
    "any": "isDeleted properties property",
    "bitwise": "op",
    "coll": "avg combinations contains containsAll containsAllSorted containsDuplicates containsSorted"
    " different disjunction dropDuplicateNeighbors duplicates duplicatesWithCount fill flatten frequencies"
    " frequenciesAsMap indexOf insert insertAll intersection isEqualCollection max min occurrences"
    " pairWithOffset pairs pairsMin partition randomItem randomItems remove removeAll runningTotal set shuffle"
    " sort sortMaps sortMulti sortNodes sortText stdev subtract sum sumLongs toSet union unionAll zip",
    "convert": "fromJsonList fromJsonMap getJsonProperty getJsonPropertyMap toJson toList toMap toNode"
    " toNodeList toRelationship toRelationshipList toSet toSortedJsonMap",
    "create": "uuid uuidBase64 uuidBase64ToHex uuidHexToBase64 vNode vRelationship virtual.fromNode",
    "data": "url",
    "date": "add convert convertFormat currentTimestamp field fields format fromISO8601 parse systemTimezone"
    " toISO8601 toYears",
    "diff": "nodes",
    "hashing": "fingerprint fingerprinting",
    "json": "path",
    "label": "exists",
    "map": "clean flatten fromLists fromNodes fromPairs fromValues get groupBy groupByMulti merge mergeList"
    " mget removeKey removeKeys setEntry setKey setLists setPairs setValues sortedProperties submap unflatten"
    " updateTree values",
    "math": "cosh coth csch maxByte maxDouble maxInt maxLong minByte minDouble minInt minLong sech sigmoid"
    " sigmoidPrime sinh tanh",
    "meta": "cypher.isType cypher.type cypher.types nodes.count",
    "node": "degree degree.in degree.out id labels relationship.exists relationship.types relationships.exist",
    "nodes": "connected isDense relationship.types relationships.exist",
    "number": "arabicToRoman exact.add exact.div exact.mul exact.sub exact.toExact exact.toFloat"
    " exact.toInteger format parseFloat parseInt romanToArabic",
    "path": "combine create elements slice",
    "rel": "endNode id startNode type",
    "schema": "node.constraintExists node.indexExists relationship.constraintExists relationship.indexExists",
    "scoring": "existence pareto",
    "temporal": "format formatDuration toZonedTemporal",
    "text": "base64Decode base64Encode base64UrlDecode base64UrlEncode byteCount bytes camelCase capitalize"
    " capitalizeAll charAt clean code compareCleaned decapitalize decapitalizeAll distance doubleMetaphone"
    " format fuzzyMatch hammingDistance hexCharAt hexValue indexOf indexesOf jaroWinklerDistance join"
    " levenshteinDistance levenshteinSimilarity lpad phonetic random regexGroups regexGroupsByName regreplace"
    " repeat replace rpad slug snakeCase sorensenDiceSimilarity split swapCase toCypher toUpperCase"
    " upperCamelCase urldecode urlencode",
    "util": "compress decompress md5 sha1 sha256 sha384 sha512 validatePredicate",
}

#: Namespaced functions a read-only query may call (exact names), besides Cypher's built-ins.
READ_FUNCTIONS = frozenset(
    {"apoc.version"}
    | {f"apoc.{space}.{name}" for space, names in _APOC_FUNCTIONS.items() for name in names.split()}
)

# Plan operators (without the ``@neo4j`` suffix) that act on more than the query's own read.
_REFUSED_OPERATORS = {
    "TerminateTransactions": "TERMINATE TRANSACTIONS",
    "LoadCSV": "LOAD CSV",
    "TransactionApply": "CALL { ... } IN TRANSACTIONS",
    "TransactionForeach": "CALL { ... } IN TRANSACTIONS",
}


def _function_allowed(name: str) -> bool:
    return "." not in name or name in READ_FUNCTIONS or name.lower() in _BUILTIN_NAMESPACED


def refused_operation(plan: Mapping[str, Any], query: str = "") -> str | None:
    """The first operation of an ``EXPLAIN`` plan, or call in ``query``, that the read-only path refuses;
    ``None`` when it refuses none.

    >>> refused_operation({}, "RETURN `apoc` . cypher /* */ . runFirstColumnMany('RETURN 1', {})")
    'apoc.cypher.runFirstColumnMany'
    """
    refused = _refused_in_plan(plan)
    if refused:
        return refused
    for name in sorted(called_names(query)):
        if not (_function_allowed(name) or name in READ_PROCEDURES):
            return name
    return None


def _refused_in_plan(plan: Mapping[str, Any]) -> str | None:
    operator = str(plan.get("operatorType", "")).split("@")[0]
    if operator in _REFUSED_OPERATORS:
        return _REFUSED_OPERATORS[operator]
    details = str(plan.get("args", {}).get("Details", ""))
    if operator == "ProcedureCall":
        procedure = details.split("(")[0].strip()
        if procedure not in READ_PROCEDURES:
            return f"the procedure {procedure}"
        details = details[len(procedure) :]
    for name in sorted(called_names(details)):
        if not _function_allowed(name):
            return f"the function {name}"
    for child in plan.get("children", ()):
        refused = _refused_in_plan(child)
        if refused:
            return refused
    return None


# Cypher's lexer, as far as names go: comments and strings hide text, backticks quote a name (two backticks
# are one), \u escapes spell a character (a dot too) in a name, and characters that are neither ASCII
# nor space are kept in names, which only makes a name unknown, never hides one.
_TOKENS = re.compile(
    r"""(?P<skip>\s+|//[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<string>'(?:[^'\\]|\\.)*(?:'|\Z)|"(?:[^"\\]|\\.)*(?:"|\Z))
    |(?P<quoted>`(?:[^`]|``)*(?:`|\Z))
    |(?P<name>(?:[^\W\d]|\\u[0-9A-Fa-f]{4}|[^\x00-\x7f\s])(?:\w|\\u[0-9A-Fa-f]{4}|[^\x00-\x7f\s])*)
    |(?P<number>\d\w*)
    |(?P<char>.)""",
    re.S | re.X,
)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _spelled(kind: str, text: str) -> str:
    if kind == "quoted":
        text = text[1:-1].replace("``", "`") if text.endswith("`") and len(text) > 1 else text[1:]
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def called_names(text: str) -> set[str]:
    """The namespaced names that Cypher text calls, as Neo4j reads them: a name followed by ``(``, or after
    ``CALL``.

    >>> sorted(called_names("CALL db.labels /* x.y( */ YIELD label RETURN 'a.b(' AS `c.d(`, "
    ...                     "apoc\\\\u002ecoll.sum([1])"))
    ['apoc.coll.sum', 'db.labels']
    >>> called_names("MATCH (n:Item) WHERE n.price > 1.5 RETURN toLower(n.title), point.distance(n.p, n.q)")
    {'point.distance'}
    """
    tokens = [(m.lastgroup or "", m.group()) for m in _TOKENS.finditer(text) if m.lastgroup != "skip"]
    names: set[str] = set()
    start = 0
    while start < len(tokens):
        if tokens[start][0] not in ("name", "quoted"):
            start += 1
            continue
        parts, end = [_spelled(*tokens[start])], start + 1
        while end + 1 < len(tokens) and tokens[end][1] == "." and tokens[end + 1][0] in ("name", "quoted"):
            parts.append(_spelled(*tokens[end + 1]))
            end += 2
        name = ".".join(parts)
        after_call = start > 0 and tokens[start - 1][0] == "name" and tokens[start - 1][1].upper() == "CALL"
        if "." in name and (after_call or (end < len(tokens) and tokens[end][1] == "(")):
            names.add(name)
        start = end
    return names


_EXPLAIN = "EXPLAIN "
_POSITION = re.compile(r"\(line (\d+), column (\d+) \(offset: (\d+)\)\)")


def explained(query: str) -> str:
    """The query prefixed with ``EXPLAIN``: Neo4j plans it without running it."""
    return f"{_EXPLAIN}{query}"


def unexplained(message: str) -> str:
    """A server's message about :func:`explained` text, told about the person's own query: positions in
    their text, and the line it echoes without the ``EXPLAIN`` they never wrote.

    >>> message = 'Invalid input (line 1, column 17 (offset: 16))\\n"EXPLAIN RETURN [/]"\\n                 ^'
    >>> print(unexplained(message))
    Invalid input (line 1, column 9 (offset: 8))
    "RETURN [/]"
             ^
    """
    first = _POSITION.search(message)
    if first is None:
        return message

    def position(match: re.Match[str]) -> str:
        line, column, offset = (int(g) for g in match.groups())
        column -= len(_EXPLAIN) if line == 1 else 0
        return f"(line {line}, column {column} (offset: {offset - len(_EXPLAIN)}))"

    lines = _POSITION.sub(position, message).split("\n")
    if first.group(1) == "1":  # the echoed line is the query's first, which carries the prefix
        for i, line in enumerate(lines):
            if line.startswith(f'"{_EXPLAIN}'):
                lines[i] = '"' + line[1 + len(_EXPLAIN) :]
                if i + 1 < len(lines) and lines[i + 1].strip() == "^":
                    lines[i + 1] = lines[i + 1][len(_EXPLAIN) :]
                break
    return "\n".join(lines)


_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')
_LUCENE_WORDS = re.compile(r"\b(AND|OR|NOT|TO)\b")


def lucene_escaped(text: str) -> str:
    r"""Search text as plain words for a Lucene full-text index: operators and keywords escaped.

    Example:
        >>> lucene_escaped('title:"a" AND b*')
        'title\\:\\"a\\" and b\\*'
    """
    return _LUCENE_WORDS.sub(lambda m: m.group().lower(), _LUCENE_SPECIAL.sub(r"\\\1", text))
