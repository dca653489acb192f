"""How the fusion ranker is taught: validation slices drawn per RankConfig.fusion_draws (random splits only),
the time features fitted on the training interactions the ranker serves from, the monotone constraints."""

from __future__ import annotations

import numpy as np
import pytest

from rank import RankConfig, Ranker, SplitKind, holdout_split
from rank.features import CandidateTable, feature_names
from rank.fusion import fit_lambdarank
from rank.timing import TIME_FEATURES
from tests.test_rank_models import SMALL, _planted


@pytest.mark.parametrize(("kind", "slices"), [("random", 2), ("temporal", 1)])
def test_each_validation_slice_labels_its_own_lists(kind: SplitKind, slices: int) -> None:
    ratings, items, knowledge = _planted()
    train = holdout_split(ratings, kind, 0.2, seed=0).train
    one = Ranker(SMALL.model_copy(update={"fusion_draws": 1})).fit(train, items, knowledge, kind=kind)
    two = Ranker(SMALL.model_copy(update={"fusion_draws": 2})).fit(train, items, knowledge, kind=kind)
    # every planted user has one validation item per slice; SMALL caps a slice at 200 users
    assert one.fusion_users == SMALL.fusion_users
    assert two.fusion_users == slices * SMALL.fusion_users
    assert two.fusion_rows > one.fusion_rows if slices == 2 else two.fusion_rows == one.fusion_rows


def test_the_time_features_serve_from_the_training_interactions() -> None:
    ratings, items, knowledge = _planted()
    split = holdout_split(ratings, "random", 0.2, seed=0)
    ranker = Ranker(SMALL)
    report = ranker.fit(split.train, items, knowledge)
    data = ranker.trained_data()
    assert ranker.features == feature_names(SMALL.parts, list(knowledge.relations))
    assert set(TIME_FEATURES) <= set(report.importances)
    # the profile serving uses counts the training interactions, every one of them, and nothing else
    assert ranker.timing.item_count.tolist() == np.maximum(data.popularity(), 1).tolist()
    assert float(ranker.timing.latest) == float(split.train["ts"].max())


def test_without_time_features_the_fusion_never_uses_them() -> None:
    ratings, items, knowledge = _planted()
    ratings = ratings.assign(ts=ratings["ts"] + (np.arange(len(ratings)) % 60) * 30 * 86_400)  # five years
    train = holdout_split(ratings, "random", 0.2, seed=0).train
    config = SMALL.model_copy(update={"time_features": False, "fusion_draws": 1})
    ranker = Ranker(config)
    report = ranker.fit(train, items, knowledge)
    assert ranker.timing.active  # the times would say something; the switch keeps them out
    assert all(report.importances[name] == 0.0 for name in TIME_FEATURES)
    assert len(ranker.rank(list(ranker.trained_data().user_keys[:5]), k=5).items) == 5


@pytest.mark.parametrize("monotone", [True, False])
def test_monotone_fusion_never_ranks_a_better_score_lower(monotone: bool) -> None:
    # labels that fall as ease_score rises: free trees learn it, constrained ones must not
    names = feature_names(RankConfig().parts, ["MADE_BY"])
    rng = np.random.default_rng(0)
    groups = np.full(400, 20)
    x = rng.random((int(groups.sum()), len(names))).astype(np.float32)
    ease = names.index("ease_score")
    labels = (x[:, ease] < 0.3).astype(np.float32) * (rng.random(len(x)) < 0.8)
    table = CandidateTable(np.repeat(np.arange(len(groups)), 20), np.zeros(len(x), np.int64), x, groups)
    config = RankConfig(monotone=monotone, seed=0)
    booster, _ = fit_lambdarank(table, labels, names, config, np.random.default_rng(0))
    probe = np.tile(x[:1], (11, 1))
    probe[:, ease] = np.linspace(0.0, 1.0, 11)
    steps = np.diff(booster.predict(probe))
    assert (steps >= 0).all() if monotone else (steps < 0).any()
