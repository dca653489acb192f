"""Data-parallel training in two processes (gloo on the CPU) against one process on the same data: the
rating model and the LightGCN reach the same quality within noise, and the rating model comes back through
its usual checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from core.errors import ConfigError, ModelError
from gnn import RatingModel, TrainConfig, Trainer, planted_export
from gnn.distributed import launch, world
from gnn.lightgcn import LightGCN
from gnn.parallel_fit import fit_in_processes, handoff_read, handoff_write

CONFIG = TrainConfig(
    hidden=16,
    max_epochs=60,
    patience=60,
    lr=0.02,
    mf_factors=8,
    mf_lr=0.03,
    mf_epochs=300,
    mf_patience=20,
    text=False,
    seed=0,
    minibatch_threshold=1,  # one process in mini-batches too, as the two are
    minibatch_max_epochs=60,
    batch_size=64,
    device="cpu",
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
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
def one_and_two(planted):
    export, _ = planted
    return Trainer(CONFIG).fit(export), fit_in_processes(2, export, CONFIG)


def test_two_processes_train_the_same_data_to_the_same_quality(one_and_two):
    one, two = one_and_two
    assert two.split.test.equals(one.split.test) and two.metrics.ratings == one.metrics.ratings
    assert two.metrics.minibatch
    gnn1, gnn2 = one.metrics.test["gnn"].rmse, two.metrics.test["gnn"].rmse
    print(f"GNN test RMSE: one process {gnn1:.4f}, two {gnn2:.4f}")
    assert abs(gnn2 - gnn1) < 0.1 * gnn1
    assert two.metrics.test["gnn"].rmse < 0.9 * two.metrics.test["bias"].rmse
    assert abs(two.metrics.test["blend"].rmse - one.metrics.test["blend"].rmse) < 0.05 * gnn1
    # the parts that are not torch ran alike in every process
    assert two.metrics.test["mf"] == one.metrics.test["mf"]


def test_two_process_model_is_an_ordinary_checkpoint(one_and_two, tmp_path):
    _, two = one_and_two
    pairs = two.split.test
    again = RatingModel.load(two.model.save(tmp_path / "m"))
    assert np.array_equal(again.predict(pairs), two.model.predict(pairs))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(
        p.name for p in Path(one_and_two[0].model.save(tmp_path / "one")).iterdir()
    )


def _interactions():
    """Who picked what as rows and columns (fans pick their brand's items six times as often), the brand of
    each item, and each user's last two picks held out."""
    # at three times as often, one process's NDCG@10 over seeds 0-3 spans 0.088-0.107 around the floor of
    # 1.5 x chance (0.095); at six it spans 0.136-0.151, so the floor tells a ranker from noise
    export, truth = planted_export(
        num_users=300, num_brands=5, items_per_brand=20, ratings_per_user=14, affinity=6.0, seed=3
    )
    rated = export.edges["RATED"]
    users = {u: k for k, u in enumerate(sorted(set(rated["user"])))}
    items = {i: k for k, i in enumerate(sorted(truth.item_brand))}
    brands = {b: k for k, b in enumerate(sorted(set(truth.item_brand.values())))}
    u = rated["user"].map(users).to_numpy()
    i = rated["item"].map(items).to_numpy()
    held = rated.groupby("user").cumcount().to_numpy() >= 12  # each user's last two picks
    knowledge = (np.array(list(items.values())), np.array([brands[truth.item_brand[k]] for k in items]))
    return (u[~held], i[~held]), (u[held], i[held]), len(users), len(items), knowledge, len(brands)


def _lightgcn(inputs: str) -> tuple[np.ndarray, np.ndarray]:
    train, n_users, n_items, knowledge, n_brands = handoff_read(inputs)
    fit = LightGCN(dim=16, epochs=30, batch_size=256, lr=0.02, seed=0, device="cpu")
    fit.fit(train, n_users, n_items, knowledge, n_brands)
    return fit.user_embeddings, fit.item_embeddings


def _ndcg10(user_emb, item_emb, train, held, n_users, n_items) -> float:
    """Mean NDCG@10 of the held-out picks among the items each user has not picked."""
    scores = user_emb @ item_emb.T
    scores[train[0], train[1]] = -np.inf
    truth = sp.csr_matrix((np.ones(len(held[0])), held), shape=(n_users, n_items)).toarray() > 0
    top = np.argsort(-scores, axis=1)[:, :10]
    gains = (truth[np.arange(n_users)[:, None], top] / np.log2(np.arange(2, 12))).sum(1)
    ideal = np.array([(1 / np.log2(np.arange(2, 2 + min(n, 10)))).sum() for n in truth.sum(1)])
    return float(np.mean(gains[ideal > 0] / ideal[ideal > 0]))


def test_lightgcn_in_two_processes_ranks_as_well_as_one(tmp_path):
    train, held, n_users, n_items, knowledge, n_brands = _interactions()
    inputs = handoff_write(tmp_path, (train, n_users, n_items, knowledge, n_brands))
    one = _ndcg10(*_lightgcn(str(inputs)), train, held, n_users, n_items)
    two = _ndcg10(*launch(2, _lightgcn, str(inputs), device="cpu"), train, held, n_users, n_items)
    # a random order: each of the two held-out picks is at each of the first ten places with odds 1 / 88
    ideal = 1 + 1 / np.log2(3)
    chance = 2 / (n_items - 12) * (1 / np.log2(np.arange(2, 12))).sum() / ideal
    print(f"LightGCN NDCG@10: one process {one:.4f}, two {two:.4f} (random order {chance:.4f})")
    assert one > 1.5 * chance and two > 1.5 * chance
    assert abs(two - one) < 0.2 * one


def _fails_on_purpose() -> None:
    if world().rank == 1:
        raise ConfigError("rank 1 refuses")
    torch.distributed.barrier()  # rank 0 waits here until the agent stops it


def _crashes() -> None:
    raise RuntimeError("not a kgrec error")


def test_a_worker_error_comes_back_as_itself_or_as_one_model_error():
    with pytest.raises(ConfigError, match="rank 1 refuses"):
        launch(2, _fails_on_purpose, device="cpu")
    with pytest.raises(ModelError, match="training process . failed.*not a kgrec error"):
        launch(2, _crashes, device="cpu")


def test_nproc_below_one_is_refused():
    with pytest.raises(ConfigError, match="--nproc must be at least 1"):
        launch(0, _crashes, device="cpu")
