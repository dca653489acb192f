"""The README's Cypher and Python examples run against the real Neo4j, so they cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import Settings
from kg import GraphStore
from loaders.demo import demo_dataset

README = Path(__file__).resolve().parents[1] / "README.md"
QUERIES = re.findall(r"```cypher\n(.*?)```", README.read_text(), flags=re.S)
PYTHON = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_its_tour_queries() -> None:
    """The tour shows two queries; the cookbook (docs/cypher.md, tests/test_cookbook.py) holds the rest."""
    assert len(QUERIES) >= 2


@pytest.mark.parametrize("query", QUERIES, ids=[f"query{i}" for i in range(len(QUERIES))])
def test_readme_query_returns_rows(store: GraphStore, query: str) -> None:
    dataset, truth = demo_dataset(n_users=30, n_items=48, ratings_per_user=12, seed=5)
    store.write(dataset)
    user = "U00002"
    liked = dataset.ratings[(dataset.ratings.user == user) & (dataset.ratings.rating >= 4)].item.iloc[0]
    params = {"item": liked, "user": user, "query": "grinder"}
    rows = store.read(query, {k: v for k, v in params.items() if f"${k}" in query})
    assert rows, query


def test_readme_python_example_runs(
    store: GraphStore,
    cli_env: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KGREC_MODEL_DIR", str(tmp_path / "model"))
    assert PYTHON, "the README has no Python example"
    for block in PYTHON:
        exec(compile(block, str(README), "exec"), {})  # noqa: S102 - the README's own example
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("test RMSE ") and float(printed[0].split()[-1]) < 1.2
    assert (tmp_path / "model").exists() and store.stats().nodes["User"] > 0
