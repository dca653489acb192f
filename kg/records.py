"""What :class:`kg.GraphStore` and :mod:`kg.paths` hand to the layers above: plain, typed records.

Each ``TypedDict`` is the row of one query (its keys are the query's ``RETURN`` names), so at run time a
record is the plain ``dict`` the driver gave, and ``mypy`` checks every key a caller reads. No ``neo4j``
object leaves ``kg``.

Example:
    >>> card: ItemCardRecord = {"item": "I1", "title": "Mug", "brand": None, "categories": ["Kitchen"]}
    >>> card["categories"]
    ['Kitchen']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = [
    "CatalogueCountsRecord",
    "GraphStats",
    "ItemCardRecord",
    "ItemFactsRecord",
    "LeaningRecord",
    "PathNodeRecord",
    "PathRecord",
    "PathRelRecord",
    "RaterRecord",
    "SearchHitRecord",
    "SimilarItemRecord",
]


@dataclass(frozen=True)
class GraphStats:
    """Node count per label and relationship count per type."""

    nodes: dict[str, int]
    relationships: dict[str, int]


# -- serving ------------------------------------------------------------------------------------------


class ItemCardRecord(TypedDict):
    """What a recommendation shows of an item: title, a brand, and the categories it is directly in."""

    item: str
    title: str | None
    brand: str | None
    categories: list[str]


class SimilarItemRecord(TypedDict):
    """A neighbour by stored embedding; ``score`` is the vector index's cosine similarity."""

    item: str
    title: str | None
    score: float


class SearchHitRecord(TypedDict):
    """A full-text match on title and description; ``score`` is Lucene's."""

    item: str
    title: str | None
    score: float


class RaterRecord(TypedDict):
    """A user who rated an item (as the query that found them asked)."""

    user: str


class LeaningRecord(TypedDict):
    """A node (brand, category, entity) that the user's rated items reach, with those ratings' figures:
    ``key`` identifies it (a category's path), ``name`` is for display."""

    key: str
    name: str
    ratings: int
    mean_rating: float


# -- reports ------------------------------------------------------------------------------------------


class ItemFactsRecord(TypedDict):
    """An item as a report names it: display name (title, else key), brand names, category names."""

    name: str
    brands: list[str]
    categories: list[str]


class CatalogueCountsRecord(TypedDict):
    """The denominators of coverage: items, brands, and categories that hold items directly."""

    items: int
    brands: int
    categories: int


# -- explanation paths --------------------------------------------------------------------------------


class PathNodeRecord(TypedDict):
    """A node of a path: label, business key (``id`` or ``name``) and display name."""

    label: str
    key: str
    name: str


class PathRelRecord(TypedDict):
    """A relationship of a path with its real direction: ``start``/``end`` index the path's nodes."""

    type: str
    start: int
    end: int
    properties: dict[str, Any]


class PathRecord(TypedDict):
    """A candidate path from a user to an item (see :func:`kg.paths.candidate_paths`).

    ``kind`` is a :class:`core.kinds.PathKind` value, or the lower-cased type of a dataset's item link.
    """

    kind: str
    nodes: list[PathNodeRecord]
    rels: list[PathRelRecord]
    support: dict[str, Any]
