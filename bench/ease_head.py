"""EASE's scalable form against its exact form, where both run (issue 24, point 3).

EASE's weights are a dense ``items x items`` inverse, so above ``EaseParams.max_items`` (8,000) it models only
the most-interacted items and leaves the tail to the other candidate models (RP3beta, ALS, LightGCN: sparse or
factored, so they cover any catalogue). This bench measures what that costs on a generated shop
(``bench/shop.py``) small enough for the exact inverse: the exact form (every item modelled) against heads of
a shrinking share of the catalogue, down to the share the 10M shop's head has (8,000 of 200,000 items, 4%),
and the head with item-kNN (``rank.models.knn``) added to the fusion for the tail.

Per variant: EASE's seconds in the ranker's training (tuned and refitted, as the ranker does) and the size of
its weights; the share
of the training interactions its head covers; NDCG@10 and Recall@10 of EASE alone and of the fusion, on one
held-out slice (each sampled user's latest rating), whole catalogue ranked, training items left out. The
fusion here fuses the candidate models without the rating model (no predicted-stars feature), the same way
for every variant, so the differences are EASE's.

    .venv/bin/python bench/ease_head.py [--size 300k] [--shares 1,0.4,0.16,0.04] [--test-users 2000]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import pandas as pd
from common import measured, say, write_results
from shop import RankerInputs

from rank import DEFAULT_PARTS, Knowledge, RankConfig, Ranker, evaluate_ranking
from rank.interactions import Interactions
from rank.models.ease import Ease

SIZES = {"30k": 30_000, "100k": 100_000, "300k": 300_000}
ABOUT = """
A generated shop (`bench/shop.py`, the one `bench/scale.py` loads): ratings, views, carts and purchases, one
interaction per (user, item) pair; side information brand (`MADE_BY`) and leaf category (`IN_CATEGORY`).
Held out: each sampled user's latest rating, left out of every model. Each variant trains the ranker
(`rank.Ranker`, default settings, its parts listed) on the same training interactions with EASE's
`max_items` set to the share of the catalogue named; `exact` models every item. `ease_fit_s` is EASE's
time in all of the ranker's training (its ridge tuned over a grid of five, a refit for each further
validation draw, the final refit on every training interaction); `ease_weights_mib` the dense weights' size;
`head_coverage` the share of training interactions on modelled items. The fusion has no rating model here
(the same for every variant). `vs_exact` is the variant's fusion NDCG@10 over the exact form's.
""".strip()


def variant(
    name: str, max_items: int, parts: tuple[str, ...], frame: pd.DataFrame, items: np.ndarray,
    knowledge: Knowledge, test: pd.DataFrame, seed: int,
) -> dict[str, Any]:  # fmt: skip
    config = RankConfig(seed=seed, parts=parts, params={"ease": {"max_items": max_items}})
    ranker = Ranker(config)
    started = time.perf_counter()
    with measured() as m:
        report = ranker.fit(frame, items, knowledge)
    fit_s = time.perf_counter() - started
    fused, by_part = evaluate_ranking(ranker, test, with_parts=True)
    ease = ranker.parts["ease"]
    assert isinstance(ease, Ease)
    data: Interactions = ranker.trained_data()
    popularity = data.popularity()
    modelled = ease.modelled
    row = {
        "parts": " + ".join(parts),
        "max_items": max_items,
        "head_coverage": round(float(popularity[modelled].sum() / max(popularity.sum(), 1)), 3),
        "ease_fit_s": round(report.seconds["ease"], 1),
        "ease_weights_mib": round(ease.weights.nbytes / 2**20, 1),
        "ranker_fit_s": round(fit_s, 1),
        "peak_mib": round(m.peak_mib),
        "ease_ndcg@10": round(by_part["ease"].at(10).ndcg, 4),
        "ease_recall@10": round(by_part["ease"].at(10).recall, 4),
        "fusion_ndcg@10": round(fused.at(10).ndcg, 4),
        "fusion_recall@10": round(fused.at(10).recall, 4),
    }
    say(f"  {name}: {row}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="300k", help="interactions of the shop")
    parser.add_argument(
        "--shares", default="1,0.4,0.16,0.04", help="shares of the catalogue EASE models (1: exact)"
    )
    parser.add_argument("--test-users", type=int, default=2000, help="users in the held-out slice")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shares = sorted({float(s) for s in args.shares.split(",")}, reverse=True)
    if not shares or shares[0] > 1 or shares[-1] <= 0:
        parser.error("--shares: fractions in (0, 1]")

    inputs = RankerInputs.of(SIZES[args.size], args.test_users, args.seed)
    test, frame, items, knowledge = inputs.test, inputs.frame, inputs.items, inputs.knowledge
    result: dict[str, Any] = {
        "bench": "ease_head",
        "size": args.size,
        **inputs.figures(),
        "variants": {},
    }
    say(f"shop {args.size}: {len(items):,} items, {len(frame):,} training interactions, {len(test)} held out")
    exact = None
    for share in shares:
        max_items = max(10, round(share * len(items)))
        label = "exact" if max_items >= len(items) else f"head {share:g}"
        runs: list[tuple[str, tuple[str, ...]]] = [(label, DEFAULT_PARTS)]
        if label != "exact":
            runs.append((f"{label} + knn", (*DEFAULT_PARTS, "knn")))
        for name, parts in runs:
            row = variant(name, max_items, parts, frame, items, knowledge, test, args.seed)
            if name == "exact":
                exact = row["fusion_ndcg@10"]
            row["vs_exact"] = round(row["fusion_ndcg@10"] / exact, 3) if exact else None
            result["variants"][name] = row
            write_results("ease_head", "EASE: the head against the exact form", ABOUT, result)
    for name, row in result["variants"].items():
        print(f"{name}: fusion NDCG@10 {row['fusion_ndcg@10']}, EASE alone {row['ease_ndcg@10']}, "
              f"EASE fit {row['ease_fit_s']} s, {row['ease_weights_mib']} MiB")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
