"""Serving at 10^5-10^6 items: the ranker's candidates from an ANN index against scoring every item.

For each catalogue size (200,000 and 1,000,000 items by default) a generated shop of the shape of real data:
item popularity a power law (Zipf, exponent 0.9, over a random order of the items), items in categories,
each user with two favourite categories taking 70% of their items there (the popular ones more often) and
the rest from the whole catalogue by popularity, timestamps over three years. One user in two of the
catalogue's size, 15 interactions each.

The ranker is trained only as far as serving needs, quickly: popularity, EASE (its one ridge, 500, not
tuned; the 8,000 head items), ALS (10 iterations) and RP3beta; LightGCN is left out (training it at this
size is issue 24's point 3); the fusion learns on 2,000 validation users of one slice. Training uses the
ANN path too (above ``RankConfig.ann_above``; scoring every item for a batch of users does not fit in
memory at 10^6 items); below it (``--sizes 50000``, to place the threshold) the fusion learns on exact
lists, and the ANN path serves the same trained ranker.

Then, on one trained ranker, in process:

- ``ann``: ``Ranker.rank([user], k=10)`` as served above the threshold, p50/p99 over ``--users`` users after
  50 warm-up calls;
- ``exact``: the same ranker with the threshold above the catalogue (every model scores every item), p50/p99
  over ``--exact-users`` of those users (the peer);
- ``recall_at_10``: per user, the share of the exact fused top 10 that the ANN path's top 10 holds, averaged
  over those users.

``Ranker.rank`` is what ``FusedServing.recommend`` runs for a known user, without the graph's seen-filter
and cards (one Neo4j read, measured by bench/serve.py); a 10^6-item shop is not loaded into Neo4j here.
Writes docs/benchmarks/serving_scale.md after each size.

    .venv/bin/python bench/serving_scale.py [--sizes 200000,1000000] [--users 1000] [--exact-users 200]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from common import measured, percentiles, say, write_results

from rank import Knowledge, RankConfig, Ranker
from rank.ann_candidates import build_indexes
from rank.ann_index import ItemIndexes

_DAY = 86_400
_PER_USER = 15
_CATEGORY_SIZE = 200


def shop(n_items: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, Knowledge]:
    """Interactions (``user``, ``item``, ``rating``, ``ts``), the item keys and the category relation."""
    rng = np.random.default_rng(seed)
    n_users, n_categories = n_items // 2, max(n_items // _CATEGORY_SIZE, 1)
    popularity = 1.0 / rng.permutation(np.arange(1, n_items + 1)) ** 0.9
    category = rng.integers(0, n_categories, n_items)
    order = np.argsort(category, kind="stable")  # items grouped by category, for draws within one
    mass = np.cumsum(popularity[order])
    bounds = np.searchsorted(category[order], np.arange(n_categories + 1))
    starts = np.r_[0.0, mass][bounds[:-1]]
    ends = np.r_[0.0, mass][bounds[1:]]
    n = n_users * _PER_USER
    user = np.repeat(np.arange(n_users), _PER_USER)
    favourites = rng.integers(0, n_categories, (n_users, 2))
    taste = rng.random(n) < 0.7
    chosen = favourites[user, rng.integers(0, 2, n)]
    at = np.where(
        taste, starts[chosen] + rng.random(n) * (ends[chosen] - starts[chosen]), rng.random(n) * mass[-1]
    )
    item = order[np.minimum(np.searchsorted(mass, at), n_items - 1)]
    keys = np.array([f"I{i:07d}" for i in range(n_items)])
    ts = 1_600_000_000 + rng.integers(0, 3 * 365 * _DAY, n)
    ratings = pd.DataFrame({"user": [f"U{u:07d}" for u in user], "item": keys[item], "rating": 5.0, "ts": ts})
    ratings = ratings.drop_duplicates(["user", "item"], ignore_index=True)
    incidence = sp.csr_matrix((np.ones(n_items, np.float32), (np.arange(n_items), category)))
    empty = np.zeros(0, np.int64)
    return ratings, keys, Knowledge({"IN_CATEGORY": incidence}, (empty, empty))


CONFIG = RankConfig(
    parts=("popularity", "ease", "als", "rp3"),
    params={"ease": {"grid": (500.0,)}, "als": {"iterations": 10}},
    fusion_users=2000,
    fusion_draws=1,
    ann_above=100_000,
    seed=0,
)


def _served(ranker: Ranker, ann_above: int) -> Ranker:
    """The trained ranker served with another threshold (below the default one: ANN serving of a ranker
    trained exactly, to see where the threshold belongs)."""
    twin = copy.copy(ranker)
    twin.config = ranker.config.model_copy(update={"ann_above": ann_above})
    twin.indexes = ItemIndexes(CONFIG.ann_links, CONFIG.ann_search)
    if ann_above <= ranker.trained_data().n_items:
        build_indexes(twin)
    return twin


def _latencies(ranker: Ranker, users: list[str], warm: int) -> tuple[list[float], np.ndarray]:
    for user in users[:warm]:
        ranker.rank([user], k=10)
    seconds, tops = [], []
    for user in users:
        started = time.perf_counter()
        tops.append(ranker.rank([user], k=10).items[0])
        seconds.append(time.perf_counter() - started)
    return seconds, np.vstack(tops)


def run(n_items: int, n_users: int, n_exact: int) -> dict[str, Any]:
    with measured() as gen:
        ratings, keys, knowledge = shop(n_items)
    say(f"{n_items:,} items: {len(ratings):,} interactions generated in {gen.seconds:.0f} s")
    ranker = Ranker(CONFIG)
    with measured() as fit:
        report = ranker.fit(ratings, keys, knowledge, progress=say)
    say(f"trained in {fit.seconds:.0f} s: {report.seconds}")
    users = list(np.random.default_rng(1).choice(ranker.trained_data().user_keys, n_users, replace=False))
    with measured() as serve:
        ann = _served(ranker, min(CONFIG.ann_above, n_items))
        ann_seconds, ann_top = _latencies(ann, users, warm=50)
        exact_seconds, exact_top = _latencies(_served(ranker, n_items + 1), users[:n_exact], warm=5)
    recall = [
        len(set(a[a >= 0]) & set(e[e >= 0])) / max((e >= 0).sum(), 1)
        for a, e in zip(ann_top[:n_exact], exact_top, strict=True)
    ]
    return {
        "items": n_items,
        "users": ranker.trained_data().n_users,
        "interactions": len(ratings),
        "ann": percentiles(ann_seconds),
        "exact": percentiles(exact_seconds),
        "recall_at_10": round(float(np.mean(recall)), 4),
        "recall_min": round(float(np.min(recall)), 2),
        "train_s": round(fit.seconds),
        "train_parts_s": {k: round(v) for k, v in report.seconds.items()},
        "fusion_validation_ndcg10": round(report.validation_ndcg10, 4),
        "serve_s": round(serve.seconds),
        "peak_rss_mib": round(max(gen.peak_mib, fit.peak_mib, serve.peak_mib)),
    }


ABOUT = """In process, `Ranker.rank([user], k=10)` on one trained ranker: `ann` with candidates from the HNSW
index (trained on them above 100,000 items, served with them at any size here), `exact` with every model scoring every item (the peer), p50/p99 in
ms; `recall_at_10`: the share of the exact fused top 10 the ANN top 10 holds, mean over the exact users
(`recall_min`: the lowest user). A generated shop (power-law popularity, categories, tastes, one user in
two of the catalogue's size, 15 interactions each); parts popularity, EASE (ridge 500 untuned), ALS (10
iterations), RP3beta, no LightGCN; the fusion on 2,000 validation users of one slice. `peak_rss_mib` is
the process's peak resident memory up to that size."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--exact-users", type=int, default=200)
    args = parser.parse_args()
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        results[f"{size:,} items"] = out = run(size, args.users, min(args.exact_users, args.users))
        print(json.dumps({"bench": "serving_scale", **out}), flush=True)
        write_results(
            "serving_scale", "Serving at scale: ANN candidates against exact scoring", ABOUT, results
        )


if __name__ == "__main__":
    main()
