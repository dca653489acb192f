"""The public API end to end on the generated catalogue, whose planted tastes give the right answers: the
fused ranking serves (API and CLI alike), the rating model predicts."""

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
from rank import DEFAULT_PARTS, KS, RankConfig

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 5}, "als": {"iterations": 5}},
    candidates=30,
    fusion_users=200,
    trees=100,
    seed=0,
)
runner = CliRunner()


@pytest.fixture(scope="module")
def trained(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Recommender, DemoTruth]]:
    session_store.reset()
    dataset, truth = demo_dataset(n_users=120, n_items=96, ratings_per_user=16, seed=7)
    settings = neo4j_settings.model_copy(update={"model_dir": tmp_path_factory.mktemp("model")})
    rec = Recommender(session_store, settings)
    rec.load_dataset(dataset)
    result = rec.fit(TrainConfig(seed=0, text=False), SMALL_RANK)
    assert [m.k for m in result.ranking.at_k] == list(KS) and set(result.parts) == set(DEFAULT_PARTS)
    assert result.ranking.users == 120 and set(result.fusion.importances) >= {"predicted_rating"}
    yield rec, truth


def _cli(rec: Recommender, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("KGREC_MODEL_DIR", str(rec.settings.model_path))
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_recommendations_follow_the_planted_taste(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    hits = total = 0
    for user in list(truth.user_branch)[:30]:
        top = rec.recommend(user, k=5)
        seen = set(rec.store.rated_items(user)["item"])
        assert len(top) == 5 and not seen & {r.item for r in top}
        assert [r.score for r in top] == sorted((r.score for r in top), reverse=True)
        assert all(r.predicted_rating is not None for r in top)
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


def test_saved_models_load_to_same_predictions_and_rankings(
    trained: tuple[Recommender, DemoTruth], tmp_path: Path
) -> None:
    rec, truth = trained
    rec.save(tmp_path / "m")
    assert (tmp_path / "m" / "ranker" / "meta.json").exists()
    again = Recommender(rec.store, rec.settings).load(tmp_path / "m")
    user, items = next(iter(truth.user_branch)), list(truth.item_branch)[:10]
    assert [p.rating for p in again.predict(user, items)] == [p.rating for p in rec.predict(user, items)]
    assert again.recommend(user, k=8) == rec.recommend(user, k=8)


def test_a_model_folder_without_a_ranker_predicts_but_asks_to_train_again(
    trained: tuple[Recommender, DemoTruth], tmp_path: Path
) -> None:
    rec, truth = trained
    rec.trained_model().save(tmp_path / "old")  # what a kgrec from before the ranker saved
    old = Recommender(rec.store, rec.settings.model_copy(update={"model_dir": tmp_path / "old"}))
    user, items = next(iter(truth.user_branch)), list(truth.item_branch)[:3]
    assert [p.rating for p in old.predict(user, items)] == [p.rating for p in rec.predict(user, items)]
    with pytest.raises(ModelError, match="train again"):
        old.recommend(user)


def test_cli_recommend_is_the_api_and_the_api_is_the_ranker_after_the_seen_filter(
    trained: tuple[Recommender, DemoTruth], cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, truth = trained
    user = next(iter(truth.user_branch))
    api = rec.recommend(user, k=7)
    assert json.loads(_cli(rec, monkeypatch, "recommend", user, "--k", "7", "--json")) == [
        r.model_dump() for r in api
    ]
    ranker = rec.trained_ranker()
    data = ranker.trained_data()
    rated = set(rec.store.rated_items(user)["item"])
    ranked = [str(data.item_keys[c]) for c in ranker.rank([user], data.n_items).items[0] if c >= 0]
    assert [r.item for r in api] == [i for i in ranked if i not in rated][:7]


def test_cli_batch_recommend_equals_one_user_at_a_time(
    trained: tuple[Recommender, DemoTruth], cli_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rec, truth = trained
    users = list(truth.user_branch)[5:17]
    path = tmp_path / "users.txt"
    path.write_text("\n".join(users) + "\n")
    lines = [
        json.loads(line)
        for line in _cli(
            rec, monkeypatch, "recommend", "--users", str(path), "--k", "5", "--json"
        ).splitlines()
    ]
    assert [line["user"] for line in lines] == users
    for line in lines:
        single = json.loads(_cli(rec, monkeypatch, "recommend", line["user"], "--k", "5", "--json"))
        assert line["recommendations"] == single
    both = runner.invoke(app, ["recommend", users[0], "--users", str(path)])
    assert both.exit_code == 1 and "either" in both.output


def test_cli_evaluate_ranks_the_users_of_a_test_file(
    trained: tuple[Recommender, DemoTruth], cli_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rec, truth = trained
    test = rec.store.export().edges["RATED"]
    test = test[test.user.isin(list(truth.user_branch)[:40])].groupby("user").head(3)
    path = tmp_path / "held.csv"
    test[["user", "item", "rating", "ts"]].to_csv(path, index=False)
    payload = json.loads(_cli(rec, monkeypatch, "evaluate", "--ratings", str(path), "--json"))
    assert payload["ratings"] == len(test) and payload["rmse"] > 0
    ranking = payload["ranking"]
    assert ranking["users"] == test.user.nunique() == 40 and ranking["skipped_users"] == 0
    assert [m["k"] for m in ranking["at_k"]] == list(KS)
    printed = _cli(rec, monkeypatch, "evaluate", "--ratings", str(path))
    assert "RMSE" in printed and "NDCG" in printed and "40 users evaluated" in printed


def test_cli_recommend_json_and_unknown_user(
    trained: tuple[Recommender, DemoTruth], cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, truth = trained
    user = next(iter(truth.user_branch))
    assert len(json.loads(_cli(rec, monkeypatch, "recommend", user, "--k", "3", "--json"))) == 3
    missing = runner.invoke(app, ["recommend", "nobody"])
    assert missing.exit_code == 1 and "nobody" in missing.output and "Traceback" not in missing.output
    profile = _cli(rec, monkeypatch, "profile", user)
    assert "predicted" in profile and "category" in profile
    assert json.loads(_cli(rec, monkeypatch, "profile", user, "--json"))["leanings"]["Brand"][0]["predicted"]


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
    assert set(before) <= seen  # the graph has them; the ranker, trained earlier, does not
    assert not {r.item for r in after} & seen and len(after) == 5


def test_cli_train_prints_rating_and_ranking_metrics_of_each_part(
    trained: tuple[Recommender, DemoTruth], cli_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rec, _ = trained
    monkeypatch.setenv("KGREC_MODEL_DIR", str(tmp_path / "cli-model"))
    args = ["train", "--no-text", "--split", "temporal", "--holdout", "0.25", "--seed", "1"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["split"] == "temporal" and payload["holdout"] == 0.25 and payload["seed"] == 1
    assert payload["rating"]["test"]["blend"]["rmse"] > 0
    assert [m["k"] for m in payload["ranking"]["at_k"]] == list(KS) and set(payload["parts"]) == set(
        DEFAULT_PARTS
    )
    assert payload["fusion"]["importances"] and (tmp_path / "cli-model" / "ranker" / "meta.json").exists()
    bad = runner.invoke(app, ["train", "--holdout", "1.5"])
    assert bad.exit_code == 1 and "--holdout" in bad.output
