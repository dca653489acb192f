"""Explanation benchmark: paths for sampled (user, fused top-k item) pairs, scored on the ranking.

Trains (or loads) the rating model and the fusion ranker with ``rank.train_stack`` (per-user random split,
``--seed``), then for ``--pairs`` pairs (a random trained user, one random item of that user's fused top
``--k``, ``Ranker.rank``) explains each with ``explain.RankingScorer`` (the rating model's local
counterfactual beside it) and prints coverage (share with at least one path), validity (share of returned
paths found again by independent Cypher; must be 100%), fidelity on the fusion score (mean effect of the
top path, ``fused(user's interactions) - fused(without the path's anchor item)``, against a random walk of
the same length from the user whose first user->item interaction is removed the same way), the same on the
predicted rating, diversity of path kinds, and latency per explanation (p50, p95), then a final JSON line.

    .venv/bin/python bench/explanations.py [--data ../shared/data/amazon-hin] [--workspace bench-explain]
        [--model models/bench-explain] [--reload] [--pairs 200] [--k 10] [--seed 0]
    .venv/bin/python bench/explanations.py --demo --pairs 30   # the generated catalogue: a quick smoke run

The graph is loaded when the workspace is empty (or with ``--reload``). The models are loaded from
``--model`` (``rating/`` and ``ranker/``) when it holds them, else trained and saved there; ``--demo`` trains
with small configs. The graph holds every rating while the models train on the split's training part, so
a path anchored on a held-out rating moves nothing (score 0), for real and random paths alike.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from common import HIN, ROOT, say

from core.settings import Settings
from explain import (
    ExplainedPath,
    Explainer,
    LocalCounterfactualScorer,
    PathNode,
    PathRel,
    PathScores,
    RankingScorer,
)
from gnn import RatingModel, TrainConfig
from kg import GraphExport, GraphStore
from kg.paths import path_exists
from loaders import read_hin
from loaders.demo import demo_dataset
from rank import RankConfig, Ranker, RatingModelScores, load_ranker, save_ranker, train_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HIN)
    parser.add_argument("--demo", action="store_true", help="use the generated demo catalogue instead")
    parser.add_argument("--workspace", default=None, help="default: bench-explain or bench-explain-demo")
    parser.add_argument("--model", type=Path, default=None, help="default: models/<workspace>")
    parser.add_argument("--reload", action="store_true", help="empty the graph and load the data again")
    parser.add_argument("--retrain", action="store_true", help="train the models even if --model holds them")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="split, models and sampling")
    parser.add_argument("--max-scored", type=int, default=12, help="paths scored per pair")
    parser.add_argument(
        "--no-rating-drop",
        action="store_true",
        help="score on the ranking only (no predicted-rating counterfactual beside it)",
    )
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="rating GNN epochs when training (default: config)"
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
        model, ranker = _models(export, model_dir, args)
        schema = store.schema()
        pairs = _sample_pairs(ranker, args.pairs, args.k, rng)
        rating = None if args.no_rating_drop else TimedScorer(LocalCounterfactualScorer(model, schema))
        scorer = RankingScorer(ranker, rating)
        explainer = Explainer(store, scorer, max_scored=args.max_scored, schema=schema)
        walker = RandomWalker(export)
        explainer.explain(*pairs[0])  # plan the queries once; latency is measured warm

        latencies: list[float] = []
        kinds: Counter[str] = Counter()
        top_kinds: Counter[str] = Counter()
        covered = valid = returned = anchored = 0
        top_effects, random_effects, top_drops, random_drops = [], [], [], []
        ranking_only: list[float] = []
        for user, item in pairs:
            spent = rating.seconds if rating is not None else 0.0
            started = time.perf_counter()
            explanation = explainer.explain(user, item, top=3)
            latencies.append(time.perf_counter() - started)
            ranking_only.append(latencies[-1] - ((rating.seconds - spent) if rating is not None else 0.0))
            if not explanation.paths:
                continue
            covered += 1
            for p in explanation.paths:
                returned += 1
                valid += path_exists(store, p.model_dump(), schema)
                kinds[p.kind] += 1
            best = explanation.paths[0]
            top_kinds[best.kind] += 1
            anchored += bool(_anchor_items(best) & set(scorer.taken(user)))
            walk = walker.walk(user, len(best.rels), rng)
            first = _first_interaction(walk) if walk is not None else frozenset()
            if walk is None or not first:
                continue
            top_effects.append(best.score)
            random_effects.append(scorer.effects(user, item, [first])[1][0])
            if rating is not None:
                top_drops.append(float(best.support["rating_drop"]))
                random_drops.append(rating(user, item, [walk]).values[0])

    n = len(pairs)
    total_kinds = sum(kinds.values())
    entropy = (
        -sum(c / total_kinds * math.log2(c / total_kinds) for c in kinds.values()) if total_kinds else 0.0
    )
    lat = np.array(latencies) * 1000
    lat_ranking = np.array(ranking_only) * 1000
    result = {
        "pairs": n,
        "coverage": covered / n,
        "validity": valid / returned if returned else 1.0,
        "paths_returned": returned,
        "fidelity_top_path": _mean(top_effects),
        "fidelity_random_path": _mean(random_effects),
        "fidelity_top_positive": _mean([float(e > 0) for e in top_effects]),
        "fidelity_pairs": len(top_effects),
        "top_anchor_in_training": anchored / covered if covered else None,
        "rating_drop_top_path": _mean(top_drops),
        "rating_drop_random_path": _mean(random_drops),
        "kinds": dict(kinds.most_common()),
        "top_path_kinds": dict(top_kinds.most_common()),
        "kind_entropy_bits": round(entropy, 3),
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p95": float(np.percentile(lat, 95)),
        "latency_ms_p50_without_rating_drop": float(np.percentile(lat_ranking, 50)),
        "latency_ms_p95_without_rating_drop": float(np.percentile(lat_ranking, 95)),
        "max_scored": args.max_scored,
        "scorer": "ranking" if rating is None else "ranking+rating_drop",
    }
    print(f"pairs {n} (one of each sampled user's fused top {args.k})")
    print(f"coverage  {result['coverage']:.1%} with at least one path (target >= 95%)")
    print(
        f"validity  {result['validity']:.1%} of {returned} returned paths found again by independent Cypher"
    )
    if top_effects:
        print(
            f"fidelity  mean effect on the fusion score of the top path {result['fidelity_top_path']:+.4f}, "
            f"of a random walk of the same length {result['fidelity_random_path']:+.4f} "
            f"({len(top_effects)} pairs; top path > 0 in {result['fidelity_top_positive']:.0%}; "
            f"top path anchored on a training interaction in {result['top_anchor_in_training']:.0%})"
        )
    if top_drops:
        print(
            f"          mean drop in predicted rating: top path {result['rating_drop_top_path']:+.4f}, "
            f"random walk {result['rating_drop_random_path']:+.4f}"
        )
    print(f"diversity {len(kinds)} kinds, {entropy:.2f} bits; top paths: {dict(top_kinds.most_common())}")
    print(
        f"latency   p50 {result['latency_ms_p50']:.0f} ms, p95 {result['latency_ms_p95']:.0f} ms per explanation "
        f"(target p95 < 200 ms; {result['scorer']} of {args.max_scored} paths at most)"
    )
    if rating is not None:
        print(
            f"          without the rating drop: p50 {result['latency_ms_p50_without_rating_drop']:.0f} ms, "
            f"p95 {result['latency_ms_p95_without_rating_drop']:.0f} ms (the ranking scorer alone)"
        )
    print(json.dumps(result))


class TimedScorer:
    """A path scorer that adds up the seconds its calls take (to tell its share of an explanation's time)."""

    def __init__(self, inner: LocalCounterfactualScorer) -> None:
        self.inner, self.name, self.seconds = inner, inner.name, 0.0

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> PathScores:
        started = time.perf_counter()
        try:
            return self.inner(user, item, paths)
        finally:
            self.seconds += time.perf_counter() - started


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _anchor_items(path: ExplainedPath) -> set[str]:
    return {path.nodes[1].key} if len(path.nodes) > 1 and path.nodes[1].label == "Item" else set()


def _first_interaction(walk: ExplainedPath) -> frozenset[str]:
    """The item of the walk's first step from the user (a user->item interaction), as real paths start."""
    first = walk.nodes[1] if len(walk.nodes) > 1 else None
    return frozenset([first.key]) if first is not None and first.label == "Item" else frozenset()


def _models(export: GraphExport, directory: Path, args: argparse.Namespace) -> tuple[RatingModel, Ranker]:
    """The rating model and the ranker from ``directory``, or trained on a random split and saved there."""
    if not args.retrain and (directory / "rating" / "meta.json").exists() and (directory / "ranker").is_dir():
        print(f"models: {directory}")
        model = RatingModel.load(directory / "rating")
        ranker = load_ranker(directory / "ranker")
        ranker.rating = RatingModelScores(model)
        return model, ranker
    started = time.perf_counter()
    seed = args.seed
    train = TrainConfig(seed=seed)
    rank = RankConfig(seed=seed)
    if args.demo:  # a smoke run: small models
        train = TrainConfig(seed=seed, text=False, max_epochs=60, mf_epochs=10)
        rank = RankConfig(seed=seed, gnn_epochs=5, als_iterations=5, candidates=50)
    if args.max_epochs is not None:
        train = train.model_copy(update={"max_epochs": args.max_epochs})
    stack = train_stack(export, "random", 0.2, seed, train, rank, progress=say)
    stack.model.save(directory / "rating")
    save_ranker(stack.ranker, directory / "ranker")
    at10 = stack.ranking.at(10)
    print(
        f"models: trained in {time.perf_counter() - started:.0f} s (held-out NDCG@10 {at10.ndcg:.4f}, "
        f"RMSE {stack.rating.test['blend'].rmse:.4f}), saved to {directory}"
    )
    return stack.model, stack.ranker


def _sample_pairs(ranker: Ranker, n: int, k: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``n`` pairs: a random trained user (with replacement when there are fewer) and one of its fused
    top ``k`` (training items left out)."""
    data = ranker.trained_data()
    users = data.user_keys[np.diff(data.matrix.indptr) > 0]
    chosen = [str(u) for u in rng.choice(users, size=n, replace=len(users) < n)]
    top = ranker.rank(chosen, k).items
    pairs = []
    for user, row in zip(chosen, top, strict=True):
        listed = row[row >= 0]
        if len(listed):
            pairs.append((user, str(data.item_keys[listed[rng.integers(len(listed))]])))
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
