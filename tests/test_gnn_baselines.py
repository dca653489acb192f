"""The classic predictors on generated data: biases recovered, factor models learn an interaction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from core.errors import ModelError
from gnn import BiasBaseline, BiasedMF, GlobalMean, SVDpp, planted_export, rmse, split_ratings


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny tensors: thread start-up costs more than it saves, and CI machines are shared
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def planted_split():
    export, _ = planted_export(num_users=90, items_per_brand=8, ratings_per_user=14, seed=1)
    return split_ratings(export.edges["RATED"], "random", seed=0)


def test_bias_baseline_recovers_planted_biases():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 50, 4000), rng.integers(0, 30, 4000)
    bu, bi = rng.normal(0, 0.5, 50), rng.normal(0, 0.5, 30)
    ratings = 3.5 + bu[users] + bi[items] + rng.normal(0, 0.1, 4000)
    model = BiasBaseline(reg_user=1.0, reg_item=1.0).fit_rows(users, items, ratings, 50, 30)
    assert np.corrcoef(model.user_bias, bu)[0, 1] > 0.97
    assert np.corrcoef(model.item_bias, bi)[0, 1] > 0.97


def test_factor_models_learn_the_interaction_biases_miss(planted_split):
    train, val, test = planted_split.train, planted_split.val, planted_split.test
    truth = test["rating"].to_numpy()
    bias = rmse(BiasBaseline().fit(train).predict(test), truth)
    mean = rmse(GlobalMean().fit(train).predict(test), truth)
    mf = rmse(BiasedMF(factors=8, lr=0.03, epochs=300, patience=20).fit(train, val).predict(test), truth)
    svdpp = rmse(SVDpp(factors=8, lr=0.03, epochs=300, patience=20).fit(train, val).predict(test), truth)
    assert bias < mean
    assert mf < 0.85 * bias
    assert svdpp < 0.85 * bias


def test_unseen_keys_fall_back_to_known_terms(planted_split):
    train = planted_split.train
    model = SVDpp(factors=4, epochs=3).fit(train)
    known_user, known_item = train.iloc[0]["user"], train.iloc[0]["item"]
    pairs = pd.DataFrame(
        {"user": [known_user, "nobody", "nobody"], "item": ["nothing", known_item, "nothing"]}
    )
    pred = model.predict(pairs)
    assert np.isfinite(pred).all()
    assert pred[2] == pytest.approx(train["rating"].mean())
    b = BiasBaseline().fit(train)
    assert b.predict(pairs)[1] == pytest.approx(b.mu + b.item_bias[b.items.get_loc(known_item)])


def test_seeded_factor_models_repeat(planted_split):
    train = planted_split.train
    a = BiasedMF(factors=4, epochs=3, seed=2).fit(train).predict(planted_split.test)
    b = BiasedMF(factors=4, epochs=3, seed=2).fit(train).predict(planted_split.test)
    assert np.array_equal(a, b)


def test_pairs_need_key_columns():
    with pytest.raises(ModelError, match="user,item"):
        GlobalMean().fit(pd.DataFrame({"rating": [1.0]})).predict(pd.DataFrame({"who": ["a"]}))
