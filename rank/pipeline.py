"""Train the whole stack on one split of the graph's ratings and measure it on the held-out part: the rating
model (:mod:`gnn`), the candidate models and the fusion ranker.

One per-user hold-out split (:func:`gnn.split.holdout_split`) serves both: the rating model trains on the
training part (less a per-user validation slice for its early stopping and blend weights) and reports its
RMSE on the held-out part; the ranker trains on the same training part and is measured on the held-out part
with the protocol of :mod:`rank.metrics`. Nothing of the held-out part reaches either model.

With a ``test`` frame (a user's own test file, ``kgrec train --test-ratings``) there is no hold-out from the
graph: both models train on every rating the graph holds (less the rating model's validation slice, and less
any pair the test file also holds, counted in ``StackResult.test_overlap``) and are measured on ``test``,
whose users and items may be unseen (served as cold start).

Example:
    >>> result = train_stack(store.export(), kind="random", seed=0)   # doctest: +SKIP
    >>> result.ranking.at(10).ndcg                                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import ModelError
from core.progress import Progress
from gnn import RatingModel, RatingSplit, TrainConfig, Trainer, TrainMetrics
from gnn.split import Holdout, SplitKind, holdout_split
from kg import GraphExport
from rank.config import RankConfig
from rank.interactions import Interactions, with_events
from rank.knowledge import Knowledge
from rank.metrics import RankingMetrics, ranking_metrics
from rank.ranker import FusionReport, Ranker

__all__ = ["RatingModelScores", "StackResult", "evaluate_ranking", "train_stack"]

KS = (10, 20)
"""The cut-offs every ranking figure is given at."""


_FEW = 1000
"""Up to this many items (not the catalogue) are always scored alone rather than picked from a catalogue
pass; more are when they are under a quarter of the model's catalogue."""


class RatingModelScores:
    """The rating model as the ranker's ``predicted_rating`` feature: stars of ``items`` for ``users``.

    For the catalogue (the ranker's candidate features) the model scores its whole catalogue in its own
    column order, with the per-item decoder terms cached across calls, and maps its columns to ``items``
    once. Fewer items (the stars of a served list, up to ``_FEW``; or a batch's candidates on a large
    catalogue, under a quarter of it) are scored alone: at 10M interactions, picking 64 users' candidates
    out of a pass over all 200,000 items took 96% of the fusion's training time. An item the model does not
    hold is NaN either way.
    """

    def __init__(self, model: RatingModel) -> None:
        self.model = model
        # one attribute, so that a thread never reads one catalogue's items with another's columns
        self._catalogue: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, users: Sequence[str], items: np.ndarray) -> np.ndarray:
        known = self._catalogue
        if known is not None and items is known[0]:
            columns = known[1]
        else:
            columns = np.asarray(self.model.id_map.rows("item", list(items)), dtype=np.int64)
            if len(items) <= _FEW or 4 * len(items) < self.model.id_map.num_nodes("item"):
                return self._alone(users, items, columns)
            if known is None or len(items) >= len(known[0]):  # keep the catalogue's mapping
                self._catalogue = (items, columns)
        scores = np.asarray(self.model.score_items(list(users)), dtype=np.float32)
        out = scores[:, np.maximum(columns, 0)]
        out[:, columns < 0] = np.nan
        return out

    def _alone(self, users: Sequence[str], items: np.ndarray, columns: np.ndarray) -> np.ndarray:
        out = np.full((len(users), len(items)), np.nan, dtype=np.float32)
        held = np.flatnonzero(columns >= 0)
        if len(held):
            out[:, held] = self.model.score_items(list(users), list(np.asarray(items)[held]))
        return out


@dataclass(frozen=True)
class StackResult:
    """The trained models and what they scored on the held-out part."""

    model: RatingModel
    ranker: Ranker
    rating: TrainMetrics
    ranking: RankingMetrics
    parts: dict[str, RankingMetrics]
    fusion: FusionReport
    split: Holdout
    test_overlap: int = 0
    """Ratings of the graph left out of training because the given test file holds the same pair."""


def train_stack(
    export: GraphExport,
    kind: SplitKind = "random",
    fraction: float = 0.2,
    seed: int = 0,
    train_config: TrainConfig | None = None,
    rank_config: RankConfig | None = None,
    progress: Progress | None = None,
    test: pd.DataFrame | None = None,
) -> StackResult:
    """Split the exported ratings per user, train the rating model and the ranker on the training part,
    and measure both (and each candidate model alone) on the held-out part; with ``test`` (``user``, ``item``,
    ``rating``[, ``ts``]), train on all the graph's ratings and measure on ``test`` instead."""
    ratings = _sorted_ratings(export)
    overlap = 0
    if test is None:
        holdout = holdout_split(ratings, kind, fraction, seed)
    else:
        ratings, holdout, overlap = _given_test(ratings, test, kind, seed)
    train_config = train_config or TrainConfig(seed=seed)
    rank_config = rank_config or RankConfig(seed=seed, device=train_config.device)
    # the rating model's own validation slice comes out of the training part, per user like the rest
    inner = holdout_split(ratings.iloc[holdout.train_idx], kind, rank_config.validation_fraction, seed)
    split = RatingSplit(
        ratings,
        np.sort(holdout.train_idx[inner.train_idx]),
        np.sort(holdout.train_idx[inner.test_idx]),
        holdout.test_idx,
        kind,
        seed,
    )
    trained = Trainer(train_config).fit(export, split, progress=progress)
    items = np.asarray(export.node_keys("Item"))
    ranker = Ranker(rank_config)
    fusion = ranker.fit(
        # views, carts, purchases too; on a temporal split none from the time held out
        with_events(
            holdout.train,
            export.events,
            leave_out=holdout.test,
            before=holdout.test if kind == "temporal" else None,
        ),
        items,
        Knowledge.from_export(export, items),
        RatingModelScores(trained.model),
        kind,
        progress,
    )
    ranking, parts = evaluate_ranking(ranker, holdout.test, with_parts=True)
    return StackResult(trained.model, ranker, trained.metrics, ranking, parts, fusion, holdout, overlap)


def evaluate_ranking(
    ranker: Ranker, test: pd.DataFrame, ks: Sequence[int] = KS, with_parts: bool = False
) -> tuple[RankingMetrics, dict[str, RankingMetrics]]:
    """The fused ranking (and, with ``with_parts``, each candidate model's) against ``test`` interactions
    (``user``, ``item``): every catalogue item ranked for each test user, training items left out."""
    data = ranker.trained_data()
    users = list(pd.unique(test["user"].astype(str)))
    held = Interactions.build(test, data.item_keys, users)
    relevant = [
        held.matrix.indices[held.matrix.indptr[r] : held.matrix.indptr[r + 1]] for r in range(len(users))
    ]
    popularity = data.popularity()
    k = max(ks)
    fused = ranking_metrics(ranker.rank(users, k).items, relevant, ks, popularity)
    parts = {}
    if with_parts:
        parts = {
            p: ranking_metrics(ranker.part_rank(p, users, k), relevant, ks, popularity)
            for p in ranker.config.parts
        }
    return fused, parts


def _given_test(
    ratings: pd.DataFrame, test: pd.DataFrame, kind: SplitKind, seed: int
) -> tuple[pd.DataFrame, Holdout, int]:
    """Every graph rating for training but the pairs ``test`` holds, with ``test`` appended: the frame both
    splits index, the hold-out (its test part is ``test``), and how many graph ratings were left out."""
    test = test.assign(user=test["user"].astype(str), item=test["item"].astype(str))
    test = test.assign(ts=test.get("ts", 0))[["user", "item", "rating", "ts"]]
    if test.empty:
        raise ModelError("the test ratings are empty")
    held = pd.MultiIndex.from_frame(test[["user", "item"]])
    keep = ~pd.MultiIndex.from_frame(ratings[["user", "item"]].astype(str)).isin(held)
    frame = pd.concat([ratings[keep], test], ignore_index=True)
    train_idx = np.arange(int(keep.sum()))
    test_idx = np.arange(int(keep.sum()), len(frame))
    holdout = Holdout(
        frame.iloc[train_idx].reset_index(drop=True),
        test.reset_index(drop=True),
        train_idx,
        test_idx,
        kind,
        len(test) / len(frame),
        seed,
    )
    return frame, holdout, int((~keep).sum())


def _sorted_ratings(export: GraphExport) -> pd.DataFrame:
    """The exported ratings in a fixed order, so that a split does not depend on Neo4j's return order."""
    rated = export.edges["RATED"]
    return rated.sort_values(["user", "item"], kind="stable").reset_index(drop=True)
