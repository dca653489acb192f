"""The fusion model: LightGBM LambdaRank over each validation user's candidates, labelled 1 where the user
took the item in the validation slice. Users with no such item among their candidates teach nothing to a
pairwise loss and are left out; a fifth of the rest decides early stopping by NDCG@10.

Example:
    >>> booster, ndcg = fit_lambdarank(table, labels, names, RankConfig(), rng)   # doctest: +SKIP
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from core.errors import ModelError
from rank.config import RankConfig
from rank.features import CandidateTable

__all__ = ["fit_lambdarank"]


def fit_lambdarank(
    table: CandidateTable, labels: np.ndarray, features: list[str], cfg: RankConfig, rng: np.random.Generator
) -> tuple[lgb.Booster, float]:
    """The trained booster and its best validation NDCG@10 (on the early-stopping fifth)."""
    has_positive = np.add.reduceat(labels, np.r_[0, np.cumsum(table.groups)[:-1]]) > 0
    has_positive &= table.groups > 0
    row_group = np.repeat(np.arange(len(table.groups)), table.groups)
    keep_rows = has_positive[row_group]
    groups = table.groups[has_positive]
    x, y = table.features[keep_rows], labels[keep_rows]
    if len(groups) < 10:
        raise ModelError(f"only {len(groups)} validation users have a held-out item among the candidates")
    is_eval = np.zeros(len(groups), dtype=bool)
    is_eval[rng.choice(len(groups), max(1, len(groups) // 5), replace=False)] = True
    group_of_row = np.repeat(is_eval, groups)
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
    model.fit(
        x[~group_of_row],
        y[~group_of_row],
        group=groups[~is_eval],
        eval_X=(x[group_of_row],),
        eval_y=(y[group_of_row],),
        eval_group=[groups[is_eval]],
        eval_at=[10],
        feature_name=features,
        callbacks=[lgb.early_stopping(40, verbose=False)],
    )
    best = model.best_score_["valid_0"]["ndcg@10"] if model.best_score_ else float("nan")
    booster = model.booster_
    return booster, float(best)
