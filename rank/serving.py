"""Serving the fused ranking against the graph in Neo4j.

The :class:`~rank.ranker.Ranker` orders its catalogue for the users it was trained on, leaving out their
training items; the graph says the rest: which items pass a brand or category filter, what else a user has
rated since training (held-out ratings, ratings loaded later), what to show for each item, and what a user
the ranker has never seen rated. :class:`FusedServing` joins the two.

- A user the ranker knows: :meth:`Ranker.rank` with the filters as its ``allowed`` mask; the graph's
  seen-filter is applied to that ranking (the first ``k`` of it the user has not rated in the graph: one
  indexed read for the users ranked together, :meth:`kg.GraphStore.rated_among`). So the served list is
  exactly the fused ranking the metrics measure, less what the graph says the user has already taken.
- A user in the graph but not in the ranker: :meth:`Ranker.rank_new` from the items the graph says they
  rated. A user the graph does not hold either is a :class:`~core.errors.NotFoundError`.
- A newcomer known by a few ratings, or by stated brands and categories: :meth:`Ranker.rank_new` with the
  rated items, the stated tastes as the ``allowed`` mask; with neither, ``rank_new([])`` (what the models do
  without any interaction: mostly popularity).

Each served item carries its fusion score and the rating model's predicted stars (``ranker.rating``), and
its display card (title, brand, categories) from :class:`ItemCards`: read from the graph once per item and
kept ``CARD_SECONDS``, so a batch of lists costs one read of the graph (the seen-filter) once its cards are
known.

Example:
    >>> serving = FusedServing(ranker, store)                               # doctest: +SKIP
    >>> [s.item for s in serving.recommend(["U00001"], k=3)["U00001"]]      # doctest: +SKIP
    ['I00013', 'I00037', 'I00001']
    >>> serving.recommend_for_new_user(brands=["Inkwell"], k=2)[0].card["brand"]   # doctest: +SKIP
    'Inkwell'
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import NotFoundError
from gnn import serving_threads
from kg import GraphStore, ItemCardRecord
from rank.ranker import Ranker

__all__ = ["CARD_SECONDS", "FusedServing", "ItemCards", "ServedItem"]

CARD_SECONDS = 300.0
"""How long a display card read from the graph is reused: a title or brand a later load changes shows
within this long in a long-running process (``kgrec serve``); the seen-filter is read fresh every time."""


@dataclass(frozen=True)
class ServedItem:
    """One served item: its key, the fusion score that ranked it, the rating model's predicted stars for the
    pair (``None`` where it cannot say) and the graph's display card (title, brand, categories)."""

    item: str
    score: float
    predicted_rating: float | None
    card: ItemCardRecord


@dataclass(frozen=True)
class _Pick:
    item: str
    score: float
    card: ItemCardRecord


class ItemCards:
    """Display cards by item key, each read from the graph at most once per ``seconds``; an item the graph
    does not hold has none (and is not served). Safe to share between threads: the worst a race does is
    read a card twice."""

    def __init__(self, store: GraphStore, seconds: float = CARD_SECONDS) -> None:
        self.store = store
        self.seconds = seconds
        self._cards: dict[str, tuple[float, ItemCardRecord | None]] = {}

    def get(self, items: Sequence[str]) -> dict[str, ItemCardRecord]:
        """The cards of ``items`` the graph holds (one read for those not known or out of date)."""
        now = time.monotonic()
        stale = [i for i in items if (c := self._cards.get(i)) is None or now - c[0] > self.seconds]
        if stale:
            found = self.store.item_cards(stale)
            self._cards.update((i, (now, found.get(i))) for i in stale)
        return {i: card for i in items if (card := self._cards[i][1]) is not None}


class FusedServing:
    """The fused top-k of :class:`Ranker`, filtered and described by the graph."""

    def __init__(self, ranker: Ranker, store: GraphStore) -> None:
        self.ranker = ranker
        self.store = store
        self.cards = ItemCards(store)

    def recommend(
        self,
        users: Sequence[str],
        k: int = 10,
        exclude_seen: bool = True,
        brand: str | None = None,
        category: str | None = None,
    ) -> dict[str, list[ServedItem]]:
        """Top ``k`` items per user, optionally only of a brand and/or category (with its subcategories).

        Training items are always left out; with ``exclude_seen`` also what the graph says the user has
        rated since. Raises :class:`NotFoundError` for a user the graph does not hold.
        """
        data = self.ranker.trained_data()
        users = [str(u) for u in users]
        rows = data.user_rows(users)
        known = list(dict.fromkeys(u for u, r in zip(users, rows, strict=True) if r >= 0))
        strangers = list(dict.fromkeys(u for u, r in zip(users, rows, strict=True) if r < 0))
        taken = {u: self._graph_taken(u) for u in strangers}
        chosen = self.store.items_of(brand=brand, category=category)
        allowed = None if chosen is None else self.item_mask(chosen)
        with serving_threads():
            picks = self._known(known, k, allowed, exclude_seen) if known else {}
            # what they rated is left out already
            placed = {user: self.ranker.rank_new(taken[user], k, allowed) for user in strangers}
            keys = {user: self._keys(ranked.items[0]) for user, ranked in placed.items()}
            seen = self._seen(keys) if exclude_seen else {}
            for user, ranked in placed.items():
                picks[user] = self._filtered(keys[user], ranked.items[0], ranked.scores[0], k, seen.get(user))
            served = self._with_ratings(picks)
        return {u: served[u] for u in users}

    def recommend_for_new_user(
        self,
        ratings: Mapping[str, float] | None = None,
        brands: Sequence[str] = (),
        categories: Sequence[str] = (),
        k: int = 10,
    ) -> list[ServedItem]:
        """Cold start: the fused ranking of a newcomer known by the items of ``ratings`` (those rated at least
        ``RankConfig.min_rating`` when it is set), which are left out. Stated ``brands`` and ``categories``
        restrict the catalogue (any of the brands, and any of the categories); with nothing given, what the
        models rank for someone without interactions (mostly popularity)."""
        allowed: set[str] | None = None
        if brands:
            allowed = set().union(*(self.store.items_of(brand=b) or set() for b in brands))
        if categories:
            in_any = set().union(*(self.store.items_of(category=c) or set() for c in categories))
            allowed = in_any if allowed is None else allowed & in_any
        mask = None if allowed is None else self.item_mask(allowed)
        floor = self.ranker.config.min_rating
        taken = [i for i, r in (ratings or {}).items() if floor is None or float(r) >= floor]
        with serving_threads():
            ranked = self.ranker.rank_new(taken, k, mask)
            keys = self._keys(ranked.items[0])
            picks = self._filtered(keys, ranked.items[0], ranked.scores[0], k, None)
            return self._with_ratings({"": picks})[""]

    def item_mask(self, items: Iterable[str]) -> np.ndarray:
        """Boolean mask over the ranker's catalogue, true for the given keys it holds."""
        data = self.ranker.trained_data()
        mask = np.zeros(data.n_items, dtype=bool)
        cols = data.item_rows(list(items))
        mask[cols[cols >= 0]] = True
        return mask

    def _graph_taken(self, user: str) -> list[str]:
        """What the graph says a user the ranker does not know has rated (the interactions ``rank_new``
        places them by); a :class:`NotFoundError` when the graph does not hold the user."""
        rated = self.store.rated_items(user)
        if rated.empty and not self.store.has_user(user):
            raise NotFoundError(f"user {user!r} is not in the graph")
        floor = self.ranker.config.min_rating
        if floor is not None:
            rated = rated[rated["rating"] >= floor]
        return [str(i) for i in rated["item"]]

    def _known(
        self, users: list[str], k: int, allowed: np.ndarray | None, exclude_seen: bool
    ) -> dict[str, list[_Pick]]:
        """The first ``k`` of each known user's fused ranking that pass the graph's seen-filter.

        The first try ranks ``k`` plus a quarter of the busiest user's training interactions (the held-out
        share of a default split), so it is nearly always the only one; users still short of ``k`` are
        ranked again four times as deep, until their candidates run out.
        """
        data = self.ranker.trained_data()
        counts = np.diff(data.matrix.indptr)[data.user_rows(users)]
        depth = k + (int(counts.max()) // 4 if exclude_seen else 0)
        picks: dict[str, list[_Pick]] = {}
        pending = users
        while pending:
            depth = min(depth, data.n_items)
            ranked = self.ranker.rank(pending, depth, allowed=allowed)
            keys = {user: self._keys(ranked.items[n]) for n, user in enumerate(pending)}
            seen = self._seen(keys) if exclude_seen else {}
            short = []
            for n, user in enumerate(pending):
                picked = self._filtered(keys[user], ranked.items[n], ranked.scores[n], k, seen.get(user))
                exhausted = depth >= data.n_items or bool((ranked.items[n] < 0).any())
                if len(picked) < k and not exhausted:
                    short.append(user)
                else:
                    picks[user] = picked
            pending, depth = short, 4 * depth
        return picks

    def _keys(self, cols: np.ndarray) -> list[str]:
        """The item keys of ranked columns (``-1`` padding left out)."""
        keys = self.ranker.trained_data().item_keys
        return [str(keys[c]) for c in cols[cols >= 0]]

    def _seen(self, ranked: dict[str, list[str]]) -> dict[str, set[str]]:
        """The graph's seen-filter of every user's ranked keys, in one read (:meth:`kg.GraphStore.rated_among`)."""
        asked = {user: keys for user, keys in ranked.items() if keys}
        return self.store.rated_among(asked) if asked else {}

    def _filtered(
        self, ranked: list[str], cols: np.ndarray, scores: np.ndarray, k: int, seen: set[str] | None
    ) -> list[_Pick]:
        """The first ``k`` of the ``ranked`` keys (of the columns ``cols``) whose items the graph shows and
        that are not ``seen``."""
        seen = seen or set()
        fresh = [(i, float(s)) for i, s in zip(ranked, scores[cols >= 0], strict=True) if i not in seen]
        picks: list[_Pick] = []
        while len(picks) < k and fresh:  # more than once only when the graph lacks a ranked item
            chosen, fresh = fresh[: k - len(picks)], fresh[k - len(picks) :]
            cards = self.cards.get([i for i, _ in chosen])
            picks += [_Pick(i, s, cards[i]) for i, s in chosen if i in cards]
        return picks

    def _with_ratings(self, picks: dict[str, list[_Pick]]) -> dict[str, list[ServedItem]]:
        """The picks with the rating model's predicted stars, one call per user with just their items (so
        a user's stars do not depend on who else is in the batch)."""
        rating = self.ranker.rating
        served: dict[str, list[ServedItem]] = {}
        for user, chosen in picks.items():
            items = np.asarray([p.item for p in chosen], dtype=str)
            stars = np.full(len(items), np.nan)
            if rating is not None and len(items):
                stars = np.asarray(rating([user], items), dtype=np.float64)[0]
            served[user] = [
                ServedItem(p.item, p.score, _stars(s), p.card) for p, s in zip(chosen, stars, strict=True)
            ]
        return served


def _stars(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
