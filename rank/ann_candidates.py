"""The ranker's candidate table on a large catalogue, without scoring every item (``RankConfig.ann_above``).

Each candidate model proposes its own list of ``RankConfig.candidates`` items as on a small catalogue, but
by what costs least: a model of inner products (ALS, LightGCN) from an approximate nearest-neighbour index
over its item vectors (:mod:`rank.ann_index`; asked for as many more as the user hides, then put in their
exact order), the others by ``CandidateModel.top`` (RP3beta and item-kNN from their sparse scores, EASE
from its head items, popularity down its one order). Every feature is then computed on the union of those
lists only (a few hundred columns: :func:`rank.features.candidate_table` over that sub-catalogue), so a
user costs the same on 10^6 items as on 10^4. Where the index finds each model's exact list, the table is
the one the whole catalogue gives.

A filter (``allowed``) is not searched through the index: the models of inner products score the allowed
columns exactly instead, so a brand's few hundred items are never missed by a graph walk that skips them.

Example:
    >>> table = ann_table(ranker, keys, rows, seen, hide, None, None, rows)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from rank.evaluate import top_k
from rank.features import CandidateTable, candidate_table, concat_tables
from rank.models import CandidateModel
from rank.stars import stars_where_needed
from rank.timing import no_time_features

if TYPE_CHECKING:
    from rank.ranker import Ranker

__all__ = ["ann_table", "build_indexes"]

_USERS = 64
"""Users per block: bounds the ``[users, union of their lists]`` score blocks of a training batch."""


def build_indexes(ranker: Ranker) -> None:
    """Build the index of every model of inner products now (at the end of fit, at load), so that the first
    request does not pay for it; nothing below ``RankConfig.ann_above``."""
    data = ranker.trained_data()
    if data.n_items < ranker.config.ann_above:
        return
    nobody = np.zeros(0, dtype=np.int64)
    for name, part in ranker.parts.items():
        pair = part.embeddings(nobody, sp.csr_matrix((0, data.n_items), dtype=np.float32))
        if pair is not None:
            ranker.indexes.get(name, pair[1])


def ann_table(
    ranker: Ranker,
    keys: list[str],
    rows: np.ndarray,
    seen: sp.csr_matrix,
    hide: sp.csr_matrix,
    allowed: np.ndarray | None,
    only: np.ndarray | None,
    when: np.ndarray,
    listed: np.ndarray | None = None,
) -> CandidateTable:
    """The table ``Ranker._table`` builds (same arguments; ``hide`` without the filter, which is
    ``allowed``), from each model's own list instead of the whole catalogue's scores."""
    tables = []
    for start in range(0, len(rows), _USERS):
        b = slice(start, start + _USERS)
        mine = None if listed is None else listed[b]
        t = _block(ranker, keys[b], rows[b], seen[b], hide[b], allowed, only, when[b], mine)
        tables.append(CandidateTable(t.user + start, t.item, t.features, t.groups))
    return concat_tables(tables)


def _block(
    ranker: Ranker,
    keys: list[str],
    rows: np.ndarray,
    seen: sp.csr_matrix,
    hide: sp.csr_matrix,
    allowed: np.ndarray | None,
    only: np.ndarray | None,
    when: np.ndarray,
    listed: np.ndarray | None,
) -> CandidateTable:
    data, knowledge = ranker.data, ranker.knowledge
    assert data is not None and knowledge is not None
    n = ranker.config.candidates
    lists = {
        name: _list(ranker, name, part, rows, seen, hide, allowed, n) for name, part in ranker.parts.items()
    }
    wanted = [a.ravel() for a in lists.values()] + ([] if only is None else [np.asarray(only, np.int64)])
    sub = np.unique(np.concatenate(wanted))
    sub = sub[sub >= 0]
    local = {name: np.where(a >= 0, np.searchsorted(sub, a), -1) for name, a in lists.items()}
    local_only = None if only is None else np.searchsorted(sub, np.asarray(only, np.int64))
    scores = {
        name: np.asarray(part.scores_of(rows, seen, sub), dtype=np.float32)
        for name, part in ranker.parts.items()
    }
    predicted = stars_where_needed(ranker.rating, keys, data.item_keys[sub], local, local_only, listed)
    profile = ranker.timing.of_items(sub)
    timing = (lambda u, i: profile.features(when, u, i)) if ranker.config.time_features else no_time_features
    table = candidate_table(
        scores,
        local,
        predicted,
        ranker.item_popularity[sub],
        ranker.item_age_days[sub],
        np.asarray(seen.sum(axis=1)).ravel(),
        knowledge.affinity(seen, sub),
        timing,
        local_only,
        listed,
    )
    return CandidateTable(table.user, sub[table.item], table.features, table.groups)


def _list(
    ranker: Ranker,
    name: str,
    part: CandidateModel,
    rows: np.ndarray,
    seen: sp.csr_matrix,
    hide: sp.csr_matrix,
    allowed: np.ndarray | None,
    n: int,
) -> np.ndarray:
    """One model's ``n`` best columns per user (``-1`` padded), ``hide`` and what ``allowed`` leaves out
    left out."""
    pair = part.embeddings(rows, seen)
    if pair is None:
        return part.top(rows, seen, n, hide, allowed)
    users, items = pair
    if allowed is not None:
        cols = np.flatnonzero(allowed)
        picked = top_k(users @ items[cols].T, n, exclude=hide[:, cols])
        return np.where(picked >= 0, cols[np.maximum(picked, 0)], -1)
    hidden = np.diff(hide.indptr)
    found = ranker.indexes.get(name, items).search(users, n + int(hidden.max(initial=0)))
    out = np.full((len(rows), n), -1, dtype=np.int64)
    for u in range(len(rows)):
        cols = found[u][found[u] >= 0]
        cols = cols[~np.isin(cols, hide.indices[hide.indptr[u] : hide.indptr[u + 1]])]
        exact = (items[cols] @ users[u]).astype(np.float64)  # the order scoring every item would give
        order = np.lexsort((cols, -exact))[:n]
        out[u, : len(order)] = cols[order]
    return out
