"""Reads that serve the facade and reports: a user's ratings, filters, display cards, search, neighbours.

Each read's ``RETURN`` names are the keys of its record in :mod:`kg.records`.
"""

from __future__ import annotations

from core.schema import BRAND, CATEGORY, IN_CATEGORY, ITEM, MADE_BY, RATED, SUBCATEGORY_OF, USER, RelType
from kg.queries.indexes import ITEM_EMBEDDING_INDEX, ITEM_TEXT_INDEX

__all__ = [
    "CATALOGUE_COUNTS",
    "ITEMS_IN_CATEGORY",
    "ITEMS_OF_BRAND",
    "ITEM_CARDS",
    "ITEM_EXISTS",
    "ITEM_FACTS",
    "NAME_KEYED_CATEGORIES",
    "RATED_AMONG",
    "RATED_BY_USER",
    "SEARCH_ITEMS",
    "SIMILAR_ITEMS",
    "TOP_RATERS",
    "USERS_RATING_ALIKE",
    "USER_EXISTS",
    "user_leaning",
]

USER_EXISTS = f"MATCH (u:{USER.label} {{id: $user}}) RETURN count(u) AS n"
ITEM_EXISTS = f"MATCH (i:{ITEM.label} {{id: $item}}) RETURN count(i) AS n"

RATED_BY_USER = (
    f"MATCH (u:{USER.label} {{id: $user}})-[r:{RATED.type}]->(i:{ITEM.label}) "
    "RETURN i.id AS item, r.rating AS rating, r.ts AS ts"
)
ITEMS_OF_BRAND = (
    f"MATCH (b:{BRAND.label} {{name: $brand}})<-[:{MADE_BY.type}]-(i:{ITEM.label}) RETURN i.id AS item"
)
# A category matches its own items and those of every category below it. $path is the full path (the key);
# $name a display name, which every category of that name answers to.
ITEMS_IN_CATEGORY = (
    f"MATCH (c:{CATEGORY.label}) WHERE c.{CATEGORY.key} = $path OR c.name = $name "
    f"MATCH (c)<-[:{SUBCATEGORY_OF.type}*0..]-(:{CATEGORY.label})"
    f"<-[:{IN_CATEGORY.type}]-(i:{ITEM.label}) RETURN DISTINCT i.id AS item"
)
NAME_KEYED_CATEGORIES = f"MATCH (c:{CATEGORY.label}) WHERE c.{CATEGORY.key} IS NULL RETURN count(c) AS n"
"""Category nodes without a path: a graph written before categories were keyed by their path."""
# Display cards of the items a list shows (rank.serving keeps them in memory for a while).
ITEM_CARDS = (
    f"UNWIND $items AS key MATCH (i:{ITEM.label} {{id: key}}) "
    f"OPTIONAL MATCH (i)-[:{MADE_BY.type}]->(b:{BRAND.label}) "
    f"OPTIONAL MATCH (i)-[:{IN_CATEGORY.type}]->(c:{CATEGORY.label}) "
    "RETURN i.id AS item, i.title AS title, collect(DISTINCT b.name)[0] AS brand, "
    "collect(DISTINCT c.name) AS categories"
)
# The seen-filter of served lists, a batch of them in one read: which of each list's ranked items its user
# has rated (ratings loaded or recorded since the ranker was trained, which it cannot know).
RATED_AMONG = (
    f"UNWIND $lists AS list MATCH (:{USER.label} {{id: list.user}})-[:{RATED.type}]->(i:{ITEM.label}) "
    "WHERE i.id IN list.items RETURN list.user AS user, i.id AS item"
)
SEARCH_ITEMS = (
    f"CALL db.index.fulltext.queryNodes('{ITEM_TEXT_INDEX}', $query) YIELD node, score "
    "RETURN node.id AS item, node.title AS title, score LIMIT $limit"
)
# $k + 1: the item itself is its own nearest neighbour, and is left out.
SIMILAR_ITEMS = (
    f"MATCH (i:{ITEM.label} {{id: $item}}) "
    f"CALL db.index.vector.queryNodes('{ITEM_EMBEDDING_INDEX}', $k + 1, i.embedding) YIELD node, score "
    "WHERE node <> i RETURN node.id AS item, node.title AS title, score ORDER BY score DESC LIMIT $k"
)


def user_leaning(rel: RelType) -> str:
    """The user's ratings grouped by the node their items reach through ``rel`` (brand, category, entity);
    ``name`` is the display name (a category's own name, not its path), else the key."""
    target = rel.target
    return (
        f"MATCH (:{USER.label} {{id: $user}})-[r:{RATED.type}]->(:{ITEM.label})-[:{rel.type}]->(e:{target.label}) "
        "WITH e, count(r) AS ratings, avg(r.rating) AS mean_rating "
        f"RETURN e.{target.key} AS key, coalesce(e.name, e.{target.key}) AS name, ratings, mean_rating "
        f"ORDER BY ratings DESC, name, e.{target.key} LIMIT $limit"
    )


USERS_RATING_ALIKE = (
    f"MATCH (u:{USER.label})-[r:{RATED.type}]->(:{ITEM.label} {{id: $item}}) WHERE abs(r.rating - $rating) <= 1 "
    "RETURN u.id AS user LIMIT $limit"
)
TOP_RATERS = (
    f"MATCH (u:{USER.label})-[r:{RATED.type}]->() WITH u, count(r) AS n "
    "RETURN u.id AS user ORDER BY n DESC, user LIMIT $limit"
)

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
