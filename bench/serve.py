"""Serving benchmark: ``Recommender.recommend`` latency against a brute-force numpy scan, same run.

``recommend`` serves the fused ranking: every candidate model scores the catalogue for the user (above
``RankConfig.ann_above`` items, 50,000 by default, the candidates come from an approximate nearest-neighbour
index instead: :mod:`rank.ann_candidates`, so the 100,000-item catalogue below is served that way), their
top lists are unioned, the fusion model ranks the union (with the rating model's predicted stars as a
feature), and one Neo4j query fetches the cards and drops what the graph says the user rated.

1. amazon-hin (trained here if the workspace has no model and ranker): p50/p99 of ``recommend(user,
   k=10)`` over 1,000 users (after 100 untimed warm-up calls; the first call's time is printed apart),
   against a numpy scan of every item with the rating model's MF factors (dot products + argpartition).
2. A generated catalogue of 100,000 items (the demo generator, scaled): the same two measures.

Writes docs/benchmarks/serve.md after each part (the figures, the command, the date, the machine).

    .venv/bin/python bench/serve.py [--users 1000] [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from common import HIN, percentiles, write_results

from core.settings import Settings
from gnn import TrainConfig
from kgrec import Recommender
from loaders import read_hin
from loaders.demo import demo_dataset


def _measure(rec: Recommender, users: list[str]) -> dict[str, Any]:
    model = rec.model
    assert model is not None
    started = time.perf_counter()
    rec.recommend(users[0], k=10)  # builds the encoder output and the item terms, cached from then on
    first = time.perf_counter() - started
    for user in users[:100]:  # steady state: Neo4j plans and JIT-compiles the card query on early calls
        rec.recommend(user, k=10)
    api = []
    for user in users:
        started = time.perf_counter()
        rec.recommend(user, k=10)
        api.append(time.perf_counter() - started)
    p, q = model.mf.user_factors, model.mf.item_factors
    rows = model.id_map.rows("user", users)
    scan = []
    for row in rows:
        started = time.perf_counter()
        scores = q @ p[row]
        top = np.argpartition(-scores, 10)[:10]
        top[np.argsort(-scores[top])]
        scan.append(time.perf_counter() - started)
    return {
        "recommend": percentiles(api),
        "numpy_scan": percentiles(scan),
        "first_call_ms": round(first * 1000, 1),
    }


def _trained(workspace: str, load: object, config: TrainConfig) -> Recommender:
    rec = Recommender.connect(Settings(workspace=workspace))
    if rec.model is None or rec.ranker is None:
        rec.store.reset()
        rec.load_dataset(load() if callable(load) else load)  # type: ignore[arg-type]
        rec.fit(config)
    return rec


ABOUT = """In process, `Recommender.recommend(user, k=10)` (the fused ranking with the graph's seen-filter),
p50/p99 in ms over the users after 100 warm-up calls (`first_call_ms`: the very first call), against
`numpy_scan`: the rating model's MF factors, dot products and `argpartition` on the same users. The
generated catalogue has 5,000 users with 20 ratings each."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    results = {}
    with _trained("bench-serve-hin", lambda: read_hin(HIN), TrainConfig(seed=0, text=False)) as rec:
        users = list(rec.model.id_map.keys("user"))[: args.users]
        results["amazon-hin"] = {"items": rec.model.id_map.num_nodes("item"), **_measure(rec, users)}
        write_results("serve", "Serving latency", ABOUT, results)
        print(f"amazon-hin ({rec.model.id_map.num_nodes('item'):,} items): {results['amazon-hin']}")
    if not args.skip_large:
        large = demo_dataset(n_users=5_000, n_items=100_000, ratings_per_user=20, seed=0)[0]
        with _trained("bench-serve-100k", large, TrainConfig(seed=0, text=False, max_epochs=30)) as rec:
            users = list(rec.model.id_map.keys("user"))[: args.users]
            items = rec.model.id_map.num_nodes("item")
            results["generated-100k"] = {"items": items, **_measure(rec, users)}
            write_results("serve", "Serving latency", ABOUT, results)
            print(f"generated ({rec.model.id_map.num_nodes('item'):,} items): {results['generated-100k']}")
    print(json.dumps({"bench": "serve", **results}))


if __name__ == "__main__":
    main()
