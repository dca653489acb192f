"""Named kinds that cross layers: what a shopper event is, what a justifying path walks through, and how a
prediction was served.

Both are ``StrEnum`` so they serialise as the plain strings that JSON output, Cypher results and saved
reports have always carried.

Example:
    >>> PathKind.SIMILAR_USERS == "similar_users"
    True
    >>> item_link_kind("ALSO_BOUGHT") is PathKind.ALSO_BOUGHT
    True
    >>> item_link_kind("SAME_AUTHOR")
    'same_author'
    >>> PredictionSource.NEIGHBOURS in NETWORK_SOURCES
    True
    >>> EventKind("purchase") is EventKind.PURCHASE
    True
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["NETWORK_SOURCES", "EventKind", "PathKind", "PredictionSource", "item_link_kind"]


class EventKind(StrEnum):
    """An event's ``kind``, the one name it has from the HTTP body (``POST /events``) to the graph's event
    node; :data:`core.schema.EVENT_RELS` maps each implicit one to the relationship it writes."""

    RATING = "rating"
    """A rating, with its ``value``."""
    VIEW = "view"
    CART = "cart"
    PURCHASE = "purchase"


class PathKind(StrEnum):
    """What a justifying path goes through. A dataset's own item links add kinds (see ``item_link_kind``)."""

    BRAND = "brand"
    CATEGORY = "category"
    PARENT_CATEGORY = "parent_category"
    ALSO_BOUGHT = "also_bought"
    ALSO_VIEWED = "also_viewed"
    SIMILAR_USERS = "similar_users"
    ENTITY = "entity"
    USER_LINK = "user_link"
    """Through a user linked to the user (a friend, a nearest neighbour) who rated the item."""
    USER_ENTITY = "user_entity"
    """Through a user who shares a user entity with the user (the same city, age band...) and rated the item."""


def item_link_kind(rel_type: str) -> str:
    """The path kind of an item-to-item link: the member for core links, the lower-cased type otherwise."""
    kind = rel_type.lower()
    return PathKind(kind) if kind in PathKind._value2member_map_ else kind


class PredictionSource(StrEnum):
    """How a predicted rating was served, from most to least informed."""

    MODEL = "model"
    """The blend, for a user and item the model was trained on."""
    NEIGHBOURS = "neighbours"
    """The blend, for an item unseen in training, placed from its graph neighbours."""
    BIAS = "bias"
    """Global mean plus whichever of the user and item biases is known."""
    GLOBAL = "global"
    """The global mean: neither the user nor the item is known."""


NETWORK_SOURCES = frozenset({PredictionSource.MODEL, PredictionSource.NEIGHBOURS})
"""Sources whose prediction goes through the network (and so can be explained by removing edges)."""
