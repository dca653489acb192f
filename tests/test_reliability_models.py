"""Model folders that must not be served, met by a real ``kgrec serve`` and real ``kgrec`` processes on the
session's Neo4j: a ranker whose ``fusion.txt`` is cut inside a tree or has a bad ``leaf_value`` (LightGBM
used to abort the process on either), and a folder trained on another graph (it used to be served, every
list empty). The service keeps serving the models it has and counts each refusal; the CLI says one line
and exits 1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.files import replace_folder
from core.settings import Settings
from kg import GraphStore
from kgrec import Recommender
from loaders.demo import demo_dataset
from tests.test_service import SMALL, SMALL_RANK, Server, _metric, start_server

FAILURES = "kgrec_model_load_failures_total"


@dataclass
class Folders:
    served: Path  # trained on the graph the session's Neo4j holds now
    good: Path  # a copy of it, kept aside
    foreign: Path  # trained on another graph
    user: str
    env: dict[str, str]
    key: Path  # the service's API key file
    tmp: Path


@pytest.fixture(scope="module")
def folders(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Folders:
    tmp = tmp_path_factory.mktemp("reliability-models")
    trained: dict[str, Path] = {}
    # the graph left in Neo4j is the last one; the other, smaller, only has to be another
    for name, users, items in (("foreign", 30, 24), ("served", 60, 48)):
        session_store.reset()
        dataset, truth = demo_dataset(n_users=users, n_items=items, ratings_per_user=10, seed=3)
        settings = neo4j_settings.model_copy(update={"model_dir": tmp / name})
        rec = Recommender(session_store, settings)
        rec.load_dataset(dataset)
        rec.fit(SMALL, SMALL_RANK)
        trained[name] = settings.model_path
    shutil.copytree(trained["served"], tmp / "good")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "KGREC_"))}
    env |= {
        "KGREC_HOME": str(neo4j_settings.home),
        "KGREC_WORKSPACE": neo4j_settings.workspace,
        "KGREC_MODEL_DIR": str(trained["served"]),
        "KGREC_MODEL_POLL_SECONDS": "0.3",
    }
    user = sorted(truth.user_branch)[0]
    key = neo4j_settings.workspace_dir / "api-key"
    return Folders(trained["served"], tmp / "good", trained["foreign"], user, env, key, tmp)


def _cut_inside_a_tree(folder: Path) -> None:
    """The file cut in the middle of a tree (its checksum in ``meta.json`` no longer matches)."""
    fusion = folder / "ranker" / "fusion.txt"
    text = fusion.read_text()
    fusion.write_text(text[: text.index("leaf_value=", text.index("Tree=1")) + 25])


def _bad_leaf_value(folder: Path) -> None:
    """A ``leaf_value`` LightGBM cannot read, in a folder that keeps no checksum of the file (as one saved
    before kgrec kept it): only the check of the file's structure stands between it and LightGBM."""
    fusion = folder / "ranker" / "fusion.txt"
    text = fusion.read_text()
    at = text.index("leaf_value=") + len("leaf_value=")
    fusion.write_text(text[:at] + "0.1x " + text[at:])
    meta = json.loads((folder / "ranker" / "meta.json").read_text())
    meta.pop("fusion_sha256", None)
    (folder / "ranker" / "meta.json").write_text(json.dumps(meta))


def _copy(source: Path, target: Path, damage: Callable[[Path], None] | None = None) -> Path:
    """``source`` written to ``target`` as a training writes a model folder (a new folder renamed into
    place), damaged by ``damage`` before it is swapped in."""

    def write(staging: Path) -> None:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        if damage is not None:
            damage(staging)

    return replace_folder(target, write, "a test's models")


@pytest.fixture(scope="module")
def server(folders: Folders) -> Iterator[Server]:
    srv = start_server(folders.env, folders.tmp / "serve.log")
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _refused(server: Server, api_key: str, version: str, failures: float, log_says: str) -> None:
    """Wait for the watcher to count one more refused folder; then the old models still serve."""
    with server.client(api_key) as api:
        deadline = time.monotonic() + 60
        while True:
            time.sleep(0.2)
            assert server.proc.poll() is None, f"kgrec serve died ({server.proc.returncode}): {_log(server)}"
            if _metric(api, FAILURES) >= failures + 1:
                break
            assert time.monotonic() < deadline, f"not refused in 60 s: {_log(server)}"
        time.sleep(1.0)  # several more looks at the same folder: not retried, not counted again
        assert server.proc.poll() is None, _log(server)
        assert _metric(api, FAILURES) == failures + 1
        assert api.get("/model").json()["version"] == version
        ready = api.get("/readyz")
        assert ready.status_code == 200 and ready.json()["model"]["version"] == version
    assert log_says in server.log.read_text(errors="replace")


def _log(server: Server) -> str:
    return server.log.read_text(errors="replace")[-3000:]


def test_a_damaged_fusion_model_swapped_in_leaves_the_old_models_serving(
    folders: Folders, server: Server
) -> None:
    api_key = folders.key.read_text().strip()
    with server.client(api_key) as api:
        version = api.get("/model").json()["version"]
        before = api.get(f"/users/{folders.user}/recommendations", params={"k": 5}).json()
        assert len(before) == 5
        failures = _metric(api, FAILURES)
    damages = (
        (_cut_inside_a_tree, "not the file its folder was saved with"),
        (_bad_leaf_value, "leaf_value"),
    )
    for n, (damage, log_says) in enumerate(damages):
        _copy(folders.good, folders.served, damage)
        _refused(server, api_key, version, failures + n, log_says)
    _copy(folders.foreign, folders.served)
    _refused(server, api_key, version, failures + 2, "trained on another graph")
    with server.client(api_key) as api:  # the old models answer as before
        assert api.get(f"/users/{folders.user}/recommendations", params={"k": 5}).json() == before


def _kgrec(folders: Folders, model_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = folders.env | {"KGREC_MODEL_DIR": str(model_dir), "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "kgrec.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        errors="replace",  # LightGBM's complaint about a damaged file may quote its bytes
        timeout=300,
        check=False,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), (
        done.returncode,
        done.stderr[-3000:],
    )
    return lines[0]


@pytest.mark.parametrize("damage", [_cut_inside_a_tree, _bad_leaf_value])
def test_the_cli_refuses_a_damaged_fusion_model_in_one_line(
    folders: Folders, damage: Callable[[Path], None]
) -> None:
    folder = _copy(folders.good, folders.tmp / f"cli-{damage.__name__}", damage)
    line = _one_line(_kgrec(folders, folder, "recommend", folders.user))
    assert "fusion.txt" in line and "train again" in line


def test_the_cli_refuses_a_model_folder_from_another_graph_in_one_line(folders: Folders) -> None:
    pairs = folders.tmp / "pairs.csv"
    pairs.write_text(f"user,item\n{folders.user},I00001\n")
    predict = ("predict", "--input", str(pairs), "--out", str(folders.tmp / "predicted.csv"))
    for args in (("recommend", folders.user), predict):
        line = _one_line(_kgrec(folders, folders.foreign, *args))
        assert "trained on another graph" in line and "train again" in line
    # a folder that does not record its graph (saved before kgrec did) is told by its ranker's catalogue
    unrecorded = _copy(folders.foreign, folders.tmp / "unrecorded", lambda f: (f / "data.json").unlink())
    assert "trained on another graph" in _one_line(_kgrec(folders, unrecorded, "recommend", folders.user))
    good = _kgrec(folders, folders.good, "recommend", folders.user, "--json")
    assert good.returncode == 0 and len(json.loads(good.stdout)) == 10
