"""Accuracy benchmark (issue 3): kgrec's rating blend against scikit-surprise's SVD and SVD++, same splits.

For each dataset the data goes the real way: loaded into Neo4j with ``kg.GraphStore`` (a ``bench-accuracy-*``
workspace; reused when it already holds the same number of ratings, unless ``--reload``), exported with
``store.export()``, then cut by ``gnn.split_ratings`` into a random 80/10/10 split per seed. On each split, in
the same run:

- ``global_mean``: the training mean;
- ``surprise_baseline``, ``surprise_svd``, ``surprise_svdpp``: scikit-surprise ``BaselineOnly``, ``SVD`` and
  ``SVDpp`` with default hyper-parameters (``random_state`` = seed), trained on the TRAIN part only (not
  train + validation; they use no validation data);
- ``kgrec_bias``, ``kgrec_mf``, ``kgrec_gnn``, ``kgrec_blend``: ``Trainer(TrainConfig(seed=s)).fit(export,
  split)``, which uses the validation part for early stopping and to fit the blend weights.

Datasets: amazon-hin (all ratings) and Amazon 2018 Magazine Subscriptions (ratings of users and items with at
least ``--min-ratings`` ratings each, iterated to a fixed point: the 2-core; the product metadata is loaded
whole, so the graph also holds unrated items and their links). A third part trains kgrec in mini-batches
(neighbour sampling) on a generated catalogue of 1,000,000 ratings (``loaders.demo.demo_dataset``, also
through Neo4j) for a few epochs and reports the epoch time and peak memory (target: within 8 GB).

Prints one table per dataset: test RMSE and MAE per model (per seed, mean and sample standard deviation over
seeds), the ratio kgrec blend / SVD++ against its target, training seconds and peak memory per model; the
last stdout line is the whole result as JSON, also written to ``--json-out``. The figures go to
docs/benchmarks/accuracy.md after each part (with the command, the date, the machine).

Peak memory is the process's peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) while
the model trained, the Linux high-water mark being reset first by writing ``5`` to ``/proc/self/clear_refs``;
it includes what the process already held (libraries, the graph export). Where the reset is not possible the
figure is the peak since the process started, and the JSON says so. Times are wall-clock seconds and are
noisy on a shared machine.

Usage::

    .venv/bin/pip install -e '.[bench]'           # scikit-surprise
    .venv/bin/python bench/accuracy.py [--seeds 0 1 2] [--json-out accuracy.json] [--reload]
        [--skip-hin] [--skip-magazine] [--skip-minibatch | --minibatch-only]
        [--minibatch-ratings 1000000] [--minibatch-epochs 4] [--keep-servers]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from common import (
    FRACTIONS,
    HIN,
    MAGAZINE,
    GraphExport,
    GraphInfo,
    Measure,
    fit_kgrec,
    graph_export,
    magazine_dataset,
    measured,
    reset_peak,
    say,
    split_of,
    write_results,
)
from minibatch import add_minibatch_arguments, run_minibatch

from gnn import RatingSplit, TrainConfig, TrainResult, mae, rmse
from loaders import read_hin


# -- models ---------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One model on one split."""

    val_rmse: float
    rmse: float
    mae: float
    train_s: float
    peak_mib: float


class _Predictor(Protocol):
    def predict(self, uid: str, iid: str) -> Any: ...


def _scored(predict: Callable[[pd.DataFrame], np.ndarray], split: RatingSplit, m: Measure) -> Row:
    val, test = split.val, split.test
    pred = predict(test)
    truth = test["rating"].to_numpy(np.float64)
    return Row(
        val_rmse=rmse(predict(val), val["rating"].to_numpy(np.float64)),
        rmse=rmse(pred, truth),
        mae=mae(pred, truth),
        train_s=m.seconds,
        peak_mib=m.peak_mib,
    )


def surprise_rows(split: RatingSplit, seed: int) -> dict[str, Row]:
    """scikit-surprise's BaselineOnly, SVD and SVD++ (defaults), each fitted on the training ratings only."""
    try:
        from surprise import SVD, BaselineOnly, Reader, SVDpp
        from surprise import Dataset as SurpriseDataset
    except ImportError as e:
        raise SystemExit(
            f"scikit-surprise is missing ({e}); install the extra: pip install -e '.[bench]'"
        ) from e
    train = split.train
    reader = Reader(rating_scale=(float(train["rating"].min()), float(train["rating"].max())))
    trainset = SurpriseDataset.load_from_df(train[["user", "item", "rating"]], reader).build_full_trainset()
    peers: dict[str, Callable[[], Any]] = {
        "surprise_baseline": lambda: BaselineOnly(verbose=False),
        "surprise_svd": lambda: SVD(random_state=seed),
        "surprise_svdpp": lambda: SVDpp(random_state=seed),
    }
    rows = {}
    for name, make in peers.items():
        with measured() as m:
            algo = make().fit(trainset)

        def predict(frame: pd.DataFrame, algo: _Predictor = algo) -> np.ndarray:
            pairs = zip(frame["user"].tolist(), frame["item"].tolist(), strict=True)
            return np.fromiter((algo.predict(u, i).est for u, i in pairs), np.float64, len(frame))

        rows[name] = _scored(predict, split, m)
        say(f"    {name}: test RMSE {rows[name].rmse:.4f} in {m.seconds:.1f}s")
    return rows


def global_mean_row(split: RatingSplit) -> Row:
    with measured() as m:
        mu = float(split.train["rating"].mean())
    return _scored(lambda frame: np.full(len(frame), mu), split, m)


def kgrec_rows(result: TrainResult, m: Measure) -> dict[str, Row]:
    """The parts and the blend; one fit trains them all, so they share its peak memory."""
    metrics = result.metrics
    s = metrics.seconds
    seconds = {
        "bias": s.get("bias", 0.0),
        "mf": s.get("mf", 0.0),
        "gnn": s.get("features", 0.0) + s.get("gnn", 0.0),
        "blend": m.seconds,  # the blend needs every part: the whole fit
    }
    return {
        f"kgrec_{part}": Row(
            val_rmse=metrics.val[part].rmse,
            rmse=metrics.test[part].rmse,
            mae=metrics.test[part].mae,
            train_s=seconds[part],
            peak_mib=m.peak_mib,
        )
        for part in ("bias", "mf", "gnn", "blend")
    }


# -- one dataset ------------------------------------------------------------------------------------------
def _spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def run_dataset(
    name: str, export: GraphExport, info: GraphInfo, seeds: list[int], target: float, note: str
) -> dict[str, Any]:
    """Every model on every seed's split; the per-seed rows, the summary over seeds and the target check."""
    per_seed: dict[int, dict[str, Row]] = {}
    extra: dict[int, dict[str, Any]] = {}
    for seed in seeds:
        split = split_of(export, seed)
        say(
            f"  {name} seed {seed}: {len(split.train):,} train / {len(split.val):,} val / "
            f"{len(split.test):,} test"
        )
        rows = {"global_mean": global_mean_row(split), **surprise_rows(split, seed)}
        result, m, _ = fit_kgrec(export, split, TrainConfig(seed=seed))
        rows.update(kgrec_rows(result, m))
        say(f"    kgrec blend: test RMSE {rows['kgrec_blend'].rmse:.4f} in {m.seconds:.0f}s")
        per_seed[seed] = rows
        metrics = result.metrics
        extra[seed] = {
            "ratings": metrics.ratings,
            "epochs": metrics.epochs,
            "blend_weights": metrics.blend.model_dump(),
            "kgrec_seconds": {**metrics.seconds, "total": m.seconds},
            "cold_start_test": metrics.cold_start_test.model_dump(),
            "minibatch": metrics.minibatch,
            "blend_over_svdpp": rows["kgrec_blend"].rmse / rows["surprise_svdpp"].rmse,
        }
    models = list(per_seed[seeds[0]])
    summary: dict[str, dict[str, Any]] = {
        model: {
            "rmse": _spread([per_seed[s][model].rmse for s in seeds]),
            "mae": _spread([per_seed[s][model].mae for s in seeds]),
            "val_rmse_mean": statistics.fmean(per_seed[s][model].val_rmse for s in seeds),
            "train_s_mean": statistics.fmean(per_seed[s][model].train_s for s in seeds),
            "peak_mib_max": max(per_seed[s][model].peak_mib for s in seeds),
        }
        for model in models
    }
    ratio = summary["kgrec_blend"]["rmse"]["mean"] / summary["surprise_svdpp"]["rmse"]["mean"]
    return {
        "dataset": name,
        "note": note,
        "graph": asdict(info),
        "split": {"kind": "random", "fractions": list(FRACTIONS), "seeds": seeds},
        "seeds": {
            str(s): {"models": {k: asdict(v) for k, v in per_seed[s].items()}, **extra[s]} for s in seeds
        },
        "summary": summary,
        "blend_over_svdpp": ratio,
        "target_ratio": target,
        "target_met": ratio <= target,
    }


def print_table(result: dict[str, Any]) -> None:
    seeds = result["split"]["seeds"]
    graph = result["graph"]
    load = f"loaded in {graph['load_s']:.1f}s" if graph["loaded"] else "graph reused"
    print(
        f"\n{result['dataset']}: {graph['ratings']:,} ratings ({result['note']}); random 80/10/10 split, "
        f"seeds {', '.join(map(str, seeds))}; Neo4j workspace {graph['workspace']}: {load}, "
        f"exported in {graph['export_s']:.1f}s"
    )
    head = "".join(f"{'RMSE s' + str(s):>10}" for s in seeds)
    print(
        f"{'model':<19}{head}{'RMSE mean ± sd':>19}{'MAE mean ± sd':>19}{'val RMSE':>10}{'train s':>9}"
        f"{'peak MiB':>10}"
    )
    for model, summary in result["summary"].items():
        cells = "".join(f"{result['seeds'][str(s)]['models'][model]['rmse']:>10.4f}" for s in seeds)
        r, a = summary["rmse"], summary["mae"]
        print(
            f"{model:<19}{cells}{r['mean']:>11.4f} ± {r['sd']:.4f}{a['mean']:>11.4f} ± {a['sd']:.4f}"
            f"{summary['val_rmse_mean']:>10.4f}{summary['train_s_mean']:>9.1f}{summary['peak_mib_max']:>10.0f}"
        )
    per_seed = ", ".join(f"{result['seeds'][str(s)]['blend_over_svdpp']:.4f}" for s in seeds)
    verdict = "met" if result["target_met"] else "NOT met"
    print(
        f"kgrec blend / SVD++ mean test RMSE: {result['blend_over_svdpp']:.4f} (per seed {per_seed}); "
        f"target <= {result['target_ratio']:.2f}: {verdict}"
    )


# -- main ---------------------------------------------------------------------------------------------------
ABOUT = """Test RMSE and MAE on each seed's random 80/10/10 split: kgrec's parts (`kgrec_bias`, `kgrec_mf`,
`kgrec_gnn`) and their blend against scikit-surprise's BaselineOnly, SVD and SVD++ and the global mean;
`summary` is over the seeds, `blend_over_svdpp` the ratio of mean test RMSE; `train_s` and `peak_mib` are
wall seconds and peak resident memory while a model trained. The mini-batch part (when run) trains on
generated ratings: only its time and memory mean anything."""


def _write(record: dict[str, Any]) -> None:
    """docs/benchmarks/accuracy.md: the parts finished so far (the command line is in its header)."""
    shown = {k: v for k, v in record.items() if k != "argv"}
    write_results("accuracy", "Rating accuracy", ABOUT, shown, argv=record["argv"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--hin", type=Path, default=HIN, help="amazon-hin folder")
    parser.add_argument("--magazine", type=Path, default=MAGAZINE, help="magazine folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="split (and model) seeds")
    parser.add_argument("--min-ratings", type=int, default=2, help="k of the magazine's k-core")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the JSON result here")
    parser.add_argument("--reload", action="store_true", help="empty each workspace's graph and load again")
    parser.add_argument("--keep-servers", action="store_true", help="leave started Neo4j servers running")
    parser.add_argument("--skip-hin", action="store_true", help="skip amazon-hin")
    parser.add_argument("--skip-magazine", action="store_true", help="skip the magazine data")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--skip-minibatch", action="store_true", help="skip the mini-batch run")
    only.add_argument("--minibatch-only", action="store_true", help="only the mini-batch run")
    add_minibatch_arguments(parser)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    peak_reset = reset_peak()
    record: dict[str, Any] = {
        "bench": "accuracy",
        "argv": sys.argv[1:] if argv is None else argv,
        "memory": "peak RSS in MiB: resource.getrusage(RUSAGE_SELF).ru_maxrss while the model trained, "
        + (
            "high-water mark reset before each via /proc/self/clear_refs; includes what the process held"
            if peak_reset
            else "NOT reset (no /proc/self/clear_refs): peak since the process started"
        ),
        "peers": "scikit-surprise defaults, trained on the train part only; kgrec uses val for early "
        "stopping and blend weights",
        "datasets": {},
    }
    if not args.minibatch_only:
        if not args.skip_hin:
            say("amazon-hin")
            export, info = graph_export(
                "bench-accuracy-hin", read_hin(args.hin), reload=args.reload, keep_server=args.keep_servers
            )
            result = run_dataset("amazon-hin", export, info, args.seeds, 0.99, "all ratings")
            record["datasets"]["amazon-hin"] = result
            print_table(result)
            _write(record)
            del export
        if not args.skip_magazine:
            say("amazon2018-magazine")
            dataset = magazine_dataset(args.magazine, args.min_ratings)
            note = (
                f"{args.min_ratings}-core of users and items, with the whole product catalogue in the graph"
            )
            export, info = graph_export(
                "bench-accuracy-magazine", dataset, reload=args.reload, keep_server=args.keep_servers
            )
            result = run_dataset("amazon2018-magazine", export, info, args.seeds, 1.0, note)
            record["datasets"]["amazon2018-magazine"] = result
            print_table(result)
            _write(record)
            del export, dataset
    if not args.skip_minibatch:
        say("mini-batch")
        record["minibatch"] = run_minibatch(args)
    record["wall_s"] = time.perf_counter() - started
    _write(record)
    line = json.dumps(record)
    if args.json_out is not None:
        args.json_out.write_text(line + "\n")
    print(f"\nwall time {record['wall_s']:.0f}s; times are noisy (a shared 2-core machine)")
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
