"""What serving reads per request: a user's ratings and which of a list they have taken, the items of a
brand or category, display cards and report facts, a user's leanings, raters alike, and whether a user or
an item exists. Mixed into :class:`kg.GraphStore`; one indexed read each.

Example:
    >>> store.rated_among({"U00001": ["I00013", "I00037"]})   # doctest: +SKIP
    {'U00001': {'I00037'}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

import pandas as pd

import kg.queries as q
from core.errors import InputError
from core.schema import ITEM, USER, RelType, Schema
from kg.records import ItemCardRecord, ItemFactsRecord, LeaningRecord, RaterRecord
from loaders.records import category_key, split_category

__all__ = ["ServingReads"]


class _Store(Protocol):
    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def schema(self) -> Schema: ...

    def check_category_keys(self) -> None: ...


class ServingReads:
    """The per-request reads of recommend, explain, search and the service."""

    def rated_items(self: _Store, user: str) -> pd.DataFrame:
        """The user's ratings: columns ``item, rating, ts``."""
        return pd.DataFrame(self.read(q.RATED_BY_USER, {"user": user}), columns=["item", "rating", "ts"])

    def rated_among(self: _Store, lists: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
        """Per user of ``lists``, those of their items they have rated in the graph: serving's seen-filter,
        one indexed read for a batch of lists (however long a user's history is, it returns at most the
        keys asked about)."""
        asked = [{"user": user, "items": list(items)} for user, items in lists.items()]
        seen: dict[str, set[str]] = {user: set() for user in lists}
        for r in self.read(q.RATED_AMONG, {"lists": asked}):
            seen[r["user"]].add(r["item"])
        return seen

    def items_of(self: _Store, brand: str | None = None, category: str | None = None) -> set[str] | None:
        """Item keys of a brand and/or a category with its subcategories (``category``: a name, meaning every
        category of that name, or a path from the root, ``A > B``); ``None`` when unfiltered."""
        chosen: set[str] | None = None
        if brand is not None:
            chosen = {r["item"] for r in self.read(q.ITEMS_OF_BRAND, {"brand": brand})}
            if not chosen:
                raise InputError(f"no item of brand {brand!r} in the graph")
        if category is not None:
            self.check_category_keys()
            params = {"path": category_key(split_category(category)), "name": category}
            in_category = {r["item"] for r in self.read(q.ITEMS_IN_CATEGORY, params)}
            if not in_category:
                raise InputError(f"no item in a category named or pathed {category!r} in the graph")
            chosen = in_category if chosen is None else chosen & in_category
        return chosen

    def item_cards(self: _Store, items: Sequence[str]) -> dict[str, ItemCardRecord]:
        """Title, brand and categories per item key, for display; items the graph lacks are absent."""
        rows = cast(list[ItemCardRecord], self.read(q.ITEM_CARDS, {"items": list(items)}))
        return {r["item"]: r for r in rows}

    def leanings(self: _Store, user: str, limit: int = 10) -> dict[RelType, list[LeaningRecord]]:
        """Per item-to-entity relationship of the schema (brand, category, any further entity type): the
        nodes the user's rated items reach, most-rated first, with ``name``, ``ratings``, ``mean_rating``."""
        params = {"user": user, "limit": limit}
        reached = [r for r in self.schema().rel_types if r.source == ITEM and r.target not in (ITEM, USER)]
        return {rel: cast(list[LeaningRecord], self.read(q.user_leaning(rel), params)) for rel in reached}

    def users_rating_alike(self: _Store, item: str, rating: float, limit: int = 200) -> list[RaterRecord]:
        """Users who rated ``item`` within one star of ``rating``."""
        params = {"item": item, "rating": rating, "limit": limit}
        return cast(list[RaterRecord], self.read(q.USERS_RATING_ALIKE, params))

    def top_raters(self: _Store, limit: int = 10) -> list[str]:
        """The users with the most ratings."""
        return [r["user"] for r in self.read(q.TOP_RATERS, {"limit": limit})]

    def has_user(self: _Store, user: str) -> bool:
        return bool(self.read(q.USER_EXISTS, {"user": user})[0]["n"])

    def has_item(self: _Store, item: str) -> bool:
        return bool(self.read(q.ITEM_EXISTS, {"item": item})[0]["n"])

    def item_facts(self: _Store, items: Sequence[str]) -> dict[str, ItemFactsRecord]:
        """Name, brands and categories per item key, for reports; items the graph lacks are absent."""
        rows = self.read(q.ITEM_FACTS, {"items": list(dict.fromkeys(items))})
        return {
            r["item"]: {"name": r["name"], "brands": r["brands"], "categories": r["categories"]} for r in rows
        }
