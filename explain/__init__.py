"""Explanations: paths through the knowledge graph that justify a recommendation, scored by how much the
model relies on them, put into plain sentences, and gathered into reports merchandisers can read.

The entry point is :class:`Explainer`. With a trained :class:`gnn.RatingModel`, paths are scored
counterfactually: :class:`LocalCounterfactualScorer` (all paths in one call that recomputes only the nodes
each removal changes; use this one) or :class:`CounterfactualScorer` (the reference: one whole-graph pass
per path, same numbers). Without a model, :class:`ShapeScorer`. :func:`render_html` and
:func:`render_markdown` turn :class:`ReportData` (see :func:`collect_report`) into a self-contained report.

Example:
    >>> from explain import Explainer, LocalCounterfactualScorer
    >>> explainer = Explainer(store, LocalCounterfactualScorer(model, store.schema()))  # doctest: +SKIP
    >>> print(explainer.explain("U00002", "I00014").model_dump_json(indent=2))  # doctest: +SKIP
"""

from __future__ import annotations

from explain.collect import collect_report
from explain.explainer import Explainer
from explain.models import ExplainedPath, Explanation, PathNode, PathRecordError, PathRel
from explain.report import (
    CatalogueCounts,
    ExplainedRecommendation,
    ReportData,
    ReportSummary,
    gini,
    render_html,
    render_markdown,
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
    "PathRecordError",
    "PathRel",
    "PathScorer",
    "PathScores",
    "ReportData",
    "ReportSummary",
    "ShapeScorer",
    "collect_report",
    "gini",
    "path_svg",
    "render_html",
    "render_markdown",
    "sentence",
    "summarise",
]
