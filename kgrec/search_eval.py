"""Search measured on held-out interactions, with its peers in the same run.

For each held-out (user, item), one query per type of :mod:`rank.search_queries` is generated from the
item's graph facts (its category names at two depths, brand, title words, a category word with a title
word); the item is the one right answer. Each query is answered by:

- ``search``: the learned search ranker for the user (:meth:`Recommender.search` with ``user``);
- ``search_anonymous``: its non-personal form;
- ``text_only``: Lucene over titles and descriptions alone (:meth:`kg.GraphStore.search`);
- ``most_rated``: the items of the entities the query links to, most rated (in training) first;
- ``page``: the fused category or brand page, :meth:`Recommender.recommend` with the query's category (its
  path) or brand, on category and brand queries only: what a shopper who found the page would see.

HitRate, NDCG and MRR at ``k`` per method and query type (a query with no answer counts as a miss).

Example:
    >>> result = evaluate_search(rec, held_out)            # doctest: +SKIP
    >>> result.metrics["search"]["brand"].mrr              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from core.errors import KGRecError
from core.progress import Progress
from kgrec.recommender import Recommender
from rank.search_candidates import gather, link_rels
from rank.search_queries import QUERY_TYPES, category_of, generated_queries

__all__ = ["METHODS", "SearchEvaluation", "TypeMetrics", "evaluate_search", "rank_of", "type_metrics"]

METHODS = ("search", "search_anonymous", "text_only", "most_rated", "page")


class TypeMetrics(BaseModel):
    """HitRate, NDCG and MRR at ``k`` of one method on one query type, over ``queries`` queries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queries: int
    hit_rate: float
    ndcg: float
    mrr: float


class SearchEvaluation(BaseModel):
    """Per method, per query type: :class:`TypeMetrics`; ``pairs``: the held-out pairs measured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int
    pairs: int
    metrics: dict[str, dict[str, TypeMetrics]]


def evaluate_search(
    rec: Recommender, held: pd.DataFrame, k: int = 10, seed: int = 0, progress: Progress | None = None
) -> SearchEvaluation:
    """Every method on the queries of ``held`` (``user``, ``item`` columns)."""
    pairs = held[["user", "item"]].astype(str).drop_duplicates().to_numpy()
    facts = rec.store.search_facts([item for _, item in pairs])
    ranker = rec.trained_ranker()
    data = ranker.trained_data()
    rels = link_rels(rec.store.schema())
    rng = np.random.default_rng(seed)
    ranks: dict[str, dict[str, list[int | None]]] = {m: {t: [] for t in QUERY_TYPES} for m in METHODS}

    def most_rated(text: str) -> list[str]:
        reached = list(dict.fromkeys(i for e in gather(rec.store, text, rels).linked for i, _ in e["items"]))
        cols = data.item_rows(reached)
        popularity = np.where(cols >= 0, ranker.item_popularity[np.maximum(cols, 0)], -1)
        return [reached[n] for n in np.argsort(-popularity, kind="stable")[:k]]

    def answer(method: str, user: str, text: str, path: str | None) -> list[str]:
        if method == "search":
            return [h.item for h in rec.search(text, user=user, k=k)]
        if method == "search_anonymous":
            return [h.item for h in rec.search(text, k=k)]
        if method == "text_only":
            return [h["item"] for h in rec.store.search(text, limit=k)]
        if method == "most_rated":
            return most_rated(text)
        shown = rec.recommend(user, k=k, category=path) if path else rec.recommend(user, k=k, brand=text)
        return [r.item for r in shown]

    for n, (user, item) in enumerate(pairs):
        fact = facts.get(item)
        if fact is None:
            continue
        queries = generated_queries(fact["title"], fact["brands"], fact["categories"], rng)
        for kind, text in queries.items():
            path = category_of(kind, fact["categories"])
            for method in METHODS:
                if method == "page" and path is None and kind != "brand":
                    continue  # a page answers category and brand queries only
                ranks[method][kind].append(rank_of(item, partial(answer, method, user, text, path)))
        if progress:
            progress("evaluate-search", n + 1, len(pairs))
    metrics = {
        m: {t: type_metrics(r) for t, r in by_type.items() if r}
        for m, by_type in ranks.items()
        if any(by_type.values())
    }
    return SearchEvaluation(k=k, pairs=len(pairs), metrics=metrics)


def rank_of(item: str, answer: Callable[[], list[str]]) -> int | None:
    """The 1-based place of ``item`` in the answer; ``None`` when absent or when nothing was found."""
    try:
        listed = answer()
    except KGRecError:  # nothing matched the query, or a page had no item: a miss
        return None
    return listed.index(item) + 1 if item in listed else None


def type_metrics(ranks: list[int | None]) -> TypeMetrics:
    found = np.asarray([r for r in ranks if r is not None], dtype=float)
    n = len(ranks)
    return TypeMetrics(
        queries=n,
        hit_rate=len(found) / n,
        ndcg=float(np.sum(1.0 / np.log2(found + 1.0))) / n,
        mrr=float(np.sum(1.0 / found)) / n,
    )
