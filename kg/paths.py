"""Candidate explanation paths from a user to an item, read from Neo4j as plain records.

Each path kind is one bounded, parameterised Cypher pattern (see :mod:`kg.queries.explaining`, which lists
the kinds); this module runs them, adds the support figures of each anchor item, and builds the records.

A record is a plain dict (:class:`kg.records.PathRecord`): the nodes in walking order (label, business key,
display name), the relationships with their real direction (``start``/``end`` index into the nodes) and
their properties (the user's rating...), and per-kind support figures. No ``neo4j`` object leaves this
module.

Example:
    >>> paths = candidate_paths(store, "U00002", "I00014", per_kind=3)  # doctest: +SKIP
    >>> paths[0]["kind"], [n["name"] for n in paths[0]["nodes"]]  # doctest: +SKIP
    ('brand', ['U00002', 'Crema Co Grinder 1', 'Crema Co', 'Crema Co Grinder 2'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import kg.queries as q
from core.errors import NotFoundError
from core.kinds import PathKind
from core.schema import ALSO_BOUGHT, ALSO_VIEWED, Schema
from kg.records import PathNodeRecord, PathRecord, PathRelRecord

__all__ = ["Reader", "candidate_paths", "path_exists"]


class Reader(Protocol):
    """What this module needs of :class:`kg.GraphStore`."""

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def schema(self) -> Schema: ...


def _patterns(schema: Schema) -> list[str]:
    links = [ALSO_BOUGHT, ALSO_VIEWED, *schema.item_links]
    return [
        q.BRAND_PATHS,
        q.CATEGORY_PATHS,
        q.PARENT_CATEGORY_PATHS,
        *(q.item_link_paths(link) for link in links),
        q.SIMILAR_USER_PATHS,
        *(q.entity_paths(e) for e in schema.entities),
        *(q.user_link_paths(link) for link in schema.user_links),
        *(q.user_entity_paths(e) for e in schema.user_entities),
    ]


def candidate_paths(
    store: Reader,
    user: str,
    item: str,
    per_kind: int = 5,
    *,
    min_rating: float = 4.0,
    tolerance: float = 1.0,
    hub_cap: int = 200,
    schema: Schema | None = None,
) -> list[PathRecord]:
    """Every candidate path from ``user`` to ``item``: at most ``per_kind`` per pattern, best anchors first.

    Args:
        store: the graph (anything with ``read`` and ``schema``, normally :class:`kg.GraphStore`).
        user: the user's ``id``. item: the target item's ``id``.
        per_kind: at most this many paths per pattern (per item link and per entity type).
        min_rating: an anchor item counts when the user rated it at least this; also the bar for "fans".
        tolerance: similar users rated the shared item within this of the user's rating.
        hub_cap: at most this many fans of the target are read for the similar-users pattern.
        schema: the graph's schema; read from the store when not given.

    Raises:
        NotFoundError: the user or the item is not in the graph.

    Example:
        >>> [p["kind"] for p in candidate_paths(store, "U00002", "I00014")]  # doctest: +SKIP
        ['brand', 'brand', 'category', 'similar_users']
    """
    schema = schema or store.schema()
    params = {
        "user": user,
        "item": item,
        "min_rating": float(min_rating),
        "limit": int(per_kind),
        "tolerance": float(tolerance),
        "hub_cap": int(hub_cap),
    }
    # one query, not one per kind: each kind keeps its own ORDER BY and LIMIT as a UNION branch, and a
    # round trip and a transaction per kind cost about as much as the patterns themselves
    rows = store.read(" UNION ALL ".join(_patterns(schema)), params)
    if not rows:  # a path found shows both ends exist; none found may mean one is missing
        found = store.read(q.ENDPOINTS_EXIST, {"user": user, "item": item})[0]
        missing = [f"{what} {key!r}" for what, key in (("user", user), ("item", item)) if not found[what]]
        if missing:
            raise NotFoundError(f"not in the graph: {', '.join(missing)}")
    records: list[PathRecord] = [_record(row, schema) for row in rows]
    # paths through an item the user rated (all kinds but those through other users): its fans back them
    through_users = (PathKind.SIMILAR_USERS, PathKind.USER_LINK, PathKind.USER_ENTITY)
    anchored = [p for p in records if p["kind"] not in through_users]
    anchors = sorted({p["nodes"][1]["key"] for p in anchored})
    if anchors:
        rows = store.read(q.CO_RATING_SUPPORT, {**params, "anchors": anchors})
        support = {r["anchor"]: {"fans": r["fans"], "both": r["both"]} for r in rows}
        for p in anchored:
            p["support"].update(support.get(p["nodes"][1]["key"], {}))
    return records


def _record(row: dict[str, Any], schema: Schema) -> PathRecord:
    nodes: list[PathNodeRecord] = []
    for n in row["nodes"]:
        label = _label(n["labels"], schema)
        key = n[schema.node_type(label).key]  # id, path (categories) or name (brands)
        nodes.append({"label": label, "key": str(key), "name": str(n["title"] or n["name"] or key)})
    index = {(n["label"], n["key"]): k for k, n in enumerate(nodes)}
    rels: list[PathRelRecord] = []
    for r in row["rels"]:
        start = index[(_label(r["start_labels"], schema), str(r["start_id"]))]
        end = index[(_label(r["end_labels"], schema), str(r["end_id"]))]
        props = {k: r[k] for k in ("rating", "ts") if r[k] is not None}
        rels.append({"type": r["type"], "start": start, "end": end, "properties": props})
    return {"kind": row["kind"], "nodes": nodes, "rels": rels, "support": dict(row["support"])}


def _label(labels: list[str], schema: Schema) -> str:
    known = {n.label for n in schema.node_types}
    for label in labels:
        if label in known:
            return label
    return labels[0]


def path_exists(store: Reader, path: Mapping[str, Any], schema: Schema | None = None) -> bool:
    """Whether every node, relationship and rating of ``path`` (a :class:`kg.records.PathRecord` or its
    dump) is in the graph as recorded: an independent check, by label, key, type and direction. Labels and
    types are checked against ``schema``."""
    schema = schema or store.schema()
    query = q.recorded_path_exists(
        [schema.node_type(n["label"]) for n in path["nodes"]],
        [
            (schema.rel_type(r["type"]), r["start"], r["end"], "rating" in r["properties"])
            for r in path["rels"]
        ],
    )
    params = {
        "keys": [n["key"] for n in path["nodes"]],
        "ratings": [r["properties"].get("rating") for r in path["rels"]],
    }
    rows = store.read(query, params)
    return bool(rows and rows[0]["ok"])
