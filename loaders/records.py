"""Validated records, the dataset a loader returns, and the load report of rejected rows.

Example:
    >>> RatingRow(user=" u1 ", item="i9", rating="4", ts="1500000000").user
    'u1'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from loaders.cleaning import CleaningCounts
from loaders.text import clean_text

__all__ = [
    "CATEGORY_SEPARATOR",
    "Dataset",
    "ItemRow",
    "LoadReport",
    "RatingRow",
    "Rejection",
    "category_key",
    "category_tree",
    "split_category",
]

CATEGORY_SEPARATOR = " > "
"""Joins the names of a category path into the category's key: ``Books > History``."""


def category_key(path: Sequence[str]) -> str:
    """The key of the category at the end of ``path`` (names, root first): its full path.

    A category is identified by where it sits, so "Women" under "Fashion" and under "Health" are two
    categories, and a child named like its parent is a child.

    Example:
        >>> category_key(("Books", "Books")), category_key(["Fashion & Style", "Women"])
        ('Books > Books', 'Fashion & Style > Women')
    """
    return CATEGORY_SEPARATOR.join(path)


def category_tree(
    paths: Iterable[Sequence[str]],
) -> tuple[dict[str, tuple[str, int]], set[tuple[str, str]]]:
    """Every category on ``paths`` as ``key -> (name, depth)``, and the ``(child, parent)`` key pairs.

    Keyed by its path, a category has one parent (the path one shorter) and is never its own.

    Example:
        >>> category_tree([("Books", "Books")])
        ({'Books': ('Books', 0), 'Books > Books': ('Books', 1)}, {('Books > Books', 'Books')})
    """
    nodes: dict[str, tuple[str, int]] = {}
    links: set[tuple[str, str]] = set()
    for path in paths:
        for level in range(len(path)):
            key = category_key(path[: level + 1])
            nodes[key] = (path[level], level)
            if level:
                links.add((key, category_key(path[:level])))
    return nodes, links


def split_category(text: str) -> tuple[str, ...]:
    """A category written as a path (``A > B > C``, spaces around ``>`` optional) as its names.

    Example:
        >>> split_category("Outdoor>Camping "), split_category("Coffee")
        (('Outdoor', 'Camping'), ('Coffee',))
    """
    return tuple(part.strip() for part in text.split(">") if part.strip())


def _key(value: object) -> str:
    # a byte-order mark is never part of an id (a file made by joining files has them inside); a NUL is
    # never an id's character
    text = str(value).replace("\ufeff", "").strip() if value is not None else ""
    if not text:
        raise ValueError("missing id")
    if "\x00" in text:
        raise ValueError("holds a NUL character, which no id may hold")
    return text


class RatingRow(BaseModel):
    """One (user, item, rating, timestamp) row; ``ts`` is unix seconds, 0 when the file has none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    item: str
    rating: float = Field(allow_inf_nan=False)
    # 2**53: every integer up to it is exact as a float, and both Neo4j and pandas hold it as int64.
    ts: int = Field(default=0, ge=0, le=2**53)

    _key_user = field_validator("user", "item", mode="before")(lambda v: _key(v))

    @field_validator("ts", mode="before")
    @classmethod
    def _ts(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return 0
        number = float(value) if isinstance(value, str) else value
        if isinstance(number, float):
            if not math.isfinite(number):
                raise ValueError(f"timestamp {value!r} is not a finite number")
            if abs(number) > 2**53:
                raise ValueError(f"timestamp {value!r} is out of range (at most 2**53)")
            return int(number)
        return number


class ItemRow(BaseModel):
    """Item attributes; every field but ``id`` may be absent."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str | None = None
    description: str | None = None
    price: float | None = Field(default=None, ge=0)
    brand: str | None = None
    categories: list[list[str]] = Field(default_factory=list)

    _key_id = field_validator("id", mode="before")(lambda v: _key(v))

    @field_validator("title", "description", "brand", mode="before")
    @classmethod
    def _text(cls, value: object) -> str | None:
        return clean_text(value) if value is not None else None

    @field_validator("categories", mode="before")
    @classmethod
    def _paths(cls, value: object) -> list[list[str]]:
        paths = []
        for path in value or []:  # type: ignore[attr-defined]
            names = [n for n in (clean_text(p) for p in path) if n]
            if names:
                paths.append(names)
        return paths


class Rejection(BaseModel):
    """A row left out of the load, and why."""

    file: str
    line: int
    field: str | None = None
    reason: str


class FileUse(BaseModel):
    """What a load did with one file of a folder: its ``role`` (ratings, item entity, user link, ignored...),
    the rows it kept, and a note (columns read, what was left out and why)."""

    file: str
    role: str
    rows: int = 0
    note: str = ""


class LoadReport(BaseModel):
    """What a load read, kept and rejected, and what it did with each file. ``--json`` prints it."""

    source: str
    rows_read: int = 0
    rows_accepted: int = 0
    duplicates_dropped: int = 0
    rejected: list[Rejection] = Field(default_factory=list)
    written: dict[str, int] = Field(default_factory=dict)
    files: list[FileUse] = Field(default_factory=list)
    cleaning: CleaningCounts = Field(default_factory=CleaningCounts)
    """What each cleaning rule of :mod:`loaders.cleaning` changed (Amazon 2018 metadata)."""

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    def reject(self, file: str, line: int, reason: str, field: str | None = None) -> None:
        self.rejected.append(Rejection(file=file, line=line, field=field, reason=reason))


@dataclass
class Dataset:
    """What a loader hands to ``kg.GraphStore.write``: frames keyed by dataset ids.

    Attributes:
        ratings: columns ``user, item, rating, ts`` (one row per pair, the latest kept).
        items: columns ``id, title, description, price`` (attributes of items that have any).
        brands: columns ``item, brand``.
        categories: columns ``item, path`` where ``path`` is a tuple of names, root first; the category an
            item is in is the last one, keyed by the whole path (:func:`category_key`).
        entities: per entity label (``View``, ``Genre``...), columns ``item, value``.
        item_links: per relationship type (``ALSO_BOUGHT``...), columns ``source, target``.
        users: columns ``id, name`` (display names of users that have one).
        user_entities: per user entity label (``Age``, ``Occupation``...), columns ``user, value``.
        user_links: per relationship type (``FRIEND``...), columns ``source, target`` (user ids).
    """

    report: LoadReport
    ratings: pd.DataFrame = field(default_factory=lambda: _frame("user", "item", "rating", "ts"))
    items: pd.DataFrame = field(default_factory=lambda: _frame("id", "title", "description", "price"))
    brands: pd.DataFrame = field(default_factory=lambda: _frame("item", "brand"))
    categories: pd.DataFrame = field(default_factory=lambda: _frame("item", "path"))
    entities: dict[str, pd.DataFrame] = field(default_factory=dict)
    item_links: dict[str, pd.DataFrame] = field(default_factory=dict)
    users: pd.DataFrame = field(default_factory=lambda: _frame("id", "name"))
    user_entities: dict[str, pd.DataFrame] = field(default_factory=dict)
    user_links: dict[str, pd.DataFrame] = field(default_factory=dict)


def _frame(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in columns})
