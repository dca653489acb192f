"""Candidate paths against the real Neo4j, on the demo catalogue with its planted taste structure."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import NotFoundError
from kg import GraphStore
from kg.paths import candidate_paths, path_exists
from loaders.demo import DemoTruth, demo_dataset

pytestmark = pytest.mark.neo4j


@pytest.fixture
def demo(store: GraphStore) -> tuple[GraphStore, DemoTruth, pd.DataFrame]:
    dataset, truth = demo_dataset(n_users=60, n_items=96, ratings_per_user=16, seed=3)
    # the demo has no item links or extra entities: add a few so every pattern has something to find
    items = dataset.items["id"].tolist()
    dataset.item_links["ALSO_BOUGHT"] = pd.DataFrame({"source": items[:40], "target": items[12:52]})
    dataset.item_links["ALSO_VIEWED"] = pd.DataFrame({"source": items[50:80], "target": items[62:92]})
    dataset.entities["Material"] = pd.DataFrame(
        {"item": items, "value": [f"M{n % 4}" for n in range(len(items))]}
    )
    store.write(dataset)
    return store, truth, dataset.ratings


def _unrated_loved_item(truth: DemoTruth, ratings: pd.DataFrame, user: str) -> str:
    seen = set(ratings.loc[ratings["user"] == user, "item"])
    branch = truth.user_branch[user]
    return next(i for i, b in sorted(truth.item_branch.items()) if b == branch and i not in seen)


def test_every_path_exists_and_fan_out_is_bounded(demo) -> None:
    store, truth, ratings = demo
    schema = store.schema()
    kinds: set[str] = set()
    for user in ["U00000", "U00003", "U00007", "U00010"]:
        item = _unrated_loved_item(truth, ratings, user)
        paths = candidate_paths(store, user, item, per_kind=3, schema=schema)
        assert paths
        per_pattern: dict[str, int] = {}
        for p in paths:
            key = p["kind"] + "/" + p["rels"][-1]["type"]
            per_pattern[key] = per_pattern.get(key, 0) + 1
            assert path_exists(store, p, schema), p
            assert p["nodes"][0] == {"label": "User", "key": user, "name": user}
            assert p["nodes"][-1]["key"] == item
            assert len(p["rels"]) == len(p["nodes"]) - 1 <= 5
            kinds.add(p["kind"])
        assert max(per_pattern.values()) <= 3
    assert {"brand", "category", "similar_users", "entity"} <= kinds


def test_sibling_category_gives_parent_category_paths(demo) -> None:
    store, truth, ratings = demo
    user = next(u for u, b in sorted(truth.user_branch.items()) if b == "Coffee")
    seen = set(ratings.loc[ratings["user"] == user, "item"])
    item = next(i for i, b in sorted(truth.item_branch.items()) if b == "Baking" and i not in seen)
    paths = [p for p in candidate_paths(store, user, item) if p["kind"] == "parent_category"]
    assert paths
    assert [n["name"] for n in paths[0]["nodes"][2:5]] == ["Coffee", "Kitchen", "Baking"]
    assert all(path_exists(store, p) for p in paths)


def test_path_exists_rejects_a_made_up_path(demo) -> None:
    store, truth, ratings = demo
    item = _unrated_loved_item(truth, ratings, "U00002")
    path = candidate_paths(store, "U00002", item)[0]
    wrong_rating = {**path, "rels": [{**path["rels"][0], "properties": {"rating": 0.5}}, *path["rels"][1:]]}
    assert not path_exists(store, wrong_rating)
    other = {**path, "nodes": [*path["nodes"][:-1], {"label": "Item", "key": "nope", "name": "nope"}]}
    assert not path_exists(store, other)


def test_planted_taste_gives_brand_and_category_paths(demo) -> None:
    store, truth, ratings = demo
    user = next(u for u, b in sorted(truth.user_branch.items()) if b == "Coffee")
    item = _unrated_loved_item(truth, ratings, user)
    paths = candidate_paths(store, user, item)
    brand = [p for p in paths if p["kind"] == "brand"]
    category = [p for p in paths if p["kind"] == "category"]
    assert brand and category
    assert brand[0]["nodes"][2] == {
        "label": "Brand",
        "key": truth.item_brand[item],
        "name": truth.item_brand[item],
    }
    assert category[0]["nodes"][2]["name"] == "Coffee"
    anchor = brand[0]["nodes"][1]
    assert truth.item_branch[anchor["key"]] == "Coffee"
    assert anchor["name"].startswith(truth.item_brand[item])  # titles come from the data
    assert brand[0]["rels"][0]["properties"]["rating"] >= 4
    assert 0 <= brand[0]["support"]["both"] <= brand[0]["support"]["fans"]


def test_item_links_and_entities_are_found(demo) -> None:
    store, _, _ = demo
    schema = store.schema()
    # a user who rated an ALSO_BOUGHT source highly, and its target
    rows = store.read(
        "MATCH (u:User)-[r:RATED]->(i:Item)-[:ALSO_BOUGHT]->(t:Item) WHERE r.rating >= 4 "
        "AND NOT (u)-[:RATED]->(t) RETURN u.id AS user, t.id AS item ORDER BY user, item LIMIT 1"
    )
    paths = candidate_paths(store, rows[0]["user"], rows[0]["item"], schema=schema)
    kinds = {p["kind"] for p in paths}
    assert {"also_bought", "entity"} <= kinds
    entity = next(p for p in paths if p["kind"] == "entity")
    assert entity["nodes"][2]["label"] == "Material"


def test_hub_cap_bounds_similar_users(demo) -> None:
    store, truth, ratings = demo
    item = _unrated_loved_item(truth, ratings, "U00001")
    capped = candidate_paths(store, "U00001", item, per_kind=50, hub_cap=1)
    assert len([p for p in capped if p["kind"] == "similar_users"]) <= 1


def test_unknown_keys_raise(store: GraphStore) -> None:
    with pytest.raises(NotFoundError, match="user 'ghost'"):
        candidate_paths(store, "ghost", "I00001")
