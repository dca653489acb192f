"""Search reads of :class:`kg.GraphStore`: query words to Lucene, entity linking through the entity name index,
per-field item text scores, and the facts generated queries are built from.

A query is cut into words (letters and digits; ``&`` and a few joining words such as "and" dropped), and
each word becomes a Lucene clause tolerant of case (the analyzer lowercases), plurals (the word with and
without a trailing ``s``) and, for words of five letters or more, one typo (``word~1``). Nothing of the text
reaches Lucene unescaped: the words are ``[a-z0-9]`` only.

Example:
    >>> query_words("Women's Fashion & Style")
    ['women', 'fashion', 'style']
    >>> lucene_query(["pens", "magzine"])
    '(pens OR pen) (magzine OR magzines OR magzine~1)'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypedDict, cast

import kg.queries as q
from core.schema import Schema

__all__ = [
    "FIELDS",
    "CandidateReadRecord",
    "LinkedEntityRecord",
    "SearchFactsRecord",
    "SearchReads",
    "lucene_query",
    "query_words",
]

FIELDS = ("title", "description")
"""The item text index's properties, each scored on its own."""

_WORD = re.compile(r"[a-z0-9]+")
_JOINING = frozenset({"and", "the", "of", "for", "a", "an", "s", "in", "with", "to"})
_FUZZY_FROM = 5


class LinkedEntityRecord(TypedDict):
    """An entity a query links to: its ``label``, ``key`` (a category's path), display ``name``, Lucene
    ``score`` and the ``[item, depth]`` pairs it reaches (depth 0: directly; ``n``: ``n`` levels below)."""

    label: str
    key: str
    name: str
    score: float
    items: list[list[Any]]


class CandidateReadRecord(TypedDict):
    """A query's candidates as the graph gives them: ``[item, score]`` per field of the item text index,
    the item keys typed, the linked entities, and those of them all the user has ``rated``."""

    title: list[list[Any]]
    description: list[list[Any]]
    ids: list[str]
    linked: list[LinkedEntityRecord]
    rated: list[str]


class SearchFactsRecord(TypedDict):
    """What a generated query about an item is built from: its title, brand names and category paths."""

    item: str
    title: str | None
    brands: list[str]
    categories: list[str]


def query_words(text: str) -> list[str]:
    """The words of a query, lowercased, joining words dropped, each once (first occurrence kept)."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _JOINING]
    return list(dict.fromkeys(words))


def lucene_query(words: Sequence[str], fuzzy: int = 1) -> str:
    """One clause per word: the word, its singular or plural, and ``word~fuzzy`` from five letters on."""
    clauses = []
    for w in words:
        forms = [w, w[:-1] if w.endswith("s") and len(w) > 3 else w + "s"]
        if len(w) >= _FUZZY_FROM and fuzzy:
            forms.append(f"{w}~{fuzzy}")
        if w.isdigit():
            forms = [w]
        clauses.append("(" + " OR ".join(dict.fromkeys(forms)) + ")")
    return " ".join(clauses)


class _Reader(Protocol):
    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def write_query(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...


class SearchReads:
    """The search reads, mixed into :class:`kg.GraphStore` (which provides ``read`` and ``write_query``)."""

    def ensure_search_index(self: _Reader, schema: Schema) -> None:
        """The entity name index over the schema's item-side entity labels, created ``IF NOT EXISTS``, and
        recreated when a load registered an entity type it does not cover."""
        labels = ["Brand", "Category", *(e.label for e in schema.entities)]
        now = self.read(q.ENTITY_INDEX_LABELS, {"name": q.ENTITY_NAME_INDEX})
        if now and sorted(now[0]["labels"]) != sorted(labels):
            self.write_query(q.drop_entity_name_index())
        if not now or sorted(now[0]["labels"]) != sorted(labels):
            self.write_query(q.create_entity_name_index(labels))
            self.write_query(q.AWAIT_INDEXES)

    def search_candidates(
        self: _Reader,
        words: Sequence[str],
        typed: Sequence[str],
        rels: Sequence[str],
        text_hits: int,
        entities: int,
        per_entity: int,
        user: str | None = None,
    ) -> CandidateReadRecord:
        """In one read: Lucene's score per item of each field of the item text index (``text_hits`` each),
        the ``typed`` words that are item keys, the ``entities`` best entities the words link to, each
        with up to ``per_entity`` of the items it reaches through ``rels`` (most rated first) plus the text
        hits it reaches, and which of all those ``user`` has rated in the graph (none without a user)."""
        if not words:
            return {"title": [], "description": [], "ids": [], "linked": [], "rated": []}
        query = lucene_query(words)
        params = {
            "title": f"title:({query})",
            "description": f"description:({query})",
            "entity": query,
            "typed": list(typed),
            "rels": list(rels),
            "text_hits": text_hits,
            "entities": entities,
            "per_entity": per_entity,
            "user": user,
        }
        return cast(CandidateReadRecord, self.read(q.SEARCH_CANDIDATES, params)[0])

    def closest_entity_names(self: _Reader, words: Sequence[str], limit: int = 5) -> list[str]:
        """Entity names (a category's path) closest to the words: two typos allowed per word."""
        if not words:
            return []
        params = {"query": lucene_query(words, fuzzy=2), "limit": limit}
        return [r["name"] for r in self.read(q.MATCHING_ENTITY_NAMES, params)]

    def has_item_text(self: _Reader) -> bool:
        """Whether any item has a title or a description."""
        return bool(self.read(q.TEXT_ITEM_COUNT)[0]["any"])

    def search_facts(self: _Reader, items: Sequence[str]) -> dict[str, SearchFactsRecord]:
        """Title, brand names and category paths per item key; items the graph lacks are absent."""
        rows = cast(list[SearchFactsRecord], self.read(q.SEARCH_FACTS, {"items": list(dict.fromkeys(items))}))
        return {r["item"]: r for r in rows}
