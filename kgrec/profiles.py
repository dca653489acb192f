"""A user's profile: the brands, categories and other entities they lean to, from the graph and the model.

Example:
    >>> [(b.name, round(b.weight, 2)) for b in user_profile(store, model, "U00001").leanings["Brand"]]  # doctest: +SKIP
    [('Crema Co', 0.71), ('Inkwell', 0.29)]
"""

from __future__ import annotations

from core.errors import NotFoundError
from core.schema import EdgeType
from gnn import RatingModel
from kg import GraphStore
from kgrec.results import Leaning, Profile

__all__ = ["user_profile"]


def user_profile(store: GraphStore, model: RatingModel | None, user: str, limit: int = 10) -> Profile:
    """Per entity label, the ``limit`` most-rated: weighted by their share of the user's rating mass, and
    with the model's mean predicted rating of their items for the user when ``model`` knows the user
    (``None`` otherwise)."""
    rated = store.rated_items(user)
    if rated.empty and not store.has_user(user):
        raise NotFoundError(f"user {user!r} is not in the graph")
    found = store.leanings(user, limit)
    keys = {rel.edge_type: [str(r["key"]) for r in rows] for rel, rows in found.items()}
    predicted = _linked_scores(model, user, keys)
    leanings = {}
    for rel, rows in found.items():
        mass = sum(r["ratings"] * r["mean_rating"] for r in rows) or 1.0
        scores = predicted.get(rel.edge_type) or [None] * len(rows)
        leanings[rel.target.label] = [
            Leaning(
                name=str(r["name"]),
                ratings=r["ratings"],
                mean_rating=r["mean_rating"],
                weight=r["ratings"] * r["mean_rating"] / mass,
                predicted=p,
            )
            for r, p in zip(rows, scores, strict=True)
        ]
    return Profile(
        user=user,
        ratings=len(rated),
        mean_rating=float(rated["rating"].mean()) if len(rated) else None,
        leanings=leanings,
    )


def _linked_scores(
    model: RatingModel | None, user: str, keys: dict[EdgeType, list[str]]
) -> dict[EdgeType, list[float | None]]:
    if model is None or model.id_map.rows("user", [user])[0] < 0:
        return {}
    return model.linked_scores(user, keys)
