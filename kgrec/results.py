"""Pydantic results of the public API; each serialises to JSON with ``model_dump()``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from gnn import ColdStartCounts, TrainMetrics
from rank import FusionReport, RankingMetrics

__all__ = [
    "Evaluation",
    "FitResult",
    "Leaning",
    "Prediction",
    "Profile",
    "Recommendation",
    "SearchHit",
    "SimilarItem",
]


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prediction(_Result):
    """A predicted rating; ``source`` tells how it was served (model, neighbours, bias, global)."""

    user: str
    item: str
    rating: float
    source: str


class Recommendation(_Result):
    """A recommended item, in the fused ranking's order, and what the graph says about it.

    ``score`` is the fusion score that ranked it (the LightGBM LambdaRank model's output: higher ranks
    higher, comparable within one list, not stars); ``predicted_rating`` is the rating model's predicted
    stars for the user and the item (``None`` where it cannot say).
    """

    item: str
    score: float
    predicted_rating: float | None = None
    title: str | None = None
    brand: str | None = None
    categories: list[str] = []


class SimilarItem(_Result):
    item: str
    score: float
    title: str | None = None


class SearchHit(_Result):
    """A search hit: ``score`` is the search ranker's (``None`` for a text-only hit), ``text_score``
    Lucene's on title and description (0 when only a linked entity found it), ``matched`` says what
    matched (``"title"``, ``"description"``, ``"id"``, ``"Brand: Inkwell"``, ``"Category: A > B"``...);
    with a user, ``predicted`` is their predicted rating and ``personal_score`` their fused ranking score."""

    item: str
    text_score: float
    title: str | None = None
    predicted: float | None = None
    score: float | None = None
    personal_score: float | None = None
    matched: list[str] = []


class Leaning(_Result):
    """A brand, category or other entity a user leans to.

    ``weight`` is its share of the user's rating mass (ratings x mean rating) among its kind, from the
    graph; ``predicted`` is the model's mean predicted rating of its items for the user (``None`` without a
    trained model that knows the user).
    """

    name: str
    ratings: int
    mean_rating: float
    weight: float
    predicted: float | None = None


class Profile(_Result):
    """What a user rated, and the entities they lean to, per node label (``Brand``, ``Category``, ...)."""

    user: str
    ratings: int
    mean_rating: float | None
    leanings: dict[str, list[Leaning]]


class FitResult(_Result):
    """What :meth:`~kgrec.Recommender.fit` trained and measured on its held-out part.

    ``rating``: the rating model's validation and test RMSE/MAE per part. ``ranking``: the fused ranking's
    top-K metrics (see :mod:`rank.metrics`) on the held-out interactions; ``parts``: each candidate model's
    own ranking on the same users. ``fusion``: what training the ranker found (feature importances, EASE's
    ridge, candidate recall). ``split``, ``holdout`` and ``seed`` say how the ratings were split.
    ``given_test``: measured on ratings given to ``fit`` (a test file) instead of a hold-out of the graph's
    (``holdout`` is then 0); ``test_overlap``: graph ratings left out of training because the test file holds
    the same pair. ``rating.ratings`` counts the training, validation and test ratings.
    """

    rating: TrainMetrics
    ranking: RankingMetrics
    parts: dict[str, RankingMetrics]
    fusion: FusionReport
    split: str
    holdout: float
    seed: int
    given_test: bool = False
    test_overlap: int = 0


class Evaluation(_Result):
    """The trained models on a ratings file: the rating model's RMSE/MAE over its ``ratings`` rows (with how
    many users and items were cold), and the fused ranking's top-K metrics with the file's interactions as
    the relevant items (users without one in the catalogue skipped and counted)."""

    ratings: int
    rmse: float
    mae: float
    cold_start: ColdStartCounts
    ranking: RankingMetrics
