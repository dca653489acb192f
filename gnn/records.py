"""The records a trained model reports: its blend weights, how pairs were served, what training measured.

Example:
    >>> BlendWeights(intercept=0.1, bias=0.2, mf=0.3, gnn=0.5).mf
    0.3
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from gnn.metrics import Scores

__all__ = ["PARTS", "BlendWeights", "ColdStartCounts", "TrainMetrics"]

PARTS = ("bias", "mf", "gnn")
"""The blended parts, in the order of :class:`BlendWeights`."""


class BlendWeights(BaseModel):
    """Least-squares weights of the parts, fitted on validation ratings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intercept: float
    bias: float
    mf: float
    gnn: float


class ColdStartCounts(BaseModel):
    """How the pairs of one prediction were served.

    ``cold_users``: pairs whose user is unknown or has no training ratings. ``cold_items``: pairs whose
    item is unknown or has no training ratings. ``from_neighbours``: pairs scored by the full model with an
    item borrowed from its graph neighbours. ``bias_fallback``: pairs scored ``mu + b_u`` or ``mu + b_i``.
    ``global_mean``: pairs with neither a known user nor a known item.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pairs: int
    cold_users: int
    cold_items: int
    from_neighbours: int
    bias_fallback: int
    global_mean: int


class TrainMetrics(BaseModel):
    """What one training run measured; saved with the model as ``metrics.json``.

    ``val``/``test``: scores per part (``global_mean``, ``bias``, ``mf``, ``gnn``, ``blend``).
    """

    model_config = ConfigDict(extra="forbid")

    val: dict[str, Scores]
    test: dict[str, Scores]
    blend: BlendWeights
    epochs: dict[str, int]
    seconds: dict[str, float]
    cold_start_test: ColdStartCounts
    minibatch: bool
    ratings: dict[str, int]
