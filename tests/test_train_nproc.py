"""``kgrec train --nproc 2`` against the session's real Neo4j: the graph exported once, the stack trained in
two processes (the GNNs data-parallel), the same ratings and quality within noise of one process, and a
model folder that the ordinary loaders and the serving commands read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from core.settings import Settings
from gnn import RatingModel
from kg import GraphStore
from kgrec.cli import app
from loaders.demo import write_demo_files
from rank.checkpoint import load_ranker

runner = CliRunner()

DEMO = {"n_users": 48, "n_items": 48, "ratings_per_user": 12, "seed": 3}


def _json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _ndcg10(trained: dict[str, Any]) -> float:
    return next(m["ndcg"] for m in trained["ranking"]["at_k"] if m["k"] == 10)


def test_two_processes_train_what_one_does(
    store: GraphStore, cli_env: Settings, tmp_path: Path, monkeypatch: Any
) -> None:
    files = write_demo_files(tmp_path / "data", **DEMO)
    _json(
        "load",
        "table",
        "--ratings",
        str(files["ratings"]),
        "--items",
        str(files["items"]),
        "--item-attr",
        f"Brand={files['brand']}",
        "--item-attr",
        f"Category={files['category']}",
    )
    one = _json("train", "--no-text", "--model-dir", str(tmp_path / "one"))
    two = _json("train", "--no-text", "--nproc", "2", "--model-dir", str(tmp_path / "two"))
    assert two["rating"]["ratings"] == one["rating"]["ratings"]
    rmse1, rmse2 = (r["rating"]["test"]["blend"]["rmse"] for r in (one, two))
    ndcg1, ndcg2 = _ndcg10(one), _ndcg10(two)
    print(f"blend RMSE {rmse1:.4f} / {rmse2:.4f}, fusion NDCG@10 {ndcg1:.4f} / {ndcg2:.4f} (one / two)")
    assert abs(rmse2 - rmse1) < 0.1 * rmse1
    assert abs(ndcg2 - ndcg1) < 0.2 * ndcg1
    assert two["rating"]["minibatch"]  # data-parallel is over mini-batches
    # the folder is an ordinary one: the loaders read it, and it serves
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
    RatingModel.load(tmp_path / "two")
    load_ranker(tmp_path / "two" / "ranker")
    monkeypatch.setenv("KGREC_MODEL_DIR", str(tmp_path / "two"))
    user = files["ratings"].read_text().splitlines()[1].split(",")[0]
    assert len(_json("recommend", user, "--k", "4")) == 4


def test_nproc_below_one_is_one_line(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("KGREC_HOME", str(tmp_path))
    result = runner.invoke(app, ["train", "--nproc", "0"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: --nproc must be at least 1, got 0"
