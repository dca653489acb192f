"""Validated records, the dataset a loader returns, and the load report of rejected rows.

Example:
    >>> RatingRow(user=" u1 ", item="i9", rating="4", ts="1500000000").user
    'u1'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from loaders.text import clean_text

__all__ = ["Dataset", "ItemRow", "LoadReport", "RatingRow", "Rejection"]


def _key(value: object) -> str:
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ValueError("missing id")
    return text


class RatingRow(BaseModel):
    """One (user, item, rating, timestamp) row; ``ts`` is unix seconds, 0 when the file has none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    item: str
    rating: float
    ts: int = Field(default=0, ge=0)

    _key_user = field_validator("user", "item", mode="before")(lambda v: _key(v))

    @field_validator("ts", mode="before")
    @classmethod
    def _ts(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return 0
        if isinstance(value, str):
            return int(float(value))
        return value


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


class LoadReport(BaseModel):
    """What a load read, kept and rejected. ``--json`` prints it."""

    source: str
    rows_read: int = 0
    rows_accepted: int = 0
    duplicates_dropped: int = 0
    rejected: list[Rejection] = Field(default_factory=list)
    written: dict[str, int] = Field(default_factory=dict)

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
        categories: columns ``item, path`` where ``path`` is a tuple of names, root first.
        entities: per entity label (``View``, ``Genre``...), columns ``item, value``.
        item_links: per relationship type (``ALSO_BOUGHT``...), columns ``source, target``.
    """

    report: LoadReport
    ratings: pd.DataFrame = field(default_factory=lambda: _frame("user", "item", "rating", "ts"))
    items: pd.DataFrame = field(default_factory=lambda: _frame("id", "title", "description", "price"))
    brands: pd.DataFrame = field(default_factory=lambda: _frame("item", "brand"))
    categories: pd.DataFrame = field(default_factory=lambda: _frame("item", "path"))
    entities: dict[str, pd.DataFrame] = field(default_factory=dict)
    item_links: dict[str, pd.DataFrame] = field(default_factory=dict)


def _frame(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in columns})
