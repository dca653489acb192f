"""Item recall benchmark (issue 22, point 5): ``Recommender.similar_items`` (Neo4j's vector index over the
item embeddings ``kgrec train`` writes) against item-item peers from the same trained models, same run.

Protocol, per dataset: the ratings (duplicate user-item pairs dropped, the latest kept) are split in time
per user: each user with more than ``--holdout`` ratings has their latest ``--holdout`` held out (ties
broken by item id). The rest is loaded into a ``bench-similar-*`` workspace (reset first) and trained the
way a user trains (``Recommender.fit(test_ratings=held)``, no search ranker), so the vector index holds the
trained item embeddings. For each user with held-out items, the query is their latest training item; each
method gives 10 items, the query excluded:

- ``similar``: ``Recommender.similar_items(query, k=10)``, the vector index (cosine over the rating model's
  item embeddings);
- ``embedding_cosine``: exact cosine over the same embeddings (``RatingModel.embeddings("item")``, what
  ``kgrec train`` writes to the index): whatever ``similar`` loses to it is the index's approximation;
  ``index_overlap`` is the mean share of the two lists' 10 items that agree;
- ``als_cosine``: cosine over the trained ranker's ALS item factors (``Ranker.parts["als"].item_factors``);
- ``ease_row``: the largest weights of the query's row of the trained ranker's EASE item-item weights
  (``Ranker.parts["ease"].weights``; an item outside EASE's modelled items gets no list);
- ``popularity``: the 10 items with the most training ratings (a floor).

HitRate@10 (``hit_any``): share of those users with any held-out item in the 10; ``hit_next``: share with
their first held-out (the next) item in the 10; ``se``: the binomial standard error of ``hit_any``;
``short``: users given fewer than 10 items. ``similar``'s latency (p50/p99, in process) is printed too.

Datasets: Amazon 2018 Magazine Subscriptions, the ratings CSV cut to its ``--min-ratings``-core (default 2,
as ``bench/ranking.py``), with the whole product catalogue in the graph; amazon-hin with ``--hin``. The rating
model trains without text features (``TrainConfig(text=False)``) to keep the run short on a shared machine.
Writes docs/benchmarks/similar.md and prints the JSON last.

    .venv/bin/python bench/similar.py [--min-ratings 2] [--holdout 2] [--max-epochs 400] [--hin]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from common import HIN, MAGAZINE, magazine_dataset, percentiles, say, write_results

from core.settings import Settings
from gnn import TrainConfig
from kg import ManagedNeo4j
from kgrec import Recommender
from loaders import Dataset, read_hin
from rank import RankConfig
from rank.models.als import Als
from rank.models.ease import Ease

K = 10
METHODS = ("similar", "embedding_cosine", "als_cosine", "ease_row", "popularity")


def temporal_holdout(ratings: pd.DataFrame, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training part, held-out part): each user with more than ``n`` ratings has their latest ``n`` held out."""
    ordered = ratings.sort_values(["user", "ts", "item"], kind="stable")
    ordered = ordered.drop_duplicates(["user", "item"], keep="last")
    counts = ordered.groupby("user")["item"].transform("size")
    from_end = ordered.groupby("user").cumcount(ascending=False)
    held = ordered[(from_end < n) & (counts > n)]
    return ordered.drop(held.index).reset_index(drop=True), held.reset_index(drop=True)


def cases(train: pd.DataFrame, held: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(latest training item, held-out items in time order) per user with held-out items."""
    last = train.groupby("user")["item"].last().to_dict()  # train is in (user, ts, item) order
    wanted = held.groupby("user", sort=True)["item"].agg(list)
    return [(str(last[u]), [str(i) for i in items]) for u, items in wanted.items()]


def trained(workspace: str, dataset: Dataset, held: pd.DataFrame, config: TrainConfig) -> Recommender:
    rec = Recommender.connect(Settings(workspace=workspace))
    rec.store.reset()
    rec.load_dataset(dataset)
    started = time.perf_counter()
    rec.fit(config, RankConfig(seed=config.seed), test_ratings=held, search_pairs=0, progress=say)
    say(f"  {workspace}: trained in {time.perf_counter() - started:.0f} s")
    return rec


def _top(scores: np.ndarray, keys: np.ndarray, exclude: int) -> list[str]:
    scores = scores.astype(np.float64)
    scores[exclude] = -np.inf
    order = np.argsort(-scores, kind="stable")[:K]
    return [str(keys[i]) for i in order if np.isfinite(scores[i])]


def _cosine(keys: np.ndarray, vectors: np.ndarray) -> Callable[[str], list[str]]:
    """The ``K`` nearest keys of a key by exact cosine over ``vectors`` (rows in ``keys`` order)."""
    v = vectors.astype(np.float64)
    norms = np.linalg.norm(v, axis=1)
    unit = v / np.where(norms > 0, norms, 1.0)[:, None]
    rows = pd.Index(keys)

    def nearest(item: str) -> list[str]:
        row = int(rows.get_indexer([item])[0])
        return [] if row < 0 else _top(unit @ unit[row], keys, row)

    return nearest


def item_peers(rec: Recommender) -> dict[str, Callable[[str], list[str]]]:
    """Exact cosine over the rating model's item embeddings, and the ALS-cosine and EASE-row neighbours of
    an item from the trained ranker's candidate models."""
    model = rec.trained_model()
    embedded = _cosine(np.asarray(list(model.id_map.keys("item")), dtype=str), model.embeddings("item"))
    ranker = rec.trained_ranker()
    data = ranker.trained_data()
    keys = data.item_keys
    als_part, ease = ranker.parts["als"], ranker.parts["ease"]
    assert isinstance(als_part, Als) and isinstance(ease, Ease), "the ranker's default parts"
    modelled, weights = np.asarray(ease.modelled), ease.weights
    position = {int(c): n for n, c in enumerate(modelled)}

    def ease_row(item: str) -> list[str]:
        col = int(data.item_rows([item])[0])
        if col not in position:
            return []
        return _top(np.asarray(weights[position[col]]), keys[modelled], position[col])

    return {
        "embedding_cosine": embedded,
        "als_cosine": _cosine(np.asarray(keys, dtype=str), als_part.item_factors),
        "ease_row": ease_row,
    }


def measure(rec: Recommender, train: pd.DataFrame, held: pd.DataFrame) -> dict[str, Any]:
    pairs = cases(train, held)
    popular = train["item"].astype(str).value_counts(sort=False)
    popular = popular.iloc[np.lexsort((popular.index.to_numpy(), -popular.to_numpy()))]
    top = list(popular.index[: K + 1])
    seconds: list[float] = []

    def similar(item: str) -> list[str]:
        started = time.perf_counter()
        out = [s.item for s in rec.similar_items(item, k=K)]
        seconds.append(time.perf_counter() - started)
        return out

    methods = {
        "similar": similar,
        **item_peers(rec),
        "popularity": lambda item: [i for i in top if i != item][:K],
    }
    for item, _ in pairs[:20]:  # warm-up: Neo4j plans the statement
        rec.similar_items(item, k=K)
    out: dict[str, Any] = {"users": len(pairs), "held_out": len(held), "training_ratings": len(train)}
    rows = {}
    lists: dict[str, list[list[str]]] = {}
    for name in METHODS:
        any_hit = next_hit = short = 0
        lists[name] = [methods[name](item) for item, _ in pairs]
        for got, (_, wanted) in zip(lists[name], pairs, strict=True):
            short += len(got) < K
            any_hit += bool(set(got) & set(wanted))
            next_hit += wanted[0] in got
        n = max(len(pairs), 1)
        p = any_hit / n
        rows[name] = {
            "hit_any": round(p, 4),
            "se": round(float(np.sqrt(p * (1 - p) / n)), 4),
            "hit_next": round(next_hit / n, 4),
            "short": short,
        }
    out["hit_rate_at_10"] = rows
    agree = [
        len(set(a) & set(b)) / K for a, b in zip(lists["similar"], lists["embedding_cosine"], strict=True)
    ]
    out["index_overlap"] = round(float(np.mean(agree)), 4) if agree else None
    out["similar_latency_ms"] = percentiles(seconds)
    return out


def _run(workspace: str, dataset: Dataset, n: int, config: TrainConfig) -> dict[str, Any]:
    dataset.ratings, held = temporal_holdout(dataset.ratings, n)
    say(f"{workspace}: {len(dataset.ratings):,} training ratings, {len(held):,} held out")
    settings = Settings(workspace=workspace)
    server = None if settings.neo4j.uri else ManagedNeo4j(settings)
    was_running = server is not None and server.status().answers
    try:
        with trained(workspace, dataset, held, config) as rec:
            started = time.perf_counter()
            result = measure(rec, dataset.ratings, held)
            say(f"  {workspace}: measured in {time.perf_counter() - started:.0f} s")
    finally:
        if server is not None and not was_running:  # the machine is shared
            server.stop()
    return result


ABOUT = """Protocol: the docstring of `bench/similar.py`. Per user with held-out items, the query is their
latest training item; `hit_any` is HitRate@10 on any of their held-out items, `hit_next` on the first
held-out (next) item, `se` the standard error of `hit_any`, `short` the users given fewer than 10 items.
`similar` is `Recommender.similar_items` (Neo4j's vector index over the trained item embeddings),
`embedding_cosine` exact cosine over those embeddings (`index_overlap`: the share of the 10 the two agree on);
`als_cosine` and `ease_row` are item-item neighbours from the same trained ranker; `popularity` is a floor."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-ratings", type=int, default=2, help="k of the magazine's k-core")
    parser.add_argument("--holdout", type=int, default=2, help="latest ratings held out per user")
    parser.add_argument("--max-epochs", type=int, default=TrainConfig().max_epochs)
    parser.add_argument("--hin", action="store_true", help="amazon-hin too, after the magazine data")
    args = parser.parse_args()
    config = TrainConfig(seed=0, text=False, max_epochs=args.max_epochs)
    results: dict[str, Any] = {}

    started = time.perf_counter()
    magazine = magazine_dataset(MAGAZINE, args.min_ratings)
    name = f"Amazon 2018 Magazine Subscriptions ({args.min_ratings}-core ratings)"
    results[name] = _run("bench-similar-magazine", magazine, args.holdout, config)
    results[name]["wall_s"] = round(time.perf_counter() - started)
    print(json.dumps({name: results[name]}), flush=True)
    write_results("similar", "Item recall: similar items against item-item peers", ABOUT, results)

    if args.hin:
        started = time.perf_counter()
        results["amazon-hin"] = _run("bench-similar-hin", read_hin(HIN), args.holdout, config)
        results["amazon-hin"]["wall_s"] = round(time.perf_counter() - started)
        write_results("similar", "Item recall: similar items against item-item peers", ABOUT, results)

    print(json.dumps({"bench": "similar", **results}))


if __name__ == "__main__":
    main()
