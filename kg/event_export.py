"""Shopper events in the training export: the views, carts and purchases the HTTP service stored, one frame
per relationship type, so that ``kgrec train`` learns from them (:attr:`kg.GraphExport.events`).

The rating model does not read them (it trains on ``RATED``, whose stars it predicts); the ranker counts
them as interactions by the rule of :func:`rank.interactions.with_events`.

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"type": ["PURCHASED", "VIEWED", "VIEWED"], "user": ["u", "u", "v"],
    ...                      "item": ["a", "b", "a"], "count": [1, 3, 1], "ts": [50, 70, 0]})
    >>> frames = event_frames(rows)
    >>> sorted(frames)
    ['CARTED', 'PURCHASED', 'VIEWED']
    >>> frames["VIEWED"].to_dict("list")
    {'user': ['u', 'v'], 'item': ['b', 'a'], 'count': [3, 1], 'ts': [70, 0]}
    >>> frames["CARTED"].empty
    True
"""

from __future__ import annotations

import pandas as pd

from core.schema import EVENT_RELS

__all__ = ["EVENT_COLUMNS", "event_frames"]

EVENT_COLUMNS = ["type", "user", "item", "count", "ts"]
"""What :data:`kg.queries.EXPORT_EVENTS` returns: the relationship type, user and item keys, how many events
the pair had, and the latest one's time (``ts``, epoch seconds, 0 when unknown)."""


def event_frames(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split the rows of :data:`kg.queries.EXPORT_EVENTS` into one frame per event relationship type
    (``VIEWED``, ``CARTED``, ``PURCHASED``; every type present, maybe empty) with ``user``, ``item``,
    ``count`` (int) and ``ts`` (int)."""
    out: dict[str, pd.DataFrame] = {}
    for rel in EVENT_RELS.values():
        part = rows[rows["type"] == rel.type]
        out[rel.type] = pd.DataFrame(
            {
                "user": part["user"].astype(str).to_numpy(),
                "item": part["item"].astype(str).to_numpy(),
                "count": part["count"].to_numpy(dtype="int64"),
                "ts": part["ts"].to_numpy(dtype="int64"),
            }
        )
    return out
