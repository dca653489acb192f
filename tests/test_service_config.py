"""What the service's README promises about its configuration and monitoring, each seen from outside:
``kgrec serve --workers 2`` (both processes answer), every ``KGREC_*`` override of
:class:`kgrec.service.ServiceSettings` changing what the service does, ``/docs`` and ``/openapi.json``, and
metrics that move by exactly what a request does.

Apps are built the way each worker of ``kgrec serve --workers N`` builds its own
(:func:`kgrec.service.app_from_environment`, settings from the environment) and called in process; one real
``kgrec serve --workers 2`` process is started, since each start loads torch and the models."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from threadpoolctl import threadpool_info, threadpool_limits

from core.settings import Settings
from gnn import TrainConfig
from kg import GraphStore
from kgrec import Recommender
from kgrec.models import model_version
from kgrec.service import app_from_environment
from loaders.demo import DemoTruth, demo_dataset
from rank import RankConfig
from tests.test_service import Server, _free_port

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 2}, "als": {"iterations": 2}},
    candidates=20,
    fusion_users=60,
    trees=20,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=10, mf_epochs=10, patience=5, bias_epochs=3)
KEY = "config-test-key-0123456789abcdefghijklmnop"
RECOMMEND = "/users/{user}/recommendations"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Trained:
    settings: Settings
    truth: DemoTruth
    rec: Recommender
    env: dict[str, str]


@pytest.fixture(scope="module")
def trained(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Trained:
    session_store.reset()
    dataset, truth = demo_dataset(n_users=60, n_items=48, ratings_per_user=10, seed=3)
    settings = neo4j_settings.model_copy(update={"model_dir": tmp_path_factory.mktemp("config") / "model"})
    rec = Recommender(session_store, settings)
    rec.load_dataset(dataset)
    rec.fit(SMALL, SMALL_RANK)
    env = {
        "KGREC_HOME": str(settings.home),
        "KGREC_WORKSPACE": settings.workspace,
        "KGREC_MODEL_DIR": str(settings.model_path),
        "KGREC_API_KEY": KEY,
    }
    return Trained(settings, truth, rec, env)


class Probe:
    """A slow route added to an app: how many of its calls ran at once, at most."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def __call__(self) -> dict[str, int]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(1.0)  # long beside starting a request, even on a loaded machine
        with self.lock:
            self.now -= 1
        return {"ok": 1}


@contextmanager
def _app(env: dict[str, str]) -> Iterator[tuple[TestClient, Probe]]:
    """An app built from ``env`` (as a worker builds it), started, ready, with a :class:`Probe` at
    ``/probe``; the BLAS/OpenMP limits its start sets for the whole process are put back afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("KGREC_", "NEO4J_"))]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        app: FastAPI = app_from_environment()
    probe = Probe()
    app.add_api_route("/probe", probe, methods=["GET"])
    saved = threadpool_info()
    try:
        with TestClient(app, headers={"X-API-Key": KEY}) as client:
            deadline = time.monotonic() + 120
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").text
                time.sleep(0.1)
            yield client, probe
    finally:
        threadpool_limits(limits=saved)


@pytest.fixture(scope="module")
def model_copy(trained: Trained) -> Path:
    """A copy of the trained models for the two apps below: the poll test writes it again."""
    folder = trained.settings.model_path.parent / "polled"
    trained.rec.save(folder)
    return folder


@pytest.fixture(scope="module")
def small(trained: Trained, model_copy: Path) -> Iterator[tuple[TestClient, Probe]]:
    """Window 2, one request thread, the model folder looked at every 0.2 s."""
    env = trained.env | {
        "KGREC_MODEL_DIR": str(model_copy),
        "KGREC_WINDOW": "2",
        "KGREC_THREADS": "1",
        "KGREC_MODEL_POLL_SECONDS": "0.2",
    }
    with _app(env) as app:
        yield app


@pytest.fixture(scope="module")
def large(trained: Trained, model_copy: Path) -> Iterator[tuple[TestClient, Probe]]:
    """The default window (1000), three request threads, the folder looked at every 600 s."""
    env = trained.env | {
        "KGREC_MODEL_DIR": str(model_copy),
        "KGREC_THREADS": "3",
        "KGREC_MODEL_POLL_SECONDS": "600",
    }
    with _app(env) as app:
        yield app


def _samples(client: TestClient | httpx.Client) -> Samples:
    text = client.get("/metrics", headers={"X-API-Key": KEY}).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _moved(before: Samples, after: Samples, prefix: str) -> dict[str, float]:
    """Every counter sample named ``prefix...`` that changed, with its change (labels folded into the
    name). Neo4j's latency and the caches move with requests too, by what each route reads: not asked."""
    out = {}
    for key, value in after.items():
        name, labels = key
        if name.startswith(prefix) and name.endswith(("_total", "_count")) and value != before.get(key, 0.0):
            tag = ",".join(f"{k}={v}" for k, v in sorted(labels))
            out[f"{name}{{{tag}}}" if tag else name] = value - before.get(key, 0.0)
    return out


def test_docs_and_openapi_are_served(large: tuple[TestClient, Probe]) -> None:
    client, _ = large
    docs = client.get("/docs", headers={"X-API-Key": ""})
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text
    spec = client.get("/openapi.json", headers={"X-API-Key": ""}).json()
    assert spec["info"]["title"] == "kgrec"
    assert {RECOMMEND, "/events", "/recommendations/new-user", "/metrics", "/readyz"} <= set(spec["paths"])


def test_metrics_move_by_exactly_what_a_request_does(
    large: tuple[TestClient, Probe], trained: Trained
) -> None:
    client, _ = large
    user = sorted(trained.truth.user_branch)[5]
    items = sorted(trained.truth.item_branch)
    scrape = "kgrec_http_requests_total{endpoint=/metrics,method=GET,status=200}"
    timed = "kgrec_http_request_duration_seconds_count{endpoint=/metrics}"

    before = _samples(client)
    assert len(client.get(f"/users/{user}/recommendations", params={"k": 4}).json()) == 4
    assert _moved(before, after := _samples(client), "kgrec_http") == {
        f"kgrec_http_requests_total{{endpoint={RECOMMEND},method=GET,status=200}}": 1,
        f"kgrec_http_request_duration_seconds_count{{endpoint={RECOMMEND}}}": 1,
        scrape: 1,  # the scrape before: counted once answered
        timed: 1,
    }

    assert client.get("/users/nobody/recommendations").status_code == 404
    assert client.get(f"/users/{user}/recommendations", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get(f"/users/{user}/recommendations", params={"k": 101}).status_code == 422
    moved = _moved(after, after := _samples(client), "kgrec_http")
    for status in ("404", "401", "422"):
        assert moved.pop(f"kgrec_http_requests_total{{endpoint={RECOMMEND},method=GET,status={status}}}") == 1
        assert moved.pop(f"kgrec_http_errors_total{{status={status}}}") == 1
    assert moved.pop(f"kgrec_http_request_duration_seconds_count{{endpoint={RECOMMEND}}}") == 3
    assert moved == {scrape: 1, timed: 1}

    def event(i: str, item: str, kind: str) -> dict[str, str]:
        return {"id": i, "user": "metered", "item": item, "kind": kind}

    batch = [
        event("m1", items[0], "view"),
        event("m2", items[1], "view"),
        event("m3", items[0], "cart"),
        event("m4", items[2], "purchase"),
        event("m5", "no-such-item", "view"),
        event("m1", items[3], "view"),  # the same id again within the batch
    ]
    receipt = client.post("/events", json={"events": batch}).json()
    assert receipt["accepted"] == ["m1", "m2", "m3", "m4"] and receipt["duplicates"] == ["m1"]
    assert _moved(after, after := _samples(client), "kgrec_events") == {
        "kgrec_events_ingested_total{kind=view}": 2,
        "kgrec_events_ingested_total{kind=cart}": 1,
        "kgrec_events_ingested_total{kind=purchase}": 1,
        "kgrec_events_rejected_total{reason=unknown_item}": 1,
        "kgrec_events_duplicate_total": 1,
    }
    again = client.post("/events", json={"events": batch}).json()  # a client's retry: nothing new
    assert again["accepted"] == [] and len(again["duplicates"]) == 5
    assert _moved(after, after := _samples(client), "kgrec_events") == {
        "kgrec_events_rejected_total{reason=unknown_item}": 1,
        "kgrec_events_duplicate_total": 5,
    }

    folded = client.get("/users/metered/recommendations", params={"k": 5}).json()
    assert not {r["item"] for r in folded} & set(items[:3])
    assert client.get(f"/users/{user}/recommendations", params={"k": 5}).status_code == 200
    assert _moved(after, after := _samples(client), "kgrec_foldins") == {"kgrec_foldins_total": 1}
    moved = _moved(after, after := _samples(client), "kgrec_foldins")
    assert moved == {}  # the user with events only was folded in, not the other, and scrapes fold nothing

    # a list asked for again is answered from the cache; another k or exclude_seen is another list
    for params in ({"k": 5}, {"k": 3}, {"k": 5, "exclude_seen": False}, {"k": 3}):
        assert client.get(f"/users/{user}/recommendations", params=params).status_code == 200
    assert _moved(after, after := _samples(client), "kgrec_cache") == {
        "kgrec_cache_requests_total{cache=lists,result=hit}": 2,
        "kgrec_cache_requests_total{cache=lists,result=miss}": 2,
    }


def test_window_sets_how_many_lists_the_gauges_cover(
    small: tuple[TestClient, Probe], large: tuple[TestClient, Probe], trained: Trained
) -> None:
    truth, ranker = trained.truth, trained.rec.trained_ranker()
    by_branch = {b: u for u, b in sorted(truth.user_branch.items())}
    users = [by_branch[b] for b in sorted(by_branch)[:3]]  # three tastes: three different lists
    data, popularity = ranker.trained_data(), ranker.item_popularity
    coverage = {}
    for name, (client, _) in (("small", small), ("large", large)):
        lists = [client.get(f"/users/{u}/recommendations", params={"k": 5}).json() for u in users]
        coverage[name] = _value(_samples(client), "kgrec_recommended_coverage")
        last_two = [r for rows in lists[1:] for r in rows]
        items = [str(r["item"]) for r in last_two]
        assert {r["item"] for r in lists[0]} - set(items), "the first list should differ from the last two"
        every = {r["item"] for rows in lists for r in rows}
        if name == "large":  # KGREC_WINDOW unset: 1000 lists, these three and any the app served before
            assert coverage[name] >= len(every) / data.n_items > len(set(items)) / data.n_items
            continue
        samples = _samples(client)  # KGREC_WINDOW=2: the gauges describe the last two lists only
        assert coverage[name] == pytest.approx(len(set(items)) / data.n_items)
        mean = float(np.mean(popularity[data.item_rows(items)]))
        assert _value(samples, "kgrec_recommended_mean_popularity") == pytest.approx(mean)
        brands = [r["brand"] for r in last_two]
        share = max(brands.count(b) for b in brands) / len(brands)
        assert _value(samples, "kgrec_recommended_top_brand_share") == pytest.approx(share)
    assert coverage["small"] < coverage["large"]


def test_threads_bounds_the_requests_worked_on_at_once(
    small: tuple[TestClient, Probe], large: tuple[TestClient, Probe]
) -> None:
    for (client, probe), most in ((small, 1), (large, 3)):
        calls = [threading.Thread(target=client.get, args=("/probe",)) for _ in range(6)]
        for t in calls:
            t.start()
        for t in calls:
            t.join()
        assert probe.most == most, f"KGREC_THREADS={most}: {probe.most} at once"


def test_model_poll_seconds_sets_how_soon_a_new_training_is_served(
    small: tuple[TestClient, Probe], large: tuple[TestClient, Probe], trained: Trained, model_copy: Path
) -> None:
    """Last of the in-process tests: it writes the polled folder again."""
    fast, slow = small[0], large[0]
    before = fast.get("/model").json()["trained_at"]
    assert slow.get("/model").json()["trained_at"] == before
    time.sleep(0.05)
    trained.rec.save(model_copy)  # as `kgrec train` writes it: a new folder renamed into place
    written = model_version(model_copy)
    assert written is not None and written.trained_at > datetime.fromisoformat(before).timestamp()
    served = datetime.fromtimestamp(written.trained_at, tz=UTC)  # the service says when in ISO 8601, UTC
    deadline = time.monotonic() + 30
    while datetime.fromisoformat(fast.get("/model").json()["trained_at"]) != served:
        assert time.monotonic() < deadline, "polled every 0.2 s, the new folder was not served in 30 s"
        time.sleep(0.1)
    time.sleep(1.0)
    assert slow.get("/model").json()["trained_at"] == before  # polled every 600 s: not yet
    assert _value(_samples(fast), "kgrec_model_swaps_total") == 1
    assert _value(_samples(slow), "kgrec_model_swaps_total") == 0


def _serve_workers(trained: Trained, log: Path, env: dict[str, str]) -> Server:
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "KGREC_"))}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kgrec.cli", "serve", "--port", str(port), "--workers", "2"],
            env=base | trained.env | env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(proc, f"http://127.0.0.1:{port}", log)


def _fresh(url: str, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    """One request on a connection of its own, so that either worker may take it."""
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as client:
        return client.request(method, path, **kwargs)


def test_two_workers_both_serve_and_take_the_environment(trained: Trained, tmp_path: Path) -> None:
    env = {
        "KGREC_MAX_K": "7",
        "KGREC_MAX_EVENTS": "3",
        "KGREC_MAX_BODY_BYTES": "2048",
        "KGREC_CACHE_SECONDS": "0",
    }
    server = _serve_workers(trained, tmp_path / "serve.log", env)
    user = sorted(trained.truth.user_branch)[0]
    path = f"/users/{user}/recommendations"
    try:
        server.wait_ready()  # one worker answered 200
        ready, recommended, shared = 1, 0, False
        deadline = time.monotonic() + 180
        while not shared:  # until one worker's counters show that the other answered some of each too
            assert time.monotonic() < deadline, f"one worker answered everything: {server.log.read_text()}"
            for _ in range(6):
                ready += _fresh(server.url, "/readyz").status_code == 200
                answer = _fresh(server.url, path, params={"k": 7})
                assert answer.status_code in (200, 503), answer.text  # 503: a worker still loading
                recommended += answer.status_code == 200
            for _ in range(6):
                with httpx.Client(base_url=server.url) as client:
                    seen = _samples(client)
                mine = [
                    _value(seen, "kgrec_http_requests_total", endpoint=e, method="GET", status="200")
                    for e in ("/readyz", RECOMMEND)
                ]
                # this worker answered some, fewer than were answered: the other worker the rest
                shared = shared or (0 < mine[0] < ready and 0 < mine[1] < recommended)
                # the same list asked for again and again, never answered from a cache that is off
                assert _value(seen, "kgrec_cache_requests_total", cache="lists", result="hit") == 0
        # each worker reads the overrides from the environment (fresh connections: both are asked)
        events = [{"id": f"w{n}", "user": user, "item": "no-such-item", "kind": "view"} for n in range(4)]
        body = b'{"events": [' + b" " * 2100 + b"]}"
        for _ in range(4):
            too_many = _fresh(server.url, path, params={"k": 8})
            assert too_many.status_code == 422 and "at most 7" in too_many.json()["error"]
            assert _fresh(server.url, path, params={"k": 7}).status_code == 200
            big = _fresh(server.url, "/events", "POST", json={"events": events})
            assert big.status_code == 422 and "at most 3 events" in big.json()["error"]
            fits = _fresh(server.url, "/events", "POST", json={"events": events[:3]})
            assert fits.status_code == 200 and len(fits.json()["rejected"]) == 3
            huge = _fresh(
                server.url, "/events", "POST", content=body, headers={"content-type": "application/json"}
            )
            assert huge.status_code == 413 and "2048" in huge.json()["error"]
        assert KEY not in server.log.read_text()
    finally:
        server.stop()
