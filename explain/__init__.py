"""Explanations: paths through the knowledge graph that justify a recommendation, scored by how much the
model relies on them, put into plain sentences, and gathered into reports merchandisers can read.

The entry point is :class:`Explainer`. With a trained :class:`rank.Ranker`, :class:`RankingScorer` scores a
path by how much it moves the fusion score that ranked the item (use this one when there is a ranker; it
reports the rating model's counterfactual beside it when given one). With a trained
:class:`gnn.RatingModel` alone, paths are scored counterfactually on the predicted rating:
:class:`LocalCounterfactualScorer` (all paths in one call that recomputes only the nodes each removal
changes) or :class:`CounterfactualScorer` (the reference: one whole-graph pass per path, same numbers).
Without a model, :class:`ShapeScorer`. Only paths with a positive score (removing them lowers the score
that ranked the item) are offered as reasons, in sentences sized to the effect (:mod:`explain.sentences`);
those that work against the item are kept apart in :attr:`Explanation.despite`. :func:`render_html` and
:func:`render_markdown` turn :class:`ReportData` (see :func:`collect_report`) into a self-contained report.

Example:
    >>> from explain import Explainer, LocalCounterfactualScorer, RankingScorer
    >>> rating = LocalCounterfactualScorer(model, store.schema())  # doctest: +SKIP
    >>> explainer = Explainer(store, RankingScorer(ranker, rating))  # doctest: +SKIP
    >>> print(explainer.explain("U00002", "I00014").model_dump_json(indent=2))  # doctest: +SKIP
"""

from __future__ import annotations

from explain.collect import collect_report
from explain.explainer import Explainer
from explain.markdown import render_markdown
from explain.models import ExplainedPath, Explanation, PathNode, PathRel
from explain.ranking_scorer import RankingScorer, RanksForUser, anchors
from explain.report import (
    CatalogueCounts,
    ExplainedRecommendation,
    ReportData,
    ReportSummary,
    gini,
    render_html,
    summarise,
)
from explain.scoring import (
    CounterfactualScorer,
    LocalCounterfactualScorer,
    PathScorer,
    PathScores,
    ShapeScorer,
)
from explain.sentences import sentence
from explain.svg import path_svg

__all__ = [
    "CatalogueCounts",
    "CounterfactualScorer",
    "ExplainedPath",
    "ExplainedRecommendation",
    "Explainer",
    "Explanation",
    "LocalCounterfactualScorer",
    "PathNode",
    "PathRel",
    "PathScorer",
    "PathScores",
    "RankingScorer",
    "RanksForUser",
    "ReportData",
    "ReportSummary",
    "ShapeScorer",
    "anchors",
    "collect_report",
    "gini",
    "path_svg",
    "render_html",
    "render_markdown",
    "sentence",
    "summarise",
]
