"""Top-K ranking metrics and the evaluation protocol they are measured under.

Protocol: every item of the catalogue is ranked for a user, the user's training items left out; the user's
held-out items are the relevant ones (binary relevance); users without held-out items are skipped and
counted. Per user, with ``hits`` the relevant items among the top ``K`` and ``R`` the user's relevant items:

- ``Recall@K = |hits| / |R|``;
- ``NDCG@K = DCG / IDCG`` with ``DCG = sum(1 / log2(rank + 1))`` over hits (rank from 1) and ``IDCG`` the
  DCG of ``min(K, |R|)`` hits at the top;
- ``HitRate@K = 1`` if any hit, else 0;
- ``MRR@K = 1 / rank`` of the first hit (0 without one);
- ``MAP@K = sum(precision@rank over hit ranks) / min(K, |R|)``.

Each is averaged over the evaluated users. Over the lists themselves: ``coverage@K`` is the share of the
catalogue recommended to at least one user, and ``popularity_percentile@K`` the mean percentile (0 = least,
100 = most interacted in training) of the recommended items, so that a list of best-sellers shows as such.

Example:
    >>> import numpy as np
    >>> top = np.array([[3, 1, 2], [0, 1, 2]])          # two users' top 3, as item rows
    >>> relevant = [np.array([1, 4]), np.array([2])]
    >>> m = ranking_metrics(top, relevant, ks=(3,), popularity=np.array([5, 4, 3, 2, 1]))
    >>> round(m.at(3).ndcg, 4), m.at(3).recall, m.at(3).hit_rate, round(m.at(3).mrr, 4)
    (0.4434, 0.75, 1.0, 0.4167)
    >>> m.at(3).coverage
    0.8
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = ["MetricsAtK", "RankingMetrics", "ranking_metrics"]


class MetricsAtK(BaseModel):
    """Every metric at one cut-off ``k`` (means over the evaluated users)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int
    ndcg: float
    recall: float
    hit_rate: float
    mrr: float
    map: float
    coverage: float
    popularity_percentile: float


class RankingMetrics(BaseModel):
    """Metrics at each cut-off, with how many users were evaluated and how many skipped (nothing held out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: int
    skipped_users: int
    items: int
    at_k: list[MetricsAtK]

    def at(self, k: int) -> MetricsAtK:
        for m in self.at_k:
            if m.k == k:
                return m
        raise KeyError(f"no metrics at k={k}; have {[m.k for m in self.at_k]}")


def ranking_metrics(
    top: np.ndarray,
    relevant: Sequence[np.ndarray],
    ks: Sequence[int] = (10, 20),
    popularity: np.ndarray | None = None,
) -> RankingMetrics:
    """Metrics of ranked lists ``top`` (``[users, >= max(ks)]`` item rows, best first; ``-1`` pads a short
    list) against each user's ``relevant`` item rows. ``popularity`` (training interactions per item row,
    ``[items]``) gives the catalogue size and the popularity percentiles; without it they are left at 0."""
    if len(top) != len(relevant):
        raise ValueError(f"{len(top)} ranked lists for {len(relevant)} users")
    keep = np.array([len(r) > 0 for r in relevant], dtype=bool)
    top = np.asarray(top)[keep]
    relevant = [r for r, k in zip(relevant, keep, strict=True) if k]
    n_items = 0 if popularity is None else len(popularity)
    percentile = _percentiles(popularity) if popularity is not None else None
    out = []
    for k in ks:
        if top.shape[1] < k:
            raise ValueError(f"lists of {top.shape[1]} items cannot be scored at k={k}")
        cut = top[:, :k]
        hits = np.array([np.isin(row, rel) & (row >= 0) for row, rel in zip(cut, relevant, strict=True)])
        hits = hits.reshape(len(cut), k)
        sizes = np.array([len(np.unique(r)) for r in relevant], dtype=float)
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        ideal = np.array([discount[: int(min(k, s))].sum() for s in sizes])
        first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
        precision = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
        shown = cut[cut >= 0]
        out.append(
            MetricsAtK(
                k=k,
                ndcg=_mean((hits * discount).sum(axis=1) / ideal),
                recall=_mean(hits.sum(axis=1) / sizes),
                hit_rate=_mean(hits.any(axis=1).astype(float)),
                mrr=_mean(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0)),
                map=_mean((precision * hits).sum(axis=1) / np.minimum(k, sizes)),
                coverage=len(np.unique(shown)) / n_items if n_items else 0.0,
                popularity_percentile=_mean(percentile[shown]) if percentile is not None else 0.0,
            )
        )
    return RankingMetrics(users=int(keep.sum()), skipped_users=int((~keep).sum()), items=n_items, at_k=out)


def _percentiles(popularity: np.ndarray) -> np.ndarray:
    """Per item, the share (0-100) of the catalogue strictly less popular, ties sharing their mid-rank."""
    order = np.argsort(popularity, kind="stable")
    ranks = np.empty(len(popularity), dtype=float)
    sorted_pop = popularity[order]
    # ties get the mean of their positions, so equal popularity means equal percentile
    _, first, counts = np.unique(sorted_pop, return_index=True, return_counts=True)
    mid = first + (counts - 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    return 100.0 * ranks / max(len(popularity) - 1, 1)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else 0.0
