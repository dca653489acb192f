"""Training the search ranker from generated queries over training interactions only.

For a sample of the ranker's training interactions (``Ranker.trained_data()``: the training part of the
split, nothing held out), each (user, item) gives one query per type of
:data:`rank.search_queries.TRAINING_TYPES`. Each
query's candidates (:func:`rank.search_candidates.gather`, the user's other training items left out as
serving leaves out what a user took) are one LambdaRank group, labelled 1 at the item. The personal form
places the user from their training items less that item (the ranker's trained user has been fitted on
the item, so its score would know the answer), scoring each query's candidates as a page of them;
the anonymous form has no user features, and the personal form boosts on from the anonymous model's scores,
learning from the queries it serves: not the navigational ones (:func:`rank.search_intent.navigation`),
which a user gets the page of (unless a catalogue searched by names alone has too few others).
Groups whose item is not among the candidates teach nothing and
are dropped by :func:`rank.fusion.fit_lambdarank`, which also stops early on a fifth of the users.

Example:
    >>> search_ranker, report = fit_search(store, ranker, pairs=800)   # doctest: +SKIP
    >>> report.recall                                                  # doctest: +SKIP
    0.83
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.progress import Progress
from kg import GraphStore
from rank.features import CandidateTable
from rank.fusion import fit_lambdarank
from rank.ranker import Ranker
from rank.search import SearchRanker, candidate_features, personal_scores, search_features
from rank.search_candidates import gather, link_rels
from rank.search_intent import navigation
from rank.search_queries import TRAINING_TYPES, generated_queries

__all__ = ["SearchReport", "fit_search"]

_FEW = 50
"""Fewer non-navigational queries that found their item than this: the personal form learns from all."""


@dataclass(frozen=True)
class SearchReport:
    """What training the search ranker saw: the (user, item, query type, query) rows it was built from
    (``queries``), the share of queries whose item was among their candidates (``recall``), and each
    form's trees and validation NDCG@10."""

    queries: pd.DataFrame
    recall: float
    trees: dict[str, int]
    validation_ndcg10: dict[str, float]
    seconds: float


def fit_search(
    store: GraphStore, ranker: Ranker, pairs: int = 800, seed: int = 0, progress: Progress | None = None
) -> tuple[SearchRanker | None, SearchReport]:
    """Train both forms on queries generated from ``pairs`` of the ranker's training interactions; no
    ranker when no generated query found its item."""
    started = time.perf_counter()
    data = ranker.trained_data()
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(data.rows), min(pairs, len(data.rows)), replace=False))
    facts = store.search_facts([str(data.item_keys[c]) for c in data.cols[picked]])
    rels = link_rels(store.schema())
    rows: dict[bool, list[np.ndarray]] = {True: [], False: []}
    labels, groups, owners, asked, paged = [], [], [], [], []
    for n, p in enumerate(picked):
        user, item = str(data.user_keys[data.rows[p]]), str(data.item_keys[data.cols[p]])
        fact = facts.get(item)
        if fact is None:
            continue
        row = data.matrix.indptr[data.rows[p]], data.matrix.indptr[data.rows[p] + 1]
        others = [str(data.item_keys[c]) for c in data.matrix.indices[row[0] : row[1]] if c != data.cols[p]]
        queries = generated_queries(fact["title"], fact["brands"], fact["categories"], rng, TRAINING_TYPES)
        found_all = {kind: gather(store, text, rels, exclude=set(others)) for kind, text in queries.items()}
        for kind, found in found_all.items():
            asked.append((user, item, kind, queries[kind], item in found.items))
            if not found.items:
                continue
            scores = personal_scores(ranker, user, others, found.items)
            rows[True].append(candidate_features(ranker, found, scores)[0])
            rows[False].append(candidate_features(ranker, found, None)[0])
            labels.append(np.asarray([i == item for i in found.items], dtype=np.float32))
            groups.append(len(found.items))
            owners.append(data.rows[p])
            paged.append(navigation(queries[kind], found.linked) is not None)
        if progress and (n + 1) % 50 == 0:
            progress("search", n + 1, len(picked))
    frame = pd.DataFrame(asked, columns=["user", "item", "type", "query", "found"])
    if not any(label.any() for label in labels):
        # nothing to learn from (a catalogue without titles, brands or categories to query by, or too few
        # pairs): no search ranker, and search stays the text search it falls back to
        return None, SearchReport(
            queries=frame,
            recall=0.0,
            trees={},
            validation_ndcg10={},
            seconds=time.perf_counter() - started,
        )
    cfg = ranker.config.model_copy(update={"monotone": False})
    owner = np.asarray(owners)

    def fit(personal: bool, keep: np.ndarray, base: np.ndarray | None) -> tuple[lgb.Booster, float]:
        x = np.vstack([rows[personal][g] for g in keep])
        y = np.concatenate([labels[g] for g in keep])
        table = CandidateTable(
            np.zeros(len(y), np.int64), np.zeros(len(y), np.int64), x, np.asarray(groups)[keep]
        )
        with threadpool_limits(1):  # a few thousand small groups: threads only contend
            return fit_lambdarank(
                table, y, search_features(personal), cfg, np.random.default_rng(seed), owner[keep], base
            )

    everything = np.arange(len(groups))
    anonymous, anonymous_ndcg = fit(False, everything, None)
    # a user's navigational query is answered by its page (kgrec.searching), not by the personal form: it
    # learns from the rest, its trees fitting what the anonymous model's score leaves (as serving adds them)
    rest = everything[~np.asarray(paged, dtype=bool)]
    if sum(labels[g].any() for g in rest) < _FEW:  # a catalogue searched by names alone: the pages it has
        rest = everything
    base = np.asarray(anonymous.predict(np.vstack([rows[False][g] for g in rest]), num_threads=1))
    personal, personal_ndcg = fit(True, rest, base)
    boosters = {"anonymous": anonymous, "personal": personal}
    ndcg = {"anonymous": anonymous_ndcg, "personal": personal_ndcg}
    trees = {name: b.num_trees() for name, b in boosters.items()}
    report = SearchReport(
        queries=frame,
        recall=float(frame["found"].mean()) if len(frame) else 0.0,
        trees=trees,
        validation_ndcg10=ndcg,
        seconds=time.perf_counter() - started,
    )
    return SearchRanker(boosters["personal"], boosters["anonymous"]), report
