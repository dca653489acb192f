"""Explanation benchmark: paths for sampled (user, top-10 recommendation) pairs of a trained model.

For ``--pairs`` pairs (one random user, one random item of that user's top ``--k`` unseen items) prints
coverage (share with at least one path), validity (share of returned paths found again by independent
Cypher; must be 100%), fidelity (mean drop in predicted rating when the top path's edges are removed from the
model's input, against removing a random walk of the same length from the user), diversity of path kinds,
and latency per explanation (p50, p95), then a final JSON line.

    .venv/bin/python bench/explanations.py [--data ../shared/data/amazon-hin] [--workspace bench-explain]
        [--model models/amazon-hin] [--reload] [--pairs 200] [--k 10] [--seed 0]
    .venv/bin/python bench/explanations.py --demo        # the generated catalogue: a quick smoke run

The graph is loaded when the workspace is empty (or with ``--reload``); the model is loaded from
``--model`` when it holds a checkpoint, else trained (``TrainConfig(seed=...)``) and saved there.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from common import HIN, ROOT

from core.settings import Settings
from explain import (
    CounterfactualScorer,
    ExplainedPath,
    Explainer,
    LocalCounterfactualScorer,
    PathNode,
    PathRel,
)
from explain.scoring import edge_rows
from gnn import RatingModel, TrainConfig, Trainer
from kg import GraphExport, GraphStore
from kg.paths import path_exists
from loaders import read_hin
from loaders.demo import demo_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HIN)
    parser.add_argument("--demo", action="store_true", help="use the generated demo catalogue instead")
    parser.add_argument("--workspace", default=None, help="default: bench-explain or bench-explain-demo")
    parser.add_argument("--model", type=Path, default=None, help="default: models/<workspace>")
    parser.add_argument("--reload", action="store_true", help="empty the graph and load the data again")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-scored", type=int, default=12, help="paths scored with the model per pair")
    parser.add_argument(
        "--scorer",
        choices=["local", "full"],
        default="local",
        help="counterfactual on the pair's computation subgraph (exact, fast) or the whole graph",
    )
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="GNN epochs when training (default: config)"
    )
    args = parser.parse_args()
    workspace = args.workspace or ("bench-explain-demo" if args.demo else "bench-explain")
    model_dir = args.model or ROOT / "models" / workspace
    rng = np.random.default_rng(args.seed)

    with GraphStore.connect(Settings(workspace=workspace)) as store:
        if args.reload or store.stats().nodes.get("Item", 0) == 0:
            store.reset()
            started = time.perf_counter()
            store.write(demo_dataset()[0] if args.demo else read_hin(args.data))
            print(f"loaded the graph in {time.perf_counter() - started:.1f} s")
        export = store.export()
        model = _model(export, model_dir, args.seed, args.max_epochs)
        schema = store.schema()
        pairs = _sample_pairs(model, export, args.pairs, args.k, rng)
        scorer = (LocalCounterfactualScorer if args.scorer == "local" else CounterfactualScorer)(
            model, schema
        )
        explainer = Explainer(store, scorer, max_scored=args.max_scored, schema=schema)
        walker = RandomWalker(export)
        explainer.explain(*pairs[0])  # plan the queries once; latency is measured warm

        latencies: list[float] = []
        kinds: Counter[str] = Counter()
        top_kinds: Counter[str] = Counter()
        covered = valid = returned = 0
        top_drops, random_drops = [], []
        for user, item in pairs:
            started = time.perf_counter()
            explanation = explainer.explain(user, item, top=3)
            latencies.append(time.perf_counter() - started)
            if not explanation.paths:
                continue
            covered += 1
            for p in explanation.paths:
                returned += 1
                valid += path_exists(store, p.model_dump(), schema)
                kinds[p.kind] += 1
            best = explanation.paths[0]
            top_kinds[best.kind] += 1
            walk = walker.walk(user, len(best.rels), rng)
            if walk is not None and edge_rows(walk, schema, model.id_map):
                top_drops.append(best.score)
                random_drops.append(scorer(user, item, [walk]).values[0])

    n = len(pairs)
    total_kinds = sum(kinds.values())
    entropy = (
        -sum(c / total_kinds * math.log2(c / total_kinds) for c in kinds.values()) if total_kinds else 0.0
    )
    lat = np.array(latencies) * 1000
    result = {
        "pairs": n,
        "coverage": covered / n,
        "validity": valid / returned if returned else 1.0,
        "paths_returned": returned,
        "fidelity_top_path": float(np.mean(top_drops)) if top_drops else None,
        "fidelity_random_path": float(np.mean(random_drops)) if random_drops else None,
        "fidelity_pairs": len(top_drops),
        "kinds": dict(kinds.most_common()),
        "top_path_kinds": dict(top_kinds.most_common()),
        "kind_entropy_bits": round(entropy, 3),
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p95": float(np.percentile(lat, 95)),
        "max_scored": args.max_scored,
        "scorer": args.scorer,
    }
    print(f"pairs {n} (one of each sampled user's top {args.k} unseen items)")
    print(f"coverage  {result['coverage']:.1%} with at least one path (target >= 95%)")
    print(
        f"validity  {result['validity']:.1%} of {returned} returned paths found again by independent Cypher"
    )
    if top_drops:
        print(
            f"fidelity  mean drop in predicted rating without the top path {result['fidelity_top_path']:+.4f}, "
            f"without a random walk of the same length {result['fidelity_random_path']:+.4f} "
            f"({len(top_drops)} pairs)"
        )
    print(f"diversity {len(kinds)} kinds, {entropy:.2f} bits; top paths: {dict(top_kinds.most_common())}")
    print(
        f"latency   p50 {result['latency_ms_p50']:.0f} ms, p95 {result['latency_ms_p95']:.0f} ms per explanation "
        f"(target p95 < 200 ms; {args.scorer} counterfactual of {args.max_scored} paths at most)"
    )
    print(json.dumps(result))


def _model(export: GraphExport, directory: Path, seed: int, max_epochs: int | None) -> RatingModel:
    if (directory / "meta.json").exists():
        print(f"model: {directory}")
        return RatingModel.load(directory)
    started = time.perf_counter()
    config = TrainConfig(seed=seed) if max_epochs is None else TrainConfig(seed=seed, max_epochs=max_epochs)
    model = Trainer(config).fit(export).model
    model.save(directory)
    print(f"model: trained in {time.perf_counter() - started:.0f} s, saved to {directory}")
    return model


def _sample_pairs(
    model: RatingModel, export: GraphExport, n: int, k: int, rng: np.random.Generator
) -> list[tuple[str, str]]:
    """``n`` pairs: a random user (with replacement when there are fewer users) and one of its top-k."""
    rated = export.edges["RATED"]
    seen: dict[str, set[str]] = {str(u): set(g) for u, g in rated.groupby("source")["target"]}
    users = rng.choice(sorted(seen), size=n, replace=len(seen) < n)
    items = np.array(model.id_map.keys("item"))
    scores = model.score_items(list(users))
    pairs = []
    for row, user in enumerate(users):
        order = [i for i in np.argsort(-scores[row]) if items[i] not in seen[user]][:k]
        pairs.append((str(user), str(items[order[rng.integers(len(order))]])))
    return pairs


class RandomWalker:
    """Random walks from a user over the exported graph, ignoring direction, as explanation-shaped paths."""

    def __init__(self, export: GraphExport) -> None:
        schema = export.schema
        frames = []
        for rel in schema.rel_types:
            e = export.edges.get(rel.type)
            if e is None or e.empty:
                continue
            rating = e["rating"] if "rating" in e else pd.Series(np.nan, index=e.index)
            base = {"type": rel.type, "rating": rating.to_numpy()}
            fwd = pd.DataFrame(
                {
                    **base,
                    "a_label": rel.source.label,
                    "a": e["source"].astype(str).to_numpy(),
                    "b_label": rel.target.label,
                    "b": e["target"].astype(str).to_numpy(),
                    "fwd": True,
                }
            )
            bwd = fwd.rename(columns={"a_label": "b_label", "a": "b", "b_label": "a_label", "b": "a"})
            frames += [fwd, bwd.assign(fwd=False)]
        edges = pd.concat(frames, ignore_index=True)
        self.adjacency = {key: g for key, g in edges.groupby(["a_label", "a"])}

    def walk(self, user: str, length: int, rng: np.random.Generator) -> ExplainedPath | None:
        nodes = [PathNode(label="User", key=user, name=user)]
        rels: list[PathRel] = []
        for step in range(length):
            options = self.adjacency.get((nodes[-1].label, nodes[-1].key))
            if options is None:
                return None
            row = options.iloc[int(rng.integers(len(options)))]
            nodes.append(PathNode(label=row["b_label"], key=row["b"], name=row["b"]))
            start, end = (step, step + 1) if row["fwd"] else (step + 1, step)
            props: dict[str, float | int | str | None] = {}
            if not pd.isna(row["rating"]):
                props["rating"] = float(row["rating"])
            rels.append(PathRel(type=row["type"], start=start, end=end, properties=props))
        return ExplainedPath(kind="random", nodes=nodes, rels=rels)


if __name__ == "__main__":
    main()
