"""The public API end to end on the generated catalogue, whose planted tastes give the right answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.errors import ModelError, NotFoundError
from core.schema import ITEM, RATED, USER
from core.settings import Settings
from gnn import TrainConfig
from kg import GraphStore
from kgrec import Recommender
from kgrec.cli import app
from loaders import Dataset, LoadReport
from loaders.demo import DemoTruth, demo_dataset


@pytest.fixture(scope="module")
def trained(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Recommender, DemoTruth]]:
    session_store.reset()
    dataset, truth = demo_dataset(n_users=120, n_items=96, ratings_per_user=16, seed=7)
    settings = neo4j_settings.model_copy(update={"model_dir": tmp_path_factory.mktemp("model")})
    rec = Recommender(session_store, settings)
    rec.load_dataset(dataset)
    rec.fit(TrainConfig(seed=0, text=False))
    yield rec, truth


def test_recommendations_follow_the_planted_taste(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    hits = total = 0
    for user in list(truth.user_branch)[:30]:
        top = rec.recommend(user, k=5)
        seen = set(rec.store.rated_items(user)["item"])
        assert len(top) == 5 and not seen & {r.item for r in top}
        hits += sum(truth.item_branch[r.item] == truth.user_branch[user] for r in top)
        total += len(top)
    assert hits / total >= 0.8, f"only {hits}/{total} recommendations in the user's loved branch"


def test_brand_and_category_filters(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    user = next(iter(truth.user_branch))
    assert {r.brand for r in rec.recommend(user, k=3, brand="Crema Co")} == {"Crema Co"}
    kitchen = rec.recommend(user, k=8, category="Kitchen")  # a root: its subcategories' items count
    assert kitchen and {truth.item_branch[r.item] for r in kitchen} <= {"Coffee", "Baking"}


def test_predict_known_and_cold(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    user = next(u for u, b in truth.user_branch.items() if b == "Coffee")
    coffee = next(i for i, b in truth.item_branch.items() if b == "Coffee")
    camping = next(i for i, b in truth.item_branch.items() if b == "Camping")
    loved, other, cold = rec.predict(user, [coffee, camping, "never-seen-item"])
    assert loved.rating > other.rating + 1.0
    assert cold.source in {"bias", "global", "neighbours"}


def test_cold_start_user_from_stated_brand_and_ratings(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    assert {r.brand for r in rec.recommend_for_new_user(brands=["Inkwell"], k=3)} == {"Inkwell"}
    comics = [i for i, b in truth.item_branch.items() if b == "Comics"][:3]
    top = rec.recommend_for_new_user(ratings={i: 5.0 for i in comics}, k=5)
    assert sum(truth.item_branch[r.item] == "Comics" for r in top) >= 4
    assert not {r.item for r in top} & set(comics)


def test_similar_search_profile(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    item = next(iter(truth.item_branch))
    similar = rec.similar_items(item, k=5)
    assert len(similar) == 5 and item not in {s.item for s in similar}
    user = next(u for u, b in truth.user_branch.items() if b == "Coffee")
    hits = rec.search("grinder", user=user, k=3)
    assert hits and all("Grinder" in (h.title or "") for h in hits) and hits[0].predicted is not None
    prof = rec.profile(user)
    categories = prof.leanings["Category"]
    assert categories[0].name == "Coffee" and set(prof.leanings) == {"Brand", "Category"}
    # the model agrees with the graph: the loved branch's items get the highest predicted ratings
    assert categories[0].predicted == max(c.predicted for c in categories if c.predicted is not None)
    with pytest.raises(NotFoundError):
        rec.profile("nobody")


def test_profile_and_graph_commands_work_beside_an_unreadable_model(
    trained: tuple[Recommender, DemoTruth], tmp_path: Path
) -> None:
    rec, truth = trained
    (tmp_path / "meta.json").write_text('{"format": 1}')  # a checkpoint from an older kgrec
    (tmp_path / "config.json").write_text("{}")
    stale = Recommender(rec.store, rec.settings.model_copy(update={"model_dir": tmp_path}))
    user = next(iter(truth.user_branch))
    prof = stale.profile(user)
    assert prof.leanings["Brand"] and all(b.predicted is None for b in prof.leanings["Brand"])
    with pytest.raises(ModelError, match="train again"):
        stale.recommend(user)


def test_saved_model_loads_to_same_predictions(
    trained: tuple[Recommender, DemoTruth], tmp_path: Path
) -> None:
    rec, truth = trained
    rec.save(tmp_path / "m")
    again = Recommender(rec.store, rec.settings).load(tmp_path / "m")
    user, items = next(iter(truth.user_branch)), list(truth.item_branch)[:10]
    assert [p.rating for p in again.predict(user, items)] == [p.rating for p in rec.predict(user, items)]


def test_cli_recommend_json_and_unknown_user(
    trained: tuple[Recommender, DemoTruth], cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, truth = trained
    monkeypatch.setenv("KGREC_MODEL_DIR", str(rec.settings.model_path))
    runner = CliRunner()
    user = next(iter(truth.user_branch))
    result = runner.invoke(app, ["recommend", user, "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3
    missing = runner.invoke(app, ["recommend", "nobody"])
    assert missing.exit_code == 1 and "nobody" in missing.output
    profile = runner.invoke(app, ["profile", user])
    assert profile.exit_code == 0 and "predicted" in profile.output and "category" in profile.output
    assert json.loads(runner.invoke(app, ["profile", user, "--json"]).stdout)["leanings"]["Brand"][0][
        "predicted"
    ]


UNRATE = (
    f"MATCH (:{USER.label} {{id: $user}})-[r:{RATED.type}]->(i:{ITEM.label}) WHERE i.id IN $items DELETE r"
)


def test_ratings_loaded_after_training_are_not_recommended(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    user = list(truth.user_branch)[-1]
    before = [r.item for r in rec.recommend(user, k=20)]
    ratings = pd.DataFrame({"user": user, "item": before, "rating": 5.0, "ts": 0})
    rec.load_dataset(Dataset(report=LoadReport(source="test"), ratings=ratings))
    try:
        after = rec.recommend(user, k=5)
        seen = set(rec.store.rated_items(user)["item"])
    finally:  # the graph is shared by this module's tests
        rec.store.write_query(UNRATE, {"user": user, "items": before})
    assert set(before) <= seen  # the graph has them; the model, trained earlier, does not
    keys = list(rec.model.id_map.keys("item"))
    scores = rec.model.score_items([user])[0]
    expected = sorted((i for i in range(len(keys)) if keys[i] not in seen), key=lambda i: -scores[i])[:5]
    assert [r.item for r in after] == [keys[i] for i in expected]
