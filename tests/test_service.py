"""``kgrec serve`` as a real process against the session's Neo4j: every route through HTTP, the feedback
loop, a SIGKILL in the middle of an event stream, and a retrain while clients are served."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from gnn import TrainConfig
from kg import GraphStore
from kg.events import event_items, stored_events
from kgrec import Recommender
from loaders.demo import DemoTruth, demo_dataset
from rank import RankConfig

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 2}, "als": {"iterations": 2}},
    candidates=20,
    fusion_users=60,
    trees=20,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=10, mf_epochs=10, patience=5, bias_epochs=3)
READY_TIMEOUT = 240.0


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def client(self, key: str | None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key} if key else {}, timeout=60.0)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"kgrec serve exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        pytest.fail(f"kgrec serve not ready in {READY_TIMEOUT} s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], log: Path) -> Server:
    port = _free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kgrec.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(proc, f"http://127.0.0.1:{port}", log)


@dataclass
class Workspace:
    settings: Settings
    truth: DemoTruth
    env: dict[str, str]
    tmp: Path


@pytest.fixture(scope="module")
def workspace(neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    tmp = tmp_path_factory.mktemp("serve")
    settings = neo4j_settings.model_copy(update={"model_dir": tmp / "model"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "KGREC_"))}
    env |= {
        "KGREC_HOME": str(settings.home),
        "KGREC_WORKSPACE": settings.workspace,
        "KGREC_MODEL_DIR": str(settings.model_path),
        "KGREC_MODEL_POLL_SECONDS": "0.5",
    }
    truth = demo_dataset(n_users=60, n_items=48, ratings_per_user=10, seed=3)[1]
    return Workspace(settings, truth, env, tmp)


@pytest.fixture(scope="module")
def server(workspace: Workspace, session_store: GraphStore) -> Iterator[Server]:
    """The server, started before there is a model (it boots while the first training runs, and serves
    that model once the watcher finds it)."""
    session_store.reset()
    srv = start_server(workspace.env, workspace.tmp / "serve.log")
    try:
        rec = Recommender(session_store, workspace.settings)
        rec.load_dataset(demo_dataset(n_users=60, n_items=48, ratings_per_user=10, seed=3)[0])
        rec.fit(SMALL, SMALL_RANK)
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def key(workspace: Workspace, server: Server) -> str:
    path = workspace.settings.workspace_dir / "api-key"
    assert path.stat().st_mode & 0o777 == 0o600
    return path.read_text().strip()


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"error", "detail"} and "Traceback" not in response.text
    return str(body["error"])


def test_every_route_through_http(workspace: Workspace, server: Server, key: str) -> None:
    truth = workspace.truth
    user, item = next(iter(truth.user_branch)), next(iter(truth.item_branch))
    anonymous, api = server.client(None), server.client(key)
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz").json()
    assert ready["ready"] and ready["neo4j"] and len(ready["model"]["version"]) == 12
    assert anonymous.get("/openapi.json").status_code == 200
    assert "missing" in _error(anonymous.get(f"/users/{user}/recommendations"), 401)
    assert "API key" in _error(server.client("wrong").get("/metrics"), 401)
    assert key not in server.log.read_text()

    top = api.get(f"/users/{user}/recommendations", params={"k": 5}).json()
    assert len(top) == 5 and {"item", "score", "predicted_rating", "brand"} <= set(top[0])
    brand = truth.item_brand[top[0]["item"]]
    branded = api.get(f"/users/{user}/recommendations", params={"k": 3, "brand": brand}).json()
    assert branded and all(r["brand"] == brand for r in branded)
    assert "nobody" in _error(api.get("/users/nobody/recommendations"), 404)
    _error(api.get(f"/users/{user}/recommendations", params={"k": 0}), 422)
    assert "at most" in _error(api.get(f"/users/{user}/recommendations", params={"k": 10_000}), 422)
    _error(api.get("/users/a%20b/recommendations"), 422)

    newcomer = api.post("/recommendations/new-user", json={"brands": [brand], "k": 3}).json()
    assert [r["brand"] for r in newcomer] == [brand] * 3
    predicted = api.post("/predictions", json={"user": user, "items": [item]}).json()
    assert predicted[0]["item"] == item and predicted[0]["rating"] > 0
    similar = api.get(f"/items/{item}/similar", params={"k": 3}).json()
    assert len(similar) == 3 and item not in {s["item"] for s in similar}
    assert "ghost" in _error(api.get("/items/ghost/similar"), 404)
    hits = api.get("/search", params={"q": brand, "user": user, "k": 4}).json()
    assert hits and all(h["predicted"] is not None for h in hits)
    profile = api.get(f"/users/{user}/profile").json()
    assert profile["user"] == user and profile["leanings"]["Brand"]
    # the first recommended item with a path that supports it (an item may have none: its note says so);
    # with this small a ranker (LightGCN two epochs, 20 trees), whether one user's five have one is chance
    for who in list(truth.user_branch)[:5]:
        listed = api.get(f"/users/{who}/recommendations", params={"k": 5}).json()
        for shown in listed:
            explained = api.get(f"/users/{who}/explanations/{shown['item']}", params={"top": 2}).json()
            assert explained["user"] == who and bool(explained["paths"]) != bool(explained["note"])
            if explained["paths"]:
                break
        if explained["paths"]:
            break
    assert explained["paths"], "none of five users' top five items has a supporting path"
    assert all("rating_drop" not in p["support"] for p in explained["paths"])  # off unless asked for
    with_drop = api.get(
        f"/users/{who}/explanations/{shown['item']}", params={"top": 2, "rating_drop": True}
    ).json()
    assert all("rating_drop" in p["support"] for p in with_drop["paths"])
    hit = 'kgrec_cache_requests_total{cache="explanations",result="hit"}'
    hits = _metric(api, hit)
    again = api.get(f"/users/{who}/explanations/{shown['item']}", params={"top": 2}).json()
    assert again == explained and _metric(api, hit) == hits + 1  # the same question: answered again
    assert [p["score"] for p in with_drop["paths"]] == [p["score"] for p in explained["paths"]]
    _error(api.get(f"/users/nobody/explanations/{item}"), 404)
    assert api.get("/model").json()["version"] == ready["model"]["version"]

    assert "invalid" in _error(
        api.post("/events", content=b"{not json", headers={"content-type": "application/json"}), 422
    )
    _error(
        api.post("/events", json={"events": [{"id": "x", "user": user, "item": item, "kind": "rating"}]}), 422
    )
    _error(api.post("/events", json={"events": [], "extra": 1}), 422)
    _error(api.post("/events", content=b"x" * (2 << 20), headers={"content-type": "application/json"}), 413)
    # a body sent in chunks, without a length, is bounded as it arrives; one within the bound is read
    chunks = iter([b"x" * (1 << 20), b"x" * 1024])
    _error(api.post("/events", content=chunks, headers={"content-type": "application/json"}), 413)
    small = iter([b'{"events": [], ', b'"extra": 1}'])  # read and validated: 422 (an empty batch), not 413
    _error(api.post("/events", content=small, headers={"content-type": "application/json"}), 422)

    metrics = api.get("/metrics").text
    for name in (
        'kgrec_http_requests_total{endpoint="/users/{user}/recommendations",method="GET",status="200"}',
        'kgrec_http_errors_total{status="401"}',
        "kgrec_http_request_duration_seconds_bucket",
        "kgrec_neo4j_query_duration_seconds_bucket",
        f'kgrec_model_info{{version="{ready["model"]["version"]}"}} 1.0',
        "kgrec_model_age_seconds",
        "kgrec_recommended_coverage",
        "kgrec_recommended_mean_popularity",
        "kgrec_recommended_top_brand_share",
        "kgrec_ready 1.0",
    ):
        assert name in metrics, name
    assert _metric(api, "kgrec_recommend_batch_size_count") >= 1  # the lists above were ranked in batches


def _metric(api: httpx.Client, name: str) -> float:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_events_change_a_new_users_recommendations_without_training(
    workspace: Workspace, server: Server, key: str, session_store: GraphStore
) -> None:
    api, truth = server.client(key), workspace.truth
    _error(api.get("/users/shopper-1/recommendations"), 404)
    branches = sorted(set(truth.item_branch.values()))
    first, second = ([i for i, b in truth.item_branch.items() if b == branch] for branch in branches[:2])
    bought = [
        {"id": f"s1-{n}", "user": "shopper-1", "item": i, "kind": "purchase"} for n, i in enumerate(first[:4])
    ]
    receipt = api.post("/events", json={"events": bought}).json()
    assert sorted(receipt["accepted"]) == sorted(e["id"] for e in bought) and not receipt["rejected"]
    after_first = [r["item"] for r in api.get("/users/shopper-1/recommendations", params={"k": 5}).json()]
    assert not set(after_first) & set(first[:4])
    assert sum(truth.item_branch[i] == branches[0] for i in after_first) >= 3  # the planted taste shows

    rated = [
        {
            "id": f"s1-r{n}",
            "user": "shopper-1",
            "item": i,
            "kind": "rating",
            "value": 5.0,
            "ts": 1_700_000_000,
        }
        for n, i in enumerate(second[:6])
    ] + [{"id": "s1-bad", "user": "shopper-1", "item": "no-such-item", "kind": "view"}]
    receipt = api.post("/events", json={"events": rated}).json()
    assert receipt["rejected"] == [{"id": "s1-bad", "reason": "unknown item"}]
    after_second = [r["item"] for r in api.get("/users/shopper-1/recommendations", params={"k": 5}).json()]
    assert after_second != after_first and not set(after_second) & set(second[:6])

    again = api.post("/events", json={"events": bought + bought[:1]}).json()  # a retried batch
    assert again["accepted"] == [] and sorted(again["duplicates"]) == sorted(
        [e["id"] for e in bought] + ["s1-0"]
    )
    counts = {r["item"]: r["count"] for r in event_items(session_store, "shopper-1")}
    assert counts == {i: 1 for i in first[:4]}

    known = next(iter(truth.user_branch))  # a user the models know: what they buy leaves their list at once
    top = api.get(f"/users/{known}/recommendations", params={"k": 5}).json()[0]["item"]
    hits = _metric(api, 'kgrec_cache_requests_total{cache="lists",result="hit"}')
    assert api.get(f"/users/{known}/recommendations", params={"k": 5}).json()[0]["item"] == top
    assert (
        _metric(api, 'kgrec_cache_requests_total{cache="lists",result="hit"}') == hits + 1
    )  # answered again
    api.post("/events", json={"events": [{"id": "k-1", "user": known, "item": top, "kind": "purchase"}]})
    # the purchase changes the user's events, so the list is worked out again, not answered from the cache
    assert top not in [r["item"] for r in api.get(f"/users/{known}/recommendations", params={"k": 5}).json()]
    assert _metric(api, 'kgrec_cache_requests_total{cache="lists",result="hit"}') == hits + 1
    assert _metric(api, "kgrec_foldins_total") >= 3
    assert _metric(api, 'kgrec_events_ingested_total{kind="purchase"}') == 5
    assert _metric(api, 'kgrec_events_rejected_total{reason="unknown_item"}') == 1


def test_a_retrain_swaps_models_while_clients_are_served(
    workspace: Workspace, server: Server, key: str, session_store: GraphStore
) -> None:
    api = server.client(key)
    before = api.get("/model").json()["version"]
    users = list(workspace.truth.user_branch)[:10]
    buyer = users[-1]
    bought = api.get(f"/users/{buyer}/recommendations", params={"k": 1}).json()[0]["item"]
    api.post(
        "/events", json={"events": [{"id": "swap-1", "user": buyer, "item": bought, "kind": "purchase"}]}
    )
    answers: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def loop() -> None:
        with server.client(key) as client:
            n = 0
            while not stop.is_set():
                answers.append(client.get(f"/users/{users[n % len(users)]}/recommendations").status_code)
                n += 1

    client_thread = threading.Thread(target=loop)
    client_thread.start()
    try:
        rec = Recommender(session_store, workspace.settings)  # another process's training, as `kgrec train`
        rec.fit(SMALL.model_copy(update={"seed": 1}), SMALL_RANK.model_copy(update={"seed": 1}))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            versions.add(api.get("/model").json()["version"])
            if len(versions - {before}) and len(answers) > 20:
                break
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        stop.set()
        client_thread.join()
    assert versions - {before}, "the new models were not swapped in"
    assert answers and set(answers) == {200}
    assert _metric(api, "kgrec_model_swaps_total") >= 1
    assert json.loads(api.get("/readyz").text)["model"]["version"] != before
    # the new models learned the purchase (a training item of the buyer's): it is not offered again
    assert bought not in [r["item"] for r in api.get(f"/users/{buyer}/recommendations").json()]


def test_sigkill_during_an_event_stream_loses_and_doubles_nothing(
    workspace: Workspace, server: Server, key: str, session_store: GraphStore
) -> None:
    """Last in the module: it kills the module's server."""
    items = sorted(workspace.truth.item_branch)
    users = ("streamer-0", "streamer-1", "streamer-2")
    batches = [
        [
            {"id": f"k{b}-{n}", "user": users[n % 3], "item": items[(b * 7 + n) % len(items)], "kind": "view"}
            for n in range(20)
        ]
        for b in range(1000)
    ]
    acknowledged: list[str] = []
    failed: list[int] = []

    def stream() -> None:  # until the first failure, as a client that then retries
        with server.client(key) as client:
            for n, batch in enumerate(batches):
                try:
                    response = client.post("/events", json={"events": batch}, timeout=30)
                    response.raise_for_status()
                except httpx.HTTPError:
                    failed.append(n)
                    return
                acknowledged.extend(response.json()["accepted"])

    streamer = threading.Thread(target=stream)
    streamer.start()
    while len(acknowledged) < 200 and streamer.is_alive():
        time.sleep(0.005)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    streamer.join()
    assert failed, "the stream ended before the server was killed"
    assert len(stored_events(session_store, acknowledged)) == len(acknowledged)  # acknowledged = committed

    revived = start_server(workspace.env, workspace.tmp / "revived.log")
    try:
        revived.wait_ready()
        with revived.client(key) as client:
            for batch in batches[: failed[0] + 1]:  # everything it sent, acknowledged or not
                response = client.post("/events", json={"events": batch})
                assert response.status_code == 200, response.text
                assert not set(response.json()["accepted"]) & set(acknowledged)
    finally:
        revived.stop()
    sent = [e["id"] for batch in batches[: failed[0] + 1] for e in batch]
    stored = stored_events(session_store, sent)
    assert sorted(e["id"] for e in stored) == sorted(sent)
    per_pair: dict[tuple[str, str], int] = {}
    for e in stored:
        per_pair[(e["user"], e["item"])] = per_pair.get((e["user"], e["item"]), 0) + 1
    counted = {(user, r["item"]): r["count"] for user in users for r in event_items(session_store, user)}
    assert counted == per_pair  # each stored event counted exactly once
