"""How much a path matters: counterfactually with the rating model, or by its shape when there is none.

A scorer is any callable ``scorer(user, item, paths) -> PathScores``. :class:`CounterfactualScorer`
removes the path's edges from the model's input (the GNN's message passing; for ratings on the path, also
what they taught the bias and MF parts about the pair's user and item) and measures the drop in the
predicted rating (``score = predicted - predicted_without_path``; positive: the path pushed the rating up).
It only needs an object with ``predict(pairs, drop_edges=...)`` and ``id_map`` (:class:`PredictsWithDrop`,
which :class:`gnn.RatingModel` is), so importing this module does not load torch. :class:`ShapeScorer` is
the fallback: a score in ``[0, 1]`` from the user's rating of the anchor item, the support the path has in
the data, and its length.

Example:
    >>> from gnn import RatingModel  # doctest: +SKIP
    >>> scorer = CounterfactualScorer(RatingModel.load("models/demo"), store.schema())  # doctest: +SKIP
    >>> Explainer(store, scorer).explain("U00002", "I00014")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from core.kinds import PathKind
from core.schema import EdgeType, Schema
from explain.models import ExplainedPath

__all__ = [
    "CounterfactualScorer",
    "EdgeRemoval",
    "KeyRows",
    "LocalCounterfactualScorer",
    "PathScorer",
    "PathScores",
    "PredictsWithDrop",
    "PredictsWithout",
    "STAR",
    "ShapeScorer",
    "edge_rows",
]

EdgeRemoval = Mapping[EdgeType, tuple[list[int], list[int]]]
"""Edges to take out of the model's input, as model rows per forward edge type (see :func:`edge_rows`)."""


@dataclass(frozen=True)
class PathScores:
    """One score per path, in order; ``predicted`` is the model's rating of the pair when a model scored.

    The ranking scorer (:class:`explain.RankingScorer`) also gives ``fused``, the pair's fusion score from
    all the user's interactions (``None`` when no path needed it), and, with a rating scorer beside it,
    ``rating_drops``: each path's drop in predicted rating.

    ``spread``: the score difference that sizes the effects (:func:`explain.sentences.strength_of`): for the
    ranking scorer the fusion score of the user's first item minus their tenth's; for the counterfactual
    scorers one star (:data:`STAR`); ``None`` (the shape scorer) when the scores have no such scale.
    """

    values: list[float]
    predicted: float | None = None
    fused: float | None = None
    rating_drops: list[float] | None = None
    spread: float | None = None


STAR = 1.0
"""The spread of the counterfactual scorers: one star of predicted rating."""


class PathScorer(Protocol):
    name: str

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> PathScores: ...


class KeyRows(Protocol):
    """Dataset keys to model rows (:class:`gnn.IdMap` is one)."""

    def rows(self, node_type: str, keys: Iterable[object]) -> np.ndarray:
        """Row of each key (int), ``-1`` for a key the model does not know."""
        ...


class PredictsWithDrop(Protocol):
    """What :class:`CounterfactualScorer` needs of a model (:class:`gnn.RatingModel` has it)."""

    # read-only, so a model may hold a richer map (gnn.IdMap) than this protocol asks for
    @property
    def id_map(self) -> KeyRows: ...

    def predict(self, pairs: pd.DataFrame, *, drop_edges: EdgeRemoval | None = None) -> np.ndarray:
        """Predicted rating ``[len(pairs)]`` of ``user``/``item`` pairs, without ``drop_edges`` if given."""
        ...


class PredictsWithout(PredictsWithDrop, Protocol):
    """What :class:`LocalCounterfactualScorer` needs: also every removal's prediction in one call."""

    def predict_without(self, user: str, item: str, removals: Sequence[EdgeRemoval]) -> np.ndarray:
        """``predict`` of the pair once per removal ``[len(removals)]``."""
        ...


class ShapeScorer:
    """``score = (anchor rating / max_rating) * (0.25 + 0.75 * share) * 0.9 ** (len(rels) - 2)``.

    ``share`` is ``both / fans`` for item-anchored paths (the share of the anchor's fans who also rated the
    target well) and ``min(agree, 5) / 5`` for similar users; 0 when unknown. Longer paths lose 10% a hop.
    """

    name = "shape"

    def __init__(self, max_rating: float = 5.0) -> None:
        self.max_rating = max_rating

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> PathScores:
        return PathScores([self.score(p) for p in paths])

    def score(self, path: ExplainedPath) -> float:
        rating = path.rels[0].properties.get("rating")
        strength = float(rating) / self.max_rating if isinstance(rating, int | float) else 0.5
        s = path.support
        if path.kind == PathKind.SIMILAR_USERS:
            share = min(float(s.get("agree", 0)), 5.0) / 5.0
        else:
            share = float(s["both"]) / float(s["fans"]) if s.get("fans") else 0.0
        return round(strength * (0.25 + 0.75 * share) * 0.9 ** (len(path.rels) - 2), 6)


def edge_rows(
    path: ExplainedPath, schema: Schema, id_map: KeyRows, keep: set[EdgeType] | None = None
) -> dict[EdgeType, tuple[list[int], list[int]]]:
    """The path's edges as model rows per forward edge type: ``{("user", "rated", "item"): ([u], [i])}``.

    Edges whose end the model does not know (row ``-1``), or whose type is not in ``keep``, are left out.
    """
    out: dict[EdgeType, tuple[list[int], list[int]]] = {}
    for rel in path.rels:
        rt = schema.rel_type(rel.type)
        src = int(id_map.rows(rt.source.pyg, [path.nodes[rel.start].key])[0])
        dst = int(id_map.rows(rt.target.pyg, [path.nodes[rel.end].key])[0])
        if src < 0 or dst < 0 or (keep is not None and rt.edge_type not in keep):
            continue
        rows = out.setdefault(rt.edge_type, ([], []))
        rows[0].append(src)
        rows[1].append(dst)
    return out


class CounterfactualScorer:
    """Score = predicted rating minus the prediction with the path's edges removed from message passing.

    Each path costs one encoder pass of the model over its message graph; :class:`explain.Explainer` bounds
    how many paths reach this scorer (``max_scored``).
    """

    name = "counterfactual"

    def __init__(self, model: PredictsWithDrop, schema: Schema) -> None:
        self.model = model
        self.schema = schema
        graph = getattr(model, "graph", None)
        # drop_edges refuses edge types the message graph lacks (e.g. an entity type with no edges)
        self._keep: set[EdgeType] | None = set(graph.edge_types) if graph is not None else None

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> PathScores:
        pair = pd.DataFrame({"user": [user], "item": [item]})
        base = float(self.model.predict(pair)[0])
        values = []
        for path in paths:
            rows = edge_rows(path, self.schema, self.model.id_map, self._keep)
            after = float(self.model.predict(pair, drop_edges=rows)[0]) if rows else base
            values.append(round(base - after, 6))
        return PathScores(values, predicted=round(base, 6), spread=STAR)


class LocalCounterfactualScorer(CounterfactualScorer):
    """The counterfactual of :class:`CounterfactualScorer`, with every path of a pair in one model call.

    A ``layers``-deep message-passing encoder's output for the user and the item depends only on the nodes
    that reach them within ``layers`` hops, and a removal changes only the nodes downstream of the removed
    edges; the model recomputes just those, for all the paths together (``RatingModel.predict_without``,
    see :mod:`gnn.counterfactual`). The result equals the full model's ``predict(pair, drop_edges=...)``.
    Needs a model with ``predict_without`` (a :class:`gnn.RatingModel`).
    """

    name = "counterfactual"
    model: PredictsWithout

    def __init__(self, model: PredictsWithout, schema: Schema) -> None:
        super().__init__(model, schema)

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> PathScores:
        m = self.model
        base = float(m.predict(pd.DataFrame({"user": [user], "item": [item]}))[0])
        removals = [edge_rows(p, self.schema, m.id_map, self._keep) for p in paths]
        after = m.predict_without(user, item, removals) if paths else np.empty(0)
        values = [round(base - float(a), 6) if r else 0.0 for r, a in zip(removals, after, strict=True)]
        return PathScores(values, predicted=round(base, 6), spread=STAR)
