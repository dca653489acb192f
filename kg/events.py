"""Shopper events in the graph: the idempotent batched write behind ``POST /events`` and the reads that fold
what a user did since training into serving (see :mod:`kg.queries.events` for the statements).

Every function takes the one :class:`~kg.store.GraphStore` of the process.

Example:
    >>> ensure_event_schema(store)                                                    # doctest: +SKIP
    >>> row = {"id": "e1", "user": "U1", "item": "I1", "kind": "view", "value": None, "ts": 0}
    >>> record_events(store, [row]).written                                           # doctest: +SKIP
    ['e1']
    >>> record_events(store, [row]).duplicates                                        # doctest: +SKIP
    ['e1']
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict, cast

import kg.queries as q
from core.errors import InputError
from core.schema import EVENT, EVENT_RELS
from kg.store import GraphStore

__all__ = [
    "EventRow",
    "EventWrite",
    "InteractionRecord",
    "RatingScale",
    "StoredEventRecord",
    "ensure_event_schema",
    "event_items",
    "graph_answers",
    "rating_scale",
    "record_events",
    "remove_implicit_events",
    "stored_events",
    "user_event_interactions",
]


class EventRow(TypedDict):
    """One event to write: ``kind`` is a :class:`core.kinds.EventKind` value, ``rating`` (with ``value``),
    ``view``, ``cart`` or ``purchase``;
    ``ts`` when it happened (epoch seconds)."""

    id: str
    user: str
    item: str
    kind: str
    value: float | None
    ts: int


class StoredEventRecord(TypedDict):
    id: str
    kind: str
    user: str
    item: str


class InteractionRecord(TypedDict):
    """An item a user's events touched: the relationship ``type``, the rating or the count, and when the
    service last committed to it (``recorded``, epoch seconds)."""

    item: str
    type: str
    rating: float | None
    count: int | None
    recorded: float


@dataclass(frozen=True)
class EventWrite:
    """What one write did: ids ``written`` now, ids already stored (``duplicates``: nothing changed) and
    ids whose item the graph does not hold (``unknown_item``: not written)."""

    written: list[str]
    duplicates: list[str]
    unknown_item: list[str]


@dataclass(frozen=True)
class RatingScale:
    """The scale a rating sent to the service must be on (:func:`rating_scale`).

    Example:
        >>> RatingScale(1.0, 5.0).check(1e6, "events[0].value")
        Traceback (most recent call last):
        ...
        core.errors.InputError: events[0].value: 1e+06 is not on the graph's rating scale 1-5
    """

    low: float
    high: float

    def check(self, value: float, field: str) -> None:
        """An :class:`InputError` naming ``field`` unless ``value`` is a finite number on the scale."""
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise InputError(
                f"{field}: {value:g} is not on the graph's rating scale {self.low:g}-{self.high:g}"
            )


def rating_scale(store: GraphStore) -> RatingScale:
    """The graph's rating scale: from its lowest to its highest loaded rating (ratings written by events left
    out, so that none widens it), and never narrower than 1-5, the loaders' default scale (a graph of
    implicit feedback, all 5 stars, still takes 1-5). A few index reads with :func:`ensure_event_schema`'s
    index."""
    rows = store.read(q.RATING_SCALE)
    low, high = (rows[0]["low"], rows[0]["high"]) if rows else (1.0, 5.0)
    return RatingScale(min(1.0, float(low)), max(5.0, float(high)))


def ensure_event_schema(store: GraphStore) -> None:
    """The uniqueness constraint on event ids that makes a concurrent retry find the first write, and the
    index that reads the rating scale (:func:`rating_scale`)."""
    store.write_query(q.create_key_constraint(EVENT))
    store.write_query(q.CREATE_RATING_INDEX)


def record_events(store: GraphStore, rows: Sequence[EventRow]) -> EventWrite:
    """Write ``rows`` (ids unique among them) in one transaction; an id already stored changes nothing.

    Returns only once the transaction has committed.
    """
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError("event ids must be unique within one write")
    known = {r["item"] for r in store.read(q.EXISTING_ITEMS, {"items": sorted({r["item"] for r in rows})})}
    unknown = [r["id"] for r in rows if r["item"] not in known]
    sent = [r for r in rows if r["item"] in known]
    params = {"rows": [dict(r) for r in sent], "batch": uuid.uuid4().hex}
    written = {r["id"] for r in store.write_query(q.RECORD_EVENTS, params)} if sent else set()
    return EventWrite(
        written=[r["id"] for r in sent if r["id"] in written],
        duplicates=[r["id"] for r in sent if r["id"] not in written],
        unknown_item=unknown,
    )


def remove_implicit_events(store: GraphStore, ids: Sequence[str]) -> int:
    """Undo the views, carts and purchases among ``ids`` (their counts down by one, the event nodes
    deleted); returns how many events went. For a benchmark's own traffic: ratings are not undone."""
    params = {
        "ids": list(ids),
        "kinds": [str(kind) for kind in EVENT_RELS],
        "types": {str(kind): rel.type for kind, rel in EVENT_RELS.items()},
    }
    return int(store.write_query(q.REMOVE_IMPLICIT_EVENTS, params)[0]["n"])


def stored_events(store: GraphStore, ids: Sequence[str]) -> list[StoredEventRecord]:
    """The stored events among ``ids``."""
    return cast(list[StoredEventRecord], store.read(q.STORED_EVENTS, {"ids": list(ids)}))


def user_event_interactions(store: GraphStore, user: str) -> list[InteractionRecord]:
    """Every relationship of ``user`` that an event wrote (ratings included), with its commit time."""
    return cast(list[InteractionRecord], store.read(q.USER_EVENT_INTERACTIONS, {"user": user}))


def event_items(store: GraphStore, user: str) -> list[dict[str, object]]:
    """The user's views, carts and purchases: ``item``, ``type``, ``count``, ``last``."""
    return store.read(q.EVENT_ITEMS, {"user": user})


def graph_answers(store: GraphStore) -> bool:
    """Whether the database answers a query now (the readiness probe); never raises."""
    try:
        return bool(store.read(q.GRAPH_ANSWERS)[0]["ok"])
    except Exception:  # any failure to answer means "not ready", which is what the probe reports
        return False
