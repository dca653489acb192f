"""Mini-batch benchmark: kgrec trained in neighbour-sampled mini-batches on a generated catalogue.

Generates ``--minibatch-ratings`` ratings (``loaders.demo.demo_dataset``), loads them through Neo4j (a
``bench-accuracy-minibatch`` workspace, reused when it holds the same number of ratings unless ``--reload``),
trains for a few epochs with the mini-batch threshold lowered so that the sampled path runs, and prints the
epoch time and the peak memory of the fit (target: within 8 GB), then a JSON line. On that random data only
time and memory mean anything. ``bench/accuracy.py`` runs the same part after its datasets. Writes the figures
to docs/benchmarks/minibatch.md (with the command, the date, the machine).

    .venv/bin/python bench/minibatch.py [--minibatch-ratings 1000000] [--minibatch-epochs 4] [--reload]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict
from typing import Any

from common import MIB, fit_kgrec, graph_export, measured, say, split_of, write_results

from gnn import TrainConfig
from loaders.demo import demo_dataset

MINIBATCH_TARGET_BYTES = 8 * 10**9


def add_minibatch_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the mini-batch run (shared with ``bench/accuracy.py``)."""
    parser.add_argument("--minibatch-ratings", type=int, default=1_000_000, help="generated ratings")
    parser.add_argument("--minibatch-items", type=int, default=10_000, help="generated items")
    parser.add_argument("--minibatch-epochs", type=int, default=4, help="GNN epochs of the mini-batch run")
    parser.add_argument("--minibatch-mf-epochs", type=int, default=5, help="MF epochs of the mini-batch run")


def run_minibatch(args: argparse.Namespace) -> dict[str, Any]:
    """kgrec in neighbour-sampled mini-batches on a generated catalogue: epoch time and peak memory."""
    per_user = 20
    n_users = args.minibatch_ratings // per_user
    with measured() as phase:
        started = time.perf_counter()
        dataset = demo_dataset(
            n_users=n_users, n_items=args.minibatch_items, ratings_per_user=per_user, seed=0
        )[0]
        generate_s = time.perf_counter() - started
        say(f"  generated {len(dataset.ratings):,} ratings in {generate_s:.0f}s")
        export, info = graph_export(
            "bench-accuracy-minibatch", dataset, reload=args.reload, keep_server=args.keep_servers
        )
        del dataset
        split = split_of(export, 0)
        config = TrainConfig(
            seed=0,
            text=False,  # the generated titles would only cost MiniLM time here
            minibatch_threshold=min(100_000, len(split.train)),
            max_epochs=args.minibatch_epochs,
            minibatch_max_epochs=args.minibatch_epochs,
            mf_epochs=args.minibatch_mf_epochs,
        )
        result, m, epoch_s = fit_kgrec(export, split, config)
    metrics = result.metrics
    out = {
        "ratings": info.ratings,
        "users": n_users,
        "items": args.minibatch_items,
        "graph": asdict(info),
        "generate_s": generate_s,
        "config": config.model_dump(
            include={
                "minibatch_threshold",
                "batch_size",
                "num_neighbors",
                "max_epochs",
                "mf_epochs",
                "supervision_ratio",
                "eval_every",
                "text",
            }
        ),
        "minibatch": metrics.minibatch,
        "train_ratings": metrics.ratings["train"],
        "gnn_epochs": metrics.epochs["gnn"],
        "gnn_epoch_s": epoch_s,
        "gnn_epoch_s_mean": statistics.fmean(epoch_s) if epoch_s else None,
        "kgrec_seconds": {**metrics.seconds, "total": m.seconds},
        "fit_peak_mib": m.peak_mib,
        "fit_rss_before_mib": m.rss_before_mib,
        "phase_peak_mib": phase.peak_mib,
        "target_bytes": MINIBATCH_TARGET_BYTES,
        "target_met": m.peak_mib * MIB <= MINIBATCH_TARGET_BYTES,
        "test_rmse": {
            part: metrics.test[part].rmse for part in ("global_mean", "bias", "mf", "gnn", "blend")
        },
    }
    load = f"loaded in {info.load_s:.0f}s" if info.loaded else "graph reused"
    print(
        f"\nmini-batch: generated catalogue, {info.ratings:,} ratings ({n_users:,} users, "
        f"{args.minibatch_items:,} items; generated in {generate_s:.0f}s, {load}, exported in "
        f"{info.export_s:.0f}s); {metrics.ratings['train']:,} train ratings, mini-batch mode: "
        f"{metrics.minibatch} (threshold {config.minibatch_threshold:,}, batch {config.batch_size}, "
        f"fan-out {list(config.num_neighbors)})"
    )
    print(
        f"GNN epochs {metrics.epochs['gnn']}: "
        f"{', '.join(f'{s:.1f}' for s in epoch_s)} s (mean {out['gnn_epoch_s_mean'] or 0:.1f} s; every "
        f"{config.eval_every}nd epoch includes a full-graph validation pass); MF {metrics.epochs['mf']} "
        f"epochs in {metrics.seconds['mf']:.0f}s; whole fit {m.seconds:.0f}s"
    )
    verdict = "met" if out["target_met"] else "NOT met"
    print(
        f"peak RSS during the fit {m.peak_mib:,.0f} MiB = {m.peak_mib * MIB / 1e9:.2f} GB (RSS before it "
        f"{m.rss_before_mib or 0:,.0f} MiB); whole phase {phase.peak_mib:,.0f} MiB; target <= 8 GB: "
        f"{verdict}"
    )
    print("test RMSE: " + ", ".join(f"{k} {v:.4f}" for k, v in out["test_rmse"].items()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add_minibatch_arguments(parser)
    parser.add_argument("--reload", action="store_true", help="empty the workspace's graph and load again")
    parser.add_argument("--keep-servers", action="store_true", help="leave a started Neo4j server running")
    args = parser.parse_args(argv)
    result = {"bench": "minibatch", **run_minibatch(args)}
    about = (
        "kgrec trained in neighbour-sampled mini-batches on generated ratings (`loaders.demo`): the GNN's"
        " epoch seconds and the fit's peak resident memory against the 8 GB target; on random data only"
        " time and memory mean anything."
    )
    write_results("minibatch", "Mini-batch training", about, result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
