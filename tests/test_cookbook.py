"""Every query in docs/cypher.md runs against a loaded demo graph with a planted answer, so the cookbook
cannot rot.

The graph is the demo catalogue (users love one category branch; ``U00002`` loves Coffee) plus what the
cookbook also walks: ``ALSO_BOUGHT`` links within a brand, a ``Genre`` entity type, one item nobody rated,
and item embeddings that point along their branch. It is loaded once for the module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.settings import Settings
from kg import GraphStore
from kg.queries import ITEM_EMBEDDING_INDEX, ITEM_TEXT_INDEX
from kgrec.cli import app
from loaders.demo import DEMO_TREE, demo_dataset
from loaders.records import Dataset, LoadReport

COOKBOOK = Path(__file__).resolve().parents[1] / "docs" / "cypher.md"
BRANCHES = [branch for sub in DEMO_TREE.values() for branch in sub]
BRANCH_BRANDS = {branch: brands for sub in DEMO_TREE.values() for branch, brands in sub.items()}
GENRE_OF_ROOT = {"Outdoor": "Adventure", "Kitchen": "Home", "Reading": "Leisure"}
ROOT_OF_BRANCH = {branch: root for root, sub in DEMO_TREE.items() for branch in sub}
USER = "U00002"  # demo users love branch (u % 6): Coffee
COLD_ITEM = "I09999"
# String literals a query may hold: index names and syntax, never a user's value.
ALLOWED_LITERALS = {"HAS_", ITEM_TEXT_INDEX, ITEM_EMBEDDING_INDEX, " > "}


@dataclass(frozen=True)
class Recipe:
    title: str
    intent: str
    query: str


def parse_cookbook(text: str) -> list[Recipe]:
    """Each ```cypher block, with the heading above it as its title and the prose between them as its intent.

    Other fenced blocks (shell, the schema sketch) are skipped whole, so a ``#`` in them is no heading.
    """
    recipes: list[Recipe] = []
    title, prose = "", list[str]()
    fence: str | None = None  # the language of the block being read, if inside one
    block: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if fence is not None:
            if stripped == "```":
                if fence == "cypher":
                    recipes.append(Recipe(title, " ".join(prose), "\n".join(block)))
                    prose = []
                fence, block = None, []
            else:
                block.append(line)
        elif stripped.startswith("```"):
            fence = stripped[3:].strip()
        elif line.startswith("#"):
            title, prose = line.lstrip("#").strip(), []
        elif stripped:
            prose.append(stripped)
    return recipes


RECIPES = parse_cookbook(COOKBOOK.read_text())


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _params_in(query: str) -> set[str]:
    return set(re.findall(r"\$([A-Za-z_]\w*)", query))


@dataclass(frozen=True)
class World:
    """The loaded graph, the parameters the recipes take, and the planted answer."""

    store: GraphStore
    params: dict[str, Any]
    item_branch: dict[str, str]
    item_brand: dict[str, str]
    user_branch: dict[str, str]
    n_ratings: int
    n_items: int

    def branch(self, item: str) -> str:
        return self.item_branch[item]


def _extras(items: list[str], item_branch: dict[str, str]) -> Dataset:
    """An unrated Coffee item, ALSO_BOUGHT links between items of one brand, and a Genre per item.

    ``item_branch`` already knows the unrated item (Coffee).
    """
    n = len(items)
    # Item n is made by the same brand as item n + 12 (demo: 6 branches x 2 brands, round robin).
    bought = pd.DataFrame([(items[i], items[i + 12]) for i in range(n - 12)], columns=["source", "target"])
    genres = [(i, GENRE_OF_ROOT[ROOT_OF_BRANCH[item_branch[i]]]) for i in [*items, COLD_ITEM]]
    genres += [(i, "Gift") for i in items[::5]]
    return Dataset(
        report=LoadReport(source="cookbook"),
        items=pd.DataFrame(
            [(COLD_ITEM, "Crema Co Travel Grinder", "A hand grinder nobody has rated yet.", 42.0)],
            columns=["id", "title", "description", "price"],
        ),
        brands=pd.DataFrame([(COLD_ITEM, "Crema Co")], columns=["item", "brand"]),
        categories=pd.DataFrame([(COLD_ITEM, ("Kitchen", "Coffee"))], columns=["item", "path"]),
        entities={"Genre": pd.DataFrame(genres, columns=["item", "value"])},
        item_links={"ALSO_BOUGHT": bought},
    )


def _embeddings(items: list[str], item_branch: dict[str, str], seed: int) -> np.ndarray:
    """``[len(items), 8]``: a one-hot of the item's branch plus noise, so neighbours share a branch."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(0.0, 0.08, size=(len(items), len(BRANCHES) + 2))
    for row, item in enumerate(items):
        vectors[row, BRANCHES.index(item_branch[item])] += 1.0
    return vectors.astype(np.float32)


@pytest.fixture(scope="module")
def world(session_store: GraphStore) -> Iterator[World]:
    store = session_store
    store.reset()
    dataset, truth = demo_dataset(n_users=60, n_items=96, ratings_per_user=12, seed=7)
    items = [str(i) for i in dataset.items["id"]]
    item_branch = {**truth.item_branch, COLD_ITEM: "Coffee"}
    item_brand = {**truth.item_brand, COLD_ITEM: "Crema Co"}
    extras = _extras(items, item_branch)
    store.write(
        replace(
            dataset,
            items=pd.concat([dataset.items, extras.items], ignore_index=True),
            brands=pd.concat([dataset.brands, extras.brands], ignore_index=True),
            categories=pd.concat([dataset.categories, extras.categories], ignore_index=True),
            entities=extras.entities,
            item_links=extras.item_links,
        )
    )
    every_item = [*items, COLD_ITEM]
    store.write_embeddings("Item", every_item, _embeddings(every_item, item_branch, seed=7))

    ratings = dataset.ratings[dataset.ratings.user == USER]
    rated = {str(i) for i in ratings.item}
    liked_coffee = sorted(str(i) for i in ratings[ratings.rating >= 4].item if item_branch[i] == "Coffee")
    unrated_coffee = sorted(i for i in items if item_branch[i] == "Coffee" and i not in rated)
    vector = np.zeros(len(BRANCHES) + 2)
    vector[BRANCHES.index("Coffee")] = 1.0
    params = {
        "user": USER,
        "item": liked_coffee[0],
        "candidate": unrated_coffee[0],
        "category": "Kitchen",
        "query": "grinder OR kettle",
        "vector": [float(x) for x in vector],
        "k": 5,
        "min_rating": 4,
        "min_count": 3,
        "max_count": 3,
    }
    yield World(
        store, params, item_branch, item_brand, truth.user_branch, len(dataset.ratings), len(every_item)
    )
    store.reset()


# -- the planted answers, by recipe title --------------------------------------------------------------
Check = Callable[[list[dict[str, Any]], World], None]


def _counts(rows: list[dict[str, Any]], w: World) -> None:
    assert rows[0]["labels"]["Item"] == w.n_items
    assert rows[0]["labels"]["Genre"] == 4


def _distribution(rows: list[dict[str, Any]], w: World) -> None:
    assert sum(r["ratings"] for r in rows) == w.n_ratings
    assert [r["rating"] for r in rows] == sorted(r["rating"] for r in rows)
    assert sum(r["percent"] for r in rows) == pytest.approx(100, abs=0.5)


def _entity_types(rows: list[dict[str, Any]], w: World) -> None:
    assert [(r["entity_type"], r["relationship"], r["values"]) for r in rows] == [("Genre", "HAS_GENRE", 4)]


def _top_brands(rows: list[dict[str, Any]], w: World) -> None:
    by_category = {r["category"]: [b["brand"] for b in r["top_brands"]] for r in rows}
    assert set(by_category["Coffee"]) == set(BRANCH_BRANDS["Coffee"])
    assert set(by_category["Kitchen"]) == set(BRANCH_BRANDS["Coffee"] + BRANCH_BRANDS["Baking"])
    assert [r["depth"] for r in rows] == sorted(r["depth"] for r in rows)


def _best_in_category(rows: list[dict[str, Any]], w: World) -> None:
    assert {r["brand"] for r in rows} == set(BRANCH_BRANDS["Coffee"] + BRANCH_BRANDS["Baking"])


def _tree_walk(rows: list[dict[str, Any]], w: World) -> None:
    assert [r["path"] for r in rows] == [["Kitchen"], ["Kitchen", "Baking"], ["Kitchen", "Coffee"]]
    kitchen = sum(1 for b in w.item_branch.values() if ROOT_OF_BRANCH[b] == "Kitchen")
    assert rows[0]["direct_items"] == 0 and rows[0]["subtree_items"] == kitchen


def _breadcrumbs(rows: list[dict[str, Any]], w: World) -> None:
    assert [r["breadcrumb"] for r in rows] == ["Kitchen > Coffee"]


def _neighbourhood(rows: list[dict[str, Any]], w: World) -> None:
    assert {r["kind"] for r in rows} == {"Brand", "Category", "Genre"}
    best_brand = max((r for r in rows if r["kind"] == "Brand"), key=lambda r: r["mean_rating"])
    assert best_brand["node"] in BRANCH_BRANDS["Coffee"]


def _same_taste(rows: list[dict[str, Any]], w: World) -> None:
    assert len(rows) == w.params["k"]
    assert {w.user_branch[r["peer"]] for r in rows} == {"Coffee"}


def _loyalty(rows: list[dict[str, Any]], w: World) -> None:
    assert rows[0]["brand"] in BRANCH_BRANDS["Coffee"]
    assert sum(r["share_of_likes"] for r in rows) == pytest.approx(1, abs=0.05)


def _genre(rows: list[dict[str, Any]], w: World) -> None:
    assert rows[0]["genre"] == "Home"


def _also_rated(rows: list[dict[str, Any]], w: World) -> None:
    assert {w.branch(r["item"]) for r in rows} == {"Coffee"}


def _co_purchase(rows: list[dict[str, Any]], w: World) -> None:
    brand = w.item_brand[w.params["item"]]
    assert {r["brand"] for r in rows} == {brand}
    assert rows[0]["hops"] == 1 and any(r["hops"] == 2 for r in rows)


def _polarising(rows: list[dict[str, Any]], w: World) -> None:
    assert [r["spread"] for r in rows] == sorted((r["spread"] for r in rows), reverse=True)
    assert all(r["ratings"] >= w.params["min_count"] for r in rows)


def _cold(rows: list[dict[str, Any]], w: World) -> None:
    cold = {r["item"]: r for r in rows}[COLD_ITEM]
    assert cold["ratings"] == 0 and cold["brand"] == "Crema Co" and cold["brand_mean_rating"] > 0
    assert all(r["ratings"] < w.params["max_count"] for r in rows)


def _full_text(rows: list[dict[str, Any]], w: World) -> None:
    assert all(re.search("grinder|kettle", r["title"], re.I) for r in rows)


def _similar(rows: list[dict[str, Any]], w: World) -> None:
    assert len(rows) == w.params["k"]
    assert w.params["item"] not in {r["item"] for r in rows}
    assert {w.branch(r["item"]) for r in rows} == {"Coffee"}


def _near_vector(rows: list[dict[str, Any]], w: World) -> None:
    assert len(rows) == w.params["k"]
    assert {r["brand"] for r in rows} <= set(BRANCH_BRANDS["Coffee"])


def _near_taste(rows: list[dict[str, Any]], w: World) -> None:
    query = "MATCH (:User {id: $user})-[:RATED]->(i:Item) RETURN i.id AS item"
    rated = {r["item"] for r in w.store.read(query, {"user": USER})}
    assert {w.branch(r["item"]) for r in rows} == {"Coffee"}
    assert not rated & {r["item"] for r in rows}


def _candidates(rows: list[dict[str, Any]], w: World) -> None:
    assert {w.branch(r["item"]) for r in rows} == {"Coffee"}
    assert "Coffee" in rows[0]["through"]


def _paths(rows: list[dict[str, Any]], w: World) -> None:
    title = w.store.read("MATCH (i:Item {id: $item}) RETURN i.title AS t", {"item": w.params["candidate"]})
    for r in rows:
        assert r["path"][0] == USER and r["path"][-1] == title[0]["t"]
        assert r["via"][0] == "RATED" and r["rating"] >= w.params["min_rating"]


CHECKS: dict[str, Check] = {
    "Node and relationship counts (APOC)": _counts,
    "Rating distribution": _distribution,
    "Extra entity types in this graph": _entity_types,
    "Top brands per category": _top_brands,
    "Best-rated brands in one category": _best_in_category,
    "Walk the category tree down from a category": _tree_walk,
    "An item's category breadcrumbs": _breadcrumbs,
    "A user's neighbourhood": _neighbourhood,
    "Users with the same taste": _same_taste,
    "Brand loyalty of a user": _loyalty,
    "What a user leans to in an extra entity type": _genre,
    "Users who rated this item also rated": _also_rated,
    "Co-purchase neighbours": _co_purchase,
    "Most polarising items": _polarising,
    "Cold items": _cold,
    "Full-text search": _full_text,
    "Items similar to an item": _similar,
    "Items nearest to a vector": _near_vector,
    "Items near a user's taste": _near_taste,
    "Candidates reached through liked brands and categories": _candidates,
    "The paths behind one recommendation": _paths,
}


# -- the cookbook's shape ---------------------------------------------------------------------------
def test_cookbook_has_at_least_twelve_recipes_each_with_a_title_and_an_intent() -> None:
    assert len(RECIPES) >= 12
    for recipe in RECIPES:
        assert recipe.title and recipe.intent, recipe.query
    assert len({r.title for r in RECIPES}) == len(RECIPES), "recipe titles must be unique"


def test_every_recipe_has_a_planted_answer() -> None:
    assert set(CHECKS) == {r.title for r in RECIPES}


@pytest.mark.parametrize("recipe", RECIPES, ids=[_slug(r.title) for r in RECIPES])
def test_recipe_takes_values_as_documented_parameters(recipe: Recipe) -> None:
    documented = set(re.findall(r"^\| `\$(\w+)`", COOKBOOK.read_text(), flags=re.M))
    assert _params_in(recipe.query) <= documented
    literals = {a or b for a, b in re.findall(r"'([^']*)'|\"([^\"]*)\"", recipe.query)}
    assert literals <= ALLOWED_LITERALS, f"use a $parameter instead of {literals - ALLOWED_LITERALS}"


# -- each recipe on the loaded graph ------------------------------------------------------------------
@pytest.mark.neo4j
@pytest.mark.parametrize("recipe", RECIPES, ids=[_slug(r.title) for r in RECIPES])
def test_recipe_runs_and_finds_the_planted_answer(world: World, recipe: Recipe) -> None:
    names = _params_in(recipe.query)
    assert names <= set(world.params), f"no test value for {names - set(world.params)}"
    rows = world.store.read(recipe.query, {name: world.params[name] for name in names})
    assert rows, recipe.title
    CHECKS[recipe.title](rows, world)


@pytest.mark.neo4j
def test_recipes_run_through_kgrec_cypher_as_the_cookbook_shows(world: World, cli_env: Settings) -> None:
    """``-p name=value``: text as is, JSON when it parses (numbers, quoted strings, lists)."""
    recipes = {r.title: r.query for r in RECIPES}
    for title, args in [
        ("Users with the same taste", ["-p", f"user={USER}", "-p", "min_rating=4", "-p", "k=5"]),
        ("Items similar to an item", ["-p", f'item="{world.params["item"]}"', "-p", "k=5"]),
        ("Items nearest to a vector", ["-p", f"vector={json.dumps(world.params['vector'])}", "-p", "k=5"]),
    ]:
        result = CliRunner().invoke(app, ["cypher", recipes[title], *args, "--json"])
        assert result.exit_code == 0, result.output
        query = recipes[title]
        expected = world.store.read(query, {n: world.params[n] for n in _params_in(query)})
        assert json.loads(result.stdout) == expected, title
