"""The fusion model: LightGBM LambdaRank over each validation user's candidates, labelled 1 where the user
took the item in the validation slice. Users with no such item among their candidates teach nothing to a
pairwise loss and are left out; a fifth of the rest decides early stopping by NDCG@10 (a user's lists of
every validation slice fall on the same side, so the stopping users are not also taught). With
``RankConfig.monotone`` the trees follow :func:`rank.features.monotone_directions`.

Example:
    >>> booster, ndcg = fit_lambdarank(table, labels, names, RankConfig(), rng)   # doctest: +SKIP
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from pydantic import BaseModel, ConfigDict

from core.errors import ModelError
from rank.config import RankConfig
from rank.features import CandidateTable, monotone_directions

__all__ = ["FusionReport", "fit_lambdarank"]


class FusionReport(BaseModel):
    """What training the ranking stack did and found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train_interactions: int
    validation_interactions: int
    tuning: dict[str, dict[str, float]]
    """Per candidate model that chooses a hyperparameter on validation (EASE's ridge), each setting tried
    and its validation NDCG@10."""
    fusion_users: int
    fusion_rows: int
    candidate_recall: float
    trees: int
    validation_ndcg10: float
    importances: dict[str, float]
    seconds: dict[str, float]


def fit_lambdarank(
    table: CandidateTable,
    labels: np.ndarray,
    features: list[str],
    cfg: RankConfig,
    rng: np.random.Generator,
    owners: np.ndarray | None = None,
    init_score: np.ndarray | None = None,
) -> tuple[lgb.Booster, float]:
    """The trained booster and its best validation NDCG@10 (on the early-stopping fifth); ``owners`` names
    the user of each group (default: each group its own user); ``init_score`` (per row) is a score the
    trees add to, as a booster boosting on from another model's scores."""
    has_positive = np.add.reduceat(labels, np.r_[0, np.cumsum(table.groups)[:-1]]) > 0
    has_positive &= table.groups > 0
    row_group = np.repeat(np.arange(len(table.groups)), table.groups)
    keep_rows = has_positive[row_group]
    groups = table.groups[has_positive]
    x, y = table.features[keep_rows], labels[keep_rows]
    if len(groups) < 10:
        raise ModelError(f"only {len(groups)} validation users have a held-out item among the candidates")
    owner = (np.arange(len(table.groups)) if owners is None else np.asarray(owners))[has_positive]
    users = np.unique(owner)
    is_eval = np.isin(owner, users[rng.choice(len(users), max(1, len(users) // 5), replace=False)])
    group_of_row = np.repeat(is_eval, groups)
    base = None if init_score is None else np.asarray(init_score, dtype=np.float64)[keep_rows]
    model = lgb.LGBMRanker(
        objective="lambdarank",
        n_estimators=cfg.trees,
        learning_rate=cfg.learning_rate,
        num_leaves=cfg.leaves,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.9,
        random_state=cfg.seed,
        verbose=-1,
        lambdarank_truncation_level=20,
    )
    if cfg.monotone:
        model.set_params(monotone_constraints=monotone_directions(features, cfg.parts))
    model.fit(
        x[~group_of_row],
        y[~group_of_row],
        group=groups[~is_eval],
        eval_X=(x[group_of_row],),
        eval_y=(y[group_of_row],),
        eval_group=[groups[is_eval]],
        init_score=None if base is None else base[~group_of_row],
        eval_init_score=None if base is None else [base[group_of_row]],
        eval_at=[10],
        feature_name=features,
        callbacks=[lgb.early_stopping(40, verbose=False)],
    )
    best = model.best_score_["valid_0"]["ndcg@10"] if model.best_score_ else float("nan")
    booster = model.booster_
    return booster, float(best)
