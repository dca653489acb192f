"""A graph store that follows its server: a statement that finds Neo4j gone looks up where the workspace's
server is now (the managed server's state file, or ``NEO4J_URI``), opens a driver there and runs once more.

A long-running process (``kgrec serve``) outlives its server: ``kgrec neo4j stop`` then ``start`` brings the
managed server back on a new port, which the old driver would never reach again. The look-up happens only
after the driver reported the server unreachable, so a statement on a healthy server costs nothing more.
The server is never started from here: one that an operator stopped stays stopped, and each statement
answers :class:`~core.errors.Neo4jUnavailableError` until it is back.

Example:
    >>> store = FollowingGraphStore.connect(Settings())   # doctest: +SKIP
    >>> store.read("RETURN 1 AS one")                     # doctest: +SKIP
    [{'one': 1}]
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Self

import neo4j

from core.errors import Neo4jUnavailableError
from core.progress import Progress
from core.settings import Settings
from kg.connection import connect_driver
from kg.store import GraphStore

__all__ = ["FollowingGraphStore"]


class FollowingGraphStore(GraphStore):
    """A :class:`GraphStore` whose driver is replaced when its server stops answering (see the module)."""

    def __init__(self, driver: neo4j.Driver, settings: Settings) -> None:
        super().__init__(driver, settings.neo4j.database, settings.batch_size)
        self.settings = settings
        self._following = threading.Lock()

    @classmethod
    def connect(cls, settings: Settings, progress: Progress | None = None) -> Self:
        """The workspace's graph, its managed server started when needed."""
        driver, _ = connect_driver(settings, progress)
        return cls(driver, settings)

    def _run(
        self, query: str, params: Mapping[str, Any] | None = None, *, write: bool, plan: bool = False
    ) -> list[dict[str, Any]]:
        # A write runs again only as the driver's own retries run it, when the server was unreachable; a
        # commit whose outcome is unknown is a plain Neo4jError (kg.statements) and is not run again.
        driver = self._driver
        try:
            return super()._run(query, params, write=write, plan=plan)
        except Neo4jUnavailableError:
            self._follow(driver)
        return super()._run(query, params, write=write, plan=plan)

    def _follow(self, failed: neo4j.Driver) -> None:
        """Replace ``failed`` by a driver to where the workspace's server answers now; one thread at a time,
        and a thread that finds it already replaced runs on the new one. :class:`Neo4jUnavailableError`
        when no server answers."""
        with self._following:
            if self._driver is not failed:
                return
            self._driver, _ = connect_driver(self.settings, start=False)
        failed.close()
