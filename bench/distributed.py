"""Data-parallel training benchmark (issue 25): one process against ``--nproc`` processes at amazon-hin size.

The data goes the real way (loaded into Neo4j in the ``bench-distributed-hin`` workspace, reused when it
holds the same number of ratings, exported once with ``store.export()``); then, on the same data and split:

- the rating model (:class:`gnn.Trainer`), in mini-batches in both runs (``minibatch_threshold=1``; several
  processes always train in mini-batches), ``--epochs`` GNN epochs, text features off: test RMSE of the GNN
  part and of the blend on the seed's random 80/10/10 split;
- the LightGCN (:class:`rank.kg_gcn.KnowledgeGCN`, the ranker's defaults) on a per-user 80/20 holdout of the
  interactions: NDCG@10 over the whole catalogue, the user's training items left out.

One process runs in this process twice, with all its torch threads and with one (a loaded machine makes
intra-op threads wait for each other; this separates that from data parallelism); several run through
:func:`gnn.distributed.launch` (each with its share of the threads), and their wall time includes starting
the processes and handing them the export through a file. Prints time, RMSE and NDCG@10 for each; the last line is the whole result as JSON
(also written to ``--json-out``).

    .venv/bin/python bench/distributed.py [--nproc 2] [--epochs 20] [--gcn-epochs 30] [--json-out F]
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
from common import HIN, graph_export, say, split_of

from gnn import TrainConfig, Trainer
from gnn.distributed import launch
from gnn.parallel_fit import fit_in_processes, handoff_read, handoff_write
from gnn.threads import torch_threads
from kg import GraphExport
from loaders import read_hin
from rank import Interactions, holdout_split, ranking_metrics
from rank.evaluate import top_k
from rank.kg_gcn import KnowledgeGCN
from rank.knowledge import Knowledge

SEED = 0


def rating_run(export: GraphExport, nproc: int, epochs: int) -> dict[str, Any]:
    config = TrainConfig(
        seed=SEED, text=False, max_epochs=epochs, minibatch_threshold=1, device="cpu", patience=epochs
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


def _gcn_inputs(export: GraphExport) -> tuple[Interactions, pd.DataFrame, Knowledge]:
    ratings = export.edges["RATED"].sort_values(["source", "target"], kind="stable").reset_index(drop=True)
    items = np.asarray(export.node_keys("Item"))
    split = holdout_split(ratings, "random", 0.2, SEED)
    users = np.asarray(pd.unique(split.train["source"].astype(str)))
    return Interactions.build(split.train, items, users), split.test, Knowledge.from_export(export, items)


def _fit_gcn(inputs: str, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    train, knowledge = handoff_read(inputs)
    gcn = KnowledgeGCN(knowledge, epochs=epochs, seed=SEED, device="cpu").fit(train)
    return gcn.network.user_embeddings, gcn.network.item_embeddings


def gcn_run(export: GraphExport, nproc: int, epochs: int) -> dict[str, Any]:
    train, test, knowledge = _gcn_inputs(export)
    started = time.perf_counter()
    gcn = KnowledgeGCN(knowledge, epochs=epochs, seed=SEED, device="cpu")
    if nproc == 1:
        gcn.fit(train)
    else:
        with tempfile.TemporaryDirectory(prefix="kgrec-bench-") as tmp:
            inputs = handoff_write(Path(tmp), (train, knowledge))
            users, items = launch(nproc, _fit_gcn, str(inputs), epochs, device="cpu")
        gcn.network.user_embeddings, gcn.network.item_embeddings = users, items
    seconds = time.perf_counter() - started
    held = Interactions.build(test, train.item_keys, list(pd.unique(test["source"].astype(str))))
    rows = train.user_rows(held.user_keys)
    relevant = [
        held.matrix.indices[held.matrix.indptr[r] : held.matrix.indptr[r + 1]] for r in range(held.n_users)
    ]
    tops = []
    for s in range(0, len(rows), 512):
        seen = train.seen(rows[s : s + 512])
        tops.append(top_k(gcn.scores(rows[s : s + 512], seen), 10, exclude=seen))
    metrics = ranking_metrics(np.vstack(tops), relevant, (10,), train.popularity())
    return {"seconds": seconds, "ndcg10": metrics.at(10).ndcg, "users": metrics.users}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hin", default=HIN, help="amazon-hin folder")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20, help="GNN epochs of the rating model")
    parser.add_argument("--gcn-epochs", type=int, default=30, help="LightGCN epochs (the ranker's default)")
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
        "runs": {},
    }
    threads = max(1, os.cpu_count() or 1)
    for label, nproc, count in (
        ("1 process", 1, threads),
        ("1 process, 1 thread", 1, 1),
        (f"{args.nproc} processes", args.nproc, threads),
    ):
        say(f"  {label}: rating model")
        with torch_threads(count):  # the workers set their own share
            rating = rating_run(export, nproc, args.epochs)
            say(f"  {label}: LightGCN")
            gcn = gcn_run(export, nproc, args.gcn_epochs)
        record["runs"][label] = {"rating": rating, "lightgcn": gcn}
        print(
            f"{label}: rating model {rating['seconds']:.0f}s (GNN {rating['gnn_seconds']:.0f}s, "
            f"{rating['gnn_epochs']} epochs), test RMSE GNN {rating['test_rmse_gnn']:.4f} blend "
            f"{rating['test_rmse_blend']:.4f}; LightGCN {gcn['seconds']:.0f}s, NDCG@10 {gcn['ndcg10']:.4f}",
            flush=True,
        )
    record["wall_s"] = time.perf_counter() - started
    line = json.dumps(record)
    if args.json_out:
        Path(args.json_out).write_text(line + "\n")
    print(f"wall time {record['wall_s']:.0f}s ({record['machine']}: figures are indicative)")
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
