"""The service's graph store: the same reads and writes, each timed into a histogram, on a store that follows
its server when Neo4j restarts elsewhere (:class:`~kg.FollowingGraphStore`).

Example:
    >>> store = TimedGraphStore.open(settings, metrics.neo4j)   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import Histogram

from core.settings import Settings
from kg import FollowingGraphStore

__all__ = ["TimedGraphStore"]


class TimedGraphStore(FollowingGraphStore):
    """A following graph store whose :meth:`read` and :meth:`write_query` (every query serving sends) are
    timed."""

    latency: Histogram | None = None

    @classmethod
    def open(cls, settings: Settings, latency: Histogram) -> TimedGraphStore:
        """The workspace's graph (its managed Neo4j started when needed), timed into ``latency``."""
        store = cls.connect(settings)
        store.latency = latency
        return store

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            return super().read(query, params)
        finally:
            self._observe("read", started)

    def write_query(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            return super().write_query(query, params)
        finally:
            self._observe("write", started)

    def _observe(self, access: str, started: float) -> None:
        if self.latency is not None:
            self.latency.labels(access).observe(time.perf_counter() - started)
