"""Search on the generated catalogue, whose planted tastes and names give the right hit of each query type:
the learned search ranker finds categories, brands, title words and mixed queries through the graph,
personalises by the user's taste, trains on training interactions only, and the CLI and the HTTP route
serve the API's list."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from core.errors import NotFoundError
from core.settings import Settings
from gnn import TrainConfig
from kg import GraphStore
from kgrec import Recommender
from kgrec.cli import app
from kgrec.search_eval import rank_of, type_metrics
from kgrec.service.app import create_app
from kgrec.service.settings import ServiceSettings
from loaders.demo import DemoTruth, demo_dataset
from rank import RankConfig, holdout_split
from rank.search_queries import TRAINING_TYPES
from rank.search_training import fit_search

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 5}, "als": {"iterations": 5}},
    candidates=30,
    fusion_users=200,
    trees=100,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=10, mf_epochs=10, patience=5, bias_epochs=3)
KEY = "search-test-key"


@pytest.fixture(scope="module")
def trained(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Recommender, DemoTruth]]:
    session_store.reset()
    dataset, truth = demo_dataset(n_users=120, n_items=96, ratings_per_user=16, seed=7)
    settings = neo4j_settings.model_copy(update={"model_dir": tmp_path_factory.mktemp("search-model")})
    rec = Recommender(session_store, settings)
    rec.load_dataset(dataset)
    rec.fit(SMALL, SMALL_RANK, search_pairs=120)
    yield rec, truth


def test_each_query_type_finds_its_planted_items(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    brand = rec.search("crema co", k=5)
    assert [truth.item_brand[h.item] for h in brand] == ["Crema Co"] * 5
    assert all("Brand: Crema Co" in h.matched for h in brand)
    coffee = rec.search("coffee", k=5)
    assert {truth.item_branch[h.item] for h in coffee} == {"Coffee"}
    assert all("Category: Kitchen > Coffee" in h.matched for h in coffee)
    kitchen = rec.search("kitchen", k=8)  # a root: its subcategories' items, each saying so
    assert {truth.item_branch[h.item] for h in kitchen} <= {"Coffee", "Baking"}
    assert all("Category: Kitchen (a subcategory)" in h.matched for h in kitchen)
    title = rec.search("sleeping bag", k=3)
    assert all("Sleeping Bag" in (h.title or "") and "title" in h.matched for h in title)
    mixed = rec.search("coffee kettle", k=3)  # a category word and a title word
    assert all("Kettle" in (h.title or "") and truth.item_branch[h.item] == "Coffee" for h in mixed)
    typo = rec.search("velocitta helmets", k=2)  # a typo in the brand, a plural of the title word
    assert all(truth.item_brand[h.item] == "Velocita" and "Helmet" in (h.title or "") for h in typo)
    assert all(h.score is not None and h.personal_score is None for h in brand + coffee + title)


def test_personal_search_follows_the_users_taste(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    users = [u for u, b in truth.user_branch.items() if b in {"Coffee", "Baking"}][:12]
    personal = anonymous = shown = 0
    for user in users:  # a root category: the user's loved branch should come first for them
        hits = rec.search("kitchen", user=user, k=4)
        seen = set(rec.store.rated_items(user)["item"])
        assert len(hits) == 4 and not seen & {h.item for h in hits}
        assert all(h.personal_score is not None and h.predicted is not None for h in hits)
        personal += sum(truth.item_branch[h.item] == truth.user_branch[user] for h in hits)
        anonymous += sum(
            truth.item_branch[h.item] == truth.user_branch[user] for h in rec.search("kitchen", k=4)
        )
        shown += len(hits)
    assert personal >= 0.75 * shown and personal >= anonymous + shown / 4, (personal, anonymous, shown)


def test_a_users_navigational_query_is_the_page_it_names(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    for user in list(truth.user_branch)[:5]:
        for text, page in (("crema co", {"brand": "Crema Co"}), ("Coffee", {"category": "Kitchen > Coffee"})):
            hits, shown = rec.search(text, user=user, k=5), rec.recommend(user, k=5, **page)
            assert [h.item for h in hits] == [r.item for r in shown] and hits  # all the page has left
            assert [h.score for h in hits] == pytest.approx([r.score for r in shown])
            assert all(h.personal_score == h.score for h in hits)
        anonymous = rec.search("crema co", k=5)  # no user, no page: the anonymous ranker, same brand
        assert {truth.item_brand[h.item] for h in anonymous} == {"Crema Co"}
        assert all(h.personal_score is None for h in anonymous)
        mixed = rec.search("coffee kettle", user=user, k=3)  # a word left over: the search ranker's
        assert "Kettle" in (mixed[0].title or "") and "title" in mixed[0].matched


def test_nothing_found_suggests_the_closest_names(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, _ = trained
    with pytest.raises(NotFoundError, match="closest names: .*Kitchen > Coffee"):
        rec.search("cofffeee")
    with pytest.raises(NotFoundError, match="nothing matches 'zzzz'$"):
        rec.search("zzzz")


def test_the_search_ranker_trains_on_training_interactions_only(
    trained: tuple[Recommender, DemoTruth],
) -> None:
    rec, _ = trained
    ranker = rec.trained_ranker()
    _, report = fit_search(rec.store, ranker, pairs=40, seed=3)
    rated = rec.store.export().edges["RATED"]
    ratings = rated.sort_values(["user", "item"], kind="stable").reset_index(drop=True)
    held = holdout_split(ratings, "random", 0.2, 0).test  # the split Recommender.fit trained on
    asked = pd.MultiIndex.from_frame(report.queries[["user", "item"]])
    assert len(held) > 100 and not asked.isin(pd.MultiIndex.from_frame(held[["user", "item"]])).any()
    data = ranker.trained_data()
    train_pairs = pd.MultiIndex.from_arrays([data.user_keys[data.rows], data.item_keys[data.cols]])
    assert asked.isin(train_pairs).all()
    assert set(report.queries["type"]) <= set(TRAINING_TYPES) and report.recall > 0.5


def test_cli_and_http_serve_the_apis_list(
    trained: tuple[Recommender, DemoTruth], monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, truth = trained
    user = next(iter(truth.user_branch))
    expected = [h.model_dump() for h in rec.search("coffee grinder", user=user, k=4)]
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("KGREC_HOME", str(rec.settings.home))
    monkeypatch.setenv("KGREC_WORKSPACE", rec.settings.workspace)
    monkeypatch.setenv("KGREC_MODEL_DIR", str(rec.settings.model_path))
    result = CliRunner().invoke(app, ["search", "coffee grinder", "--user", user, "--k", "4", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected
    shown = CliRunner().invoke(app, ["search", "coffee grinder", "--user", user, "--k", "4"])
    assert shown.exit_code == 0 and "matched" in shown.stdout
    missing = CliRunner().invoke(app, ["search", "cofffeee"])
    assert missing.exit_code != 0 and "closest names" in missing.output
    service = create_app(rec.settings, ServiceSettings(api_key=SecretStr(KEY)))
    with TestClient(service, headers={"X-API-Key": KEY}) as client:
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        served = client.get("/search", params={"q": "coffee grinder", "user": user, "k": 4})
        assert served.status_code == 200 and served.json() == expected
        nothing = client.get("/search", params={"q": "cofffeee"})
        assert nothing.status_code == 404 and "closest names" in nothing.text


def test_search_metrics_of_one_right_answer() -> None:
    m = type_metrics([1, None, 2])
    assert (m.queries, m.hit_rate) == (3, pytest.approx(2 / 3))
    assert m.mrr == pytest.approx((1 + 1 / 2) / 3) and m.ndcg == pytest.approx((1 + 1 / np.log2(3)) / 3)
    assert rank_of("b", lambda: ["a", "b"]) == 2 and rank_of("c", lambda: ["a"]) is None

    def nothing() -> list[str]:
        raise NotFoundError("nothing matches 'x'")

    assert rank_of("a", nothing) is None
