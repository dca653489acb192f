"""The README's Cypher examples run against a loaded graph, so they cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kg import GraphStore
from loaders.demo import demo_dataset

README = Path(__file__).resolve().parents[1] / "README.md"
QUERIES = re.findall(r"```cypher\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_at_least_five_queries() -> None:
    assert len(QUERIES) >= 5


@pytest.mark.parametrize("query", QUERIES, ids=[f"query{i}" for i in range(len(QUERIES))])
def test_readme_query_returns_rows(store: GraphStore, query: str) -> None:
    dataset, truth = demo_dataset(n_users=30, n_items=48, ratings_per_user=12, seed=5)
    store.write(dataset)
    user = "U00002"
    liked = dataset.ratings[(dataset.ratings.user == user) & (dataset.ratings.rating >= 4)].item.iloc[0]
    params = {"item": liked, "user": user, "query": "grinder"}
    rows = store.read(query, {k: v for k, v in params.items() if f"${k}" in query})
    assert rows, query
