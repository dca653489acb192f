"""The service follows its graph (issue 26): a Neo4j stopped and started again on a new port is found again
without restarting the service; while Neo4j is down every route that needs it answers 503 (``/search``
too, which used to call the outage a bad Lucene query); the API's description is open and says which routes
need the key.

The graph here is a managed server of its own workspace, stopped and started by the tests: the session's
server is shared by every other test. The service is the app of ``kgrec serve``, run in process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from threadpoolctl import threadpool_info, threadpool_limits

from core.settings import Neo4jSettings, Settings
from gnn import TrainConfig
from kg import GraphStore, ManagedNeo4j
from kgrec import Recommender
from kgrec.service import ServiceSettings, create_app
from loaders.demo import DemoTruth, demo_dataset
from rank import RankConfig

pytestmark = pytest.mark.neo4j

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 2}, "als": {"iterations": 2}},
    candidates=20,
    fusion_users=60,
    trees=20,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=10, mf_epochs=10, patience=5, bias_epochs=3)
KEY = "reliability-test-key-0123456789abcdefghijkl"


@dataclass
class Graph:
    settings: Settings
    server: ManagedNeo4j
    truth: DemoTruth


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    """A workspace with its own managed Neo4j, the demo graph and a trained model."""
    home = tmp_path_factory.mktemp("follow-home")
    settings = Settings(
        workspace="follow", home=home, neo4j=Neo4jSettings(uri=None), model_dir=home / "model"
    )
    server = ManagedNeo4j(settings)
    server.start()
    try:
        dataset, truth = demo_dataset(n_users=60, n_items=48, ratings_per_user=10, seed=3)
        with GraphStore.connect(settings) as store:
            rec = Recommender(store, settings)
            rec.load_dataset(dataset)
            rec.fit(SMALL, SMALL_RANK)
        yield Graph(settings, server, truth)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(graph: Graph) -> Iterator[TestClient]:
    """The service of that workspace, ready; the BLAS/OpenMP limits its start sets are put back after."""
    app = create_app(graph.settings, ServiceSettings(api_key=SecretStr(KEY), model_poll_seconds=600))
    saved = threadpool_info()
    try:
        with TestClient(app, headers={"X-API-Key": KEY}) as client:
            deadline = time.monotonic() + 120
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").text
                time.sleep(0.2)
            yield client
    finally:
        threadpool_limits(limits=saved)


@pytest.fixture
def running(graph: Graph) -> Iterator[Graph]:
    """The workspace's server running at the start of the test and again at its end, whatever it did."""
    graph.server.start()
    yield graph
    graph.server.start()


FROM_MODELS = {"predictions", "model"}
"""Routes answered from the loaded models alone, for a user and an item that the models know."""


def _requests(truth: DemoTruth) -> dict[str, tuple[str, str, dict[str, object]]]:
    """One request of each route that answers from the graph or the models: name -> (method, path, body)."""
    user, item = next(iter(truth.user_branch)), next(iter(truth.item_branch))
    event = {"id": "e-outage", "user": user, "item": item, "kind": "view"}
    return {
        "recommend": ("GET", f"/users/{user}/recommendations", {}),
        "new-user": ("POST", "/recommendations/new-user", {"ratings": {item: 5.0}, "k": 3}),
        "predictions": ("POST", "/predictions", {"user": user, "items": [item]}),
        "similar": ("GET", f"/items/{item}/similar", {}),
        "search": ("GET", "/search?q=lamp", {}),
        "profile": ("GET", f"/users/{user}/profile", {}),
        "explain": ("GET", f"/users/{user}/explanations/{item}", {}),
        "events": ("POST", "/events", {"events": [event]}),
        "model": ("GET", "/model", {}),
    }


def _stable(answer: httpx.Response) -> object:
    """An answer without the model's age, which moves by the second."""
    body = answer.json()
    return {k: v for k, v in body.items() if k != "age_seconds"} if isinstance(body, dict) else body


def test_the_service_follows_its_neo4j_to_a_new_port(client: TestClient, running: Graph) -> None:
    user = next(iter(running.truth.user_branch))
    before = client.get(f"/users/{user}/recommendations", params={"k": 5})
    assert before.status_code == 200 and len(before.json()) == 5
    old_uri = running.server.uri()

    running.server.stop()
    down = client.get("/readyz")
    assert down.status_code == 503 and down.json()["neo4j"] is False
    new_uri = running.server.start()
    assert new_uri != old_uri  # a new port: the driver the service opened at start reaches nothing now

    ready = client.get("/readyz")  # the first look after the restart finds the server again
    assert ready.status_code == 200, ready.text
    assert ready.json()["neo4j"] is True
    after = client.get(f"/users/{user}/recommendations", params={"k": 5})
    assert after.status_code == 200 and after.json() == before.json()
    item = next(iter(running.truth.item_branch))
    event = {"id": "e-after-restart", "user": user, "item": item, "kind": "view"}
    written = client.post("/events", json={"events": [event]})
    assert written.status_code == 200 and written.json()["accepted"] == ["e-after-restart"]


def test_search_while_neo4j_is_down_is_503_not_a_bad_query(client: TestClient, running: Graph) -> None:
    running.server.stop()
    answer = client.get("/search", params={"q": "lamp"})
    assert answer.status_code == 503, answer.text
    assert "Lucene" not in answer.json()["error"]


def test_every_route_that_needs_the_graph_answers_503_while_neo4j_is_down(
    client: TestClient, running: Graph
) -> None:
    requests = _requests(running.truth)
    up = {name: client.request(*requests[name][:2], json=requests[name][2] or None) for name in FROM_MODELS}
    running.server.stop()
    answers = {name: client.request(m, path, json=body or None) for name, (m, path, body) in requests.items()}
    assert {name: a.status_code for name, a in answers.items()} == {
        name: 200 if name in FROM_MODELS else 503 for name in requests
    }
    for name, answer in answers.items():
        if name in FROM_MODELS:  # a correct answer needs no graph: given, the same as with the graph up
            assert _stable(answer) == _stable(up[name]), name
        else:
            assert set(answer.json()) == {"error"} and "Neo4j" in answer.json()["error"], name


def test_docs_and_schema_are_open_and_name_the_key(client: TestClient) -> None:
    anonymous = {"X-API-Key": ""}
    docs = client.get("/docs", headers=anonymous)
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    spec = client.get("/openapi.json", headers=anonymous).json()
    schemes = spec["components"]["securitySchemes"]
    assert {(s["type"], s.get("name", s.get("scheme"))) for s in schemes.values()} == {
        ("apiKey", "X-API-Key"),
        ("http", "bearer"),
    }
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            needs_key = bool(operation.get("security"))
            assert needs_key == (path not in ("/healthz", "/readyz")), path
    assert client.get("/metrics", headers=anonymous).status_code == 401
