"""Gather a report's data: recommendations (already ranked by a model) joined with item facts from the
graph and their explanations, for one slice (a brand, a category, a set of users).

Example:
    >>> recs = pd.DataFrame({"user": ["U00002"], "item": ["I00014"], "score": [4.6]})
    >>> data = collect_report(store, Explainer(store), recs, brand="Crema Co")  # doctest: +SKIP
    >>> Path("report.html").write_text(render_html(data))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import pandas as pd

from core.errors import NotFoundError
from explain.explainer import Explainer
from explain.report import CatalogueCounts, ExplainedRecommendation, ReportData
from kg import GraphStore

__all__ = ["collect_report"]


def collect_report(
    store: GraphStore,
    explainer: Explainer,
    recommendations: pd.DataFrame,
    *,
    brand: str | None = None,
    category: str | None = None,
    users: Collection[str] | None = None,
    sample: int | None = None,
    top: int = 3,
    samples: int = 6,
    title: str = "Why these recommendations",
    generated: str | None = None,
) -> ReportData:
    """Report data for the recommendations of one slice.

    Args:
        recommendations: columns ``user``, ``item`` and optionally ``score`` (the predicted rating), ranked
            best first within each user.
        brand, category: keep the recommendations of items of this brand / in this category.
        users: keep these users' recommendations.
        sample: keep at most this many users (the first in sorted order, so the report is reproducible).
        top: paths per explanation.
        samples: recommendations drawn as path pictures.
    """
    frame = recommendations.copy()
    frame["user"], frame["item"] = frame["user"].astype(str), frame["item"].astype(str)
    frame["rank"] = frame.groupby("user").cumcount() + 1
    if users is not None:
        frame = frame[frame["user"].isin({str(u) for u in users})]
    facts = store.item_facts(frame["item"].unique().tolist())
    if brand is not None:
        frame = frame[[i in facts and brand in facts[i]["brands"] for i in frame["item"]]]
    if category is not None:  # a name or a path, with subcategories: as recommendations are filtered
        frame = frame[frame["item"].isin(store.items_of(category=category) or set())]
    if sample is not None:
        keep = sorted(frame["user"].unique())[:sample]
        frame = frame[frame["user"].isin(keep)]
    recs = []
    for row in frame.itertuples(index=False):
        user, item = str(row.user), str(row.item)
        fact = facts.get(item)
        if fact is None:
            raise NotFoundError(f"recommended item {item!r} is not in the graph")
        score = getattr(row, "score", None)
        recs.append(
            ExplainedRecommendation(
                user=user,
                item=item,
                rank=int(str(row.rank)),
                name=fact["name"],
                brands=fact["brands"],
                categories=fact["categories"],
                predicted=None if score is None else float(score),
                explanation=explainer.explain(user, item, top),
            )
        )
    what = [f"Brand: {brand}"] if brand else []
    what += [f"Category: {category}"] if category else []
    what += [f"{len(set(frame['user']))} selected users"] if users is not None or sample is not None else []
    return ReportData(
        title=title,
        slice=" · ".join(what) or "All recommendations",
        generated=generated or dt.date.today().isoformat(),
        recommendations=recs,
        catalogue=CatalogueCounts(**store.catalogue_counts()),
        samples=samples,
    )
