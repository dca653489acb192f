"""The CLI commands and options the README lists, driven as a user types them, against the session's Neo4j.

The loaders' options run first on a clean graph; then one module-wide workspace (the demo catalogue loaded
with ``kgrec load table``, trained with ``kgrec train --model-dir``) serves every serving command.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.schema import ITEM, RATED, USER
from core.settings import Settings
from kg import GraphStore
from kgrec.cli import app
from loaders.demo import demo_dataset, write_demo_files

runner = CliRunner()
DEMO = {"n_users": 48, "n_items": 48, "ratings_per_user": 12, "seed": 3}


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _json(*args: str) -> Any:
    return json.loads(_ok(*args, "--json"))


# --- loading: each test on a clean graph, before the trained workspace exists --------------------------


ML_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]


def _u_item_line(movie: int, title: str, genres: set[str]) -> str:
    flags = "|".join("1" if g in genres else "0" for g in ML_GENRES)
    return f"{movie}|{title}|01-Jan-1995||http://example.org/{movie}|{flags}"


def test_load_movielens_100k_folder(store: GraphStore, cli_env: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text(
        "1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t881250951\n2\t30\t1\t881250952\n"
        "3\t20\t2\t881250953\n"
    )
    (folder / "u.item").write_text(
        "\n".join(
            [
                _u_item_line(10, "Toy Story (1995)", {"Animation", "Comedy"}),
                _u_item_line(20, "GoldenEye (1995)", {"Action"}),
                _u_item_line(30, "Four Rooms (1995)", {"Thriller"}),
            ]
        )
        + "\n"
    )
    report = _json("load", "movielens", str(folder))
    assert report["rows_accepted"] >= 5 and report["rejected"] == []
    stats = _json("stats")
    assert stats["nodes"]["User"] == 3 and stats["nodes"]["Item"] == 3
    rows = store.read(
        f"MATCH (i:{ITEM.label})-[:IN_CATEGORY]->(c:Category) RETURN i.id AS item, i.title AS title, "
        "collect(c.name) AS genres ORDER BY item"
    )
    assert [(r["item"], r["title"], sorted(r["genres"])) for r in rows] == [
        ("10", "Toy Story (1995)", ["Animation", "Comedy"]),
        ("20", "GoldenEye (1995)", ["Action"]),
        ("30", "Four Rooms (1995)", ["Thriller"]),
    ]
    rating = store.read(
        f"MATCH (:{USER.label} {{id: '2'}})-[r:{RATED.type}]->(:{ITEM.label} {{id: '30'}}) RETURN r.rating AS r"
    )
    assert rating == [{"r": 1.0}]


def test_max_bad_accepts_what_the_default_budget_rejects(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    ratings = tmp_path / "r.csv"
    ratings.write_text("user,item,rating\nu1,i1,5\nu1,i2,4\nu2,i1,9\nu2,i3,2\n")  # 9 is off the 1-5 scale
    refused = runner.invoke(app, ["load", "table", "--ratings", str(ratings)])
    assert refused.exit_code == 1 and f"{ratings}:4" in refused.output and "budget" in refused.output
    assert store.stats().nodes.get("User", 0) == 0
    report = _json("load", "table", "--ratings", str(ratings), "--max-bad", "0.5")
    assert report["rows_accepted"] == 3 and [r["line"] for r in report["rejected"]] == [4]
    assert store.stats().nodes["User"] == 2 and store.stats().nodes["Item"] == 3


def test_workspace_flag_and_neo4j_status_stop_of_another_workspace(cli_env: Settings) -> None:
    stopped = runner.invoke(app, ["-w", "elsewhere", "neo4j", "status", "--json"])
    status = json.loads(stopped.stdout)
    assert status["workspace"] == "elsewhere" and not status["running"] and status["uri"] is None
    # a script tests the exit status: 3 (LSB's "not running"), as for a server that does not answer
    assert stopped.exit_code == 3
    stopped = runner.invoke(app, ["--workspace", "elsewhere", "neo4j", "status"])
    assert stopped.exit_code == 3 and "not running (workspace elsewhere)" in stopped.stdout
    assert "Neo4j was not running." in _ok("-w", "elsewhere", "neo4j", "stop")
    # the session's own server, named by the flag rather than KGREC_WORKSPACE, is untouched and answers
    assert json.loads(_ok("-w", cli_env.workspace, "neo4j", "status", "--json"))["answers"]


# --- the trained workspace -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    store: GraphStore
    model_dir: Path
    trained: dict[str, Any]
    links: list[tuple[str, str]]
    user_branch: dict[str, str]
    item_branch: dict[str, str]


@pytest.fixture(scope="module")
def workspace(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    session_store.reset()
    root = tmp_path_factory.mktemp("cli-commands")
    files = write_demo_files(root / "data", **DEMO)
    _, truth = demo_dataset(**DEMO)
    items = sorted(truth.item_branch)
    links = [(items[n], items[n + 12]) for n in range(0, 24, 3)]  # n and n + 12: one branch
    link_file = root / "data" / "also_bought.csv"
    link_file.write_text("".join(f"{a},{b}\n" for a, b in links))
    model_dir = root / "model"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("NEO4J_URI", raising=False)
        env.delenv("KGREC_MODEL_DIR", raising=False)
        env.setenv("KGREC_HOME", str(neo4j_settings.home))
        env.setenv("KGREC_WORKSPACE", neo4j_settings.workspace)
        _ok(
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
            "--item-link",
            f"ALSO_BOUGHT={link_file}",
        )
        trained = json.loads(_ok("train", "--no-text", "--model-dir", str(model_dir), "--json"))
        env.setenv("KGREC_MODEL_DIR", str(model_dir))  # the serving commands read the model from there
        yield Workspace(session_store, model_dir, trained, links, truth.user_branch, truth.item_branch)


def test_item_link_is_in_the_graph(workspace: Workspace) -> None:
    rows = workspace.store.read(
        f"MATCH (a:{ITEM.label})-[:ALSO_BOUGHT]->(b:{ITEM.label}) RETURN a.id AS a, b.id AS b ORDER BY a"
    )
    assert [(r["a"], r["b"]) for r in rows] == sorted(workspace.links)


def test_train_saves_the_models_in_model_dir(workspace: Workspace) -> None:
    assert (workspace.model_dir / "ranker" / "meta.json").exists()
    assert (workspace.model_dir / "meta.json").exists()
    assert workspace.trained["rating"]["test"]["blend"]["rmse"] > 0


def test_predict_writes_one_prediction_per_pair(workspace: Workspace, tmp_path: Path) -> None:
    users = list(workspace.user_branch)[:4]
    items = list(workspace.item_branch)[:6]
    pairs = [(u, i) for u in users for i in items] + [(users[0], "never-seen-item")]
    source = tmp_path / "pairs.csv"
    source.write_text("user,item\n" + "".join(f"{u},{i}\n" for u, i in pairs))
    target = tmp_path / "predictions.csv"
    assert f"wrote {len(pairs)} predictions" in _ok("predict", "--input", str(source), "--out", str(target))
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["user"], r["item"]) for r in rows] == pairs
    values = [float(r["prediction"]) for r in rows]
    assert all(1.0 <= v <= 5.0 for v in values)
    loved = [
        v
        for (u, i), v in zip(pairs, values, strict=True)
        if workspace.item_branch.get(i) == workspace.user_branch[u]
    ]
    other = [
        v
        for (u, i), v in zip(pairs[:-1], values[:-1], strict=True)
        if workspace.item_branch[i] != workspace.user_branch[u]
    ]
    assert loved and other and sum(loved) / len(loved) > sum(other) / len(other) + 1.0


def test_recommend_by_brand_and_by_category(workspace: Workspace) -> None:
    user = next(iter(workspace.user_branch))
    branded = _json("recommend", user, "--k", "4", "--brand", "Inkwell")
    assert len(branded) == 4 and {r["brand"] for r in branded} == {"Inkwell"}
    kitchen = _json("recommend", user, "--k", "6", "--category", "Kitchen")
    assert len(kitchen) == 6
    assert {workspace.item_branch[r["item"]] for r in kitchen} <= {"Coffee", "Baking"}
    missing = runner.invoke(app, ["recommend", user, "--brand", "No Such Brand"])
    assert missing.exit_code == 1 and "No Such Brand" in missing.output


UNRATE = f"MATCH (:{USER.label} {{id: $user}})-[r:{RATED.type}]->(:{ITEM.label} {{id: $item}}) DELETE r"
RATE = (
    f"MATCH (u:{USER.label} {{id: $user}}), (i:{ITEM.label} {{id: $item}}) "
    f"CREATE (u)-[:{RATED.type} {{rating: 5.0, ts: 0}}]->(i)"
)


def test_include_seen_keeps_items_rated_since_training(workspace: Workspace) -> None:
    user = list(workspace.user_branch)[1]
    top = [r["item"] for r in _json("recommend", user, "--k", "5")]
    workspace.store.write_query(RATE, {"user": user, "item": top[0]})
    try:
        without = [r["item"] for r in _json("recommend", user, "--k", "5")]
        with_seen = [r["item"] for r in _json("recommend", user, "--k", "5", "--include-seen")]
        rated = set(workspace.store.rated_items(user)["item"])
    finally:  # the graph is this module's
        workspace.store.write_query(UNRATE, {"user": user, "item": top[0]})
    assert len(without) == len(with_seen) == 5 and not rated & set(without)
    assert with_seen[0] == top[0]  # rated since training, and back with --include-seen
    assert set(with_seen) - set(without) <= rated  # what --include-seen adds is only what the user rated


def test_similar_gives_k_other_items(workspace: Workspace) -> None:
    item = sorted(workspace.item_branch)[0]
    rows = _json("similar", item, "--k", "3")
    assert len(rows) == 3 and item not in {r["item"] for r in rows}
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert f"similar to {item}" in _ok("similar", item, "--k", "3")


def test_search_with_a_user_adds_the_predicted_rating(workspace: Workspace) -> None:
    user = next(u for u, b in workspace.user_branch.items() if b == "Coffee")
    hits = _json("search", "grinder", "--user", user)
    assert hits and all("Grinder" in h["title"] and h["predicted"] is not None for h in hits)
    printed = _ok("search", "grinder", "--user", user)
    assert "predicted" in printed and f"{hits[0]['predicted']:.2f}" in printed
    assert all(h["predicted"] is None for h in _json("search", "grinder"))


def _explained_pair(workspace: Workspace) -> tuple[str, str, dict[str, Any]]:
    """A recommended (user, item) with more than two supporting paths, and its ``explain --top 5``."""
    for user in list(workspace.user_branch)[:4]:
        for rec in _json("recommend", user, "--k", "4"):
            result = _json("explain", user, rec["item"], "--top", "5")
            if len(result["paths"]) > 2:
                return user, rec["item"], result
    raise AssertionError("no recommendation of the first users has three supporting paths")


def test_explain_top_paths(workspace: Workspace) -> None:
    user, item, five = _explained_pair(workspace)
    two = _json("explain", user, item, "--top", "2")
    assert two["user"] == user and two["item"] == item
    # two of the same five, with the same scores: a reason through an interaction not yet given goes before
    # a second one through the same interaction, so the two need not be the five's first two
    assert len(two["paths"]) == 2 and all(p in five["paths"] for p in two["paths"])
    printed = _ok("explain", user, item, "--top", "2")
    assert printed.startswith("why ") and f"for {user}:" in printed


def test_report_markdown_for_a_brand_and_html_for_a_category(workspace: Workspace, tmp_path: Path) -> None:
    md = tmp_path / "r.md"
    printed = _ok("report", "--out", str(md), "--format", "md", "--brand", "Crema Co", "--sample", "3")
    assert "report written to" in printed and md.name in printed  # the console may wrap a long path
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# ") and "Brand: Crema Co" in text and "3 selected users" in text
    html = tmp_path / "r.html"
    _ok("report", "--out", str(html), "--category", "Kitchen")
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Category: Kitchen" in page
