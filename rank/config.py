"""Settings of the ranking stack, with their defaults and what each means.

Example:
    >>> RankConfig().candidates
    100
    >>> RankConfig(seed=3).seed
    3
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RankConfig"]


class RankConfig(BaseModel):
    """How the candidate models and the fusion ranker are trained.

    Attributes:
        candidates: items each candidate model proposes per user; the fusion ranks their union.
        validation_fraction: per-user share of the training interactions held out to train the fusion
            (and to tune EASE); the candidate models are then refitted on all training interactions.
        fusion_users: at most this many validation users (sampled) train the fusion ranker, per slice.
        fusion_draws: validation slices drawn (random splits; a temporal split has one, the latest): the
            candidate models are fitted without each, and every slice's users label the fusion's lists.
            Three by default: more labels for the fusion, at the cost of fitting the models once per slice.
        min_rating: keep only interactions rated at least this as positives (``None``: every rating is
            one interaction, the user chose the item).
        popularity_half_life_days: an interaction's weight halves every this many days of age.
        time_features: compute the time features of :mod:`rank.timing` (``False``: leave them missing, for
            data whose timestamps say nothing, such as generated ones).
        time_sigma_months: width of the Gaussian kernel that smooths each item's monthly activity for the
            time features.
        ease_grid: EASE ridge values tried on validation. ease_max_items: the dense item-item limit.
        ease_side_weight: weight of the knowledge graph's co-membership in EASE's Gram matrix (0: none).
        als_factors, als_regularization, als_iterations: ``implicit``'s ALS.
        gnn_dim, gnn_layers, gnn_epochs, gnn_lr: the interaction GNN (LightGCN with BPR).
        gnn_device: where the interaction GNN trains: ``auto`` (CUDA when torch sees a GPU), ``cpu`` or
            ``cuda``; its embeddings are kept and served on the CPU.
        rp3_alpha, rp3_beta, rp3_neighbours: RP3beta (:mod:`rank.rp3`): the exponent of the walk's
            steps, the popularity penalty's, and how many neighbours each item keeps.
        monotone: the fusion score never falls as a candidate model's score, the predicted rating or an
            affinity rises (:func:`rank.features.monotone_directions`): a prior that keeps a few hundred
            validation users from teaching the trees that a better score means a worse item.
        trees, learning_rate, leaves: LightGBM LambdaRank; ``trees`` is a cap, early stopping on NDCG@10
            of a fifth of the fusion users decides.
        seed: every random choice (splits, samples, initialisations).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidates: int = Field(default=100, ge=10)
    validation_fraction: float = Field(default=0.1, gt=0.0, lt=0.5)
    fusion_users: int = Field(default=20000, ge=10)
    fusion_draws: int = Field(default=3, ge=1)
    min_rating: float | None = None
    popularity_half_life_days: float = Field(default=365.0, gt=0.0)
    time_features: bool = True
    time_sigma_months: float = Field(default=6.0, gt=0.0)
    ease_grid: tuple[float, ...] = (50.0, 100.0, 250.0, 500.0, 1000.0)
    ease_max_items: int = Field(default=8000, ge=10)
    ease_side_weight: float = Field(default=4.0, ge=0.0)
    als_factors: int = 64
    als_regularization: float = 0.05
    als_iterations: int = 30
    rp3_alpha: float = Field(default=0.8, gt=0.0)
    rp3_beta: float = Field(default=0.5, ge=0.0)
    rp3_neighbours: int = Field(default=200, ge=1)
    gnn_dim: int = 64
    gnn_layers: int = 2
    gnn_epochs: int = 30
    gnn_lr: float = 0.02
    gnn_device: Literal["auto", "cpu", "cuda"] = "auto"
    monotone: bool = True
    trees: int = 400
    learning_rate: float = 0.05
    leaves: int = 31
    seed: int = 0
