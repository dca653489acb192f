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
last stdout line is the whole result as JSON, also written to ``--json-out``.

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
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import _repo_first  # noqa: F401, I001 - must precede the package imports (bench/explain.py shadows `explain`)
import numpy as np
import pandas as pd

from core.settings import Settings
from gnn import RatingSplit, TrainConfig, Trainer, mae, rmse, split_ratings
from gnn.trainer import TrainResult
from kg import GraphExport, GraphStore, ManagedNeo4j
from loaders import Dataset, read_amazon2018, read_hin
from loaders.demo import demo_dataset

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FRACTIONS = (0.8, 0.1, 0.1)
MINIBATCH_TARGET_BYTES = 8 * 10**9
_CLEAR_REFS = Path("/proc/self/clear_refs")
_MIB = 2**20


# -- measuring ---------------------------------------------------------------------------------------
def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0); False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _peak_mib() -> float:
    """``ru_maxrss`` in MiB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mib() -> float | None:
    """Resident set size now, in MiB, or None off Linux."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * resource.getpagesize() / _MIB


@dataclass
class Measure:
    """Wall seconds and memory of one block: RSS before it and the peak RSS while it ran (MiB)."""

    seconds: float = 0.0
    rss_before_mib: float | None = None
    peak_mib: float = 0.0
    peak_reset: bool = False


_ACTIVE: list[Measure] = []


def _note_peak() -> None:
    """Fold the peak so far into every block still running (before a nested block resets the mark)."""
    peak = _peak_mib()
    for m in _ACTIVE:
        m.peak_mib = max(m.peak_mib, peak)


@contextmanager
def measured() -> Iterator[Measure]:
    """Measure a block; blocks nest (an outer block's peak includes its inner blocks')."""
    _note_peak()
    m = Measure(rss_before_mib=_rss_mib(), peak_reset=_reset_peak())
    _ACTIVE.append(m)
    started = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - started
        _note_peak()
        _ACTIVE.remove(m)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data ---------------------------------------------------------------------------------------------
def k_core(ratings: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ratings whose user and item both have at least ``k`` of them, filtered until nothing changes."""
    while True:
        keep = (ratings["user"].map(ratings["user"].value_counts()) >= k) & (
            ratings["item"].map(ratings["item"].value_counts()) >= k
        )
        if keep.all():
            return ratings.reset_index(drop=True)
        ratings = ratings[keep]


def magazine_dataset(folder: Path, min_ratings: int) -> Dataset:
    """Amazon 2018 Magazine Subscriptions: metadata plus the ratings CSV, ratings cut to the k-core."""
    dataset = read_amazon2018(
        folder / "meta_Magazine_Subscriptions.json.gz", ratings=folder / "Magazine_Subscriptions.ratings.csv"
    )
    dataset.ratings = k_core(dataset.ratings, min_ratings)
    return dataset


@dataclass
class GraphInfo:
    """How the export was obtained: workspace, whether the graph was (re)loaded, seconds per step."""

    workspace: str
    ratings: int
    loaded: bool
    load_s: float | None
    export_s: float


def graph_export(
    workspace: str, dataset: Dataset, *, reload: bool, keep_server: bool
) -> tuple[GraphExport, GraphInfo]:
    """Load ``dataset`` into the workspace's graph (unless it already holds as many ratings) and export it.

    A managed server that this call started is stopped afterwards unless ``keep_server``: training needs
    only the export, and the machine is shared.
    """
    settings = Settings(workspace=workspace)
    server = None if settings.neo4j.uri else ManagedNeo4j(settings)
    was_running = server is not None and server.status().answers
    try:
        with GraphStore.connect(settings, progress=_say) as store:
            held = store.stats().relationships.get("RATED", 0)
            load_s = None
            if reload or held != len(dataset.ratings):
                _say(f"  loading {len(dataset.ratings):,} ratings into workspace {workspace}")
                started = time.perf_counter()
                store.reset()
                store.write(dataset)
                load_s = time.perf_counter() - started
            started = time.perf_counter()
            export = store.export()
            export_s = time.perf_counter() - started
    finally:
        if server is not None and not was_running and not keep_server:
            server.stop()
    rated = len(export.edges["RATED"])
    return export, GraphInfo(workspace, rated, load_s is not None, load_s, export_s)


def split_of(export: GraphExport, seed: int) -> RatingSplit:
    """The seed's random 80/10/10 split of the exported ratings, sorted first so that it does not depend on
    the order in which Neo4j returned them."""
    rated = export.edges["RATED"].sort_values(["source", "target"], kind="stable").reset_index(drop=True)
    return split_ratings(rated, "random", seed, FRACTIONS)


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
    trainset = SurpriseDataset.load_from_df(
        train[["source", "target", "rating"]], reader
    ).build_full_trainset()
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
            pairs = zip(frame["source"].tolist(), frame["target"].tolist(), strict=True)
            return np.fromiter((algo.predict(u, i).est for u, i in pairs), np.float64, len(frame))

        rows[name] = _scored(predict, split, m)
        _say(f"    {name}: test RMSE {rows[name].rmse:.4f} in {m.seconds:.1f}s")
    return rows


def global_mean_row(split: RatingSplit) -> Row:
    with measured() as m:
        mu = float(split.train["rating"].mean())
    return _scored(lambda frame: np.full(len(frame), mu), split, m)


def fit_kgrec(
    export: GraphExport, split: RatingSplit, config: TrainConfig
) -> tuple[TrainResult, Measure, list[float]]:
    """Train kgrec; also returns the seconds each GNN epoch took (from one epoch's end to the next's)."""
    stamps: list[float] = []  # the end of the last step before the GNN, then the end of each GNN epoch

    def progress(stage: str, step: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "gnn":
            stamps.append(now)
            if step % 25 == 0 or step == 1:
                _say(f"    kgrec gnn epoch {step}/{total} ({now - started:.0f}s)")
        else:
            if len(stamps) <= 1:  # no GNN epoch yet
                stamps[:] = [now]
            if step == total:
                _say(f"    kgrec {stage} done ({now - started:.0f}s)")

    started = time.perf_counter()
    with measured() as m:
        result = Trainer(config).fit(export, split, progress=progress)
    return result, m, np.diff(stamps).tolist()


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
        _say(f"  {name} seed {seed}: {len(split.train):,} train / {len(split.val):,} val / "
             f"{len(split.test):,} test")  # fmt: skip
        rows = {"global_mean": global_mean_row(split), **surprise_rows(split, seed)}
        result, m, _ = fit_kgrec(export, split, TrainConfig(seed=seed))
        rows.update(kgrec_rows(result, m))
        _say(f"    kgrec blend: test RMSE {rows['kgrec_blend'].rmse:.4f} in {m.seconds:.0f}s")
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
    print(f"\n{result['dataset']}: {graph['ratings']:,} ratings ({result['note']}); random 80/10/10 split, "
          f"seeds {', '.join(map(str, seeds))}; Neo4j workspace {graph['workspace']}: {load}, "
          f"exported in {graph['export_s']:.1f}s")  # fmt: skip
    head = "".join(f"{'RMSE s' + str(s):>10}" for s in seeds)
    print(f"{'model':<19}{head}{'RMSE mean ± sd':>19}{'MAE mean ± sd':>19}{'val RMSE':>10}{'train s':>9}"
          f"{'peak MiB':>10}")  # fmt: skip
    for model, summary in result["summary"].items():
        cells = "".join(f"{result['seeds'][str(s)]['models'][model]['rmse']:>10.4f}" for s in seeds)
        r, a = summary["rmse"], summary["mae"]
        print(f"{model:<19}{cells}{r['mean']:>11.4f} ± {r['sd']:.4f}{a['mean']:>11.4f} ± {a['sd']:.4f}"
              f"{summary['val_rmse_mean']:>10.4f}{summary['train_s_mean']:>9.1f}{summary['peak_mib_max']:>10.0f}")  # fmt: skip
    per_seed = ", ".join(f"{result['seeds'][str(s)]['blend_over_svdpp']:.4f}" for s in seeds)
    verdict = "met" if result["target_met"] else "NOT met"
    print(f"kgrec blend / SVD++ mean test RMSE: {result['blend_over_svdpp']:.4f} (per seed {per_seed}); "
          f"target <= {result['target_ratio']:.2f}: {verdict}")  # fmt: skip


# -- mini-batch ---------------------------------------------------------------------------------------------
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
        _say(f"  generated {len(dataset.ratings):,} ratings in {generate_s:.0f}s")
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
        ),  # fmt: skip
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
        "target_met": m.peak_mib * _MIB <= MINIBATCH_TARGET_BYTES,
        "test_rmse": {
            part: metrics.test[part].rmse for part in ("global_mean", "bias", "mf", "gnn", "blend")
        },
    }
    load = f"loaded in {info.load_s:.0f}s" if info.loaded else "graph reused"
    print(f"\nmini-batch: generated catalogue, {info.ratings:,} ratings ({n_users:,} users, "
          f"{args.minibatch_items:,} items; generated in {generate_s:.0f}s, {load}, exported in "
          f"{info.export_s:.0f}s); {metrics.ratings['train']:,} train ratings, mini-batch mode: "
          f"{metrics.minibatch} (threshold {config.minibatch_threshold:,}, batch {config.batch_size}, "
          f"fan-out {list(config.num_neighbors)})")  # fmt: skip
    print(f"GNN epochs {metrics.epochs['gnn']}: "
          f"{', '.join(f'{s:.1f}' for s in epoch_s)} s (mean {out['gnn_epoch_s_mean'] or 0:.1f} s; every "
          f"{config.eval_every}nd epoch includes a full-graph validation pass); MF {metrics.epochs['mf']} "
          f"epochs in {metrics.seconds['mf']:.0f}s; whole fit {m.seconds:.0f}s")  # fmt: skip
    verdict = "met" if out["target_met"] else "NOT met"
    print(f"peak RSS during the fit {m.peak_mib:,.0f} MiB = {m.peak_mib * _MIB / 1e9:.2f} GB (RSS before it "
          f"{m.rss_before_mib or 0:,.0f} MiB); whole phase {phase.peak_mib:,.0f} MiB; target <= 8 GB: "
          f"{verdict}")  # fmt: skip
    print("test RMSE: " + ", ".join(f"{k} {v:.4f}" for k, v in out["test_rmse"].items()))
    return out


# -- main ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--hin", type=Path, default=DATA / "amazon-hin", help="amazon-hin folder")
    parser.add_argument("--magazine", type=Path, default=DATA / "amazon2018-magazine", help="magazine folder")
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
    parser.add_argument("--minibatch-ratings", type=int, default=1_000_000, help="generated ratings")
    parser.add_argument("--minibatch-items", type=int, default=10_000, help="generated items")
    parser.add_argument("--minibatch-epochs", type=int, default=4, help="GNN epochs of the mini-batch run")
    parser.add_argument("--minibatch-mf-epochs", type=int, default=5, help="MF epochs of the mini-batch run")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    peak_reset = _reset_peak()
    record: dict[str, Any] = {
        "bench": "accuracy",
        "argv": sys.argv[1:] if argv is None else argv,
        "memory": "peak RSS in MiB: resource.getrusage(RUSAGE_SELF).ru_maxrss while the model trained, "
        + ("high-water mark reset before each via /proc/self/clear_refs; includes what the process held"
           if peak_reset else "NOT reset (no /proc/self/clear_refs): peak since the process started"),
        "peers": "scikit-surprise defaults, trained on the train part only; kgrec uses val for early "
        "stopping and blend weights",
        "datasets": {},
    }  # fmt: skip
    if not args.minibatch_only:
        if not args.skip_hin:
            _say("amazon-hin")
            export, info = graph_export(
                "bench-accuracy-hin", read_hin(args.hin), reload=args.reload, keep_server=args.keep_servers
            )
            result = run_dataset("amazon-hin", export, info, args.seeds, 0.99, "all ratings")
            record["datasets"]["amazon-hin"] = result
            print_table(result)
            del export
        if not args.skip_magazine:
            _say("amazon2018-magazine")
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
            del export, dataset
    if not args.skip_minibatch:
        _say("mini-batch")
        record["minibatch"] = run_minibatch(args)
    record["wall_s"] = time.perf_counter() - started
    line = json.dumps(record)
    if args.json_out is not None:
        args.json_out.write_text(line + "\n")
    print(f"\nwall time {record['wall_s']:.0f}s; times are noisy (a shared 2-core machine)")
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
