"""Recommendations that react to events without a retrain: a user the serving models do not know as they
are now is folded in.

That is a user with views, carts, purchases or ratings recorded after the training of the serving models
began to read the graph (``ModelVersion.data_as_of``; ``kgrec train`` learns from all four:
:func:`rank.interactions.with_events`). Such a user is ranked as the
ranker ranks a newcomer (:meth:`kgrec.Recommender.recommend_for_new_user`: each candidate model places them
from their items alone, :meth:`rank.Ranker.rank_new`), with everything the graph says they took: their
ratings (training and later ones) and the items they viewed, carted or bought. Those items are left out of
the list (also with ``exclude_seen`` off), so what a user has just bought is not offered again. Everyone else
gets :meth:`kgrec.Recommender.recommend` unchanged (ranked with the other requests waiting,
:class:`kgrec.service.batching.ListBatches`). The check costs one indexed read per list; it reads the
graph rather than process memory, so every worker of ``kgrec serve --workers N`` sees every event.

Example:
    >>> fold = FoldIn(metrics)                                        # doctest: +SKIP
    >>> fold.recommend(served, "U00001", k=5)[0].item                 # doctest: +SKIP
    'I00042'
"""

from __future__ import annotations

import math

from core.schema import RATED
from kg.events import InteractionRecord, user_event_interactions
from kgrec.models import ModelVersion
from kgrec.results import Recommendation
from kgrec.service.batching import ListBatches
from kgrec.service.metrics import ServiceMetrics
from kgrec.service.swap import Served

__all__ = ["CLOCK_MARGIN_S", "FoldIn"]

_IMPLICIT = math.inf
"""The 'rating' a view, cart or purchase counts as: above any ``RankConfig.min_rating``, always taken."""


CLOCK_MARGIN_S = 2.0
"""Events recorded this long before a training began to read the graph still count as new: an event is
stamped by Neo4j's clock when its write starts, so a write that commits after the export has read the
graph carries an earlier stamp. Both stamps come from the one clock (:data:`kg.queries.GRAPH_NOW`)."""


def _newer(event: InteractionRecord, version: ModelVersion) -> bool:
    """Whether the serving models may not know ``event``: recorded after their training began to read the
    graph (less :data:`CLOCK_MARGIN_S`). A folder that does not say when (trained before kgrec learned from
    events) knows no view, cart or purchase, and no rating recorded after it was written."""
    if version.data_as_of is not None:
        return event["recorded"] >= version.data_as_of - CLOCK_MARGIN_S
    return event["type"] != RATED.type or event["recorded"] >= version.trained_at


class FoldIn:
    """Serves recommendations with each user's events since training folded in."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics
        self.batches = ListBatches(metrics.batch_sizes)

    def recommend(
        self,
        served: Served,
        user: str,
        k: int = 10,
        exclude_seen: bool = True,
        brand: str | None = None,
        category: str | None = None,
        events: list[InteractionRecord] | None = None,
    ) -> list[Recommendation]:
        """The user's list; folded in (and counted in ``kgrec_foldins_total``) when they have views, carts,
        purchases or ratings newer than the graph ``served``'s models were trained from. ``events``: the user's
        :func:`kg.events.user_event_interactions` when the caller has read them already."""
        rec = served.rec
        if events is None:
            events = user_event_interactions(rec.store, user)
        fresh = [e for e in events if _newer(e, served.version)]
        if not fresh:
            return self.batches.recommend(rec, user, k, exclude_seen, brand, category)
        taken: dict[str, float] = {e["item"]: _IMPLICIT for e in events if e["type"] != RATED.type}
        rated = rec.store.rated_items(user)
        taken.update(zip(rated["item"].astype(str), rated["rating"].astype(float), strict=True))
        self.metrics.foldins.inc()
        return rec.recommend_for_new_user(
            taken, brands=[brand] if brand else (), categories=[category] if category else (), k=k
        )
