"""Hot model swaps: the models serving now, replaced whole when ``kgrec train`` (from any process) writes a
newer folder.

A training writes the rating model and the ranker as one folder renamed into place
(:meth:`kgrec.models.TrainedModels.save`). A watcher thread looks at the folder every
``model_poll_seconds``; when it changed, it reads both models into a new :class:`Recommender`, warms it up
(the first call builds caches), checks that the folder did not change while it read, and swaps one
reference. A request takes that reference once and keeps it to the end, so each request is served by the old
models or the new ones, whole, and none waits for a read.

Example:
    >>> served = ServedModels(store, settings, metrics)   # doctest: +SKIP
    >>> served.refresh()                                  # doctest: +SKIP
    True
    >>> rec, version = served.require()                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from core.errors import KGRecError, Neo4jError, NotReadyError
from core.settings import Settings
from kg import GraphStore
from kgrec.models import RANKER_DIR, ModelVersion, TrainedModels, model_version
from kgrec.recommender import Recommender
from kgrec.service.metrics import ServiceMetrics

__all__ = ["Served", "ServedModels"]

log = logging.getLogger("kgrec.service")


@dataclass(frozen=True)
class Served:
    """The recommender serving now and the version of its models."""

    rec: Recommender
    version: ModelVersion


def _fingerprint(directory: Path) -> tuple[int, int, int] | None:
    """What changes when the folder is replaced (its inode, the ranker's write time); ``None`` when the
    folder holds no complete pair of models."""
    try:
        return (
            directory.stat().st_ino,
            (directory / "meta.json").stat().st_mtime_ns,
            (directory / RANKER_DIR / "meta.json").stat().st_mtime_ns,
        )
    except OSError:
        return None


class ServedModels:
    """The one reference to the serving :class:`Served`, and the watcher that replaces it."""

    def __init__(self, store: GraphStore, settings: Settings, metrics: ServiceMetrics) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self._served: Served | None = None
        self._seen: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def served(self) -> Served | None:
        return self._served

    def require(self) -> Served:
        served = self._served
        if served is None:
            raise NotReadyError("no model is loaded yet; train one with `kgrec train`, or wait")
        return served

    def refresh(self) -> bool:
        """Swap in the folder's models if they changed since the last look; whether it swapped.

        A folder replaced while it was being read is left for the next look; one that cannot be read, or
        whose models were trained on another graph than the one served, is counted
        (``kgrec_model_load_failures_total``) and the old models keep serving. When the graph does not
        answer the check, the folder is looked at again next time.
        """
        directory = self.settings.model_path
        before = _fingerprint(directory)
        if before is None or before == self._seen:
            return False
        try:
            models = TrainedModels.read(directory, self.store.fingerprint)
            rec = Recommender(self.store, self.settings, models.model, models.ranker)
            _warm_up(rec)
            version = model_version(directory)
        except Neo4jError as e:  # the graph, not the folder: try the folder again at the next look
            log.warning("the models in %s could not be checked against the graph: %s", directory, e)
            return False
        except (KGRecError, OSError) as e:
            if _fingerprint(directory) == before:  # a complete folder that does not read: do not retry it
                self._seen = before
                self.metrics.load_failures.inc()
                log.warning("the models in %s could not be loaded: %s", directory, e)
            return False
        if version is None or _fingerprint(directory) != before:
            return False
        previous = self._served
        self._served = Served(rec, version)
        self._seen = before
        self.metrics.model_loaded(
            version.version, version.trained_at, previous.version.version if previous else None
        )
        self.metrics.catalogue_popularity.set(float(rec.trained_ranker().item_popularity.mean()))
        log.info("serving models %s from %s", version.version, directory)
        return True

    def watch(self, every: float) -> None:
        """Look at the folder every ``every`` seconds on a daemon thread, until :meth:`close`."""

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.refresh()
                except Exception:  # the watcher must outlive any one bad look; the old models keep serving
                    self.metrics.load_failures.inc()
                    log.exception("model refresh failed")

        self._thread = threading.Thread(target=loop, name="kgrec-model-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _warm_up(rec: Recommender) -> None:
    """One list for a user the ranker knows: builds the caches the first request would otherwise pay for."""
    data = rec.trained_ranker().trained_data()
    if data.n_users:
        rec.recommend(str(data.user_keys[0]), k=10)
