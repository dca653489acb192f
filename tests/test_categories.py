"""Categories are keyed by their path (a tree in every loader's output) and Amazon 2018 metadata is cleaned
by counted rules (loaders/cleaning.py)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.errors import InputError, SchemaError
from core.settings import Settings
from kg import GraphStore
from kg.paths import candidate_paths
from kgrec.cli import app
from loaders import Dataset, read_amazon2018, read_hin, read_movielens, read_table
from loaders.cleaning import CleaningCounts, brand_name, category_path, is_feature_text, parse_price, unescape
from loaders.demo import demo_dataset, write_demo_files
from loaders.records import category_key, split_category

from .conftest import SHARED_DATA

README = Path(__file__).resolve().parents[1] / "README.md"
TREE_WALK = re.search(r"Walk the category tree.*?```cypher\n(.*?)```", README.read_text(), flags=re.S)
NO_TWO_PARENTS = (
    "MATCH (c:Category)-[:SUBCATEGORY_OF]->(p:Category) WITH c, count(p) AS parents "
    "WHERE parents > 1 RETURN count(c) AS n"
)
SELF_LOOPS = "MATCH (c:Category)-[:SUBCATEGORY_OF]->(c) RETURN count(c) AS n"


# -- cleaning rules ------------------------------------------------------------------------------------
def test_feature_text_is_cut_from_category_lists() -> None:
    counts = CleaningCounts()
    raw = ["Clothing", "Women", "Women", "100% cotton, soft and breathable.", "Machine wash", "Imported"]
    assert category_path(raw, counts) == ["Clothing", "Women", "Women"]  # a child named like its parent stays
    assert (counts.category_lists_cut, counts.category_entries_cut) == (1, 3)
    assert category_path(["Home", "<span class='x'>Deal</span>"], counts) == ["Home"]
    assert category_path(["Home", "x" * 61], counts) == ["Home"]
    assert category_path(["Toys", "Fun for kids; ages 3 and up"], counts) == ["Toys"]
    assert counts.category_lists_cut == 4
    assert category_path(["Books", "Dr. Seuss", "Arts & Photography"], counts) == [
        "Books",
        "Dr. Seuss",
        "Arts & Photography",
    ]
    assert counts.category_lists_cut == 4
    assert not is_feature_text("Health, Fitness & Wellness") and is_feature_text("Great gift. Buy now")


def test_entities_are_decoded_everywhere_and_counted() -> None:
    counts = CleaningCounts()
    assert unescape("AT&amp;amp;T") == ("AT&T", True) and unescape("AT&T") == ("AT&T", False)
    assert category_path(["Fashion &amp; Style", "Women"], counts) == ["Fashion & Style", "Women"]
    assert counts.category_names_unescaped == 1
    assert brand_name("F&amp;W Publications", counts) == "F&W Publications" and counts.brands_unescaped == 1


def test_brand_link_texts_are_reduced_to_the_name() -> None:
    counts = CleaningCounts()
    assert brand_name("Visit the Acme Store", counts) == "Acme"
    assert brand_name("Visit Amazon's Jane Doe Page", counts) == "Jane Doe"
    assert brand_name("by   Hearst", counts) == "Hearst"
    assert brand_name("By Terry", counts) == "By Terry"  # a real brand, not a byline
    assert brand_name("State By State Gardening", counts) == "State By State Gardening"
    assert counts.brands_normalised == 3


def test_prices_and_ranges_are_parsed_and_junk_is_no_price() -> None:
    counts = CleaningCounts()
    assert parse_price("$1,299.00", counts) == 1299.0
    assert parse_price("$10.99 - $15.99", counts) == 10.99
    assert parse_price(7, counts) == 7.0
    assert parse_price(".a-box-inner{background-color: 300px", counts) is None
    assert parse_price("", counts) is None and parse_price(None, counts) is None
    assert (counts.prices_parsed, counts.price_ranges, counts.prices_unparsed) == (3, 1, 1)


def _meta(tmp_path: Path, lines: list[dict[str, Any]]) -> tuple[Path, Path]:
    meta = tmp_path / "meta.json.gz"
    with gzip.open(meta, "wt") as handle:
        handle.write("\n".join(json.dumps(x) for x in lines) + "\n")
    asins = [x["asin"] for x in lines]
    ratings = tmp_path / "r.csv"
    ratings.write_text("".join(f"{a},u{n % 3},{1 + n % 5},{100 + n}\n" for n, a in enumerate(asins)))
    return meta, ratings


def _amazon(tmp_path: Path) -> Dataset:
    meta, ratings = _meta(tmp_path, DIRTY)
    return read_amazon2018(meta, ratings=ratings)


DIRTY = [
    {
        "asin": "A1",
        "title": "Vogue",
        "category": ["Magazines", "Fashion &amp; Style", "Women"],
        "price": "$5",
    },
    {"asin": "A2", "title": "Shape", "category": ["Magazines", "Health", "Women"], "brand": "by Meredith"},
    {"asin": "A3", "title": "Elle", "category": ["Magazines", "Fashion & Style", "Women"]},
    {
        "asin": "A4",
        "title": "Tee &amp; Co",
        "brand": "Visit the Hanes Store",
        "category": ["Clothing", "Clothing", "Soft ring-spun cotton for all-day comfort.", "Imported"],
        "price": "$10.99 - $15.99",
    },
    {"asin": "A5", "title": "<span class=", "description": ["A long read. Monthly."], "category": ["Books"]},
]


def test_amazon2018_reader_cleans_and_reports(tmp_path: Path) -> None:
    ds = _amazon(tmp_path)
    paths = dict(zip(ds.categories["item"], ds.categories["path"], strict=True))
    assert paths["A1"] == paths["A3"] == ("Magazines", "Fashion & Style", "Women")
    assert paths["A4"] == ("Clothing", "Clothing")
    brands = dict(zip(ds.brands["item"], ds.brands["brand"], strict=True))
    assert brands == {"A2": "Meredith", "A4": "Hanes"}
    items = ds.items.set_index("id")
    assert items.loc["A4", "title"] == "Tee & Co" and items.loc["A4", "price"] == 10.99
    assert items.loc["A5", "title"] == "A long read."
    c = ds.report.cleaning
    assert (c.category_lists_cut, c.category_entries_cut, c.category_names_unescaped) == (1, 2, 1)
    assert (c.titles_unescaped, c.brands_normalised, c.price_ranges, c.prices_parsed) == (1, 2, 1, 2)
    assert c.titles_from_description == 1
    assert ds.report.model_dump()["cleaning"]["category_entries_cut"] == 2  # what `--json` prints


def test_category_keys_and_table_paths(tmp_path: Path) -> None:
    assert category_key(split_category(" Books>History ")) == "Books > History"
    (tmp_path / "r.csv").write_text("u1,i1,5\nu1,i2,3\n")
    (tmp_path / "c.csv").write_text("i1,Books > Books\ni2,Books\n")
    ds = read_table(tmp_path / "r.csv", item_attrs={"Category": tmp_path / "c.csv"})
    assert list(ds.categories["path"]) == [("Books", "Books"), ("Books",)]


# -- the graph: a tree per loader ----------------------------------------------------------------------
def _hin(tmp_path: Path) -> Dataset:
    folder = tmp_path / "hin"
    folder.mkdir()
    (folder / "user_item.dat").write_text("1\t10\t5\t100\n1\t11\t4\t101\n2\t10\t3\t102\n")
    (folder / "item_category.dat").write_text("10,1\n10,2\n11,2\n")
    return read_hin(folder)


def _movielens(tmp_path: Path) -> Dataset:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.5,100\n2,2,3,101\n")
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n1,Heat (1995),Action|Crime\n2,Up (2009),Comedy\n"
    )
    return read_movielens(folder)


def _table(tmp_path: Path) -> Dataset:
    files = write_demo_files(tmp_path / "demo", n_users=12, n_items=24, ratings_per_user=4)
    extra = tmp_path / "extra.csv"
    extra.write_text("I00000,Books > Books\nI00001,Books\n")  # a child named like its parent
    cats = pd.concat([pd.read_csv(files["category"], header=None), pd.read_csv(extra, header=None)])
    cats.to_csv(files["category"], header=False, index=False)
    return read_table(files["ratings"], item_attrs={"Category": files["category"], "Brand": files["brand"]})


LOADERS = {
    "amazon2018": _amazon,
    "hin": _hin,
    "movielens": _movielens,
    "table": _table,
    "demo": lambda tmp: demo_dataset(n_users=12, n_items=24, ratings_per_user=4)[0],
}


def _leaf_paths(dataset: Dataset) -> set[tuple[str, ...]]:
    paths = {tuple(p) for p in dataset.categories["path"]}
    prefixes = {p[:n] for p in paths for n in range(1, len(p))}
    return paths - prefixes


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_readme_tree_walk_returns_every_tree(store: GraphStore, tmp_path: Path, loader: str) -> None:
    assert TREE_WALK is not None, "the README lost its tree-walk query"
    dataset = LOADERS[loader](tmp_path)
    store.write(dataset)
    walked = {tuple(r["path"]) for r in store.read(TREE_WALK.group(1))}
    assert walked == _leaf_paths(dataset) and walked
    assert store.read(SELF_LOOPS)[0]["n"] == 0
    assert store.read(NO_TWO_PARENTS)[0]["n"] == 0
    keys = set(store.export().nodes["Category"]["key"])
    assert keys == {category_key(p[:n]) for p in dataset.categories["path"] for n in range(1, len(p) + 1)}


def test_same_name_under_two_parents_is_two_categories(store: GraphStore, tmp_path: Path) -> None:
    store.write(_amazon(tmp_path))
    women = store.read(
        "MATCH (c:Category {name: 'Women'}) RETURN c.path AS path, c.depth AS depth ORDER BY path"
    )
    assert women == [
        {"path": "Magazines > Fashion & Style > Women", "depth": 2},
        {"path": "Magazines > Health > Women", "depth": 2},
    ]
    assert store.items_of(category="Women") == {"A1", "A2", "A3"}  # a name: every category of that name
    assert store.items_of(category="Magazines>Fashion & Style > Women") == {"A1", "A3"}  # a path
    assert store.items_of(category="Clothing > Clothing") == {"A4"}
    assert store.items_of(category="Clothing") == {"A4"}
    with pytest.raises(InputError):
        store.items_of(category="Fashion & Style > Women")  # a path starts at the root


def test_profile_and_explanation_names_stay_display_names(store: GraphStore) -> None:
    dataset, truth = demo_dataset(n_users=12, n_items=48, ratings_per_user=8, seed=2)
    store.write(dataset)
    user = "U00002"
    leanings = {rel.type: rows for rel, rows in store.leanings(user).items()}
    assert leanings["IN_CATEGORY"][0]["name"] == truth.user_branch[user]  # "Coffee", not "Kitchen > Coffee"
    rated = set(dataset.ratings[dataset.ratings.user == user].item)
    target = next(i for i, b in truth.item_branch.items() if b == truth.user_branch[user] and i not in rated)
    paths = [p for p in candidate_paths(store, user, target) if p["kind"] in ("category", "parent_category")]
    assert paths
    for path in paths:
        for node in path["nodes"]:
            if node["label"] == "Category":
                assert " > " not in node["name"] and node["key"].endswith(node["name"])


def test_graph_keyed_by_name_asks_for_a_reload(store: GraphStore) -> None:
    store.write_query("CREATE (:Category {name: 'Women', depth: 0})")
    with pytest.raises(SchemaError, match="reload"):
        store.write(demo_dataset(n_users=5, n_items=12, ratings_per_user=2)[0])
    with pytest.raises(SchemaError, match="reload"):
        store.items_of(category="Women")
    with pytest.raises(SchemaError, match="reload"):
        store.export()


def test_old_name_constraint_is_dropped(store: GraphStore) -> None:
    store.write_query(
        "CREATE CONSTRAINT category_name_unique IF NOT EXISTS FOR (n:Category) REQUIRE n.name IS UNIQUE"
    )
    store.write(_two_women())
    names = {r["name"] for r in store.read("SHOW CONSTRAINTS YIELD name RETURN name")}
    assert "category_name_unique" not in names and "category_path_unique" in names


def _two_women() -> Dataset:
    dataset, _ = demo_dataset(n_users=5, n_items=12, ratings_per_user=2)
    dataset.categories = pd.DataFrame(
        {"item": ["I00000", "I00001"], "path": [("A", "Women"), ("B", "Women")]}
    )
    return dataset


@pytest.mark.skipif(
    not (SHARED_DATA / "amazon2018-magazine").exists(), reason="shared magazine data not present"
)
def test_magazine_women_are_separate_and_the_tree_has_one_parent_each(store: GraphStore) -> None:
    folder = SHARED_DATA / "amazon2018-magazine"
    dataset = read_amazon2018(
        folder / "meta_Magazine_Subscriptions.json.gz", ratings=folder / "Magazine_Subscriptions.ratings.csv"
    )
    store.write(dataset)
    assert store.read("MATCH (c:Category {name: 'Women'}) RETURN count(c) AS n")[0]["n"] >= 2
    assert store.read(NO_TWO_PARENTS)[0]["n"] == 0 and store.read(SELF_LOOPS)[0]["n"] == 0
    assert TREE_WALK is not None
    assert {tuple(r["path"]) for r in store.read(TREE_WALK.group(1))} == _leaf_paths(dataset)
    assert dataset.report.cleaning.category_names_unescaped > 0


def test_cli_load_json_reports_cleaning_and_help_says_name_or_path(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    meta, ratings = _meta(tmp_path, DIRTY)
    runner = CliRunner()
    result = runner.invoke(
        app, ["load", "amazon2018", "--meta", str(meta), "--ratings", str(ratings), "--json"]
    )
    assert result.exit_code == 0, result.output
    cleaning = json.loads(result.stdout)["cleaning"]
    assert cleaning["category_entries_cut"] == 2 and cleaning["brands_normalised"] == 2
    help_text = re.sub(r"[\s│]+", " ", runner.invoke(app, ["recommend", "--help"]).stdout)
    assert "every category of that name" in help_text and "path from the root" in help_text
