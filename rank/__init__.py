"""Ranking: what to show a shopper, in order. Candidate models trained on who interacted with what
(:mod:`rank.models`, one file each; by default recency-weighted popularity, EASE with the knowledge graph
as side information, ``implicit``'s ALS, LightGCN over the knowledge graph, and RP3beta), fused by a
LightGBM LambdaRank model with the rating model's predicted stars and the graph's brand/category/entity
affinities as features; and the top-K metrics that measure it.

The entry points are :class:`Ranker` (fit, rank), :func:`train_stack` (the rating model and the ranker on
one per-user split, measured on its held-out part), :func:`ranking_metrics` and :func:`holdout_split`.

Example:
    >>> from rank import RankConfig
    >>> RankConfig().candidates
    100
"""

from __future__ import annotations

from gnn.split import Holdout, SplitKind, holdout_split
from rank.checkpoint import load_ranker, save_ranker
from rank.config import RankConfig
from rank.features import feature_names
from rank.interactions import Interactions
from rank.knowledge import Knowledge
from rank.metrics import MetricsAtK, RankingMetrics, ranking_metrics
from rank.models import DEFAULT_PARTS, MODELS, CandidateModel
from rank.pipeline import KS, RatingModelScores, StackResult, evaluate_ranking, train_stack
from rank.ranker import FusionReport, Ranked, Ranker, RatingScores

__all__ = [
    "DEFAULT_PARTS",
    "KS",
    "MODELS",
    "CandidateModel",
    "FusionReport",
    "Holdout",
    "Interactions",
    "Knowledge",
    "MetricsAtK",
    "RankConfig",
    "Ranked",
    "Ranker",
    "RankingMetrics",
    "RatingModelScores",
    "RatingScores",
    "SplitKind",
    "StackResult",
    "evaluate_ranking",
    "feature_names",
    "holdout_split",
    "load_ranker",
    "ranking_metrics",
    "save_ranker",
    "train_stack",
]
