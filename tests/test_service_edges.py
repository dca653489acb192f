"""The rough edges of the HTTP API a newcomer meets (issue 23): the OpenAPI description (every parameter
described, request bodies with examples, the error body the service really sends, the API-key schemes),
``/docs`` and ``/redoc`` served without a CDN, ``POST /predictions`` with an item the graph does not hold
(404, as every unknown item), and the model's times in ISO 8601 UTC.

The description and the docs pages need neither Neo4j nor a model: the app is built and asked without
starting its lifespan. The rest runs the service of a trained demo workspace on the session's Neo4j."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr
from threadpoolctl import threadpool_info, threadpool_limits

from core.settings import Neo4jSettings, Settings
from gnn import TrainConfig
from kg import GraphStore
from kgrec import Recommender
from kgrec.service import ServiceSettings, create_app
from kgrec.service import schemas as service_schemas
from loaders.demo import demo_dataset
from rank import RankConfig

KEY = "edges-test-key-0123456789abcdefghijklmnop"
SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 2}, "als": {"iterations": 2}},
    candidates=20,
    fusion_users=40,
    trees=20,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=5, mf_epochs=5, patience=3, bias_epochs=2)


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app of a workspace that has no server and no model; no lifespan runs (no ``with``)."""
    home = tmp_path_factory.mktemp("edges-home")
    settings = Settings(workspace="edges", home=home, neo4j=Neo4jSettings(uri=None))
    return TestClient(create_app(settings, ServiceSettings(api_key=SecretStr(KEY))))


@pytest.fixture(scope="module")
def openapi(described: TestClient) -> dict[str, Any]:
    answer = described.get("/openapi.json")  # open: no key
    assert answer.status_code == 200
    schema: dict[str, Any] = answer.json()
    return schema


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def _schema(openapi: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = openapi["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def _body_schemas(openapi: dict[str, Any], ref: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The request body's schema and every schema its properties refer to (an event batch's events)."""
    name = ref.rsplit("/", 1)[-1]
    schema = _schema(openapi, ref)
    yield name, schema
    for prop in schema.get("properties", {}).values():
        for nested in re.findall(r'"\$ref": "([^"]+)"', json.dumps(prop)):
            yield from _body_schemas(openapi, nested)


def test_every_parameter_and_body_field_is_described(openapi: dict[str, Any]) -> None:
    params = [(path, p["name"]) for path, _, op in _operations(openapi) for p in op.get("parameters", [])]
    assert len(params) >= 15
    assert [(path, p["name"]) for path, _, op in _operations(openapi) for p in op.get("parameters", [])
            if not p.get("description")] == []  # fmt: skip
    bodies = [op["requestBody"] for _, _, op in _operations(openapi) if "requestBody" in op]
    assert len(bodies) == 3  # events, new-user, predictions: nothing else takes a body
    for body in bodies:
        for name, schema in _body_schemas(openapi, body["content"]["application/json"]["schema"]["$ref"]):
            bare = [
                field for field, prop in schema.get("properties", {}).items() if not prop.get("description")
            ]
            assert bare == [], name


def test_every_request_body_has_an_example_that_the_service_takes(openapi: dict[str, Any]) -> None:
    posted = [op for _, method, op in _operations(openapi) if method == "post"]
    assert posted
    for operation in posted:
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[-1]
        examples = _schema(openapi, ref).get("examples")
        assert examples, name
        model: type[BaseModel] = getattr(service_schemas, name)
        for example in examples:
            model.model_validate(example)  # an example the API itself would refuse is worse than none


def test_errors_are_declared_in_the_shape_the_service_sends(
    openapi: dict[str, Any], described: TestClient
) -> None:
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    error = schemas["ErrorBody"]
    assert set(error["properties"]) == {"error", "detail"} and error["required"] == ["error"]
    guarded = [(path, op) for path, _, op in _operations(openapi) if op.get("security")]
    assert len(guarded) >= 10
    for path, operation in guarded:
        for status in ("401", "500", "503"):
            declared = operation["responses"][status]["content"]["application/json"]["schema"]
            assert declared == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
        if operation.get("parameters") or "requestBody" in operation:
            assert "ErrorBody" in str(operation["responses"]["422"]), path
    for path in ("/users/{user}/recommendations", "/predictions", "/items/{item}/similar"):
        method = "post" if path == "/predictions" else "get"
        assert "ErrorBody" in str(openapi["paths"][path][method]["responses"]["404"]), path
    # and what the service answers is that shape
    assert set(described.get("/model").json()) == {"error"}
    invalid = described.get("/users/a%20b/recommendations", headers={"X-API-Key": KEY}).json()
    assert set(invalid) == {"error", "detail"}


def test_the_api_key_schemes_are_declared_for_the_guarded_routes(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    for path, _, operation in _operations(openapi):
        open_route = path in ("/healthz", "/readyz")
        assert bool(operation.get("security")) != open_route, path


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(described: TestClient, page: str) -> None:
    html = described.get(page)
    assert html.status_code == 200
    assert "http://" not in html.text and "https://" not in html.text and "//cdn" not in html.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", html.text)
    urls = [a or b for a, b in assets]
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    for url in urls:
        asset = described.get(url)
        assert asset.status_code == 200, url
        if url.endswith((".js", ".css")):
            kind = "javascript" if url.endswith(".js") else "css"
            assert kind in asset.headers["content-type"] and len(asset.content) > 10_000, url


# --- the running service of a trained workspace ---------------------------------------------------------


@pytest.fixture(scope="module")
def served(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, list[str], list[str]]]:
    """The service of a trained demo workspace on the session's Neo4j, ready; with users and items."""
    session_store.reset()
    model_dir: Path = tmp_path_factory.mktemp("edges-served") / "model"
    settings = neo4j_settings.model_copy(update={"model_dir": model_dir})
    dataset, truth = demo_dataset(n_users=40, n_items=40, ratings_per_user=10, seed=7)
    rec = Recommender(session_store, settings)
    rec.load_dataset(dataset)
    rec.fit(SMALL, SMALL_RANK)
    app = create_app(settings, ServiceSettings(api_key=SecretStr(KEY), model_poll_seconds=600))
    saved = threadpool_info()
    try:
        with TestClient(app, headers={"X-API-Key": KEY}) as client:
            deadline = time.monotonic() + 120
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").text
                time.sleep(0.2)
            yield client, sorted(truth.user_branch), sorted(truth.item_branch)
    finally:
        threadpool_limits(limits=saved)


def test_predictions_for_an_item_the_graph_lacks_is_404(
    served: tuple[TestClient, list[str], list[str]],
) -> None:
    client, users, items = served
    answer = client.post("/predictions", json={"user": users[0], "items": [items[0], "ghost-item"]})
    assert answer.status_code == 404, answer.text
    body = answer.json()
    assert set(body) == {"error", "detail"} and "ghost-item" in body["error"]
    assert body["detail"] == {"items": ["ghost-item"]}
    # known items still answer, for a user the models have not seen too (cold start)
    for user in (users[0], "a-newcomer"):
        known = client.post("/predictions", json={"user": user, "items": items[:2]})
        assert known.status_code == 200 and [p["item"] for p in known.json()] == items[:2]


def test_model_times_are_iso_8601_utc(served: tuple[TestClient, list[str], list[str]]) -> None:
    client, _, _ = served
    ready = client.get("/readyz").json()["model"]
    model = client.get("/model").json()
    for status in (ready, model):
        assert isinstance(status["trained_at"], str)
        when = datetime.fromisoformat(status["trained_at"])
        assert when.utcoffset() == timedelta(0)
        assert datetime.now(UTC) - timedelta(hours=1) < when <= datetime.now(UTC)
        assert status["age_seconds"] >= 0
    assert ready["trained_at"] == model["trained_at"]
