"""Ranking benchmark (issue 11): kgrec's fused ranking against popularity, implicit's ALS and EASE, same splits.

For each dataset the data goes the real way (loaded into Neo4j in a ``bench-ranking-*`` workspace, reused when
it holds the same number of ratings, exported with ``store.export()``); then, per split, in the same run:

- split: per user, 20% of the interactions held out, at random (``--seeds``) or the latest (temporal);
  full ranking over every catalogue item, the user's training items left out; users with nothing held out
  are skipped and counted;
- peers, trained on the training part only: ``popularity`` (interaction counts), ``implicit_als``
  (``implicit``'s ALS: 64 factors, regularisation 0.05, 30 iterations), ``ease`` (Steck 2019; its ridge
  chosen on a per-user 10% validation slice of the training part by NDCG@10, then refitted on all of it);
- kgrec: ``rank.train_stack`` (the rating model and the ranker, trained on the same training part); each
  candidate model alone (``kgrec_<part>``) and the fusion (``kgrec_fusion``).

Prints NDCG@10, Recall@10, HitRate@10, coverage@10 and popularity percentile per model and split, the
fusion's ratio to the best peer per split and on the mean of the random seeds, training times; the last line
is the whole result as JSON (also written to ``--json-out``). The figures at 10 go to docs/benchmarks/ranking.md
after each dataset (with the command, the date, the machine).

    .venv/bin/python bench/ranking.py [--seeds 0 1 2] [--skip-temporal] [--skip-magazine] [--parts ...]
        [--json-out F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
from common import HIN, MAGAZINE, GraphExport, graph_export, magazine_dataset, say, write_results

from gnn import TrainConfig
from loaders import read_hin
from rank import (
    KS,
    Interactions,
    RankConfig,
    RankingMetrics,
    SplitKind,
    holdout_split,
    ranking_metrics,
    train_stack,
)
from rank.evaluate import top_k
from rank.models import Context
from rank.models.als import Als, AlsParams
from rank.models.ease import Ease, EaseParams
from rank.models.popularity import Popularity, PopularityParams

PEERS = ("popularity", "implicit_als", "ease")
FRACTION = 0.2
EASE_GRID = (50.0, 100.0, 250.0, 500.0, 1000.0)


def _relevant(test: pd.DataFrame, train: Interactions) -> tuple[np.ndarray, list[np.ndarray]]:
    held = Interactions.build(test, train.item_keys, list(pd.unique(test["user"].astype(str))))
    rows = train.user_rows(held.user_keys)
    relevant = [
        held.matrix.indices[held.matrix.indptr[r] : held.matrix.indptr[r + 1]] for r in range(held.n_users)
    ]
    return rows, relevant


def _peer_top(model: Any, train: Interactions, rows: np.ndarray, k: int) -> np.ndarray:
    out = []
    for s in range(0, len(rows), 512):
        seen = train.seen(rows[s : s + 512])
        out.append(top_k(model.scores(rows[s : s + 512], seen), k, exclude=seen))
    return np.vstack(out)


def peers(ratings: pd.DataFrame, items: np.ndarray, kind: SplitKind, seed: int) -> dict[str, Any]:
    """Each peer trained on the split's training part, measured on its held-out part."""
    split = holdout_split(ratings, kind, FRACTION, seed)
    users = np.asarray(pd.unique(split.train["user"].astype(str)))
    train = Interactions.build(split.train, items, users)
    rows, relevant = _relevant(split.test, train)
    popularity = train.popularity()
    out: dict[str, Any] = {}
    started = time.perf_counter()
    pop = Popularity(PopularityParams(half_life_days=float("inf"))).fit(train)
    out["popularity"] = (_peer_top(pop, train, rows, max(KS)), time.perf_counter() - started)
    started = time.perf_counter()
    als = Als(AlsParams(factors=64, regularization=0.05, iterations=30), Context(seed=seed)).fit(train)
    out["implicit_als"] = (_peer_top(als, train, rows, max(KS)), time.perf_counter() - started)
    started = time.perf_counter()
    inner = holdout_split(split.train, kind, 0.1, seed)
    fit_part = Interactions.build(inner.train, items, users)
    held = Interactions.build(inner.test, items, users)
    val_rows = np.flatnonzero(np.diff(held.matrix.indptr) > 0)
    val_rel = [held.matrix.indices[held.matrix.indptr[r] : held.matrix.indptr[r + 1]] for r in val_rows]
    ease = Ease(EaseParams(grid=EASE_GRID))  # no knowledge graph in its context: plain EASE
    grid = ease.tune(fit_part, val_rows, val_rel)
    ease.fit(train)
    out["ease"] = (_peer_top(ease, train, rows, max(KS)), time.perf_counter() - started)
    return {
        "metrics": {name: ranking_metrics(top, relevant, KS, popularity) for name, (top, _) in out.items()},
        "seconds": {name: s for name, (_, s) in out.items()},
        "ease_l2": ease.l2,
        "ease_grid": grid,
    }


def run_split(
    export: GraphExport, kind: SplitKind, seed: int, quick: bool, rank: RankConfig
) -> dict[str, Any]:
    ratings = export.edges["RATED"].sort_values(["user", "item"], kind="stable").reset_index(drop=True)
    items = np.asarray(export.node_keys("Item"))
    say(f"  {kind} seed {seed}: peers")
    peer = peers(ratings, items, kind, seed)
    say(f"  {kind} seed {seed}: kgrec")
    started = time.perf_counter()
    train_config = TrainConfig(seed=seed, max_epochs=30) if quick else TrainConfig(seed=seed)
    result = train_stack(
        export, kind, FRACTION, seed, train_config, rank.model_copy(update={"seed": seed}), progress=say
    )
    kgrec_s = time.perf_counter() - started
    models: dict[str, RankingMetrics] = dict(peer["metrics"])
    models |= {f"kgrec_{part}": m for part, m in result.parts.items()}
    models["kgrec_fusion"] = result.ranking
    best_peer = max(PEERS, key=lambda p: models[p].at(10).ndcg)
    fusion = result.ranking.at(10).ndcg
    return {
        "kind": kind,
        "seed": seed,
        "users": result.ranking.users,
        "skipped_users": result.ranking.skipped_users,
        "models": {name: m.model_dump() for name, m in models.items()},
        "best_peer": best_peer,
        "fusion_over_best_peer": fusion / models[best_peer].at(10).ndcg,
        "peer_seconds": peer["seconds"],
        "ease_l2": peer["ease_l2"],
        "kgrec_seconds": kgrec_s,
        "kgrec_breakdown_s": {
            **result.rating.seconds,
            **{f"rank_{k}": v for k, v in result.fusion.seconds.items()},
        },
        "rating_test_rmse": result.rating.test["blend"].rmse,
        "fusion": result.fusion.model_dump(),
    }


def print_split(name: str, run: dict[str, Any]) -> None:
    print(
        f"\n{name}, {run['kind']} split seed {run['seed']}: {run['users']:,} users evaluated "
        f"({run['skipped_users']} skipped), kgrec trained in {run['kgrec_seconds']:.0f}s"
    )
    print(f"{'model':<20}{'NDCG@10':>9}{'Recall@10':>11}{'HR@10':>8}{'MRR@10':>8}{'cov@10':>8}{'pop pct':>9}")
    for model, m in run["models"].items():
        at = next(a for a in m["at_k"] if a["k"] == 10)
        print(
            f"{model:<20}{at['ndcg']:>9.4f}{at['recall']:>11.4f}{at['hit_rate']:>8.4f}{at['mrr']:>8.4f}"
            f"{at['coverage']:>8.3f}{at['popularity_percentile']:>9.1f}"
        )
    print(f"fusion / best peer ({run['best_peer']}) NDCG@10: {run['fusion_over_best_peer']:.3f}")


def run_dataset(
    name: str,
    export: GraphExport,
    seeds: list[int],
    temporal: bool,
    quick: bool,
    rank: RankConfig,
) -> dict[str, Any]:
    runs = []
    for seed in seeds:
        runs.append(run_split(export, "random", seed, quick, rank))
        print_split(name, runs[-1])
    summary: dict[str, Any] = {}
    for model in runs[0]["models"]:
        values = [next(a for a in r["models"][model]["at_k"] if a["k"] == 10)["ndcg"] for r in runs]
        summary[model] = {
            "ndcg10_mean": statistics.fmean(values),
            "ndcg10_sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        }
    best = max(PEERS, key=lambda p: summary[p]["ndcg10_mean"])
    ratio = summary["kgrec_fusion"]["ndcg10_mean"] / summary[best]["ndcg10_mean"]
    print(
        f"\n{name} random, mean of seeds {seeds}: "
        + ", ".join(f"{m} {s['ndcg10_mean']:.4f}" for m, s in summary.items())
    )
    print(f"{name} random: fusion / best peer ({best}) mean NDCG@10 = {ratio:.3f} (target >= 1.10)")
    out: dict[str, Any] = {
        "random": runs,
        "random_summary": summary,
        "random_best_peer": best,
        "random_ratio": ratio,
    }
    if temporal:
        out["temporal"] = run_split(export, "temporal", seeds[0], quick, rank)
        print_split(name, out["temporal"])
        print(
            f"{name} temporal: fusion / best peer = {out['temporal']['fusion_over_best_peer']:.3f} (target >= 1.0)"
        )
    return out


ABOUT = """Per user, 20% of the interactions held out (random with each seed, or the latest: temporal); every
catalogue item ranked for each user, their training items left out; all models on the same splits. Peers:
`popularity` (counts), `implicit_als` (64 factors, regularisation 0.05, 30 iterations), `ease` (ridge chosen
on a validation slice of the training part). `kgrec_<part>` are the ranker's candidate models alone and
`kgrec_fusion` the fused ranking that `recommend` serves, with the default `RankConfig`. Tables: metrics at
10 per model; `fusion_over_best_peer` is the fusion's NDCG@10 over the best peer's."""


def _write(record: dict[str, Any]) -> None:
    """docs/benchmarks/ranking.md: per dataset, the mean over the random seeds and each split's table at 10."""
    shown: dict[str, Any] = {"wall_s": record.get("wall_s")}
    for name, d in record["datasets"].items():
        view: dict[str, Any] = {
            "random_best_peer": d["random_best_peer"],
            "random_fusion_over_best_peer": d["random_ratio"],
            "NDCG@10 over the random seeds": d["random_summary"],
        }
        for run in [*d["random"], *([d["temporal"]] if "temporal" in d else [])]:
            at10 = {
                model: {k: v for k, v in next(a for a in m["at_k"] if a["k"] == 10).items() if k != "k"}
                for model, m in run["models"].items()
            }
            title = f"{run['kind']} split, seed {run['seed']}"
            view[title] = {
                "users": run["users"],
                "fusion_over_best_peer": run["fusion_over_best_peer"],
                "kgrec_seconds": run["kgrec_seconds"],
                "at 10": at10,
            }
        shown[name] = view
    write_results("ranking", "Ranking against peers", ABOUT, shown, argv=record["argv"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hin", default=HIN, help="amazon-hin folder")
    parser.add_argument("--magazine", default=MAGAZINE, help="magazine folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--skip-temporal", action="store_true")
    parser.add_argument("--skip-hin", action="store_true")
    parser.add_argument("--skip-magazine", action="store_true")
    parser.add_argument("--min-ratings", type=int, default=2, help="k of the magazine's k-core")
    parser.add_argument(
        "--quick", action="store_true", help="30 GNN epochs for the rating model (a smoke run)"
    )
    parser.add_argument(
        "--fusion-draws",
        type=int,
        default=RankConfig().fusion_draws,
        help="validation slices the fusion learns from (RankConfig.fusion_draws; random splits)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        default=list(RankConfig().parts),
        help="the candidate models fused (RankConfig.parts, names of rank.models.MODELS)",
    )
    parser.add_argument("--json-out", default=None)
    args = parser.parse_args(argv)
    rank = RankConfig(fusion_draws=args.fusion_draws, parts=tuple(args.parts))
    started = time.perf_counter()
    record: dict[str, Any] = {
        "bench": "ranking",
        "argv": sys.argv[1:] if argv is None else argv,
        "datasets": {},
    }
    if not args.skip_hin:
        say("amazon-hin")
        export, _ = graph_export("bench-ranking-hin", read_hin(args.hin), reload=False, keep_server=False)
        record["datasets"]["amazon-hin"] = run_dataset(
            "amazon-hin", export, args.seeds, not args.skip_temporal, args.quick, rank
        )
        _write(record)
    if not args.skip_magazine:
        say("amazon2018-magazine")
        dataset = magazine_dataset(args.magazine, args.min_ratings)
        export, _ = graph_export("bench-ranking-magazine", dataset, reload=False, keep_server=False)
        record["datasets"]["amazon2018-magazine"] = run_dataset(
            "amazon2018-magazine", export, args.seeds, not args.skip_temporal, args.quick, rank
        )
        _write(record)
    record["wall_s"] = time.perf_counter() - started
    _write(record)
    line = json.dumps(record)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(line + "\n")
    print(f"\nwall time {record['wall_s']:.0f}s (a shared 2-core machine)")
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
