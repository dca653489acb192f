"""Settings of the ranking stack, with their defaults and what each means.

Example:
    >>> RankConfig().candidates
    100
    >>> RankConfig(params={"lightgcn": {"epochs": 2}}).params_for("lightgcn").epochs
    2
    >>> RankConfig(parts=("ease", "nope"))
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for RankConfig
    parts
      Value error, no candidate model 'nope'; registered: ...
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gnn.device import DeviceName
from rank.models import DEFAULT_PARTS, MODELS

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
        parts: the candidate models fused (names of :data:`rank.models.MODELS`), in feature-column order.
        params: per model name, hyperparameters that differ from the model's defaults (its ``params_type``,
            documented next to it: :mod:`rank.models`), e.g. ``{"lightgcn": {"epochs": 10}}``.
        device: where a model that trains with torch (LightGCN) trains: ``auto`` (CUDA when torch sees a
            GPU), ``cpu`` or ``cuda``; its results are kept and served on the CPU.
        time_features: compute the time features of :mod:`rank.timing` (``False``: leave them missing, for
            data whose timestamps say nothing, such as generated ones).
        time_sigma_months: width of the Gaussian kernel that smooths each item's monthly activity for the
            time features.
        monotone: the fusion score never falls as a candidate model's score, the predicted rating or an
            affinity rises (:func:`rank.features.monotone_directions`): a prior that keeps a few hundred
            validation users from teaching the trees that a better score means a worse item.
        ann_above: from this many catalogue items on, each model whose scores are inner products (ALS,
            LightGCN) proposes its list from an approximate nearest-neighbour index over its item vectors
            (:mod:`rank.ann_index`), the other models from their sparse or head scores, and every feature is
            computed on the union only (:mod:`rank.ann_candidates`); below it every model scores the whole
            catalogue. The default, 50,000: in ``bench/serving_scale.py`` scoring every item took 41 ms at
            the median and 65 ms at p99 there, against 7 and 19 ms from the index with the same top 10;
            smaller catalogues, where the quality figures were measured, stay exact.
        ann_links, ann_search: the index's HNSW graph degree (``M``) and search breadth (``efSearch``, at
            least the list length asked for): more of either, closer to the exact lists and slower.
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
    time_features: bool = True
    time_sigma_months: float = Field(default=6.0, gt=0.0)
    parts: tuple[str, ...] = DEFAULT_PARTS
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    device: DeviceName = "auto"
    monotone: bool = True
    ann_above: int = Field(default=50_000, ge=1)
    ann_links: int = Field(default=32, ge=4)
    ann_search: int = Field(default=256, ge=16)
    trees: int = 400
    learning_rate: float = 0.05
    leaves: int = 31
    seed: int = 0

    @field_validator("parts")
    @classmethod
    def _registered(cls, parts: tuple[str, ...]) -> tuple[str, ...]:
        if not parts:
            raise ValueError("at least one candidate model")
        for name in parts:
            if name not in MODELS:
                raise ValueError(f"no candidate model {name!r}; registered: {', '.join(sorted(MODELS))}")
        if len(set(parts)) < len(parts):
            raise ValueError("a candidate model is named twice")
        return parts

    @model_validator(mode="after")
    def _known_params(self) -> RankConfig:
        for name in self.params:
            if name not in MODELS:
                raise ValueError(
                    f"params for no candidate model {name!r}; registered: {', '.join(sorted(MODELS))}"
                )
            self.params_for(name)  # the model's own validation: unknown keys, bounds
        return self

    def params_for(self, name: str) -> Any:
        """The hyperparameters of the model ``name``: its defaults, with ``params[name]`` over them."""
        return MODELS[name].params_type(**self.params.get(name, {}))
