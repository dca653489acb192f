"""Scale benchmark: a generated shop (``bench/shop.py``) end to end at one or more sizes: generate, load (the
bulk import), the shop's views/carts/purchases through the service's event write, train (rating model, every
candidate model, the fusion ranker, the search ranker), ``recommend``, ``explain``, search; and beside them
implicit's ALS alone on the same training interactions, its NDCG@10 against the fusion's on one held-out slice.

Per stage: wall seconds, peak memory of this process and of the workspace's Neo4j, the store's size on disk;
per size, the cost per million interactions, and between two sizes how it grows. A stage that fails (memory,
time, an error) is recorded with its error and the run goes on; the results file is rewritten after every
stage, so that a run stopped midway leaves the figures it has.

    .venv/bin/python bench/scale.py --size 1m
    .venv/bin/python bench/scale.py --sizes 100k,1m [--test-users 2000] [--gnn-epochs N]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from common import percentiles, say, write_results
from implicit.cpu.als import AlternatingLeastSquares
from shop import Shop, held_out, shop, training_interactions
from stages import Run
from threadpoolctl import threadpool_limits

from core.settings import Settings
from gnn import TrainConfig
from kg import ManagedNeo4j
from kg.bulk_import import BulkMode, write_dataset
from kg.events import EventRow, ensure_event_schema, record_events
from kgrec import Recommender
from rank import RankConfig
from rank.interactions import Interactions
from rank.metrics import ranking_metrics

SIZES = {"10k": 10_000, "100k": 100_000, "300k": 300_000, "1m": 1_000_000, "3m": 3_000_000, "10m": 10_000_000}
EVENT_BATCH = 20_000
ABOUT = """
A generated shop (`bench/shop.py`): a user per 10 interactions, an item per 50, Zipf item popularity, a
department > line > leaf category tree with power-law brands per line, users leaning to up to three lines,
three years of timestamps; each (user, item) pair is one interaction: 40% ratings, 42% views, 10% carts, 8%
purchases. Stages: `empty` deletes what an earlier run left in the workspace; `load` writes ratings, items,
brands and categories into the empty workspace through `kg.bulk_import.write_dataset` (auto: the bulk
import, neo4j-admin, from 200,000 rows; `load_path` says which); `events` writes the views, carts and
purchases through `kg.events.record_events` (the service's `POST /events` write, 20,000 per transaction;
with `--reuse-workspace` these three are not run: the workspace holds them from an earlier run);
`train` is `Recommender.fit` with the held-out slice as its test ratings (export, rating model, candidates,
fusion, search ranker, save, embeddings written back), split into its parts below; `recommend` is one user a
call (`Recommender.recommend`, k=10), `explain` one pair a call, `search` one query a call (half with a
user). Each size runs in a process of its own; `process_peak_mib` is that process's peak RSS during the stage
(`process_before_mib` its RSS before the stage: what earlier stages left, which the peak includes; the
generated interactions are dropped after `als alone`, before `train`, which holds only its own); `neo4j_peak_mib` the
Neo4j server's VmHWM (its peak since it started; the bulk import restarts it) read from /proc after the
stage; `store_mib` the workspace's Neo4j data directory on disk; `s_per_m` the stage's seconds per million
interactions. Held-out slice: for up to `test_users` users with two ratings or more, their latest rating,
left out of every model's training. `als_alone` is implicit's `AlternatingLeastSquares` with its default
parameters (what one would pick for speed) on the same training interactions (ratings and events, the slice
left out), ranked with the same protocol as the fusion (whole catalogue, training items left out). `growth`
(between two sizes): `marginal_s_per_m` is the extra seconds per extra million interactions, `exponent` the
power of the size the time grows with (1: linear).
""".strip()


def write_events(rec: Recommender, events: pd.DataFrame) -> dict[str, int]:
    ensure_event_schema(rec.store)
    written = 0
    for start in range(0, len(events), EVENT_BATCH):
        part = events.iloc[start : start + EVENT_BATCH]
        rows: list[EventRow] = [
            {"id": f"e{start + n}", "user": u, "item": i, "kind": k, "value": None, "ts": int(t)}
            for n, (u, i, k, t) in enumerate(part[["user", "item", "kind", "ts"]].itertuples(index=False))
        ]
        written += len(record_events(rec.store, rows).written)
        if (start // EVENT_BATCH) % 10 == 9:
            say(f"    events {start + len(part):,}/{len(events):,}")
    return {"events_written": written}


class TrainClock:
    """Progress stamps of ``Recommender.fit``: when the rating model began and ended, and the search ranker."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: dict[str, float] = {}
        self.last_say = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        self.marks.setdefault(f"{stage}:first", now)
        self.marks[f"{stage}:last"] = now
        if now - self.last_say > 30:
            self.last_say = now
            say(f"    train: {stage} {done}/{total} ({now - self.started:.0f}s)")

    def since(self, key: str) -> float | None:
        return round(self.marks[key] - self.started, 1) if key in self.marks else None


def train(
    rec: Recommender, test: pd.DataFrame, config: TrainConfig, rank_config: RankConfig, out: dict[str, Any]
) -> None:
    clock = TrainClock()
    result = rec.fit(config, rank_config, test_ratings=test, progress=clock)
    ended = time.perf_counter()
    seconds = result.fusion.seconds
    parts = {f"candidate {p}": round(s, 1) for p, s in seconds.items() if p not in ("fusion", "total")}
    out["train_parts_s"] = {
        "export": round(clock.marks.get("export:last", clock.started) - clock.started, 1),
        "rating model": round(sum(result.rating.seconds.values()), 1),
        **parts,
        "fusion (LambdaRank)": round(seconds.get("fusion", 0.0), 1),
        "ranker in all": round(seconds.get("total", 0.0), 1),
        "search ranker": round(clock.marks["search:last"] - clock.marks["search:first"], 1)
        if "search:first" in clock.marks
        else None,
        "fit in all": round(ended - clock.started, 1),
    }
    out["rating_model_epochs"] = dict(result.rating.epochs)
    # beside ALS alone's, which ran before training
    out.setdefault("accuracy", {})["fusion"] = {
        "ndcg@10": round(result.ranking.at(10).ndcg, 4),
        "recall@10": round(result.ranking.at(10).recall, 4),
    }
    for part, metrics in result.parts.items():
        out["accuracy"][f"fusion's {part}"] = {
            "ndcg@10": round(metrics.at(10).ndcg, 4),
            "recall@10": round(metrics.at(10).recall, 4),
        }
    out["rating_rmse"] = {k: round(v.rmse, 4) for k, v in result.rating.test.items()}


def als_alone(data: Shop, test: pd.DataFrame, out: dict[str, Any]) -> None:
    """implicit's ALS with its defaults on the training interactions; NDCG@10 on ``test``, as the fusion's."""
    train_frame = training_interactions(data, test)
    items = data.dataset.items["id"].to_numpy()
    inter = Interactions.build(train_frame, items)
    started = time.perf_counter()
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(random_state=0, calculate_training_loss=False)
        model.fit(inter.matrix, show_progress=False)
    fit_s = time.perf_counter() - started
    users = inter.user_rows(test["user"].astype(str).to_numpy())
    cols = inter.item_rows(test["item"].astype(str).to_numpy())
    ok = users >= 0
    matrix: sp.csr_matrix = inter.matrix
    top, _ = model.recommend(users[ok], matrix[users[ok]], N=20, filter_already_liked_items=True)
    relevant = [np.array([c]) if c >= 0 else np.array([], np.int64) for c in cols[ok]]
    metrics = ranking_metrics(np.asarray(top), relevant, (10, 20), inter.popularity())
    out.setdefault("accuracy", {})["als alone (implicit defaults)"] = {
        "ndcg@10": round(metrics.at(10).ndcg, 4),
        "recall@10": round(metrics.at(10).recall, 4),
    }
    out["als_alone"] = {
        "fit_s": round(fit_s, 1),
        "training_interactions": int(matrix.nnz),
        "factors": model.factors,
        "iterations": model.iterations,
    }


def serve(
    rec: Recommender, catalogue: pd.DataFrame, test: pd.DataFrame, out: dict[str, Any], kind: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    users = list(rng.choice(test["user"].to_numpy(), min(200, len(test)), replace=False))
    times: list[float] = []
    if kind == "recommend":
        lists = {}
        for user in users:
            started = time.perf_counter()
            lists[user] = rec.recommend(user, k=10)
            times.append(time.perf_counter() - started)
        out["lists"] = {u: [r.item for r in lists[u]] for u in users[:40]}
    elif kind == "explain":
        pairs = [(u, items[0]) for u, items in out["lists"].items() if items][:20]
        for user, item in pairs:
            started = time.perf_counter()
            rec.explain(user, item)
            times.append(time.perf_counter() - started)
    else:
        items = catalogue.sample(30, random_state=seed)
        queries = [t.split()[0] for t in items["title"]] + [" ".join(t.split()[1:3]) for t in items["title"]]
        for n, query in enumerate(queries):
            started = time.perf_counter()
            rec.search(query, user=users[n] if n % 2 else None, k=10)
            times.append(time.perf_counter() - started)
    out[kind] = {"calls": len(times), "first_ms": round(times[0] * 1000, 1), **percentiles(times[1:])}
    say(f"    {kind}: {out[kind]}")


def feed(
    rec: Recommender,
    settings: Settings,
    run: Run,
    data: Shop,
    test: pd.DataFrame,
    out: dict[str, Any],
    reuse: bool,
) -> None:
    """The stages before training: the shop loaded and its events written into an emptied workspace (not
    with ``reuse``: the workspace holds them from an earlier run), and ALS alone on its training
    interactions."""

    def load() -> None:
        out["load_path"] = (
            "bulk import"
            if write_dataset(rec.store, settings, data.dataset, BulkMode.AUTO, say)
            else "transactional"
        )

    # a workspace left by an earlier run is emptied first, outside the load's figures (deleting 10M
    # relationships in batches takes minutes)
    if not reuse:
        run.stage("empty", rec.store.reset)
        run.stage("load", load, needs=("empty",))
        run.stage("events", lambda: write_events(rec, data.events), needs=("load",))
    run.stage("als alone", lambda: als_alone(data, test, out))


def one_size(label: str, args: argparse.Namespace, result: dict[str, Any], save: Callable[[], None]) -> None:
    settings = Settings(workspace=f"bench-scale-{label}")
    server = ManagedNeo4j(settings)
    was_running = server.status().answers
    out: dict[str, Any] = {"load_average_start": round(os.getloadavg()[0], 1)}
    result["sizes"][label] = out
    run = Run(settings, SIZES[label], save)
    out["stages"] = run.stages
    say(f"{label}: workspace {settings.workspace}")
    data: Shop = run.stage("generate", lambda: shop(SIZES[label], args.seed))
    if data is None:
        return
    out |= {
        "interactions": data.interactions,
        "ratings": len(data.dataset.ratings),
        "events": len(data.events),
        "users": int(pd.concat([data.dataset.ratings["user"], data.events["user"]]).nunique()),
        "items": len(data.dataset.items),
    }
    test = held_out(data, args.test_users, args.seed)
    out["test_users"] = len(test)
    config = TrainConfig(seed=args.seed, **({"max_epochs": args.gnn_epochs} if args.gnn_epochs else {}))
    rank_config = RankConfig(
        seed=args.seed,
        params={"lightgcn": {"epochs": args.lightgcn_epochs}} if args.lightgcn_epochs else {},
        **({"fusion_draws": args.fusion_draws} if args.fusion_draws else {}),
    )
    out["gnn_max_epochs"] = config.max_epochs
    out["lightgcn_epochs"] = rank_config.params_for("lightgcn").epochs
    out["fusion_draws"] = rank_config.fusion_draws
    try:
        with Recommender.connect(settings, progress=say) as rec:
            feed(rec, settings, run, data, test, out, args.reuse_workspace)
            # the generated interactions are in the graph and ALS has had them: training holds only its own
            catalogue = data.dataset.items
            del data
            run.stage("train", lambda: train(rec, test, config, rank_config, out), needs=("load",))
            for kind in ("recommend", "explain", "search"):
                run.stage(
                    kind,
                    lambda kind=kind: serve(rec, catalogue, test, out, kind, args.seed),
                    needs=("train",),
                )
    finally:
        out["load_average_end"] = round(os.getloadavg()[0], 1)
        if not was_running:
            server.stop()  # the workspace's own managed server, which this run started
        save()


def growth(result: dict[str, Any]) -> dict[str, Any]:
    """Between each pair of consecutive sizes: how each stage's time and peak memory grow."""
    done = [(label, s) for label, s in result["sizes"].items() if "interactions" in s]
    rows: dict[str, Any] = {}
    for (a, sa), (b, sb) in zip(done, done[1:], strict=False):
        extra = (sb["interactions"] - sa["interactions"]) / 1e6
        ratio = math.log(sb["interactions"] / sa["interactions"])
        for stage, fb in sb["stages"].items():
            fa = sa["stages"].get(stage, {})
            if "failed" in fa or "failed" in fb or not fa or not fb or extra <= 0:
                continue
            rows[f"{stage} {a}->{b}"] = {
                "marginal_s_per_m": round((fb["seconds"] - fa["seconds"]) / extra, 1),
                "exponent": round(math.log(max(fb["seconds"], 0.05) / max(fa["seconds"], 0.05)) / ratio, 2),
                "memory_exponent": round(
                    math.log(fb["process_peak_mib"] / fa["process_peak_mib"]) / ratio, 2
                ),
            }
    return rows


def save(result: dict[str, Any], partial: Path | None = None) -> None:
    """Write the results file (and, in a size's own process, that size's figures to ``partial``)."""
    result["growth"] = growth(result)
    body = {k: v for k, v in result.items() if k != "sizes"}
    for label, s in result["sizes"].items():
        body[label] = {k: v for k, v in s.items() if k != "lists"}
    write_results("scale", "Scale: a generated shop end to end", ABOUT, body, name=result["name"])
    if partial is not None:
        partial.write_text(json.dumps(result["sizes"], default=str))


def size_alone(label: str, args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    """One size in a process of its own, so that its memory figures hold nothing of an earlier size's (the
    allocator keeps what a process freed): its figures, or as far as they got where the process died."""
    with tempfile.TemporaryDirectory() as folder:
        partial = Path(folder) / "size.json"
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                return pool.submit(_one_size_saved, label, args, result, partial).result()
        except Exception as e:  # the process killed (memory) or failed: what it saved, and why it stopped
            out = json.loads(partial.read_text()).get(label, {}) if partial.exists() else {}
            return out | {"failed": f"{type(e).__name__}: {e}"[:300]}


def _one_size_saved(
    label: str, args: argparse.Namespace, result: dict[str, Any], partial: Path
) -> dict[str, Any]:
    one_size(label, args, result, lambda: save(result, partial))
    out: dict[str, Any] = result["sizes"][label]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), help="one size")
    parser.add_argument("--sizes", help="several, comma-separated, smallest first (e.g. 100k,1m)")
    parser.add_argument("--test-users", type=int, default=2000, help="users in the held-out slice")
    parser.add_argument(
        "--gnn-epochs", type=int, default=0, help="cap the rating model's epochs (0: default)"
    )
    parser.add_argument("--lightgcn-epochs", type=int, default=0, help="cap LightGCN's epochs (0: default)")
    parser.add_argument(
        "--fusion-draws", type=int, default=0, help="the ranker's validation draws (0: default)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reuse-workspace",
        action="store_true",
        help="the workspaces hold their shops from an earlier run of the same sizes and seed: no empty, load"
        " or events stage, training starts on what is there",
    )
    parser.add_argument(
        "--name", default="scale", help="the results file, docs/benchmarks/NAME.md (default: scale)"
    )
    args = parser.parse_args()
    labels = [s.strip() for s in args.sizes.split(",")] if args.sizes else [args.size or "100k"]
    if unknown := [s for s in labels if s not in SIZES]:
        parser.error(f"unknown size {', '.join(unknown)}: one of {', '.join(SIZES)}")
    cores = len(os.sched_getaffinity(0))
    shared = (
        f"the machine is shared: load average {os.getloadavg()[0]:.1f} on {cores} cores at the start;"
        " timings are noisy"
    )
    say(shared)
    result: dict[str, Any] = {"bench": "scale", "name": args.name, "shared": shared, "sizes": {}}
    started = time.perf_counter()
    for label in labels:
        result["sizes"][label] = size_alone(label, args, result)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    save(result)
    for label, s in result["sizes"].items():
        for stage, f in s.get("stages", {}).items():
            print(f"{label} {stage}: " + ", ".join(f"{k} {v}" for k, v in f.items()))
        for name, acc in s.get("accuracy", {}).items():
            print(f"{label} NDCG@10 {name}: {acc['ndcg@10']}")
    print(json.dumps({k: v for k, v in result.items()}, default=str))


if __name__ == "__main__":
    main()
