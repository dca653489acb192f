"""What a user has already taken, as serving's seen-filter asks it: one indexed read per list.

Example:
    >>> rated_among(store, "U00001", ["I00013", "I00037"])   # doctest: +SKIP
    {'I00037'}
"""

from __future__ import annotations

from collections.abc import Sequence

import kg.queries as q
from kg.store import GraphStore

__all__ = ["rated_among"]


def rated_among(store: GraphStore, user: str, items: Sequence[str]) -> set[str]:
    """Those of ``items`` that ``user`` has rated in the graph (however long the user's history is, the read
    returns at most ``len(items)`` keys)."""
    return {r["item"] for r in store.read(q.RATED_AMONG, {"user": user, "items": list(items)})}
