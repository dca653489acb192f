"""What ``/metrics`` reports, in Prometheus' text format (``prometheus-client``), one registry per app.

====================================================  =============================================
``kgrec_http_requests_total{endpoint,method,status}``  requests answered, per route template
``kgrec_http_request_duration_seconds{endpoint}``      latency histogram per route template
``kgrec_http_errors_total{status}``                    answers with status 400 and above
``kgrec_events_ingested_total{kind}``                  events committed to Neo4j (new ids only)
``kgrec_events_duplicate_total``                       events whose id was already stored
``kgrec_events_rejected_total{reason}``                events refused (``unknown_item``)
``kgrec_foldins_total``                                lists worked out with the user's new events folded in
``kgrec_recommend_batch_size``                         users ranked together per batch (histogram)
``kgrec_cache_requests_total{cache,result}``            lists / explanations answered again (``hit``) or not
``kgrec_model_info{version}``                          1 for the model version serving now
``kgrec_model_trained_timestamp_seconds``              when it was written
``kgrec_model_age_seconds``                            now minus that
``kgrec_model_swaps_total``, ``..._load_failures_total``  hot swaps done, and folder reads that failed
``kgrec_neo4j_query_duration_seconds{access}``         Neo4j latency of each read and write
``kgrec_recommended_coverage``                         distinct items in the last lists / catalogue size
``kgrec_recommended_mean_popularity``                  mean training interactions of recommended items
``kgrec_catalogue_mean_popularity``                    the same over the whole catalogue (the baseline)
``kgrec_recommended_top_brand_share``                  share of recommended items of the commonest brand
``kgrec_ready``                                        1 when Neo4j answered and a model is loaded
====================================================  =============================================

Example:
    >>> m = ServiceMetrics(window=2)
    >>> m.window.record([("I1", 10.0, "A"), ("I2", 0.0, "B")], catalogue=4)
    >>> m.window.coverage(), m.window.mean_popularity(), m.window.top_brand_share()
    (0.5, 5.0, 0.5)
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PromCounter

__all__ = ["CONTENT_TYPE", "RecommendationWindow", "ServiceMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Served = tuple[str, float, str | None]
"""One recommended item: its key, its training popularity and its brand (``None`` when it has none)."""


class RecommendationWindow:
    """The items of the last ``size`` recommendation lists, counted as they come and go."""

    def __init__(self, size: int) -> None:
        self._lists: deque[list[Served]] = deque()
        self._size = size
        self._items: Counter[str] = Counter()
        self._brands: Counter[str] = Counter()
        self._popularity = 0.0
        self._count = 0
        self._catalogue = 0
        self._lock = threading.Lock()

    def record(self, served: Sequence[Served], catalogue: int) -> None:
        with self._lock:
            self._catalogue = catalogue
            self._lists.append(list(served))
            self._add(self._lists[-1], +1)
            if len(self._lists) > self._size:
                self._add(self._lists.popleft(), -1)

    def _add(self, served: list[Served], sign: int) -> None:
        for item, popularity, brand in served:
            self._items[item] += sign
            if not self._items[item]:
                del self._items[item]
            if brand is not None:
                self._brands[brand] += sign
            self._popularity += sign * popularity
            self._count += sign

    def coverage(self) -> float:
        with self._lock:
            return len(self._items) / self._catalogue if self._catalogue else 0.0

    def mean_popularity(self) -> float:
        with self._lock:
            return self._popularity / self._count if self._count else 0.0

    def top_brand_share(self) -> float:
        with self._lock:
            top = max(self._brands.values(), default=0)
            return top / self._count if self._count else 0.0


class ServiceMetrics:
    """Every metric of one service; see the module docstring for what each means."""

    def __init__(self, window: int = 1000) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = PromCounter(
            "kgrec_http_requests", "Requests answered", ["endpoint", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "kgrec_http_request_duration_seconds",
            "Request latency",
            ["endpoint"],
            buckets=_LATENCY,
            registry=r,
        )
        self.errors = PromCounter("kgrec_http_errors", "Answers with an error status", ["status"], registry=r)
        self.events = PromCounter("kgrec_events_ingested", "Events committed", ["kind"], registry=r)
        self.duplicates = PromCounter("kgrec_events_duplicate", "Events already stored", registry=r)
        self.rejected = PromCounter("kgrec_events_rejected", "Events refused", ["reason"], registry=r)
        self.foldins = PromCounter("kgrec_foldins", "Lists served with new events folded in", registry=r)
        self.batch_sizes = Histogram(
            "kgrec_recommend_batch_size",
            "Users ranked together per batch",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.cache = PromCounter("kgrec_cache_requests", "Cache lookups", ["cache", "result"], registry=r)
        self.model_info = Gauge("kgrec_model_info", "The model version serving", ["version"], registry=r)
        self.trained_at = Gauge(
            "kgrec_model_trained_timestamp_seconds", "When the model was written", registry=r
        )
        self.model_age = Gauge("kgrec_model_age_seconds", "Age of the serving model", registry=r)
        self.model_age.set_function(self._age)
        self.swaps = PromCounter("kgrec_model_swaps", "Hot model swaps", registry=r)
        self.load_failures = PromCounter(
            "kgrec_model_load_failures", "Model folder reads that failed", registry=r
        )
        self.neo4j = Histogram(
            "kgrec_neo4j_query_duration_seconds",
            "Neo4j query latency",
            ["access"],
            buckets=_LATENCY,
            registry=r,
        )
        self.window = RecommendationWindow(window)
        Gauge("kgrec_recommended_coverage", "Catalogue share recommended lately", registry=r).set_function(
            self.window.coverage
        )
        Gauge("kgrec_recommended_mean_popularity", "Mean popularity recommended", registry=r).set_function(
            self.window.mean_popularity
        )
        self.catalogue_popularity = Gauge(
            "kgrec_catalogue_mean_popularity", "Mean popularity of the catalogue", registry=r
        )
        Gauge("kgrec_recommended_top_brand_share", "Share of the commonest brand", registry=r).set_function(
            self.window.top_brand_share
        )
        self.ready = Gauge("kgrec_ready", "1 when the service can serve", registry=r)
        self._trained_at = 0.0

    def _age(self) -> float:
        return time.time() - self._trained_at if self._trained_at else 0.0

    def model_loaded(self, version: str, trained_at: float, previous: str | None) -> None:
        if previous is not None:
            self.model_info.remove(previous)
            self.swaps.inc()
        self.model_info.labels(version).set(1)
        self.trained_at.set(trained_at)
        self._trained_at = trained_at

    def answered(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if status >= 400:
            self.errors.labels(str(status)).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
