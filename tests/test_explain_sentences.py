"""Sentences, path scoring and pre-selection: pure, no Neo4j."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import PathRecordError
from core.schema import Schema
from explain import ExplainedPath, Explanation, PathNode, PathRel, ShapeScorer, sentence
from explain.explainer import preselect
from explain.models import from_record
from explain.scoring import CounterfactualScorer, edge_rows
from explain.sentences import emphasis, stars


def node(label: str, key: str, name: str | None = None) -> PathNode:
    return PathNode(label=label, key=key, name=name or key)


def item_path(
    kind: str, middle: list[PathNode], rel_types: list[str], rating: float = 5.0, support: dict | None = None
) -> ExplainedPath:
    nodes = [node("User", "u1"), node("Item", "1", "Reason"), *middle, node("Item", "2", "The Atlantic")]
    rels = [PathRel(type="RATED", start=0, end=1, properties={"rating": rating})]
    for k, t in enumerate(rel_types, start=1):
        # the second half of a shared-node pattern points back at the middle node
        forward = k <= len(rel_types) // 2 or kind in ("also_bought", "also_viewed")
        rels.append(PathRel(type=t, start=k if forward else k + 1, end=k + 1 if forward else k))
    return ExplainedPath(kind=kind, nodes=nodes, rels=rels, support=support or {})


CATEGORY = item_path(
    "category",
    [node("Category", "Political Magazines")],
    ["IN_CATEGORY", "IN_CATEGORY"],
    support={"fans": 50, "both": 31},
)


def test_the_issue_example_sentence() -> None:
    assert sentence(CATEGORY, audience="readers") == (
        "You rated *Reason* 5★; *The Atlantic* is in the same category, Political Magazines, and 31 of the "
        "50 readers who rated *Reason* highly also rated it highly."
    )


def test_no_fan_rated_it_highly_is_said_plainly() -> None:
    path = item_path(
        "brand", [node("Brand", "Crema Co")], ["MADE_BY", "MADE_BY"], support={"fans": 56, "both": 0}
    )
    assert sentence(path) == (
        "You rated *Reason* 5★; *The Atlantic* is also made by Crema Co, though none of the 56 customers "
        "who rated *Reason* highly has rated it highly yet."
    )
    path.support["both"] = 3
    path.support["fans"] = 1422  # counts people can check, never a percentage
    assert sentence(path).endswith(
        ", and 3 of the 1422 customers who rated *Reason* highly also rated it highly."
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            item_path("brand", [node("Brand", "Crema Co")], ["MADE_BY", "MADE_BY"], 4.5),
            "You rated *Reason* 4.5★; *The Atlantic* is also made by Crema Co.",
        ),
        (
            item_path(
                "parent_category",
                [node("Category", "Coffee"), node("Category", "Kitchen"), node("Category", "Baking")],
                ["IN_CATEGORY", "SUBCATEGORY_OF", "SUBCATEGORY_OF", "IN_CATEGORY"],
            ),
            "You rated *Reason* 5★; *The Atlantic* is in Baking, next to Coffee under Kitchen.",
        ),
        (
            item_path("also_bought", [], ["ALSO_BOUGHT"]),
            "You rated *Reason* 5★; customers often buy it together with *The Atlantic*.",
        ),
        (
            item_path("also_viewed", [], ["ALSO_VIEWED"]),
            "You rated *Reason* 5★; customers who look at it also look at *The Atlantic*.",
        ),
        (
            item_path("similar_to", [], ["SIMILAR_TO"]),
            "You rated *Reason* 5★; it is linked to *The Atlantic* (similar to).",
        ),
        (
            item_path("entity", [node("Genre", "g7", "Politics")], ["HAS_GENRE", "HAS_GENRE"]),
            "You rated *Reason* 5★; *The Atlantic* shares its genre, Politics.",
        ),
    ],
)
def test_a_sentence_per_kind(path: ExplainedPath, expected: str) -> None:
    assert sentence(path) == expected


def test_similar_users_sentence() -> None:
    nodes = [
        node("User", "u1"),
        node("Item", "1", "Reason"),
        node("User", "u9"),
        node("Item", "2", "The Atlantic"),
    ]
    rels = [
        PathRel(type="RATED", start=0, end=1, properties={"rating": 5.0}),
        PathRel(type="RATED", start=2, end=1, properties={"rating": 4.0}),
        PathRel(type="RATED", start=2, end=3, properties={"rating": 5.0}),
    ]
    path = ExplainedPath(kind="similar_users", nodes=nodes, rels=rels, support={"agree": 3})
    assert sentence(path, "readers") == (
        "Reader u9 rated *Reason* 4★ close to your 5★ (you rated 3 items alike), and rated *The Atlantic* 5★."
    )
    path.rels[1] = PathRel(type="RATED", start=2, end=1, properties={"rating": 5.0})
    assert sentence(path, "readers").startswith("Reader u9 rated *Reason* 5★ as you did (you rated 3")


def test_names_fall_back_to_keys_and_asterisks_are_escaped() -> None:
    path = item_path("brand", [node("Brand", "B1")], ["MADE_BY", "MADE_BY"])
    path.nodes[1] = node("Item", "B000123")
    path.nodes[3] = node("Item", "x", "5*Star")
    assert sentence(path) == "You rated item B000123 5★; *5\\*Star* is also made by B1."
    assert emphasis("a*b") == "*a\\*b*"
    assert stars(None) == "?★" and stars(4) == "4★"


def test_models_serialise_to_json_and_back() -> None:
    explanation = Explanation(
        user="u1", item="2", item_name="The Atlantic", scoring="shape", paths=[CATEGORY]
    )
    text = explanation.model_dump_json()
    assert json.loads(text)["paths"][0]["nodes"][2]["name"] == "Political Magazines"
    assert Explanation.model_validate_json(text) == explanation


def test_a_bad_record_raises_the_libraries_error_with_details() -> None:
    with pytest.raises(PathRecordError) as info:
        from_record({"kind": "brand", "nodes": [], "rels": [{"type": "RATED", "start": -1, "end": 0}]})
    assert info.value.errors[0]["loc"][:2] == ("rels", 0)


def test_shape_score_prefers_high_rating_and_support() -> None:
    scorer = ShapeScorer()
    strong = item_path("brand", [node("Brand", "B")], ["MADE_BY", "MADE_BY"], 5.0, {"fans": 10, "both": 8})
    weak = item_path("brand", [node("Brand", "B")], ["MADE_BY", "MADE_BY"], 4.0, {"fans": 10, "both": 1})
    scores = scorer("u1", "2", [strong, weak]).values
    assert scores[0] > scores[1] > 0
    assert all(0 <= s <= 1 for s in scores)


def test_preselect_takes_every_kind_before_a_second_of_any() -> None:
    brands = [item_path("brand", [node("Brand", f"B{k}")], ["MADE_BY", "MADE_BY"]) for k in range(5)]
    picked = preselect([*brands, CATEGORY], 3)
    assert [p.kind for p in picked].count("category") == 1 and len(picked) == 3


class StubIdMap:
    """The one method of ``gnn.IdMap`` the scorer uses, without importing torch."""

    def __init__(self, keys: dict[str, list[str]]) -> None:
        self.keys = keys

    def rows(self, node_type: str, keys: list[str]) -> np.ndarray:
        return np.array([self.keys[node_type].index(k) if k in self.keys[node_type] else -1 for k in keys])


class FakeModel:
    """A model whose prediction drops by 1 when the user's rating of item "1" is removed."""

    def __init__(self) -> None:
        self.id_map = StubIdMap(
            {"user": ["u1"], "item": ["1", "2"], "category": ["Political Magazines"], "brand": []}
        )
        self.dropped: list[object] = []

    def predict(self, pairs: pd.DataFrame, *, drop_edges: object = None) -> np.ndarray:
        self.dropped.append(drop_edges)
        rated = (drop_edges or {}).get(("user", "rated", "item"), ([], []))
        return np.array([3.0 if (0, 0) in zip(*rated, strict=True) else 4.0])


def test_counterfactual_score_is_the_drop_without_the_paths_edges() -> None:
    model = FakeModel()
    scorer = CounterfactualScorer(model, Schema.core())
    scores = scorer("u1", "2", [CATEGORY])
    assert scores.predicted == 4.0 and scores.values == [1.0]
    assert model.dropped[1] == {
        ("user", "rated", "item"): ([0], [0]),
        ("item", "in_category", "category"): ([0, 1], [0, 0]),
    }


def test_edge_rows_skip_nodes_the_model_does_not_know() -> None:
    rows = edge_rows(
        item_path("brand", [node("Brand", "B")], ["MADE_BY", "MADE_BY"]), Schema.core(), FakeModel().id_map
    )
    assert rows == {("user", "rated", "item"): ([0], [0])}
