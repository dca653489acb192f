"""LightGCN with its steps per epoch bounded against the unbounded form, where both run (issue 24, point 3).

Every LightGCN step propagates over the whole graph, and an epoch of fixed-size steps takes a number of them
that grows with the interactions, so an epoch's cost grows with their square. ``LightGCNParams.max_steps``
bounds the steps an epoch: past ``max_steps`` times the batch (32,768 pairs) each step takes a larger share of
the interactions instead. This bench measures what the bound costs on a generated shop (``bench/shop.py``)
where the unbounded form still runs: the unbounded form against bounds that give steps several times the
batch (at 10M interactions the default bound, 32, gives steps about 7.5 times the batch).

Per variant: LightGCN's seconds in the ranker's training (a fit for each validation draw and the final refit,
as the ranker does), its steps per epoch in the final refit; NDCG@10 and Recall@10 of LightGCN alone and of
the fusion, on one held-out slice (each sampled user's latest rating), whole catalogue ranked, training items
left out. The fusion has no rating model here, the same for every variant.

    .venv/bin/python bench/lightgcn_steps.py [--size 1m] [--bounds none,8,4] [--epochs 5] [--fusion-draws 1]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

from common import measured, say, write_results
from shop import RankerInputs

from rank import RankConfig, Ranker, evaluate_ranking

SIZES = {"100k": 100_000, "300k": 300_000, "1m": 1_000_000}
BATCH = 32_768  # gnn.lightgcn.LightGCN's default batch
ABOUT = """
A generated shop (`bench/shop.py`, the one `bench/scale.py` loads): ratings, views, carts and purchases, one
interaction per (user, item) pair; side information brand (`MADE_BY`) and leaf category (`IN_CATEGORY`).
Held out: each sampled user's latest rating, left out of every model. Each variant trains the ranker
(`rank.Ranker`, default parts, `fusion_draws` and LightGCN's epochs as listed) on the same training
interactions with LightGCN's `max_steps` as named (`none`: unbounded, 32,768 pairs a step).
`lightgcn_fit_s` is LightGCN's time in all of the ranker's training; `steps_per_epoch` and `pairs_per_step`
those of the final refit on every training interaction. `vs_unbounded` is the variant's fusion NDCG@10 over
the unbounded form's.
""".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="1m", help="interactions of the shop")
    parser.add_argument("--bounds", default="none,8,4", help="max_steps values (none: unbounded)")
    parser.add_argument("--epochs", type=int, default=5, help="LightGCN's epochs (bench/scale.py's runs: 5)")
    parser.add_argument("--fusion-draws", type=int, default=1, help="the ranker's validation draws")
    parser.add_argument("--test-users", type=int, default=2000, help="users in the held-out slice")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bounds = [None if b.strip() == "none" else int(b) for b in args.bounds.split(",")]

    inputs = RankerInputs.of(SIZES[args.size], args.test_users, args.seed)
    test, frame, items, knowledge = inputs.test, inputs.frame, inputs.items, inputs.knowledge
    result: dict[str, Any] = {
        "bench": "lightgcn_steps",
        "size": args.size,
        **inputs.figures(),
        "lightgcn_epochs": args.epochs,
        "fusion_draws": args.fusion_draws,
        "variants": {},
    }
    say(f"shop {args.size}: {len(items):,} items, {len(frame):,} training interactions, {len(test)} held out")
    unbounded = None
    for bound in bounds:
        name = "unbounded" if bound is None else f"max_steps {bound}"
        params = {"epochs": args.epochs, "max_steps": bound}
        config = RankConfig(seed=args.seed, fusion_draws=args.fusion_draws, params={"lightgcn": params})
        ranker = Ranker(config)
        started = time.perf_counter()
        with measured() as m:
            report = ranker.fit(frame, items, knowledge)
        fit_s = time.perf_counter() - started
        fused, by_part = evaluate_ranking(ranker, test, with_parts=True)
        n = ranker.trained_data().matrix.nnz
        per_step = max(BATCH, math.ceil(n / bound)) if bound else BATCH
        row = {
            "max_steps": bound,
            "steps_per_epoch": math.ceil(n / per_step),
            "pairs_per_step": per_step,
            "lightgcn_fit_s": round(report.seconds["lightgcn"], 1),
            "ranker_fit_s": round(fit_s, 1),
            "peak_mib": round(m.peak_mib),
            "lightgcn_ndcg@10": round(by_part["lightgcn"].at(10).ndcg, 4),
            "lightgcn_recall@10": round(by_part["lightgcn"].at(10).recall, 4),
            "fusion_ndcg@10": round(fused.at(10).ndcg, 4),
            "fusion_recall@10": round(fused.at(10).recall, 4),
        }
        if bound is None:
            unbounded = row["fusion_ndcg@10"]
        row["vs_unbounded"] = round(row["fusion_ndcg@10"] / unbounded, 3) if unbounded else None
        say(f"  {name}: {row}")
        result["variants"][name] = row
        write_results("lightgcn_steps", "LightGCN: steps per epoch bounded against unbounded", ABOUT, result)
    for name, row in result["variants"].items():
        print(f"{name}: fusion NDCG@10 {row['fusion_ndcg@10']}, LightGCN alone {row['lightgcn_ndcg@10']}, "
              f"LightGCN fit {row['lightgcn_fit_s']} s, {row['steps_per_epoch']} steps an epoch")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
