"""What one service process holds: its settings, metrics and key, the graph, the serving models and the
fold-in; started on a background thread so that ``/healthz`` answers while Neo4j and the models load.

Example:
    >>> state = ServiceState(Settings(), ServiceSettings())   # doctest: +SKIP
    >>> state.start(); state.readiness().ready                # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from core.errors import NotReadyError
from core.settings import Settings
from explain import Explanation
from kg.events import ensure_event_schema, graph_answers, user_event_interactions
from kgrec.results import Prediction, Recommendation
from kgrec.service.cache import ResponseCache, events_stamp
from kgrec.service.errors import UnknownItems
from kgrec.service.foldin import FoldIn
from kgrec.service.metrics import ServiceMetrics
from kgrec.service.schemas import ModelStatus, Readiness
from kgrec.service.security import ApiKey
from kgrec.service.settings import ServiceSettings
from kgrec.service.store import TimedGraphStore
from kgrec.service.swap import Served, ServedModels

__all__ = ["ServiceState", "model_status"]

log = logging.getLogger("kgrec.service")


def model_status(served: Served) -> ModelStatus:
    """The serving models' version, when they were written (UTC) and how long ago."""
    written = served.version.trained_at
    return ModelStatus(
        version=served.version.version,
        trained_at=datetime.fromtimestamp(written, tz=UTC),
        age_seconds=time.time() - written,
    )


class ServiceState:
    """The state behind the routes of :func:`kgrec.service.create_app`."""

    def __init__(self, settings: Settings, service: ServiceSettings) -> None:
        self.settings = settings
        self.service = service
        self.metrics = ServiceMetrics(service.window)
        self.key = ApiKey(settings, service)
        self.foldin = FoldIn(self.metrics)
        seconds, size, counter = service.cache_seconds, service.cache_entries, self.metrics.cache
        self.lists: ResponseCache[list[Recommendation]] = ResponseCache("lists", seconds, size, counter)
        self.explanations: ResponseCache[Explanation] = ResponseCache("explanations", seconds, size, counter)
        self.store: TimedGraphStore | None = None
        self.models: ServedModels | None = None
        self.startup_error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect and load on a background thread (see :meth:`_connect_and_load`)."""
        self._thread = threading.Thread(target=self._connect_and_load, name="kgrec-start", daemon=True)
        self._thread.start()

    def _connect_and_load(self) -> None:
        try:
            store = TimedGraphStore.open(self.settings, self.metrics.neo4j)
            for line in store.server.notes():
                log.warning("%s", line)
            if not store.server.read_only:  # on a read-only database the service reads; events are refused
                ensure_event_schema(store)
            models = ServedModels(store, self.settings, self.metrics)
            self.store, self.models = store, models
            models.refresh()
            models.watch(self.service.model_poll_seconds)
        except Exception as e:  # reported by /readyz (503) rather than killing the process
            self.startup_error = str(e)
            log.error("the service could not start: %s", e)

    def close(self) -> None:
        if self.models is not None:
            self.models.close()
        if self.store is not None:
            self.store.close()

    def serving(self) -> Served:
        """The models serving now; :class:`NotReadyError` (503) before the first is loaded."""
        if self.models is None:
            raise NotReadyError(self.startup_error or "the service is starting: Neo4j and the models load")
        return self.models.require()

    def graph(self) -> TimedGraphStore:
        if self.store is None:
            raise NotReadyError(self.startup_error or "the service is starting: Neo4j is connecting")
        return self.store

    def readiness(self) -> Readiness:
        """Ready when Neo4j answers now and a model is loaded."""
        answers = self.store is not None and graph_answers(self.store)
        served = self.models.served if self.models is not None else None
        model = None if served is None else model_status(served)
        ready = answers and model is not None
        self.metrics.ready.set(1 if ready else 0)
        return Readiness(ready=ready, neo4j=answers, model=model)

    def recommend(
        self, user: str, k: int, exclude_seen: bool, brand: str | None, category: str | None
    ) -> list[Recommendation]:
        """The user's list (with their events folded in, see :class:`FoldIn`), answered again from
        :attr:`lists` while the model and the user's events are the same; counted into the gauges."""
        served = self.serving()
        events = user_event_interactions(served.rec.store, user)
        key, stamp = (served.version.version, user, k, exclude_seen, brand, category), events_stamp(events)
        rows = self.lists.get(key, stamp)
        if rows is None:
            rows = self.foldin.recommend(served, user, k, exclude_seen, brand, category, events=events)
            self.lists.put(key, stamp, rows)
        self.observe(served, rows)
        return rows

    def predict(self, user: str, items: list[str]) -> list[Prediction]:
        """Predicted stars of ``items`` for ``user``; a :class:`UnknownItems` naming the items the graph does
        not hold. Items the serving models know need no Neo4j read, so a known item answers while Neo4j is
        down."""
        served = self.serving()
        cols = served.rec.trained_ranker().trained_data().item_rows(items)
        unseen = list(dict.fromkeys(i for i, c in zip(items, cols, strict=True) if c < 0))
        if unseen:
            held = served.rec.store.item_cards(unseen)
            missing = [i for i in unseen if i not in held]
            if missing:
                raise UnknownItems(missing)
        return served.rec.predict(user, items)

    def explain(self, user: str, item: str, top: int, rating_drop: bool) -> Explanation:
        """The paths from the user to the item, answered again from :attr:`explanations` while the model and
        the user's events are the same."""
        served = self.serving()
        key = (served.version.version, user, item, top, rating_drop)
        stamp = events_stamp(user_event_interactions(served.rec.store, user))
        found = self.explanations.get(key, stamp)
        if found is None:
            found = served.rec.explain(user, item, top, rating_drop)
            self.explanations.put(key, stamp, found)
        return found

    def observe(self, served: Served, rows: list[Recommendation]) -> None:
        """Count a served list into the coverage, popularity and brand gauges."""
        data = served.rec.trained_ranker().trained_data()
        popularity = served.rec.trained_ranker().item_popularity
        cols = data.item_rows([r.item for r in rows])
        self.metrics.window.record(
            [
                (r.item, float(popularity[c]) if c >= 0 else 0.0, r.brand)
                for r, c in zip(rows, cols, strict=True)
            ],
            data.n_items,
        )
