"""``kgrec recommend --users FILE`` with an id the graph does not hold: the other users' lists are printed,
the unknown one gets its own error (a JSON record, or one ``error:`` line on stderr), and the exit status
(:data:`kgrec.cli.batch.SOME_FAILED`) tells a script that not every user was served (issue 23). ``kgrec report
--users FILE`` fails the same users the same way, and the report covers the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from gnn import TrainConfig
from kg import GraphStore
from kgrec import Recommender
from kgrec.cli import app
from loaders.demo import demo_dataset
from rank import RankConfig

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 2}, "als": {"iterations": 2}},
    candidates=20,
    fusion_users=40,
    trees=20,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=5, mf_epochs=5, patience=3, bias_epochs=2)
PARTIAL = 4  # the documented status, spelled out so that a changed constant fails here too

runner = CliRunner()


@pytest.fixture(scope="module")
def users(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two users of a trained demo workspace, with the CLI pointed at it through the environment."""
    session_store.reset()
    model_dir = tmp_path_factory.mktemp("batch-errors") / "model"
    settings = neo4j_settings.model_copy(update={"model_dir": model_dir})
    dataset, truth = demo_dataset(n_users=40, n_items=40, ratings_per_user=10, seed=5)
    rec = Recommender(session_store, settings)
    rec.load_dataset(dataset)
    rec.fit(SMALL, SMALL_RANK)
    with pytest.MonkeyPatch.context() as env:
        env.delenv("NEO4J_URI", raising=False)
        env.setenv("KGREC_HOME", str(neo4j_settings.home))
        env.setenv("KGREC_WORKSPACE", neo4j_settings.workspace)
        env.setenv("KGREC_MODEL_DIR", str(model_dir))
        yield sorted(truth.user_branch)[:2]


def _file(tmp_path: Path, ids: list[str]) -> str:
    path = tmp_path / "users.txt"
    path.write_text("".join(f"{u}\n" for u in ids))
    return str(path)


def test_json_batch_prints_the_known_users_and_an_error_record_for_the_unknown(
    users: list[str], tmp_path: Path
) -> None:
    chosen = [users[0], "ghost-user", users[1]]
    result = runner.invoke(app, ["recommend", "--users", _file(tmp_path, chosen), "--k", "3", "--json"])
    assert result.exit_code == PARTIAL, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["user"] for line in lines] == chosen  # the file's order, the failed user in its place
    assert len(lines[0]["recommendations"]) == 3 and len(lines[2]["recommendations"]) == 3
    assert set(lines[1]) == {"user", "error"} and "ghost-user" in lines[1]["error"]
    assert result.stderr == ""  # JSON lines carry the error: stderr stays for what is not output


def test_text_batch_prints_the_known_users_and_one_stderr_line_per_unknown(
    users: list[str], tmp_path: Path
) -> None:
    chosen = ["ghost-a", users[0], "ghost-b", "ghost-a"]
    result = runner.invoke(app, ["recommend", "--users", _file(tmp_path, chosen), "--k", "2"])
    assert result.exit_code == PARTIAL, result.output
    assert f"recommendations for {users[0]}" in result.stdout
    assert "ghost" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: user 'ghost-a' is not in the graph",
        "error: user 'ghost-b' is not in the graph",
    ]


def test_a_batch_of_known_users_exits_zero(users: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["recommend", "--users", _file(tmp_path, users), "--k", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["user"] for line in result.stdout.splitlines()] == users


def test_a_single_unknown_user_is_still_one_error_and_status_1(users: list[str]) -> None:
    result = runner.invoke(app, ["recommend", "ghost-user", "--json"])
    assert result.exit_code == 1
    assert result.stdout == "" and "ghost-user" in result.stderr


def test_report_over_a_users_file_reports_the_known_users_and_one_error_line_per_unknown(
    users: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.md"
    chosen = [users[0], "ghost-a", users[1], "ghost-b"]
    args = ["report", "--users", _file(tmp_path, chosen), "--out", str(out), "--format", "md"]
    result = runner.invoke(app, args)
    assert result.exit_code == PARTIAL, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: user 'ghost-a' is not in the graph",
        "error: user 'ghost-b' is not in the graph",
    ]
    by_user = out.read_text(encoding="utf-8").split("## Recommendations by user")[1]
    rows = [line.split("|")[1].strip() for line in by_user.splitlines() if line.startswith("| ")]
    assert set(rows) == {"User", *users}  # the header and both known users' rows, no ghost


def test_report_over_a_file_of_unknown_users_writes_nothing_and_exits_1(
    users: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--users", _file(tmp_path, ["ghost-a"]), "--out", str(out)])
    assert result.exit_code == 1
    assert "error: user 'ghost-a' is not in the graph" in result.stderr
    assert "no report written" in result.stderr and not out.exists()
