"""How each (user, item) pair is served: the one place that decides between the network and the fallbacks.

A user is known when it had training ratings; an item when it had them (``warm``) or borrowed parameters from
its graph neighbours (``filled``). A pair with both known is scored by the blend (source ``model``, or
``neighbours`` for a filled item); otherwise by the bias fallback ``mu + b_u + b_i`` with only the known
side's bias (``bias``), or by the global mean when neither side is known (``global``).

Example:
    >>> import numpy as np
    >>> cover = Coverage(np.array([True, False]), np.array([True, False, False]), np.array([False, True, False]))
    >>> routes = route_pairs(cover, np.array([0, 0, 1, -1]), np.array([0, 1, 2, 0]))
    >>> routes.sources().tolist()
    ['model', 'neighbours', 'global', 'bias']
    >>> routes.counts().bias_fallback
    1
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.kinds import PredictionSource
from gnn.params import BiasParams, Coverage, RatingRange
from gnn.records import ColdStartCounts

__all__ = [
    "ItemRoutes",
    "PairRoutes",
    "UserRoutes",
    "fallback_rating",
    "route_items",
    "route_pairs",
    "route_users",
]


@dataclass(frozen=True)
class UserRoutes:
    """Per user: ``known`` (had training ratings), and ``rows`` safe to gather with (0 where not known)."""

    rows: np.ndarray
    known: np.ndarray

    def bias(self, bias: BiasParams) -> np.ndarray:
        """The user bias where known, else 0."""
        return np.where(self.known, bias.user[self.rows], 0.0)


@dataclass(frozen=True)
class ItemRoutes:
    """Per item: ``warm`` (had training ratings), ``filled`` (borrowed from neighbours), and ``rows`` safe to
    gather with (0 where neither)."""

    rows: np.ndarray
    warm: np.ndarray
    filled: np.ndarray

    @property
    def known(self) -> np.ndarray:
        return self.warm | self.filled

    def bias(self, bias: BiasParams) -> np.ndarray:
        """The item bias where known, else 0."""
        return np.where(self.known, bias.item[self.rows], 0.0)


def route_users(coverage: Coverage, rows: np.ndarray) -> UserRoutes:
    """Routes of user rows (``-1`` for a key the model does not hold)."""
    known = (rows >= 0) & coverage.warm_user[np.maximum(rows, 0)]
    return UserRoutes(np.where(known, rows, 0), known)


def route_items(coverage: Coverage, rows: np.ndarray) -> ItemRoutes:
    """Routes of item rows (``-1`` for a key the model does not hold)."""
    warm = (rows >= 0) & coverage.warm_item[np.maximum(rows, 0)]
    filled = (rows >= 0) & coverage.filled_item[np.maximum(rows, 0)]
    return ItemRoutes(np.where(warm | filled, rows, 0), warm, filled)


@dataclass(frozen=True)
class PairRoutes:
    """Routes of parallel user and item rows ``[B]``."""

    user: UserRoutes
    item: ItemRoutes

    @property
    def network(self) -> np.ndarray:
        """Pairs the blend serves (sources in :data:`core.kinds.NETWORK_SOURCES`)."""
        return self.user.known & self.item.known

    def fallback(self, bias: BiasParams, rating_range: RatingRange) -> np.ndarray:
        """The bias fallback of every pair (for a pair the blend serves, the bias part)."""
        return fallback_rating(bias, rating_range, self.user.bias(bias), self.item.bias(bias))

    def sources(self) -> np.ndarray:
        """The :class:`core.kinds.PredictionSource` value of each pair, as strings."""
        full = self.network
        known = self.user.known | self.item.known
        chosen = [PredictionSource.MODEL, PredictionSource.NEIGHBOURS, PredictionSource.BIAS]
        return np.select([full & self.item.warm, full, known], chosen, default=PredictionSource.GLOBAL)

    def counts(self) -> ColdStartCounts:
        user_ok, item_ok = self.user.known, self.item.known
        return ColdStartCounts(
            pairs=len(user_ok),
            cold_users=int((~user_ok).sum()),
            cold_items=int((~self.item.warm).sum()),
            from_neighbours=int((user_ok & self.item.filled).sum()),
            bias_fallback=int((user_ok ^ item_ok).sum()),
            global_mean=int((~user_ok & ~item_ok).sum()),
        )


def route_pairs(coverage: Coverage, users: np.ndarray, items: np.ndarray) -> PairRoutes:
    """Routes of pairs given as parallel user and item rows ``[B]`` (``-1`` for unknown keys)."""
    return PairRoutes(route_users(coverage, users), route_items(coverage, items))


def fallback_rating(
    bias: BiasParams, rating_range: RatingRange, user_bias: np.ndarray, item_bias: np.ndarray
) -> np.ndarray:
    """``mu + b_u + b_i`` clipped, from the biases :meth:`UserRoutes.bias` and :meth:`ItemRoutes.bias` give
    (broadcast: parallel ``[B]`` for pairs, ``[U, 1]`` and ``[1, I]`` for a ranking grid)."""
    return rating_range.clip(bias.mu + user_bias + item_bias)
