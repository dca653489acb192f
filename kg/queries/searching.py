"""Reads behind search: the full-text index over entity names, each field of the item text index, the items
a linked entity reaches (its subcategories' too), and the facts a search query is generated from.

The entity index covers the item-side entity labels of the schema (``Brand``, ``Category``, and each
registered ``HAS_X`` entity): its labels are validated identifiers, never user text; the query text is a
``$parameter`` built by :mod:`kg.text_search`.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.schema import BRAND, CATEGORY, IN_CATEGORY, ITEM, MADE_BY, RATED, SUBCATEGORY_OF, USER
from kg.queries.indexes import ITEM_TEXT_INDEX

__all__ = [
    "ENTITY_INDEX_LABELS",
    "ENTITY_NAME_INDEX",
    "LINK_RELS",
    "MATCHING_ENTITY_NAMES",
    "SEARCH_FACTS",
    "SEARCH_CANDIDATES",
    "TEXT_ITEM_COUNT",
    "create_entity_name_index",
    "drop_entity_name_index",
]

ENTITY_NAME_INDEX = "entity_names"
"""The full-text index on entity names: a category's name and path, a brand's name, another entity's id."""


def create_entity_name_index(labels: Sequence[str]) -> str:
    """``labels`` are the schema's validated item-entity labels (``Brand``, ``Category``, ...)."""
    return (
        f"CREATE FULLTEXT INDEX {ENTITY_NAME_INDEX} IF NOT EXISTS FOR (n:{'|'.join(labels)}) "
        "ON EACH [n.name, n.path, n.id]"
    )


def drop_entity_name_index() -> str:
    return f"DROP INDEX {ENTITY_NAME_INDEX} IF EXISTS"


ENTITY_INDEX_LABELS = (
    "SHOW FULLTEXT INDEXES YIELD name, labelsOrTypes WHERE name = $name RETURN labelsOrTypes AS labels"
)
"""The labels the entity index covers now (no row when it does not exist)."""

# One read per query (a round trip is most of a search's time): the item text index once per field (Lucene's
# field in the query: `title:(...)`), so each field is scored on its own; the items whose key is a query word;
# and the linked entities, best first, each with the items it reaches: directly (depth 0) or through the
# categories below it (depth = how many levels below). Per entity, its $per_entity items with the most
# ratings, plus any text hit it reaches, so a text hit knows which linked entities it matches. Last, those
# of the candidates $user has rated (none when $user is null), so a personal search needs no second read.
SEARCH_CANDIDATES = (
    "CALL { "
    f"  CALL db.index.fulltext.queryNodes('{ITEM_TEXT_INDEX}', $title) YIELD node, score "
    "  WITH node, score LIMIT $text_hits RETURN collect([node.id, score]) AS title "
    "} "
    "CALL { "
    f"  CALL db.index.fulltext.queryNodes('{ITEM_TEXT_INDEX}', $description) YIELD node, score "
    "  WITH node, score LIMIT $text_hits RETURN collect([node.id, score]) AS description "
    "} "
    f"CALL {{ MATCH (i:{ITEM.label}) WHERE i.id IN $typed RETURN collect(i.id) AS ids }} "
    "WITH title, description, ids, [x IN title | x[0]] + [x IN description | x[0]] AS also "
    "CALL { WITH also "
    f"  CALL db.index.fulltext.queryNodes('{ENTITY_NAME_INDEX}', $entity) YIELD node, score "
    "  WITH also, node, score ORDER BY score DESC LIMIT $entities "
    "  CALL { WITH node, also "
    f"    MATCH p = (node)<-[:{SUBCATEGORY_OF.type}*0..]-()<-[r]-(i:{ITEM.label}) WHERE type(r) IN $rels "
    "    WITH also, i, min(length(p)) - 1 AS depth "
    f"    WITH also, i, depth, COUNT {{ (i)<-[:{RATED.type}]-() }} AS raters ORDER BY raters DESC, i.id "
    "    WITH also, collect([i.id, depth]) AS reached "
    "    RETURN reached[..$per_entity] + [x IN reached[$per_entity..] WHERE x[0] IN also] AS items "
    "  } "
    f"  RETURN collect({{label: labels(node)[0], key: coalesce(node.{CATEGORY.key}, node.{BRAND.key}, node.id), "
    "name: coalesce(node.name, node.id), score: score, items: items}) AS linked "
    "} "
    "CALL { WITH title, description, ids, linked "
    "  WITH ids + [x IN title | x[0]] + [x IN description | x[0]] "
    "    + reduce(acc = [], e IN linked | acc + [x IN e.items | x[0]]) AS keys "
    f"  OPTIONAL MATCH (:{USER.label} {{id: $user}})-[:{RATED.type}]->(i:{ITEM.label}) WHERE i.id IN keys "
    "  RETURN collect(i.id) AS rated "
    "} "
    "RETURN title, description, ids, linked, rated"
)
LINK_RELS = (MADE_BY.type, IN_CATEGORY.type)
"""The core relationships from items to the entities of the index (a dataset's ``HAS_X`` are added)."""

MATCHING_ENTITY_NAMES = (
    f"CALL db.index.fulltext.queryNodes('{ENTITY_NAME_INDEX}', $query) YIELD node, score "
    f"RETURN DISTINCT coalesce(node.{CATEGORY.key}, node.{BRAND.key}, node.id) AS name LIMIT $limit"
)
"""Entity names (a category's path) a query matches: what a search that found nothing suggests."""

TEXT_ITEM_COUNT = (
    f"MATCH (i:{ITEM.label}) WHERE i.title IS NOT NULL OR i.description IS NOT NULL "
    "RETURN count(i) > 0 AS any"
)
"""Whether any item has a title or description to search."""

SEARCH_FACTS = (
    f"UNWIND $items AS key MATCH (i:{ITEM.label} {{{ITEM.key}: key}}) "
    "RETURN key AS item, i.title AS title, "
    f"COLLECT {{ MATCH (i)-[:{MADE_BY.type}]->(b:{BRAND.label}) RETURN b.name ORDER BY b.name }} AS brands, "
    f"COLLECT {{ MATCH (i)-[:{IN_CATEGORY.type}]->(c:{CATEGORY.label}) RETURN c.{CATEGORY.key} "
    f"ORDER BY c.{CATEGORY.key} }} AS categories"
)
"""Per item key: the title, brand names and category paths a generated search query is built from."""
