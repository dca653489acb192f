"""The whole pipeline on demo data, as one call: empty the graph, load, train, recommend, explain, report.

``kgrec demo`` renders what :func:`run_demo` returns; a notebook can do the same.

Example:
    >>> from kgrec import Settings
    >>> demo_settings(Settings(workspace="default")).workspace
    'demo'
    >>> demo_settings(Settings(workspace="shop")).workspace
    'shop'
    >>> with Recommender.connect(demo_settings(Settings())) as rec:    # doctest: +SKIP
    ...     run = run_demo(rec)
    >>> [r.item for r, _ in run.explained]                             # doctest: +SKIP
    ['I00013', 'I00037', 'I00001']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import NotFoundError
from core.progress import Progress
from core.settings import Settings
from loaders import Dataset, read_amazon2018
from loaders.demo import demo_dataset

if TYPE_CHECKING:
    from explain import Explanation, ReportData
    from kgrec.recommender import Recommender
    from kgrec.results import FitResult, Recommendation

__all__ = ["DEMO_STEPS", "DemoRun", "demo_settings", "run_demo"]

DEMO_STEPS = 5
# What the demo shows: recommendations per sample user, how many of them explained, paths per explanation,
# users in the report.
_RECOMMEND, _EXPLAIN, _PATHS, _REPORT_USERS = 5, 3, 2, 10


@dataclass(frozen=True)
class DemoRun:
    """What the demo produced: what training measured (rating and ranking metrics on the held-out part), the
    sample user's recommendations, the first few explained, and the data of a merchandiser report (render it
    with :func:`explain.render_html`)."""

    workspace: str
    fit: FitResult
    user: str
    recommendations: list[Recommendation]
    explained: list[tuple[Recommendation, Explanation]]
    report: ReportData


def demo_settings(settings: Settings) -> Settings:
    """The demo runs in its own workspace, ``demo``, unless one other than the default was chosen: it empties
    the graph first."""
    if settings.workspace != "default":
        return settings
    return settings.model_copy(update={"workspace": "demo"})


def run_demo(
    rec: Recommender,
    magazine: Path | None = None,
    user: str | None = None,
    steps: Progress | None = None,
    progress: Progress | None = None,
) -> DemoRun:
    """Empty the graph, load the demo catalogue (or Amazon 2018 magazine data), train, recommend and explain.

    ``user`` is the sample user (default: the one with the most ratings). ``steps`` hears each of the
    :data:`DEMO_STEPS` steps as ``steps(what, number, DEMO_STEPS)``; ``progress`` hears the load and the
    training as they go.
    """
    from gnn import TrainConfig  # torch loads with the model, not with this module
    from rank import RankConfig

    def step(number: int, what: str) -> None:
        if steps is not None:
            steps(what, number, DEMO_STEPS)

    step(1, f"Neo4j (workspace {rec.settings.workspace})")
    rec.store.reset()
    step(2, "loading " + (f"magazine data from {magazine}" if magazine else "the demo catalogue"))
    rec.load_dataset(_dataset(magazine), progress=progress)
    step(3, "training the rating model and the ranker")
    # the ranker's settings for a catalogue of a few hundred items: fewer iterations and trees than a shop's
    small = RankConfig(
        seed=0, params={"lightgcn": {"epochs": 10}, "als": {"iterations": 10}}, candidates=50, trees=150
    )
    fit = rec.fit(TrainConfig(seed=0), small, progress=progress)
    sample = user or _busiest_user(rec)
    step(4, f"recommendations for {sample}")
    recommendations = rec.recommend(sample, k=_RECOMMEND)
    explained = [(r, rec.explain(sample, r.item, top=_PATHS)) for r in recommendations[:_EXPLAIN]]
    step(5, "report")
    report = rec.report(sample=_REPORT_USERS)
    return DemoRun(rec.settings.workspace, fit, sample, recommendations, explained, report)


def _dataset(magazine: Path | None) -> Dataset:
    if magazine is None:
        return demo_dataset()[0]
    return read_amazon2018(
        magazine / "meta_Magazine_Subscriptions.json.gz",
        ratings=magazine / "Magazine_Subscriptions.ratings.csv",
    )


def _busiest_user(rec: Recommender) -> str:
    users = rec.store.top_raters(1)
    if not users:
        raise NotFoundError("the graph holds no users")
    return users[0]
