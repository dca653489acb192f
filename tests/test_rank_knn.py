"""Item-kNN (rank/models/knn.py): cosine neighbourhoods, each item's strongest kept, and on the planted
clusters of tests/test_rank_models.py the user's own cluster first. Saving and loading it is the contract
test every registered model runs there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from rank import Interactions, RankConfig, Ranker, holdout_split
from rank.models import MODELS
from rank.models.knn import ItemKnn, ItemKnnParams
from tests.test_rank_models import SMALL, _own_cluster_share, _planted


def test_knn_is_registered_and_off_by_default() -> None:
    assert MODELS["knn"] is ItemKnn
    assert "knn" not in RankConfig().parts


def test_the_weights_are_cosine_similarities_with_each_items_strongest_kept() -> None:
    # a and b are taken together by two of a's three users and b's two; c by one of a's users only
    rows = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u3", "a"), ("u3", "c")]
    data = Interactions.build(pd.DataFrame(rows, columns=["user", "item"]).assign(rating=5.0, ts=0))
    col = {str(k): n for n, k in enumerate(data.item_keys)}
    w = ItemKnn().fit(data).weights
    assert w[col["a"], col["b"]] == pytest.approx(2 / np.sqrt(3 * 2))
    assert w[col["a"], col["c"]] == pytest.approx(1 / np.sqrt(3 * 1))
    assert w[col["b"], col["c"]] == 0 and w.diagonal().max() == 0
    one = ItemKnn(ItemKnnParams(neighbours=1)).fit(data).weights
    assert np.diff(one.indptr).max() == 1 and one[col["a"], col["b"]] > 0  # b beats c for a
    # a newcomer who took a: b first, then c; a itself scores nothing
    newcomer = sp.csr_matrix(([1.0], ([0], [col["a"]])), shape=(1, data.n_items))
    s = ItemKnn().fit(data).scores(np.array([-1]), newcomer)[0]
    assert s[col["b"]] > s[col["c"]] > s[col["a"]] == 0


def test_knn_ranks_the_users_cluster_first() -> None:
    ratings, items, _ = _planted()
    data = Interactions.build(ratings, items)
    model = ItemKnn(ItemKnnParams(neighbours=30)).fit(data)
    users = list(data.user_keys[:30])
    rows = data.user_rows(users)
    seen = data.seen(rows)
    scores = np.where(seen.toarray() > 0, -np.inf, model.scores(rows, seen))
    assert _own_cluster_share(np.argsort(-scores, axis=1)[:, :5], users) > 0.9


def test_the_ranker_fuses_knn_when_the_config_names_it() -> None:
    ratings, items, knowledge = _planted()
    config = RankConfig(**(SMALL.model_dump() | {"parts": (*SMALL.parts, "knn")}))
    ranker = Ranker(config)
    ranker.fit(holdout_split(ratings, "random", 0.2, seed=0).train, items, knowledge)
    assert isinstance(ranker.parts["knn"], ItemKnn)
    assert {"knn_score", "knn_rank"} <= set(ranker.features)
    users = list(ranker.trained_data().user_keys[:60])
    assert _own_cluster_share(ranker.rank(users, k=5).items, users) > 0.9
