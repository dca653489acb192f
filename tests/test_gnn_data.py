"""Graph building, id map, splits, features: pure functions on small generated data."""

from __future__ import annotations

import keyword

import numpy as np
import pandas as pd
import pytest
import torch

from core.errors import ModelError
from gnn import IdMap, RatingSplit, planted_export, split_ratings, to_hetero_data
from gnn.coldstart import fill_cold_items
from gnn.features import behaviour_features, build_node_features
from gnn.graph import RATED_EDGE, drop_edges, message_graph


@pytest.fixture(scope="module")
def planted():
    return planted_export(num_users=40, items_per_brand=6, ratings_per_user=8, cold_items_per_brand=1, seed=3)


def test_to_hetero_data_follows_the_schema(planted):
    export, _ = planted
    data, ids = to_hetero_data(export)
    assert set(data.node_types) == {n.pyg for n in export.schema.node_types}
    assert ("item", "has_genre", "genre") in data.edge_types  # the extra entity, with no code for it
    assert ("item", "made_by", "brand") in data.edge_types
    store = data[RATED_EDGE]
    assert store.edge_index.shape == (2, len(export.edges["RATED"]))
    assert store.rating.dtype == torch.float32
    first = export.edges["RATED"].iloc[0]
    u, i = store.edge_index[:, 0].tolist()
    assert (ids.keys("user")[u], ids.keys("item")[i]) == (first["user"], first["item"])
    assert np.isnan(data["item"].price.numpy()).any()  # missing prices survive as NaN


def test_message_graph_has_reverse_edges_with_identifier_names(planted):
    export, _ = planted
    data, _ = to_hetero_data(export)
    graph = message_graph(data, np.array([0, 1]), np.array([0, 0]))
    assert graph[RATED_EDGE].edge_index.tolist() == [[0, 1], [0, 0]]
    assert graph["item", "rev_rated", "user"].edge_index.tolist() == [[0, 0], [0, 1]]
    assert "rating" not in graph[RATED_EDGE]  # message passing never sees rating values
    for _, rel, _ in graph.edge_types:
        assert rel.isidentifier() and not keyword.iskeyword(rel)
    sub = graph["category", "subcategory_of", "category"].edge_index
    assert sub.shape[1] == 4  # same-type relation made symmetric instead of reversed


def test_drop_edges_removes_both_directions(planted):
    export, _ = planted
    data, ids = to_hetero_data(export)
    graph = message_graph(data, np.array([0, 1, 2]), np.array([0, 0, 1]))
    out = drop_edges(graph, {RATED_EDGE: ([1], [0])})
    assert out[RATED_EDGE].edge_index.tolist() == [[0, 2], [0, 1]]
    assert out["item", "rev_rated", "user"].edge_index.tolist() == [[0, 1], [0, 2]]
    assert graph[RATED_EDGE].edge_index.shape[1] == 3  # the input is untouched
    with pytest.raises(ModelError, match="not in the graph"):
        drop_edges(graph, {("user", "likes", "item"): ([0], [0])})


def test_id_map_round_trip(tmp_path):
    ids = IdMap({"user": ("a", "b"), "item": ("1", "2", "3")})
    ids.save(tmp_path / "ids.json")
    loaded = IdMap.load(tmp_path / "ids.json")
    assert loaded.keys("item") == ("1", "2", "3")
    assert loaded.rows("item", [3, "1", "x"]).tolist() == [2, 0, -1]  # keys compared as strings
    with pytest.raises(ModelError, match="duplicate"):
        IdMap({"user": ("a", "a")})


def _covers(split: RatingSplit, n: int) -> None:
    parts = [split.train_idx, split.val_idx, split.test_idx]
    joined = np.concatenate(parts)
    assert len(joined) == n and len(np.unique(joined)) == n


def test_random_split_is_seeded_disjoint_and_sized(planted):
    ratings = planted[0].edges["RATED"]
    a = split_ratings(ratings, "random", seed=5)
    b = split_ratings(ratings, "random", seed=5)
    c = split_ratings(ratings, "random", seed=6)
    _covers(a, len(ratings))
    assert np.array_equal(a.test_idx, b.test_idx)
    assert not np.array_equal(a.test_idx, c.test_idx)
    assert len(a.train) == round(0.8 * len(ratings))


def test_temporal_split_holds_out_each_users_latest(planted):
    ratings = planted[0].edges["RATED"]
    split = split_ratings(ratings, "temporal")
    _covers(split, len(ratings))
    last_train = split.train.groupby("user")["ts"].max()
    first_held = pd.concat([split.val, split.test]).groupby("user")["ts"].min()
    assert (first_held >= last_train.reindex(first_held.index)).all()
    first_test = split.test.groupby("user")["ts"].min()
    assert (first_test >= split.val.groupby("user")["ts"].max().reindex(first_test.index)).all()


def test_split_rejects_bad_input(planted):
    with pytest.raises(ModelError, match="lacks columns"):
        split_ratings(pd.DataFrame({"user": ["u"]}))
    with pytest.raises(ModelError, match="kind"):
        split_ratings(planted[0].edges["RATED"], kind="sideways")  # type: ignore[arg-type]


def test_features_read_training_ratings_only(planted):
    export, _ = planted
    data, ids = to_hetero_data(export)
    split = split_ratings(export.edges["RATED"], "random", seed=0)
    train = split.train
    u, i = ids.rows("user", train["user"]), ids.rows("item", train["item"])
    r, ts = train["rating"].to_numpy(), train["ts"].to_numpy()
    feats, scaler = build_node_features(data, u, i, r, ts, shrinkage=5.0)
    # scramble every held-out rating: features computed from the same training rows cannot change
    data[RATED_EDGE].rating = torch.full_like(data[RATED_EDGE].rating, 1.0)
    again, _ = build_node_features(data, u, i, r, ts, shrinkage=5.0)
    for t in feats:
        assert torch.equal(feats[t], again[t])
    assert scaler.columns["item"][-3:] == ("log_price", "price_missing", "category_depth")
    assert torch.allclose(feats["user"].mean(0), torch.zeros(feats["user"].shape[1]), atol=1e-5)


def test_behaviour_features_values():
    raw = behaviour_features(
        np.array([0, 0, 1]),
        np.array([0, 1, 1]),
        np.array([5.0, 3.0, 4.0]),
        np.array([0, 86_400 * 10, 86_400 * 10]),
        num_users=3,
        num_items=2,
        shrinkage=0.0,
    )
    user = raw["user"]
    assert user[0, 0] == pytest.approx(np.log(3))  # log1p(2 ratings)
    assert user[0, 1] == pytest.approx(4.0) and user[0, 2] == pytest.approx(1.0)
    assert user[0, 4] == pytest.approx(np.log1p(10))  # 10-day span
    assert user[2, 0] == 0 and user[2, 1] == pytest.approx(4.0)  # no ratings: global mean


def test_fill_cold_items_uses_entities_and_item_links():
    links = {
        ("item", "made_by", "brand"): (np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), 2),
        ("item", "also_bought", "item"): (np.array([4]), np.array([2]), 5),
    }
    warm = np.array([True, False, True, False, False])
    bias = np.array([1.0, 0.0, 3.0, 0.0, 0.0])
    vecs = np.arange(10, dtype=np.float32).reshape(5, 2)
    filled, (b, v) = fill_cold_items(links, warm, [bias, vecs])
    assert filled.tolist() == [False, True, False, True, True]
    assert b.tolist() == [1.0, 1.0, 3.0, 3.0, 3.0]
    assert v.dtype == np.float32 and v[1].tolist() == [0.0, 1.0]


def test_torch_neighbor_sampler_draws_real_edges_within_fanout(planted):
    from gnn.sampler import link_loader

    export, _ = planted
    data, _ = to_hetero_data(export)
    edge_index = data[RATED_EDGE].edge_index
    graph = message_graph(data, edge_index[0].numpy(), edge_index[1].numpy())
    loader = link_loader(
        graph, RATED_EDGE, edge_index[:, :20], torch.ones(20), num_neighbors=[3, 2], batch_size=8, seed=0
    )
    batches = list(loader)
    assert [b[RATED_EDGE].edge_label_index.shape[1] for b in batches] == [8, 8, 4]
    real = {tuple(e) for e in graph[RATED_EDGE].edge_index.T.tolist()}
    for batch in batches:
        users, items = batch["user"].n_id, batch["item"].n_id
        sub = batch[RATED_EDGE].edge_index
        assert {(int(users[u]), int(items[i])) for u, i in sub.T.tolist()} <= real
        label = batch[RATED_EDGE].edge_label_index
        assert {(int(users[u]), int(items[i])) for u, i in label.T.tolist()} <= real
        # each item is expanded once (at its hop), keeping at most 3 of its raters
        assert sub.shape[1] == 0 or int(torch.bincount(sub[1]).max()) <= 3
