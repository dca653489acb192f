"""Lists and explanations already worked out, answered again while nothing they depend on has changed.

An entry is keyed by the serving model's version and the request (user, ``k``, filters; or user, item,
``top``), and remembers the user's events as the graph held them when it was worked out (the read the
fold-in makes anyway, :func:`kg.events.user_event_interactions`). It is answered again only while the model
version and those events are the same and it is younger than ``KGREC_CACHE_SECONDS``. So the user's own
event reaches their next answer at once, on every worker of ``kgrec serve --workers N`` (each reads the
graph), and within that many seconds what no event of theirs records: ratings loaded by ``kgrec load`` in
another process, other users' events (an explanation's similar shoppers). Titles and brands are kept apart,
for ``rank.serving.CARD_SECONDS``. ``KGREC_CACHE_SECONDS=0`` turns it off. Beyond ``KGREC_CACHE_ENTRIES``
entries (lists and explanations each) the least recently used go first. Hits and misses are counted in ``kgrec_cache_requests_total{cache,result}``.

Example:
    >>> from prometheus_client import CollectorRegistry, Counter
    >>> counter = Counter("c", "c", ["cache", "result"], registry=CollectorRegistry())
    >>> cache: ResponseCache[str] = ResponseCache("lists", 60.0, 10, counter)
    >>> cache.get(("v1", "U1"), stamp=()) is None
    True
    >>> cache.put(("v1", "U1"), (), "a list")
    >>> cache.get(("v1", "U1"), stamp=())
    'a list'
    >>> cache.get(("v1", "U1"), stamp=(("I9", "VIEWED", 1),)) is None   # the user did something since
    True
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from prometheus_client import Counter

from kg.events import InteractionRecord

__all__ = ["ResponseCache", "events_stamp"]

T = TypeVar("T")


def events_stamp(events: Sequence[InteractionRecord]) -> tuple[Hashable, ...]:
    """What a cached answer must find unchanged of the user's events: each relationship an event wrote, with
    its count, rating and commit time."""
    return tuple(sorted((e["item"], e["type"], e["count"], e["rating"], e["recorded"]) for e in events))


class ResponseCache(Generic[T]):
    """A bounded, thread-safe map from request to answer; see the module docstring for when one is reused."""

    def __init__(
        self,
        name: str,
        seconds: float,
        size: int,
        counter: Counter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._hits = counter.labels(name, "hit")
        self._misses = counter.labels(name, "miss")
        self._entries: OrderedDict[Hashable, tuple[float, Hashable, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, stamp: Hashable) -> T | None:
        """The answer stored for ``key`` if it was stored with ``stamp`` less than ``seconds`` ago."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] == stamp and self._clock() - entry[0] < self.seconds:
                self._entries.move_to_end(key)
                self._hits.inc()
                return entry[2]
        self._misses.inc()
        return None

    def put(self, key: Hashable, stamp: Hashable, value: T) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock(), stamp, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
