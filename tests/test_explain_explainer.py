"""``Explainer`` and report collection against the real Neo4j on the demo catalogue, with the shape
fallback and with a trained rating model scoring paths counterfactually."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from core.errors import NotFoundError
from explain import (
    CounterfactualScorer,
    Explainer,
    Explanation,
    LocalCounterfactualScorer,
    collect_report,
    render_html,
)
from kg import GraphStore
from kg.paths import path_exists
from loaders.demo import DemoTruth, demo_dataset

pytestmark = pytest.mark.neo4j


@pytest.fixture
def demo(store: GraphStore) -> tuple[GraphStore, DemoTruth, pd.DataFrame]:
    dataset, truth = demo_dataset(n_users=60, n_items=96, ratings_per_user=16, seed=3)
    store.write(dataset)
    return store, truth, dataset.ratings


def coffee_case(truth: DemoTruth, ratings: pd.DataFrame) -> tuple[str, str]:
    user = next(u for u, b in sorted(truth.user_branch.items()) if b == "Coffee")
    seen = set(ratings.loc[ratings["user"] == user, "item"])
    item = next(i for i, b in sorted(truth.item_branch.items()) if b == "Coffee" and i not in seen)
    return user, item


def test_shape_explanation_of_a_planted_taste(demo) -> None:
    store, truth, ratings = demo
    user, item = coffee_case(truth, ratings)
    explanation = Explainer(store).explain(user, item, top=3)
    assert explanation.scoring == "shape" and explanation.predicted is None
    assert 0 < len(explanation.paths) <= 3 <= explanation.candidates
    scores = [p.score for p in explanation.paths]
    assert scores == sorted(scores, reverse=True)
    assert {"brand", "category"} & {p.kind for p in explanation.paths}
    assert len({p.kind for p in explanation.paths}) >= 2  # at most two paths of one kind
    assert explanation.item_name.startswith(truth.item_brand[item])
    best = next(p for p in explanation.paths if p.kind in ("brand", "category"))
    assert best.sentence.startswith(f"You rated *{best.nodes[1].name}* ")
    assert best.nodes[1].name in best.sentence and best.nodes[-1].name in best.sentence
    for p in explanation.paths:
        assert path_exists(store, p.model_dump())
    # later explanations reuse planned queries: a few tens of milliseconds, not seconds
    started = time.perf_counter()
    Explainer(store).explain(user, item)
    assert time.perf_counter() - started < 1.0
    again = Explanation.model_validate_json(explanation.model_dump_json())
    assert again == explanation and json.loads(explanation.model_dump_json())["user"] == user


def test_unknown_pairs_raise(demo) -> None:
    store, _, _ = demo
    with pytest.raises(NotFoundError, match="item 'nope'"):
        Explainer(store).explain("U00000", "nope")


def test_collect_and_render_a_brand_report(demo) -> None:
    store, truth, ratings = demo
    users = sorted(truth.user_branch)[:12]
    loved = {u: [i for i, b in sorted(truth.item_branch.items()) if b == truth.user_branch[u]] for u in users}
    seen = ratings.groupby("user")["item"].apply(set)
    recs = pd.DataFrame(
        [(u, i, 4.5) for u in users for i in [i for i in loved[u] if i not in seen[u]][:3]],
        columns=["user", "item", "score"],
    )
    data = collect_report(store, Explainer(store), recs, brand="Crema Co", generated="2026-11-28")
    assert data.recommendations and {b for r in data.recommendations for b in r.brands} == {"Crema Co"}
    assert all(truth.user_branch[r.user] == "Coffee" for r in data.recommendations)
    assert data.slice == "Brand: Crema Co"
    assert data.catalogue.brands == 12 and data.catalogue.items == 96 and data.catalogue.categories == 6
    assert all(r.explanation and r.explanation.paths for r in data.recommendations)
    page = render_html(data)
    assert "Brand: Crema Co" in page and page.count('class="path-svg"') == min(6, len(data.recommendations))
    everyone = collect_report(store, Explainer(store), recs, sample=2, top=1)
    assert len({r.user for r in everyone.recommendations}) == 2
    assert everyone.slice == "2 selected users"


def test_counterfactual_scores_with_a_trained_model(demo) -> None:
    from gnn import TrainConfig, Trainer

    store, truth, ratings = demo
    config = TrainConfig(
        seed=0,
        text=False,
        hidden=16,
        layers=2,
        num_neighbors=(5, 5),
        max_epochs=40,
        patience=10,
        mf_epochs=10,
        mf_factors=8,
    )
    model = Trainer(config).fit(store.export()).model
    user, item = coffee_case(truth, ratings)
    explainer = Explainer(store, CounterfactualScorer(model, store.schema()), max_scored=6)
    explanation = explainer.explain(user, item, top=6)
    assert explanation.scoring == "counterfactual"
    pair = pd.DataFrame({"user": [user], "item": [item]})
    assert explanation.predicted == pytest.approx(float(model.predict(pair)[0]), abs=1e-6)
    shown = explanation.paths + explanation.despite
    assert shown and len(explanation.paths) <= 6
    assert any(p.score != 0 for p in shown)  # removing a path's edges moves the prediction
    scores = [p.score for p in explanation.paths]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)  # only support is a reason
    assert all(p.score < 0 and p.strength == "against" for p in explanation.despite)
    assert explanation.spread == 1.0 and (explanation.paths or explanation.note.startswith("None of the"))
    # the subgraph counterfactual is the whole-graph one, computed locally
    candidates = explainer.candidates(user, item)[:6]
    full = CounterfactualScorer(model, store.schema())(user, item, candidates)
    local = LocalCounterfactualScorer(model, store.schema())(user, item, candidates)
    assert local.predicted == pytest.approx(full.predicted, abs=1e-6)
    assert local.values == pytest.approx(full.values, abs=1e-5)
