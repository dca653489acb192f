"""Data-parallel training benchmark (issue 25): one process against ``--nproc`` processes at amazon-hin size.

The data goes the real way (loaded into Neo4j in the ``bench-distributed-hin`` workspace, reused when it
holds the same number of ratings, exported once with ``store.export()``); then, on the same data and split:

- the rating model (:class:`gnn.Trainer`), in mini-batches in both runs (``minibatch_threshold=1``; several
  processes always train in mini-batches), ``--epochs`` GNN epochs, text features off: test RMSE of the GNN
  part and of the blend on the seed's random 80/10/10 split;
- LightGCN (:class:`rank.models.lightgcn.LightGCN`, the ranker's defaults) on a per-user 80/20 holdout of
  the interactions: NDCG@10 over the whole catalogue, the user's training items left out.

Both splits are the seed-0 ones; what changes with ``--seeds`` is the models' seed (initialisation and
batch order), so that the spread over seeds of one process says how much a figure moves by chance alone.
For each seed, one process runs in this process with one torch thread and ``--nproc`` run through
:func:`gnn.distributed.launch` (each with its share of the threads; their wall time includes starting the
processes and handing them the export through a file). At the first seed one process also runs with all
its torch threads: the same figures (one process computes the same with any thread count), a different
time (a loaded machine makes intra-op threads wait for each other; one thread separates that from data
parallelism).

Quality is within noise when the difference of the means (several processes minus one) is at most two
standard errors of that difference (from the sample standard deviations over seeds). Prints time, RMSE
and NDCG@10 per run, then mean and standard deviation per setting and the verdict; the last line is the
whole result as JSON (also written to ``--json-out``); the figures go to docs/benchmarks/distributed.md (with
the command, the date, the machine).

    .venv/bin/python bench/distributed.py [--nproc 2] [--seeds 3] [--epochs 20] [--lightgcn-epochs 30] [--json-out F]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import HIN, graph_export, say, split_of, write_results

from gnn import TrainConfig, Trainer
from gnn.distributed import launch
from gnn.parallel_fit import fit_in_processes, handoff_read, handoff_write
from gnn.threads import torch_threads
from kg import GraphExport
from loaders import read_hin
from rank import Interactions, holdout_split, ranking_metrics
from rank.evaluate import top_k
from rank.knowledge import Knowledge
from rank.models import Context
from rank.models.lightgcn import LightGCN, LightGCNParams

SEED = 0
"""The seed of both splits."""

QUALITY = {"test_rmse_gnn": "rating", "test_rmse_blend": "rating", "ndcg10": "lightgcn"}
"""The quality figures compared between one process and several, and the run each comes from."""


def rating_run(export: GraphExport, nproc: int, epochs: int, seed: int) -> dict[str, Any]:
    config = TrainConfig(
        seed=seed,
        text=False,
        max_epochs=epochs,
        minibatch_max_epochs=epochs,
        minibatch_threshold=1,
        device="cpu",
        patience=epochs,
    )
    split = split_of(export, SEED)
    started = time.perf_counter()
    if nproc == 1:
        result = Trainer(config).fit(export, split)
    else:
        result = fit_in_processes(nproc, export, config, split)
    seconds = time.perf_counter() - started
    test = result.metrics.test
    return {
        "seconds": seconds,
        "gnn_seconds": result.metrics.seconds["gnn"],
        "gnn_epochs": result.metrics.epochs["gnn"],
        "test_rmse_gnn": test["gnn"].rmse,
        "test_rmse_blend": test["blend"].rmse,
    }


def _lightgcn_inputs(export: GraphExport) -> tuple[Interactions, pd.DataFrame, Knowledge]:
    ratings = export.edges["RATED"].sort_values(["user", "item"], kind="stable").reset_index(drop=True)
    items = np.asarray(export.node_keys("Item"))
    split = holdout_split(ratings, "random", 0.2, SEED)
    users = np.asarray(pd.unique(split.train["user"].astype(str)))
    return Interactions.build(split.train, items, users), split.test, Knowledge.from_export(export, items)


def _fit_lightgcn(inputs: str, epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    train, knowledge = handoff_read(inputs)
    lightgcn = LightGCN(LightGCNParams(epochs=epochs), Context(knowledge, seed, "cpu")).fit(train)
    return lightgcn.network.user_embeddings, lightgcn.network.item_embeddings


def lightgcn_run(export: GraphExport, nproc: int, epochs: int, seed: int) -> dict[str, Any]:
    train, test, knowledge = _lightgcn_inputs(export)
    started = time.perf_counter()
    lightgcn = LightGCN(LightGCNParams(epochs=epochs), Context(knowledge, seed, "cpu"))
    if nproc == 1:
        lightgcn.fit(train)
    else:
        with tempfile.TemporaryDirectory(prefix="kgrec-bench-") as tmp:
            inputs = handoff_write(Path(tmp), (train, knowledge))
            users, items = launch(nproc, _fit_lightgcn, str(inputs), epochs, seed, device="cpu")
        lightgcn.network.user_embeddings, lightgcn.network.item_embeddings = users, items
    seconds = time.perf_counter() - started
    held = Interactions.build(test, train.item_keys, list(pd.unique(test["user"].astype(str))))
    rows = train.user_rows(held.user_keys)
    relevant = [
        held.matrix.indices[held.matrix.indptr[r] : held.matrix.indptr[r + 1]] for r in range(held.n_users)
    ]
    tops = []
    for s in range(0, len(rows), 512):
        seen = train.seen(rows[s : s + 512])
        tops.append(top_k(lightgcn.scores(rows[s : s + 512], seen), 10, exclude=seen))
    metrics = ranking_metrics(np.vstack(tops), relevant, (10,), train.popularity())
    return {"seconds": seconds, "ndcg10": metrics.at(10).ndcg, "users": metrics.users}


def within_noise(one: list[float], many: list[float]) -> dict[str, Any]:
    """Mean and sample standard deviation of each list, the difference of the means (``many`` minus
    ``one``), two standard errors of that difference, and whether the difference is within them.

    >>> v = within_noise([1.0, 1.2, 1.1], [1.1, 1.3, 1.2])
    >>> round(v["difference"], 3), round(v["two_se"], 3), v["within"]
    (0.1, 0.163, True)
    """
    a, b = np.asarray(one, dtype=float), np.asarray(many, dtype=float)
    sd_a = float(a.std(ddof=1)) if len(a) > 1 else float("nan")
    sd_b = float(b.std(ddof=1)) if len(b) > 1 else float("nan")
    two_se = 2 * float(np.sqrt(sd_a**2 / len(a) + sd_b**2 / len(b)))
    difference = float(b.mean() - a.mean())
    return {
        "one_mean": float(a.mean()),
        "one_sd": sd_a,
        "many_mean": float(b.mean()),
        "many_sd": sd_b,
        "difference": difference,
        "two_se": two_se,
        "within": bool(abs(difference) <= two_se),
    }


def _run(
    export: GraphExport, label: str, nproc: int, threads: int, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    say(f"  seed {seed}, {label}: rating model")
    with torch_threads(threads):  # the workers set their own share
        rating = rating_run(export, nproc, args.epochs, seed)
        say(f"  seed {seed}, {label}: LightGCN")
        lightgcn = lightgcn_run(export, nproc, args.lightgcn_epochs, seed)
    print(
        f"seed {seed}, {label}: rating model {rating['seconds']:.0f}s (GNN {rating['gnn_seconds']:.0f}s, "
        f"{rating['gnn_epochs']} epochs), test RMSE GNN {rating['test_rmse_gnn']:.4f} blend "
        f"{rating['test_rmse_blend']:.4f}; LightGCN {lightgcn['seconds']:.0f}s, NDCG@10 {lightgcn['ndcg10']:.4f}",
        flush=True,
    )
    return {"seed": seed, "label": label, "rating": rating, "lightgcn": lightgcn}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hin", default=HIN, help="amazon-hin folder")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3, help="model seeds 0..N-1 (both splits stay seed 0)")
    parser.add_argument("--epochs", type=int, default=20, help="GNN epochs of the rating model")
    parser.add_argument(
        "--lightgcn-epochs", type=int, default=30, help="LightGCN epochs (the ranker's default)"
    )
    parser.add_argument("--json-out", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    say("amazon-hin")
    export, _ = graph_export("bench-distributed-hin", read_hin(args.hin), reload=False, keep_server=False)
    record: dict[str, Any] = {
        "bench": "distributed",
        "argv": sys.argv[1:] if argv is None else argv,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU only, shared with other work",
        "ratings": len(export.edges["RATED"]),
        "runs": [],
    }
    threads = max(1, os.cpu_count() or 1)
    many = f"{args.nproc} processes"
    one = "1 process, 1 thread"
    for seed in range(args.seeds):
        if seed == 0:
            record["runs"].append(_run(export, "1 process", 1, threads, args, seed))
        record["runs"].append(_run(export, one, 1, 1, args, seed))
        record["runs"].append(_run(export, many, args.nproc, threads, args, seed))
    record["quality"] = {}
    for figure, part in QUALITY.items():
        values = {
            label: [r[part][figure] for r in record["runs"] if r["label"] == label] for label in (one, many)
        }
        verdict = within_noise(values[one], values[many])
        record["quality"][figure] = verdict
        print(
            f"{figure}: {one} {verdict['one_mean']:.4f} ± {verdict['one_sd']:.4f}, {many} "
            f"{verdict['many_mean']:.4f} ± {verdict['many_sd']:.4f} (mean ± sd over {args.seeds} seeds); "
            f"difference {verdict['difference']:+.4f}, two standard errors {verdict['two_se']:.4f}: "
            f"{'within noise' if verdict['within'] else 'NOT within noise'}",
            flush=True,
        )
    record["wall_s"] = time.perf_counter() - started
    about = (
        "Per run (setting and model seed): the rating model (mini-batches, text features off: seconds, test"
        " RMSE of the GNN part and the blend) and the LightGCN candidate model (seconds, NDCG@10 on a"
        " per-user 80/20 holdout), in one process (one thread; at seed 0 also all threads) and in several"
        " data-parallel processes (their wall time includes starting them); `quality`: mean and sd over"
        " seeds per setting and whether the difference is within two standard errors."
    )
    shown = {k: v for k, v in record.items() if k not in ("argv", "date", "machine")}
    write_results("distributed", "Data-parallel training", about, shown, argv=record["argv"])
    line = json.dumps(record)
    if args.json_out:
        Path(args.json_out).write_text(line + "\n")
    print(f"wall time {record['wall_s']:.0f}s ({record['machine']}: figures are indicative)")
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
