"""Explanation paths: one bounded pattern per path kind from ``$user`` to the target ``$item``, the support
figures of their anchor items, and an independent check that a recorded path is in the graph.

Each pattern is at most five relationships long and bounded in fan-out (``LIMIT $limit``; the similar-users
pattern also reads at most ``$hub_cap`` raters of the target, so a best-seller cannot blow the query up).
Each returns ``kind`` (a :class:`core.kinds.PathKind` value, or an item link's lower-cased type), the
``nodes`` and ``rels`` as plain maps (never whole nodes: an item may carry a large embedding), and
``support``. :mod:`kg.paths` turns the rows into :class:`kg.records.PathRecord`.

Kinds::

    brand            (u)-[:RATED]->(i)-[:MADE_BY]->(b)<-[:MADE_BY]-(t)
    category         (u)-[:RATED]->(i)-[:IN_CATEGORY]->(c)<-[:IN_CATEGORY]-(t)
    parent_category  (u)-[:RATED]->(i)-[:IN_CATEGORY]->(c)-[:SUBCATEGORY_OF]->(p)<-[:SUBCATEGORY_OF]-(c2)<-[:IN_CATEGORY]-(t)
    also_bought      (u)-[:RATED]->(i)-[:ALSO_BOUGHT]-(t)        (either direction; likewise also_viewed
                                                                and every registered item link)
    similar_users    (u)-[:RATED]->(i)<-[:RATED]-(v)-[:RATED]->(t)   v rated i within $tolerance of u
    entity           (u)-[:RATED]->(i)-[:HAS_X]->(e:X)<-[:HAS_X]-(t)  for each registered entity type X
    user_link        (u)-[:FRIEND]-(v)-[:RATED]->(t)              (either direction; every registered user
                                                                link) v rated the target at least $min_rating
    user_entity      (u)-[:HAS_X]->(e:X)<-[:HAS_X]-(v)-[:RATED]->(t)  for each user entity type X (a city,
                                                                an age band); v rated the target well
"""

from __future__ import annotations

from collections.abc import Sequence

from core.kinds import PathKind, item_link_kind
from core.schema import (
    BRAND,
    CATEGORY,
    IN_CATEGORY,
    ITEM,
    MADE_BY,
    RATED,
    SUBCATEGORY_OF,
    USER,
    EntityType,
    NodeType,
    RelType,
)

__all__ = [
    "BRAND_PATHS",
    "CATEGORY_PATHS",
    "CO_RATING_SUPPORT",
    "ENDPOINTS_EXIST",
    "PARENT_CATEGORY_PATHS",
    "SIMILAR_USER_PATHS",
    "entity_paths",
    "item_link_paths",
    "recorded_path_exists",
    "user_entity_paths",
    "user_link_paths",
]

# Node and relationship projections shared by every pattern: plain maps, never whole nodes (an item may
# carry a large embedding), the key taken from whichever of id/path/name the label is keyed by.
_NODES = (
    "[n IN {nodes} | {{labels: labels(n), id: n.id, path: n.path, name: n.name, title: n.title}}] AS nodes"
)
_RELS = (
    "[r IN {rels} | {{type: type(r), start_labels: labels(startNode(r)), "
    "start_id: coalesce(startNode(r).id, startNode(r).path, startNode(r).name), "
    "end_labels: labels(endNode(r)), "
    "end_id: coalesce(endNode(r).id, endNode(r).path, endNode(r).name), rating: r.rating, ts: r.ts}}] AS rels"
)


def _project(nodes: str, rels: str) -> str:
    return _NODES.format(nodes=nodes) + ", " + _RELS.format(rels=rels)


def _kind(kind: str) -> str:
    # a kind is a PathKind value or a validated relationship type lower-cased: never user text
    return f"'{kind}' AS kind"


_ANCHOR = f"MATCH (u:{USER.label} {{{USER.key}: $user}})-[r:{RATED.type}]->(i:{ITEM.label})"
_ANCHOR_WHERE = "WHERE r.rating >= $min_rating AND i <> t "
_ORDER = "ORDER BY r.rating DESC, r.ts DESC, i.id LIMIT $limit"

ENDPOINTS_EXIST = (
    f"OPTIONAL MATCH (u:{USER.label} {{{USER.key}: $user}}) "
    f"OPTIONAL MATCH (t:{ITEM.label} {{{ITEM.key}: $item}}) "
    "RETURN u IS NOT NULL AS user, t IS NOT NULL AS item"
)
"""Whether ``$user`` and ``$item`` are in the graph."""

BRAND_PATHS = (
    f"{_ANCHOR}-[m1:{MADE_BY.type}]->(b:{BRAND.label})"
    f"<-[m2:{MADE_BY.type}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
    f"{_ANCHOR_WHERE}"
    f"RETURN {_kind(PathKind.BRAND)}, {_project('[u, i, b, t]', '[r, m1, m2]')}, {{}} AS support {_ORDER}"
)
"""Items of the target's brand that the user rated at least ``$min_rating``."""

CATEGORY_PATHS = (
    f"{_ANCHOR}-[c1:{IN_CATEGORY.type}]->(c:{CATEGORY.label})"
    f"<-[c2:{IN_CATEGORY.type}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
    f"{_ANCHOR_WHERE}"
    f"RETURN {_kind(PathKind.CATEGORY)}, {_project('[u, i, c, t]', '[r, c1, c2]')}, {{}} AS support {_ORDER}"
)
"""Items in one of the target's categories that the user rated well."""

PARENT_CATEGORY_PATHS = (
    f"{_ANCHOR}-[c1:{IN_CATEGORY.type}]->(c:{CATEGORY.label})-[s1:{SUBCATEGORY_OF.type}]->"
    f"(p:{CATEGORY.label})<-[s2:{SUBCATEGORY_OF.type}]-(c2:{CATEGORY.label})"
    f"<-[c3:{IN_CATEGORY.type}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
    f"{_ANCHOR_WHERE}AND c <> c2 "
    f"RETURN {_kind(PathKind.PARENT_CATEGORY)}, "
    f"{_project('[u, i, c, p, c2, t]', '[r, c1, s1, s2, c3]')}, {{}} AS support {_ORDER}"
)
"""Items in a sibling category (same parent) of one of the target's categories, rated well by the user."""

SIMILAR_USER_PATHS = (
    f"MATCH (u:{USER.label} {{{USER.key}: $user}}), (t:{ITEM.label} {{{ITEM.key}: $item}}) "
    # the hub cap: at most $hub_cap of the target's fans are looked at, however popular it is
    f"CALL {{ WITH t MATCH (t)<-[r3:{RATED.type}]-(v:{USER.label}) WHERE r3.rating >= $min_rating "
    "RETURN v, r3 ORDER BY r3.rating DESC, v.id LIMIT $hub_cap } "
    "WITH u, t, v, r3 WHERE v <> u "
    # a hash join on the shared item: each fan's ratings are read once, not each shared item's raters
    f"MATCH (u)-[r:{RATED.type}]->(i:{ITEM.label})<-[r2:{RATED.type}]-(v) USING JOIN ON i "
    "WHERE i <> t AND r.rating >= $min_rating AND abs(r.rating - r2.rating) <= $tolerance "
    "WITH u, t, v, r3, i, r, r2 ORDER BY r.rating DESC, r.ts DESC, i.id "
    "WITH u, t, v, r3, collect([i, r, r2])[0] AS best, count(*) AS agree "
    "ORDER BY agree DESC, v.id LIMIT $limit "
    "WITH u, t, v, r3, best[0] AS i, best[1] AS r, best[2] AS r2, agree "
    f"RETURN {_kind(PathKind.SIMILAR_USERS)}, "
    f"{_project('[u, i, v, t]', '[r, r2, r3]')}, {{agree: agree}} AS support"
)
"""Other users who rated an item like the user did (within ``$tolerance``) and rated the target well.

``support.agree`` is how many items the two users rated alike.
"""


def item_link_paths(link: RelType) -> str:
    """Items linked to the target by ``link`` (either direction) that the user rated well."""
    return (
        f"{_ANCHOR}-[l:{link.type}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
        f"{_ANCHOR_WHERE}"
        f"RETURN {_kind(item_link_kind(link.type))}, {_project('[u, i, t]', '[r, l]')}, "
        f"{{}} AS support {_ORDER}"
    )


def entity_paths(entity: EntityType) -> str:
    """Items sharing an entity (``HAS_X``) with the target that the user rated well."""
    rel, label = entity.relationship, entity.label
    return (
        f"{_ANCHOR}-[e1:{rel}]->(e:{label})<-[e2:{rel}]-(t:{ITEM.label} {{{ITEM.key}: $item}}) "
        f"{_ANCHOR_WHERE}"
        f"RETURN {_kind(PathKind.ENTITY)}, {_project('[u, i, e, t]', '[r, e1, e2]')}, "
        f"{{}} AS support {_ORDER}"
    )


def user_link_paths(link: RelType) -> str:
    """Users linked to the user by ``link`` (either direction: a friend, a nearest neighbour) who rated the
    target at least ``$min_rating``; ``support.agree`` is how many items the two rated within ``$tolerance``."""
    return (
        f"MATCH (u:{USER.label} {{{USER.key}: $user}})-[l:{link.type}]-(v:{USER.label})"
        f"-[r:{RATED.type}]->(t:{ITEM.label} {{{ITEM.key}: $item}}) "
        "WHERE v <> u AND r.rating >= $min_rating "
        # a link stored both ways (friends listed by each other) is one path
        "WITH u, v, r, t, collect(l)[0] AS l "
        f"WITH u, l, v, r, t, COUNT {{ (u)-[a:{RATED.type}]->(:{ITEM.label})<-[b:{RATED.type}]-(v) "
        "WHERE abs(a.rating - b.rating) <= $tolerance } AS agree "
        "ORDER BY r.rating DESC, agree DESC, v.id LIMIT $limit "
        f"RETURN {_kind(PathKind.USER_LINK)}, {_project('[u, v, t]', '[l, r]')}, {{agree: agree}} AS support"
    )


def user_entity_paths(entity: EntityType) -> str:
    """Users who share a user entity (``HAS_X``: a city, an age band) with the user and rated the target at
    least ``$min_rating``; ``support.peers`` is how many such users there are for that entity."""
    rel, label = entity.relationship, entity.label
    return (
        f"MATCH (u:{USER.label} {{{USER.key}: $user}})-[e1:{rel}]->(e:{label})<-[e2:{rel}]-(v:{USER.label})"
        f"-[r:{RATED.type}]->(t:{ITEM.label} {{{ITEM.key}: $item}}) "
        "WHERE v <> u AND r.rating >= $min_rating "
        "WITH u, e1, e, t, collect([e2, v, r]) AS peers "
        "UNWIND peers[0..$limit] AS peer "
        "WITH u, e1, e, t, peer[0] AS e2, peer[1] AS v, peer[2] AS r, size(peers) AS n "
        f"RETURN {_kind(PathKind.USER_ENTITY)}, {_project('[u, e, v, t]', '[e1, e2, r]')}, "
        "{peers: n} AS support"
    )


CO_RATING_SUPPORT = (
    f"UNWIND $anchors AS anchor MATCH (i:{ITEM.label} {{{ITEM.key}: anchor}}) "
    f"MATCH (t:{ITEM.label} {{{ITEM.key}: $item}}) "
    # a hash join of the anchor's raters with the target's: a tenth of the reads of walking from each
    # rater of the anchor to the target on amazon-hin
    f"CALL {{ WITH i, t MATCH (i)<-[a:{RATED.type}]-(v:{USER.label})-[b:{RATED.type}]->(t) USING JOIN ON v "
    "WHERE a.rating >= $min_rating AND b.rating >= $min_rating AND v.id <> $user RETURN count(v) AS both } "
    f"RETURN anchor, "
    f"COUNT {{ (i)<-[a:{RATED.type}]-(:{USER.label}) WHERE a.rating >= $min_rating }} AS fans, both"
)
"""Per anchor item: how many users rated it well (``fans``) and how many of them also rated the target well
(``both``, the user being explained left out)."""


def recorded_path_exists(nodes: Sequence[NodeType], rels: Sequence[tuple[RelType, int, int, bool]]) -> str:
    """Whether a recorded path is in the graph: node ``k`` by label and key ``$keys[k]``; each relationship
    ``(type, start, end, rated)`` by type and direction between nodes ``start`` and ``end``, and, when
    ``rated``, with rating ``$ratings[k]``. Returns ``ok``."""
    parts = [f"MATCH (n{k}:{node.label} {{{node.key}: $keys[{k}]}})" for k, node in enumerate(nodes)]
    parts += [f"MATCH (n{start})-[r{k}:{rel.type}]->(n{end})" for k, (rel, start, end, _) in enumerate(rels)]
    ratings = [f"r{k}.rating = $ratings[{k}]" for k, (_, _, _, rated) in enumerate(rels) if rated]
    where = f" WHERE {' AND '.join(ratings)}" if ratings else ""
    return " ".join(parts) + where + " RETURN count(*) > 0 AS ok"
