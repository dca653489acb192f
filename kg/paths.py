"""Candidate explanation paths from a user to an item, read from Neo4j as plain records.

Each path kind is one parameterised Cypher pattern, bounded in length (at most five relationships) and in
fan-out (``LIMIT $limit`` per pattern; the similar-users pattern also reads at most ``$hub_cap`` raters of
the target, so a best-seller cannot blow the query up). Labels and relationship types come from
:mod:`core.schema`; every value is a ``$parameter``.

Kinds::

    brand            (u)-[:RATED]->(i)-[:MADE_BY]->(b)<-[:MADE_BY]-(t)
    category         (u)-[:RATED]->(i)-[:IN_CATEGORY]->(c)<-[:IN_CATEGORY]-(t)
    parent_category  (u)-[:RATED]->(i)-[:IN_CATEGORY]->(c)-[:SUBCATEGORY_OF]->(p)<-[:SUBCATEGORY_OF]-(c2)<-[:IN_CATEGORY]-(t)
    also_bought      (u)-[:RATED]->(i)-[:ALSO_BOUGHT]-(t)        (either direction; likewise also_viewed
                                                                and every registered item link)
    similar_users    (u)-[:RATED]->(i)<-[:RATED]-(v)-[:RATED]->(t)   v rated i within $tolerance of u
    entity           (u)-[:RATED]->(i)-[:HAS_X]->(e:X)<-[:HAS_X]-(t)  for each registered entity type X

A record is a plain dict (:class:`PathRecord`): the nodes in walking order (label, business key, display
name), the relationships with their real direction (``start``/``end`` index into the nodes) and their
properties (the user's rating...), and per-kind support figures. No ``neo4j`` object leaves this module.

Example:
    >>> paths = candidate_paths(store, "U00002", "I00014", per_kind=3)  # doctest: +SKIP
    >>> paths[0]["kind"], [n["name"] for n in paths[0]["nodes"]]  # doctest: +SKIP
    ('brand', ['U00002', 'Crema Co Grinder 1', 'Crema Co', 'Crema Co Grinder 2'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypedDict

from core.errors import NotFoundError
from core.schema import (
    ALSO_BOUGHT,
    ALSO_VIEWED,
    BRAND,
    CATEGORY,
    IN_CATEGORY,
    ITEM,
    MADE_BY,
    RATED,
    SUBCATEGORY_OF,
    USER,
    EntityType,
    RelType,
    Schema,
)

__all__ = [
    "BRAND_PATHS",
    "CATALOGUE_COUNTS",
    "CATEGORY_PATHS",
    "CO_RATING_SUPPORT",
    "ENDPOINTS_EXIST",
    "ITEM_FACTS",
    "PARENT_CATEGORY_PATHS",
    "SIMILAR_USER_PATHS",
    "PathNodeRecord",
    "PathRecord",
    "PathRelRecord",
    "Reader",
    "candidate_paths",
    "catalogue_counts",
    "entity_paths",
    "item_facts",
    "item_link_paths",
    "path_exists",
    "path_exists_query",
]


class Reader(Protocol):
    """What this module needs of :class:`kg.GraphStore`."""

    def read(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def schema(self) -> Schema: ...


class PathNodeRecord(TypedDict):
    label: str
    key: str
    name: str


class PathRelRecord(TypedDict):
    type: str
    start: int
    end: int
    properties: dict[str, Any]


class PathRecord(TypedDict):
    kind: str
    nodes: list[PathNodeRecord]
    rels: list[PathRelRecord]
    support: dict[str, Any]


# Node and relationship projections shared by every pattern: plain maps, never whole nodes (an item may
# carry a large embedding), the key taken from whichever of id/name the label is keyed by.
_NODES = "[n IN {nodes} | {{labels: labels(n), id: n.id, name: n.name, title: n.title}}] AS nodes"
_RELS = (
    "[r IN {rels} | {{type: type(r), start_labels: labels(startNode(r)), "
    "start_id: coalesce(startNode(r).id, startNode(r).name), end_labels: labels(endNode(r)), "
    "end_id: coalesce(endNode(r).id, endNode(r).name), rating: r.rating, ts: r.ts}}] AS rels"
)


def _project(nodes: str, rels: str) -> str:
    return _NODES.format(nodes=nodes) + ", " + _RELS.format(rels=rels)


_ANCHOR = f"MATCH (u:{USER.label} {{{USER.key}: $user}})-[r:{RATED.type}]->(i:{ITEM.label})"
_ANCHOR_WHERE = "WHERE r.rating >= $min_rating AND i <> t "
_ORDER = "ORDER BY r.rating DESC, r.ts DESC, i.id LIMIT $limit"

ENDPOINTS_EXIST = (
    f"OPTIONAL MATCH (u:{USER.label} {{{USER.key}: $user}}) "
    f"OPTIONAL MATCH (t:{ITEM.label} {{{ITEM.key}: $item}}) "
    "RETURN u IS NOT NULL AS user, t IS NOT NULL AS item"
)

BRAND_PATHS = (
    f"{_ANCHOR}-[m1:{MADE_BY.type}]->(b:{BRAND.label})"
    f"<-[m2:{MADE_BY.type}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
    f"{_ANCHOR_WHERE}"
    f"RETURN 'brand' AS kind, {_project('[u, i, b, t]', '[r, m1, m2]')}, {{}} AS support {_ORDER}"
)
"""Items of the target's brand that the user rated at least ``$min_rating``."""

CATEGORY_PATHS = (
    f"{_ANCHOR}-[c1:{IN_CATEGORY.type}]->(c:{CATEGORY.label})"
    f"<-[c2:{IN_CATEGORY.type}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
    f"{_ANCHOR_WHERE}"
    f"RETURN 'category' AS kind, {_project('[u, i, c, t]', '[r, c1, c2]')}, {{}} AS support {_ORDER}"
)
"""Items in one of the target's categories that the user rated well."""

PARENT_CATEGORY_PATHS = (
    f"{_ANCHOR}-[c1:{IN_CATEGORY.type}]->(c:{CATEGORY.label})-[s1:{SUBCATEGORY_OF.type}]->"
    f"(p:{CATEGORY.label})<-[s2:{SUBCATEGORY_OF.type}]-(c2:{CATEGORY.label})"
    f"<-[c3:{IN_CATEGORY.type}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
    f"{_ANCHOR_WHERE}AND c <> c2 "
    "RETURN 'parent_category' AS kind, "
    f"{_project('[u, i, c, p, c2, t]', '[r, c1, s1, s2, c3]')}, {{}} AS support {_ORDER}"
)
"""Items in a sibling category (same parent) of one of the target's categories, rated well by the user."""

SIMILAR_USER_PATHS = (
    f"MATCH (u:{USER.label} {{{USER.key}: $user}}), (t:{ITEM.label} {{{ITEM.key}: $item}}) "
    # the hub cap: at most $hub_cap of the target's fans are looked at, however popular it is
    f"CALL {{ WITH t MATCH (t)<-[r3:{RATED.type}]-(v:{USER.label}) WHERE r3.rating >= $min_rating "
    "RETURN v, r3 ORDER BY r3.rating DESC, v.id LIMIT $hub_cap } "
    "WITH u, t, v, r3 WHERE v <> u "
    f"MATCH (u)-[r:{RATED.type}]->(i:{ITEM.label})<-[r2:{RATED.type}]-(v) "
    "WHERE i <> t AND r.rating >= $min_rating AND abs(r.rating - r2.rating) <= $tolerance "
    "WITH u, t, v, r3, i, r, r2 ORDER BY r.rating DESC, r.ts DESC, i.id "
    "WITH u, t, v, r3, collect([i, r, r2])[0] AS best, count(*) AS agree "
    "ORDER BY agree DESC, v.id LIMIT $limit "
    "WITH u, t, v, r3, best[0] AS i, best[1] AS r, best[2] AS r2, agree "
    "RETURN 'similar_users' AS kind, "
    f"{_project('[u, i, v, t]', '[r, r2, r3]')}, {{agree: agree}} AS support"
)
"""Other users who rated an item like the user did (within ``$tolerance``) and rated the target well.

``support.agree`` is how many items the two users rated alike.
"""


def item_link_paths(link: RelType) -> str:
    """Items linked to the target by ``link`` (either direction) that the user rated well."""
    kind = link.type.lower()
    return (
        f"{_ANCHOR}-[l:{link.type}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
        f"{_ANCHOR_WHERE}"
        f"RETURN '{kind}' AS kind, {_project('[u, i, t]', '[r, l]')}, {{}} AS support {_ORDER}"
    )


def entity_paths(entity: EntityType) -> str:
    """Items sharing an entity (``HAS_X``) with the target that the user rated well."""
    rel, label = entity.relationship, entity.label
    return (
        f"{_ANCHOR}-[e1:{rel}]->(e:{label})<-[e2:{rel}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
        f"{_ANCHOR_WHERE}"
        f"RETURN 'entity' AS kind, {_project('[u, i, e, t]', '[r, e1, e2]')}, {{}} AS support {_ORDER}"
    )


CO_RATING_SUPPORT = (
    f"UNWIND $anchors AS anchor MATCH (i:{ITEM.label} {{{ITEM.key}: anchor}}) "
    f"MATCH (t:{ITEM.label} {{{ITEM.key}: $item}}) "
    f"RETURN anchor, COUNT {{ (i)<-[a:{RATED.type}]-(:{USER.label}) WHERE a.rating >= $min_rating }} AS fans, "
    f"COUNT {{ (i)<-[a:{RATED.type}]-(v:{USER.label})-[b:{RATED.type}]->(t) "
    "WHERE a.rating >= $min_rating AND b.rating >= $min_rating AND v.id <> $user } AS both"
)
"""Per anchor item: how many users rated it well (``fans``) and how many of them also rated the target well
(``both``, the user being explained left out)."""


def _patterns(schema: Schema) -> list[str]:
    links = [ALSO_BOUGHT, ALSO_VIEWED, *schema.item_links]
    return [
        BRAND_PATHS,
        CATEGORY_PATHS,
        PARENT_CATEGORY_PATHS,
        *(item_link_paths(link) for link in links),
        SIMILAR_USER_PATHS,
        *(entity_paths(e) for e in schema.entities),
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
    found = store.read(ENDPOINTS_EXIST, {"user": user, "item": item})[0]
    missing = [f"{what} {key!r}" for what, key in (("user", user), ("item", item)) if not found[what]]
    if missing:
        raise NotFoundError(f"not in the graph: {', '.join(missing)}")
    schema = schema or store.schema()
    params = {"user": user, "item": item, "min_rating": float(min_rating), "limit": int(per_kind),
              "tolerance": float(tolerance), "hub_cap": int(hub_cap)}  # fmt: skip
    records: list[PathRecord] = []
    for query in _patterns(schema):
        records.extend(_record(row, schema) for row in store.read(query, params))
    anchors = sorted({p["nodes"][1]["key"] for p in records if p["kind"] != "similar_users"})
    if anchors:
        rows = store.read(CO_RATING_SUPPORT, {**params, "anchors": anchors})
        support = {r["anchor"]: {"fans": r["fans"], "both": r["both"]} for r in rows}
        for p in records:
            if p["kind"] != "similar_users":
                p["support"].update(support.get(p["nodes"][1]["key"], {}))
    return records


def _record(row: dict[str, Any], schema: Schema) -> PathRecord:
    nodes: list[PathNodeRecord] = []
    for n in row["nodes"]:
        label = _label(n["labels"], schema)
        key = n["id"] if schema.node_type(label).key == "id" else n["name"]
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


def path_exists_query(path: Mapping[str, Any], schema: Schema) -> str:
    """An independent Cypher check that ``path`` is in the graph: each node by label and key, each
    relationship by type and direction between them. Labels and types are checked against ``schema``."""
    parts = []
    for k, n in enumerate(path["nodes"]):
        node = schema.node_type(n["label"])
        parts.append(f"MATCH (n{k}:{node.label} {{{node.key}: $keys[{k}]}})")
    for k, r in enumerate(path["rels"]):
        rel = schema.rel_type(r["type"])
        parts.append(f"MATCH (n{r['start']})-[r{k}:{rel.type}]->(n{r['end']})")
    ratings = [
        f"r{k}.rating = $ratings[{k}]" for k, r in enumerate(path["rels"]) if "rating" in r["properties"]
    ]
    where = f" WHERE {' AND '.join(ratings)}" if ratings else ""
    return " ".join(parts) + where + " RETURN count(*) > 0 AS ok"


def path_exists(store: Reader, path: Mapping[str, Any], schema: Schema | None = None) -> bool:
    """Whether every node, relationship and rating of ``path`` is in the graph as recorded."""
    query = path_exists_query(path, schema or store.schema())
    params = {
        "keys": [n["key"] for n in path["nodes"]],
        "ratings": [r["properties"].get("rating") for r in path["rels"]],
    }
    rows = store.read(query, params)
    return bool(rows and rows[0]["ok"])


ITEM_FACTS = (
    f"UNWIND $items AS key MATCH (i:{ITEM.label} {{{ITEM.key}: key}}) "
    f"RETURN key AS item, coalesce(i.title, key) AS name, "
    f"COLLECT {{ MATCH (i)-[:{MADE_BY.type}]->(b:{BRAND.label}) RETURN b.name ORDER BY b.name }} AS brands, "
    f"COLLECT {{ MATCH (i)-[:{IN_CATEGORY.type}]->(c:{CATEGORY.label}) RETURN c.name ORDER BY c.name }} "
    "AS categories"
)
"""Per item key: display name (title, else key), brand names and category names."""

CATALOGUE_COUNTS = (
    f"RETURN COUNT {{ MATCH (:{ITEM.label}) }} AS items, COUNT {{ MATCH (:{BRAND.label}) }} AS brands, "
    f"COUNT {{ MATCH (c:{CATEGORY.label}) WHERE EXISTS {{ (c)<-[:{IN_CATEGORY.type}]-() }} }} AS categories"
)
"""Catalogue size: items, brands, and categories that hold items directly."""


def item_facts(store: Reader, items: list[str]) -> dict[str, dict[str, Any]]:
    """``{item: {"name", "brands", "categories"}}`` for the items the graph holds (others are absent)."""
    rows = store.read(ITEM_FACTS, {"items": list(dict.fromkeys(items))})
    return {
        r["item"]: {"name": r["name"], "brands": r["brands"], "categories": r["categories"]} for r in rows
    }


def catalogue_counts(store: Reader) -> dict[str, int]:
    """``{"items", "brands", "categories"}``: the denominators of coverage."""
    return dict(store.read(CATALOGUE_COUNTS)[0])
