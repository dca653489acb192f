"""Ranking items with a trained :class:`~gnn.rating_model.RatingModel` against the graph in Neo4j.

The model scores every item; the graph says which items pass a brand or category filter, what else a user
has rated since training, and what to show for each item. :class:`ItemRanker` joins the two: the top-k of
known users, and the cold start of a user the model has never seen.

Example:
    >>> ranker = ItemRanker(model, store)                                  # doctest: +SKIP
    >>> [r.item for r in ranker.recommend(["U00001"], k=3)["U00001"]]      # doctest: +SKIP
    ['I00013', 'I00037', 'I00001']
    >>> ranker.recommend_for_new_user(brands=["Inkwell"], k=2)[0].card["brand"]   # doctest: +SKIP
    'Inkwell'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.errors import NotFoundError

if TYPE_CHECKING:
    from gnn.rating_model import RatingModel
    from kg import GraphStore, ItemCardRecord

__all__ = ["ItemRanker", "RankedItem"]

# How many known users stand in for a newcomer at most.
PEERS = 200


@dataclass(frozen=True)
class RankedItem:
    """One ranked item: its key, the model's score and the graph's display card (title, brand, categories)."""

    item: str
    score: float
    card: ItemCardRecord


class ItemRanker:
    """Top-k items from the model's scores, filtered and described by the graph.

    Only the model's public members are used: ``id_map``, ``score_items`` and ``training_items``.
    """

    def __init__(self, model: RatingModel, store: GraphStore) -> None:
        self.model = model
        self.store = store

    def recommend(
        self,
        users: Sequence[str],
        k: int = 10,
        exclude_seen: bool = True,
        brand: str | None = None,
        category: str | None = None,
    ) -> dict[str, list[RankedItem]]:
        """Top ``k`` items per known user: one encoder pass and one scoring matrix for all ``users``."""
        rows = self.model.id_map.rows("user", users)
        unknown = [u for u, r in zip(users, rows, strict=True) if r < 0]
        if unknown:
            raise NotFoundError(
                f"user {unknown[0]!r} is not in the trained model; use recommend_for_new_user"
            )
        scores = self.model.score_items(list(users))
        chosen = self.store.items_of(brand=brand, category=category)
        allowed = None if chosen is None else self.item_mask(chosen)
        return {u: self.top(scores[n], k, allowed, u if exclude_seen else None) for n, u in enumerate(users)}

    def recommend_for_new_user(
        self,
        ratings: Mapping[str, float] | None = None,
        brands: Sequence[str] = (),
        categories: Sequence[str] = (),
        k: int = 10,
    ) -> list[RankedItem]:
        """Cold start: rank items for someone the model has not seen, from a few ratings or stated tastes.

        Users who rated the given items alike (within one star) stand in for the newcomer; with no ratings,
        every known user does. Stated brands and categories restrict the candidates (all of the brands, any
        of the categories); the rated items are left out.
        """
        ratings = ratings or {}
        scores = self.model.score_items(self.peers(ratings)).mean(axis=0)
        allowed: set[str] | None = None
        for brand in brands:
            allowed = _narrow(allowed, self.store.items_of(brand=brand) or set())
        if categories:
            in_any = set().union(*(self.store.items_of(category=c) or set() for c in categories))
            allowed = _narrow(allowed, in_any)
        mask = np.ones(len(scores), dtype=bool) if allowed is None else self.item_mask(allowed)
        mask &= ~self.item_mask(ratings)
        return self.top(scores, k, mask)

    def peers(self, ratings: Mapping[str, float], limit: int = PEERS) -> list[str]:
        """Known users who rated the items of ``ratings`` alike, most agreements first.

        Without ratings, or when nobody agrees, an even sample of ``limit`` known users.
        """
        keys = self.model.id_map.keys("user")
        spread = list(keys[:: max(1, len(keys) // limit)])
        if not ratings:
            return spread
        votes: dict[str, int] = {}
        for item, rating in ratings.items():
            for row in self.store.users_rating_alike(item, float(rating), limit):
                votes[row["user"]] = votes.get(row["user"], 0) + 1
        known = set(keys)
        peers = [u for u, _ in sorted(votes.items(), key=lambda kv: -kv[1]) if u in known][:limit]
        return peers or spread

    def item_mask(self, items: Iterable[str]) -> np.ndarray:
        """Boolean mask over the model's item rows, true for the given keys it knows."""
        mask = np.zeros(self.model.id_map.num_nodes("item"), dtype=bool)
        rows = self.model.id_map.rows("item", list(items))
        mask[rows[rows >= 0]] = True
        return mask

    def top(
        self, scores: np.ndarray, k: int, mask: np.ndarray | None, unseen_by: str | None = None
    ) -> list[RankedItem]:
        """The ``k`` best-scored items under ``mask``, leaving out those ``unseen_by`` rated in the graph.

        The training ratings are left out here; the graph says what else the user has rated (held-out
        ratings, ratings loaded since training), in the same query that fetches the display cards: the
        best candidates go in, the unrated ones come back. The first try sends ``k`` plus a quarter of
        the user's training ratings (the held-out share of a default split), so it is nearly always the
        only one; a retry asks for four times as many.
        """
        keys = self.model.id_map.keys("item")
        scores = np.array(scores, dtype=float)
        if mask is not None:
            scores[~mask] = -np.inf
        wanted = k
        if unseen_by is not None:
            trained_on = self.model.training_items(unseen_by)
            scores[trained_on] = -np.inf
            wanted += len(trained_on) // 4
        available = int(np.isfinite(scores).sum())
        while True:
            n = min(wanted, available)
            if n <= 0:
                return []
            best = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
            best = best[np.lexsort((best, -scores[best]))]  # ties by row: the same list every time
            cards = self.store.item_cards([keys[i] for i in best], unseen_by=unseen_by)
            picked = [i for i in best if keys[i] in cards][:k]
            if len(picked) == k or n == available:
                break
            wanted = 4 * wanted
        return [RankedItem(item=keys[i], score=float(scores[i]), card=cards[keys[i]]) for i in picked]


def _narrow(current: set[str] | None, chosen: set[str]) -> set[str]:
    return chosen if current is None else current & chosen
