"""``POST /events``: a batch of shopper events to Neo4j, acknowledged only once committed.

The batch is one transaction (:func:`kg.events.record_events`): idempotent by event id, so a client that
lost the answer (a timeout, a killed server) sends the same batch again and nothing counts twice. Events on
an item the graph does not hold are refused one by one, the rest of the batch is written. A rating off the
graph's rating scale (:func:`kg.events.rating_scale`) refuses the whole batch (422, naming the event's
field), as a malformed event does; :func:`require_on_scale` holds a newcomer's ratings to the same scale.
An event's ``ts`` is stored as sent, 0 included; only an event without one is stamped with the time the
service received it.

Example:
    >>> from kgrec.service.schemas import EventIn
    >>> batch = EventBatch(events=[EventIn(id="e1", user="U1", item="I1", kind="view")])
    >>> [row["kind"] for row in event_rows(batch, now=0)]
    ['view']
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from kg import EventRow, GraphStore
from kg.events import rating_scale, record_events
from kgrec.service.metrics import ServiceMetrics
from kgrec.service.schemas import EventBatch, EventReceipt, Rejected

__all__ = ["event_rows", "ingest", "require_on_scale"]


def event_rows(batch: EventBatch, now: int) -> list[EventRow]:
    """The batch as rows to write, the first of each repeated id kept; ``ts`` defaults to ``now`` (a ``ts``
    of 0 is a time sent, and kept)."""
    rows: dict[str, EventRow] = {}
    for e in batch.events:
        ts = now if e.ts is None else e.ts
        rows.setdefault(
            e.id,
            {"id": e.id, "user": e.user, "item": e.item, "kind": str(e.kind), "value": e.value, "ts": ts},
        )
    return list(rows.values())


def require_on_scale(store: GraphStore, ratings: Sequence[tuple[str, float]]) -> None:
    """An :class:`~core.errors.InputError` (422) naming the first ``(field, rating)`` off the graph's rating
    scale; the scale is read only when there is a rating to check."""
    if ratings:
        scale = rating_scale(store)
        for field, value in ratings:
            scale.check(value, field)


def ingest(store: GraphStore, batch: EventBatch, metrics: ServiceMetrics) -> EventReceipt:
    """Write ``batch`` and say what became of each event."""
    require_on_scale(
        store,
        [(f"events[{n}].value", e.value) for n, e in enumerate(batch.events) if e.value is not None],
    )
    rows = event_rows(batch, int(time.time()))
    done = record_events(store, rows)
    kinds = {r["id"]: r["kind"] for r in rows}
    for event_id in done.written:
        metrics.events.labels(kinds[event_id]).inc()
    metrics.duplicates.inc(len(done.duplicates) + len(batch.events) - len(rows))
    if done.unknown_item:
        metrics.rejected.labels("unknown_item").inc(len(done.unknown_item))
    first: set[str] = set()
    repeats = []
    for e in batch.events:
        if e.id in first:
            repeats.append(e.id)
        first.add(e.id)
    return EventReceipt(
        accepted=done.written,
        duplicates=done.duplicates + repeats,
        rejected=[Rejected(id=i, reason="unknown item") for i in done.unknown_item],
    )
