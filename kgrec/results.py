"""Pydantic results of the public API; each serialises to JSON with ``model_dump()``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Leaning", "Prediction", "Profile", "Recommendation", "SearchHit", "SimilarItem"]


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prediction(_Result):
    """A predicted rating; ``source`` tells how it was served (model, neighbours, bias, global)."""

    user: str
    item: str
    rating: float
    source: str


class Recommendation(_Result):
    """A recommended item with its predicted rating and what the graph says about it."""

    item: str
    score: float
    title: str | None = None
    brand: str | None = None
    categories: list[str] = []


class SimilarItem(_Result):
    item: str
    score: float
    title: str | None = None


class SearchHit(_Result):
    """A full-text match; ``predicted`` is the user's predicted rating when a user was given."""

    item: str
    text_score: float
    title: str | None = None
    predicted: float | None = None


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
