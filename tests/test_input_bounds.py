"""Quiet nonsense is an error: ``k`` out of range, a filter that names nothing, search text read as Lucene."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import InputError
from core.settings import Settings
from kg import GraphStore
from kgrec import Recommender
from kgrec.cli import app
from kgrec.recommender import MAX_K
from loaders import read_table
from loaders.demo import demo_dataset


@pytest.mark.parametrize("k", [-5, 0, MAX_K + 1])
def test_k_out_of_range_is_an_error_before_anything_runs(neo4j_settings: Settings, k: int) -> None:
    with Recommender.connect(neo4j_settings) as rec:
        for call in (
            lambda: rec.recommend("u1", k=k),
            lambda: rec.recommend_for_new_user(k=k),
            lambda: rec.similar_items("i1", k=k),
            lambda: rec.search("x", k=k),
        ):
            with pytest.raises(InputError, match=f"k must be between 1 and {MAX_K}, got {k}"):
                call()


def test_a_brand_or_category_that_names_nothing_is_an_error_naming_it(store: GraphStore) -> None:
    dataset, _ = demo_dataset(n_users=10, n_items=12, ratings_per_user=4, seed=1)
    store.write(dataset)
    brand = str(dataset.brands["brand"].iloc[0])
    assert store.items_of(brand=brand)
    with pytest.raises(InputError, match="'NoSuchBrand'"):
        store.items_of(brand="NoSuchBrand")
    with pytest.raises(InputError, match="'No > Such'"):
        store.items_of(category="No > Such")


def test_search_text_is_words_unless_lucene_is_asked_for(
    store: GraphStore, cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no model folder: search is the text search (a folder an earlier test trained on its own graph is
    # refused, as a foreign folder is)
    monkeypatch.setenv("KGREC_MODEL_DIR", str(tmp_path / "no-model"))
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user,item,rating\nu1,i1,5\nu1,i2,4\n")
    dataset = read_table(ratings)
    store.write(dataset)
    store.write_query(
        "MATCH (i:Item {id: 'i1'}) SET i.title = 'C++ (AND more): the \"guide\"' "
        "WITH 1 AS x MATCH (j:Item {id: 'i2'}) SET j.title = 'Gardening'"
    )
    store.write_query("CALL db.awaitIndexes(60)")
    for text in ("C++ (AND", 'the "guide', "more):", "title:x AND"):
        hits = store.search(text)
        assert all(h["item"] in {"i1", "i2"} for h in hits), text
    assert [h["item"] for h in store.search("C++ (AND more)")][:1] == ["i1"]
    assert [h["item"] for h in store.search("garden*", lucene=True)] == ["i2"]
    with pytest.raises(InputError, match="not a valid Lucene query"):
        store.search("title:(x AND", lucene=True)
    shown = CliRunner().invoke(app, ["search", "title:(x AND", "--lucene"])
    assert shown.exit_code == 1 and shown.output.count("\n") == 1 and "Traceback" not in shown.output
    plain = CliRunner().invoke(app, ["search", "title:(x AND", "--json"])
    assert plain.exit_code == 0, plain.output
