"""A search query's candidates and their query-item features, read from the graph.

The candidates are the union, bounded, of the items whose title or description match the query's words
(each field scored on its own), the items whose key is a query word, and the items of the entities the
words link to (categories with their subcategories, brands, a dataset's own entity types), all in one read
(:meth:`kg.GraphStore.search_candidates`), less the items the caller leaves out (what the
user has taken, and what the graph says they rated). Each candidate gets the features of :data:`QUERY_FEATURES` and says what matched.

Example:
    >>> found = gather(store, "women fashion", link_rels(store.schema()))      # doctest: +SKIP
    >>> found.items[:2], found.matched[0]                                      # doctest: +SKIP
    (['B00005N7P0', 'B00006KQHE'], ['Category: Magazine Subscriptions > Fashion & Style > Women'])
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

import kg.queries as q
from core.schema import BRAND, CATEGORY, Schema
from kg import GraphStore
from kg.text_search import FIELDS, LinkedEntityRecord, query_words

__all__ = ["ENTITIES", "PER_ENTITY", "QUERY_FEATURES", "TEXT_HITS", "Candidates", "gather", "link_rels"]

TEXT_HITS = 100
"""Items per field of the item text index."""
ENTITIES = 8
"""Linked entities per query, best first."""
PER_ENTITY = 100
"""Items per linked entity (those with the most ratings), besides the text hits it reaches."""

QUERY_FEATURES = (
    "title_score",
    "title_share",
    "description_score",
    "description_share",
    "id_match",
    "category_exact",
    "category_below",
    "category_depth",
    "brand_match",
    "entity_match",
    "linked_matched",
    "top_entity_match",
    "query_words",
    "top_entity_score",
    "text_hits",
)
"""Per (query, item): Lucene's score per field and its share of the query's best; the item's key typed;
the best linked category that holds it directly (``category_exact``) or through a subcategory
(``category_below``, ``category_depth`` levels down), brand, other entity (each the entity's score over the
best linked entity's); how many linked entities reach it, whether the best one does; and of the query:
its word count, its best entity score, its text hits."""


@dataclass(frozen=True)
class Candidates:
    """A query's candidate ``items``, their ``features`` (``[items, QUERY_FEATURES]``, NaN where unknown), what
    matched per item (``"title"``, ``"Brand: Inkwell"``...), and the ``linked`` entities."""

    words: list[str]
    items: list[str]
    features: np.ndarray
    matched: list[list[str]]
    linked: list[LinkedEntityRecord]


def link_rels(schema: Schema) -> list[str]:
    """The relationships from items to the entities of the name index: brand, category, each ``HAS_X``."""
    return [*q.LINK_RELS, *(e.relationship for e in schema.entities)]


def gather(
    store: GraphStore, text: str, rels: list[str], exclude: Collection[str] = (), user: str | None = None
) -> Candidates:
    """The candidates of ``text`` (``exclude``: item keys left out, as are those the graph says ``user``
    rated)."""
    words = query_words(text)
    read = store.search_candidates(words, text.split(), rels, TEXT_HITS, ENTITIES, PER_ENTITY, user)
    exclude = {*exclude, *read["rated"]}
    per_field = {"title": read["title"], "description": read["description"]}
    scores = {f: {str(i): float(s) for i, s in per_field[f]} for f in FIELDS}
    texts = list(dict.fromkeys(i for f in FIELDS for i in scores[f]))
    typed, linked = set(read["ids"]), read["linked"]
    reached = [i for e in linked for i, _ in e["items"]]
    items = [i for i in dict.fromkeys([*typed, *texts, *reached]) if i not in exclude]
    at = {item: n for n, item in enumerate(items)}
    f = np.full((len(items), len(QUERY_FEATURES)), np.nan, dtype=np.float32)
    col = {name: n for n, name in enumerate(QUERY_FEATURES)}
    matched: list[list[str]] = [[] for _ in items]
    for field in FIELDS:
        best = max(scores[field].values(), default=1.0) or 1.0
        for item, score in scores[field].items():
            if item in at:
                f[at[item], col[f"{field}_score"]] = score
                f[at[item], col[f"{field}_share"]] = score / best
                matched[at[item]].append(field)
    f[:, col["id_match"]] = [item in typed for item in items]
    for item in typed & at.keys():
        matched[at[item]].append("id")
    top = linked[0]["score"] if linked else 1.0
    f[:, col["linked_matched"]] = 0.0
    f[:, col["top_entity_match"]] = 0.0
    for n, entity in enumerate(linked):
        share = entity["score"] / top
        for item, depth in entity["items"]:
            row = at.get(item)
            if row is None:
                continue
            if entity["label"] == CATEGORY.label:
                name = "category_exact" if depth == 0 else "category_below"
                f[row, col["category_depth"]] = np.fmin(f[row, col["category_depth"]], depth)
            else:
                name = "brand_match" if entity["label"] == BRAND.label else "entity_match"
            f[row, col[name]] = np.fmax(f[row, col[name]], share)
            f[row, col["linked_matched"]] += 1
            f[row, col["top_entity_match"]] = max(f[row, col["top_entity_match"]], float(n == 0))
            below = " (a subcategory)" if depth else ""
            matched[row].append(f"{entity['label']}: {entity['key']}{below}")
    f[:, col["query_words"]] = len(words)
    f[:, col["top_entity_score"]] = linked[0]["score"] if linked else 0.0
    f[:, col["text_hits"]] = len(texts)
    return Candidates(words, items, f, matched, linked)
