"""The service's parts that need no Neo4j: the key file, request bodies, the metrics window, error bodies,
the alert rules, and the app answering 503 (as JSON) when it cannot reach its graph."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from core.errors import ConfigError, InputError, ModelError, Neo4jError, NotFoundError, NotReadyError
from core.settings import Neo4jSettings, Settings
from kgrec.recommender import MAX_K
from kgrec.service import ApiKey, ServiceSettings, create_app, key_file
from kgrec.service.errors import status_of
from kgrec.service.events import event_rows
from kgrec.service.metrics import ServiceMetrics
from kgrec.service.schemas import EventBatch, EventIn
from kgrec.service.security import ensure_key_file

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "deploy" / "alerts.yml"


def test_the_key_is_generated_once_private_and_overridden_by_the_environment(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, workspace="shop")
    generated = ApiKey(settings, ServiceSettings())
    path = key_file(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    key = path.read_text()
    assert generated.matches(key) and not generated.matches(key + "x") and not generated.matches(None)
    assert ApiKey(settings, ServiceSettings()).matches(key)  # read back, not generated again
    given = ApiKey(settings, ServiceSettings(api_key=SecretStr("from-env")))
    assert given.matches("from-env") and not given.matches(key) and "from-env" not in repr(given)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        ensure_key_file(path)


def test_event_bodies_are_validated_and_repeated_ids_written_once() -> None:
    with pytest.raises(ValidationError, match="needs a value"):
        EventIn(id="e", user="u", item="i", kind="rating")
    with pytest.raises(ValidationError, match="only a rating"):
        EventIn(id="e", user="u", item="i", kind="view", value=1.0)
    with pytest.raises(ValidationError):
        EventIn(id="has space", user="u", item="i", kind="view")
    with pytest.raises(ValidationError):
        EventIn(id="e", user="u", item="i", kind="wishlist")
    with pytest.raises(ValidationError, match="kind"):  # the field is `kind`, as in kg and the graph
        EventIn.model_validate({"id": "e", "user": "u", "item": "i", "type": "view"})
    with pytest.raises(ValidationError):
        EventBatch(events=[])
    batch = EventBatch(
        events=[
            EventIn(id="a", user="u", item="i", kind="view"),
            EventIn(id="a", user="u", item="j", kind="cart"),
            EventIn(id="b", user="u", item="i", kind="rating", value=4.5, ts=7),
        ]
    )
    rows = event_rows(batch, now=100)
    assert [(r["id"], r["item"], r["kind"], r["ts"]) for r in rows] == [
        ("a", "i", "view", 100),
        ("b", "i", "rating", 7),
    ]


def test_the_window_forgets_old_lists_and_measures_coverage_popularity_and_brands() -> None:
    window = ServiceMetrics(window=2).window
    window.record([("I1", 10.0, "A"), ("I2", 20.0, "A")], catalogue=10)
    window.record([("I1", 10.0, "A"), ("I3", 0.0, "B")], catalogue=10)
    assert window.coverage() == 0.3 and window.mean_popularity() == 10.0 and window.top_brand_share() == 0.75
    window.record([("I4", 4.0, "B"), ("I5", 4.0, None)], catalogue=10)  # the first list drops out
    assert window.coverage() == 0.4 and window.mean_popularity() == 4.5 and window.top_brand_share() == 0.5


def test_model_metrics_follow_swaps() -> None:
    metrics = ServiceMetrics()
    metrics.model_loaded("aaa", 1000.0, None)
    metrics.model_loaded("bbb", 2000.0, "aaa")
    text = metrics.exposition().decode()
    assert 'kgrec_model_info{version="bbb"} 1.0' in text and 'version="aaa"' not in text
    assert "kgrec_model_swaps_total 1.0" in text and "kgrec_model_trained_timestamp_seconds 2000.0" in text


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("x"), 404),
        (NotReadyError("x"), 503),
        (Neo4jError("x"), 503),
        (ModelError("x"), 422),
        (InputError("x"), 422),
        (ConfigError("x"), 500),
    ],
)
def test_errors_map_to_statuses(error: Exception, status: int) -> None:
    assert status_of(error) == status  # type: ignore[arg-type]


def test_the_service_refuses_the_k_the_library_refuses(tmp_path: Path) -> None:
    """One bound on ``k`` (kgrec.recommender.MAX_K, which tests/test_input_bounds holds the library to): the
    service refuses MAX_K + 1 before any work, and takes MAX_K (503 here only because no graph answers)."""
    assert ServiceSettings().max_k == MAX_K
    with pytest.raises(ValidationError):
        ServiceSettings(max_k=MAX_K + 1)
    settings = Settings(
        home=tmp_path,
        workspace="offline",
        neo4j=Neo4jSettings(uri="bolt://127.0.0.1:9", password=SecretStr("x")),
    )
    key = {"X-API-Key": "k"}
    with TestClient(create_app(settings, ServiceSettings(api_key=SecretStr("k")))) as client:
        for path in ("/users/u/recommendations", "/items/i/similar"):
            over = client.get(path, params={"k": MAX_K + 1}, headers=key)
            assert over.status_code == 422 and f"at most {MAX_K}" in over.json()["error"], path
            assert client.get(path, params={"k": MAX_K}, headers=key).status_code == 503, path


def test_an_unreachable_graph_is_503_as_json_and_health_still_answers(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        workspace="offline",
        neo4j=Neo4jSettings(uri="bolt://127.0.0.1:9", password=SecretStr("x")),
    )
    app = create_app(settings, ServiceSettings(api_key=SecretStr("k")))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        for _ in range(100):
            if app.state.kgrec.startup_error:
                break
            time.sleep(0.1)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert client.get("/users/u/recommendations").status_code == 401
        down = client.get("/users/u/recommendations", headers={"Authorization": "Bearer k"})
        assert down.status_code == 503 and "Neo4j" in down.json()["error"]
        events = client.post(
            "/events",
            json={"events": [{"id": "e", "user": "u", "item": "i", "kind": "view"}]},
            headers={"X-API-Key": "k"},
        )
        assert events.status_code == 503 and "Traceback" not in events.text
        assert client.get("/nowhere", headers={"X-API-Key": "k"}).json() == {"error": "Not Found"}
        assert (
            'kgrec_http_errors_total{status="503"}' in client.get("/metrics", headers={"X-API-Key": "k"}).text
        )


def test_a_bug_is_a_plain_500_and_counted(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        workspace="offline",
        neo4j=Neo4jSettings(uri="bolt://127.0.0.1:9", password=SecretStr("x")),
    )
    app = create_app(settings, ServiceSettings(api_key=SecretStr("k")))

    def boom() -> None:
        raise RuntimeError("secret detail")

    app.add_api_route("/boom", boom)
    with TestClient(app) as client:  # raises here if the exception escaped to Starlette's last resort
        answer = client.get("/boom")
        assert answer.status_code == 500 and answer.json() == {"error": "internal error"}
        assert (
            'kgrec_http_errors_total{status="500"} 1.0'
            in client.get("/metrics", headers={"X-API-Key": "k"}).text
        )


def _metric_names() -> set[str]:
    text = ServiceMetrics().exposition().decode()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    kinds = {line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE")}
    out = set()
    for name in names:
        out.add(name)
        if kinds[name] == "counter":
            out.add(f"{name}_total")
        if kinds[name] == "histogram":
            out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return out


def test_alert_rules_parse_and_name_only_metrics_the_service_exports() -> None:
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"KgrecHighErrorRate", "KgrecRecommendLatencyP99", "KgrecModelStale", "KgrecCoverageDrop"} <= names
    exported = _metric_names()
    for rule in rules:
        assert (
            set(rule) <= {"alert", "expr", "for", "labels", "annotations"} and rule["annotations"]["summary"]
        )
        used = set(re.findall(r"\b(kgrec_[a-z_]+)", rule["expr"]))
        assert used and used <= exported, (rule["alert"], used - exported)
    promtool = shutil.which("promtool")
    if promtool:
        done = subprocess.run(
            [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
