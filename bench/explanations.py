"""Explanation benchmark: paths for sampled (user, fused top-k item) pairs, scored on the ranking.

(Issue 15 calls this script ``bench/explain.py``; it keeps its name, ``bench/explanations.py``.)

Trains (or loads) the rating model and the fusion ranker with ``rank.train_stack`` (per-user random split,
``--seed``), then for ``--pairs`` pairs (a random trained user, one random item of that user's fused top
``--k``, ``Ranker.rank``) explains each with ``explain.RankingScorer`` (the rating model's local
counterfactual beside it unless ``--no-rating-drop``) and prints:

- coverage (share with at least one path found) and supported (share with at least one *supporting* path,
  score > 0: only those are offered as reasons; the rest say so), and the paths listed under "despite";
- validity (share of returned paths, supporting and despite, found again by independent Cypher; must be
  100%);
- fidelity on the fusion score that ranked the item: the top supporting path's effect,
  ``fused(user's interactions) - fused(without the path's anchor item)``, against a random walk of the same
  length from the user whose first user->item interaction is removed the same way (the mean of ``WALKS``
  walks per pair; the ratio of the two means), and the same on the predicted rating;
- the deletion curve: removing the anchors of the top 1, 2 and 3 supporting paths together, the mean drop
  of the fusion score (beside removing as many random interactions of the user) and the share of
  recommendations that leave the user's top ``--k`` (among those in it with all interactions; the user placed
  as :meth:`rank.Ranker.fused_scores` places them, the list being the newcomer candidates of
  :meth:`rank.Ranker.rank_new` rescored with the target);
- the sizing words (strong / minor) of the supporting paths shown, diversity of path kinds, and latency
  per explanation (p50, p95), then a final JSON line.

With ``--sample N`` it prints N explained recommendations (user, item, sentences) first; ``--dataset``
picks the data: ``hin`` (amazon-hin, the default), ``magazine`` (the Amazon 2018 magazine 2-core, the
default with ``--sample``) or ``demo`` (the generated catalogue, a quick smoke run).

    .venv/bin/python bench/explanations.py [--dataset hin] [--workspace bench-explain]
        [--model models/bench-explain] [--reload] [--pairs 200] [--k 10] [--seed 0]
    .venv/bin/python bench/explanations.py --sample 20          # twenty explained magazine recommendations
    .venv/bin/python bench/explanations.py --dataset demo --pairs 30

The graph is loaded when the workspace is empty (or with ``--reload``). The models are loaded from
``--model`` (``rating/`` and ``ranker/``) when it holds them, else trained and saved there; ``demo`` trains
with small configs. The graph holds every rating while the models train on the split's training part, so
a path anchored on a held-out rating moves nothing (score 0), for real and random paths alike.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
from common import HIN, MAGAZINE, ROOT, magazine_dataset, say, write_results
from explain_measures import Curve, RandomWalker, TimedScorer, anchor_items, first_interaction, mean

from core.settings import Settings
from explain import (
    Explainer,
    LocalCounterfactualScorer,
    RankingScorer,
)
from explain.sentences import display_name
from gnn import RatingModel, TrainConfig
from kg import GraphExport, GraphStore
from kg.paths import path_exists
from loaders import Dataset, read_hin
from loaders.demo import demo_dataset
from rank import RankConfig, Ranker, RatingModelScores, load_ranker, save_ranker, train_stack

WORKSPACES = {"hin": "bench-explain", "magazine": "bench-explain-magazine", "demo": "bench-explain-demo"}
WALKS = 5
"""Random walks per pair whose effects are averaged into the pair's random-path effect."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(WORKSPACES), default=None, help="default: hin")
    parser.add_argument("--data", type=Path, default=None, help="the dataset's folder (default: shared data)")
    parser.add_argument("--demo", action="store_true", help="the same as --dataset demo")
    parser.add_argument("--min-ratings", type=int, default=2, help="k of the magazine's k-core")
    parser.add_argument("--workspace", default=None, help="default: bench-explain[-magazine|-demo]")
    parser.add_argument("--model", type=Path, default=None, help="default: models/<workspace>")
    parser.add_argument("--reload", action="store_true", help="empty the graph and load the data again")
    parser.add_argument("--retrain", action="store_true", help="train the models even if --model holds them")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--sample", type=int, default=0, help="print this many explained recommendations")
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
    args.dataset = "demo" if args.demo else args.dataset or ("magazine" if args.sample else "hin")
    workspace = args.workspace or WORKSPACES[args.dataset]
    model_dir = args.model or ROOT / "models" / workspace
    rng = np.random.default_rng(args.seed)

    with GraphStore.connect(Settings(workspace=workspace)) as store:
        if args.reload or store.stats().nodes.get("Item", 0) == 0:
            store.reset()
            started = time.perf_counter()
            store.write(_dataset(args))
            print(f"loaded the graph in {time.perf_counter() - started:.1f} s")
        export = store.export()
        model, ranker = _models(export, model_dir, args)
        schema = store.schema()
        audience = "readers" if args.dataset == "magazine" else "customers"
        rating = None if args.no_rating_drop else TimedScorer(LocalCounterfactualScorer(model, schema))
        scorer = RankingScorer(ranker, rating, list_size=args.k)
        timed = TimedScorer(scorer)  # all the scoring (the rating drop included): the rest is graph queries
        explainer = Explainer(store, timed, max_scored=args.max_scored, schema=schema, audience=audience)
        if args.sample:
            _print_sample(explainer, _sample_pairs(ranker, args.sample, args.k, rng), args.dataset)
            if args.pairs == 0:
                return
        pairs = _sample_pairs(ranker, args.pairs, args.k, rng)
        walker = RandomWalker(export)
        walk_rng, curve_rng = np.random.default_rng(args.seed + 1), np.random.default_rng(args.seed + 2)
        explainer.explain(*pairs[0])  # plan the queries once; latency is measured warm

        latencies: list[float] = []
        kinds: Counter[str] = Counter()
        top_kinds: Counter[str] = Counter()
        strengths: Counter[str] = Counter()
        covered = supported = valid = returned = anchored = despite = 0
        top_effects, random_effects, top_drops, random_drops = [], [], [], []
        ranking_only: list[float] = []
        scoring: list[float] = []
        curve = Curve(ranker, args.k)
        for user, item in pairs:
            spent = rating.seconds if rating is not None else 0.0
            scored = timed.seconds
            started = time.perf_counter()
            explanation = explainer.explain(user, item, top=3)
            latencies.append(time.perf_counter() - started)
            ranking_only.append(latencies[-1] - ((rating.seconds - spent) if rating is not None else 0.0))
            scoring.append(timed.seconds - scored - ((rating.seconds - spent) if rating is not None else 0.0))
            shown = explanation.paths + explanation.despite
            covered += explanation.candidates > 0
            despite += len(explanation.despite)
            for p in shown:
                returned += 1
                valid += path_exists(store, p.model_dump(), schema)
            if not explanation.paths:
                continue
            supported += 1
            kinds.update(p.kind for p in explanation.paths)
            strengths.update(p.strength or "unsized" for p in explanation.paths)
            best = explanation.paths[0]
            top_kinds[best.kind] += 1
            taken = scorer.taken(user)
            anchored += bool(anchor_items(best) & set(taken))
            curve.add(user, item, taken, explanation, curve_rng)
            walks = [w for w in (walker.walk(user, len(best.rels), walk_rng) for _ in range(WALKS)) if w]
            walks = [w for w in walks if first_interaction(w)]
            if not walks:
                continue
            top_effects.append(best.score)
            firsts = [first_interaction(w) for w in walks]
            random_effects.append(float(np.mean(scorer.effects(user, item, firsts)[1])))
            if rating is not None:
                top_drops.append(float(best.support["rating_drop"]))
                random_drops.append(float(np.mean(rating(user, item, walks).values)))

    n = len(pairs)
    total_kinds = sum(kinds.values())
    entropy = (
        -sum(c / total_kinds * math.log2(c / total_kinds) for c in kinds.values()) if total_kinds else 0.0
    )
    lat = np.array(latencies) * 1000
    lat_ranking = np.array(ranking_only) * 1000
    top_mean, random_mean = mean(top_effects), mean(random_effects)
    ratio = top_mean / random_mean if top_mean is not None and random_mean else None
    result = {
        "dataset": args.dataset,
        "pairs": n,
        "coverage": covered / n,
        "supported": supported / n,
        "despite_paths": despite,
        "validity": valid / returned if returned else 1.0,
        "paths_returned": returned,
        "fidelity_top_path": top_mean,
        "fidelity_random_path": random_mean,
        "fidelity_ratio": ratio,
        "fidelity_pairs": len(top_effects),
        "top_anchor_in_training": anchored / supported if supported else None,
        "rating_drop_top_path": mean(top_drops),
        "rating_drop_random_path": mean(random_drops),
        "deletion": curve.summary(),
        "strengths": dict(strengths.most_common()),
        "kinds": dict(kinds.most_common()),
        "top_path_kinds": dict(top_kinds.most_common()),
        "kind_entropy_bits": round(entropy, 3),
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p95": float(np.percentile(lat, 95)),
        "latency_ms_p50_without_rating_drop": float(np.percentile(lat_ranking, 50)),
        "latency_ms_p95_without_rating_drop": float(np.percentile(lat_ranking, 95)),
        "scoring_ms_p50": float(np.percentile(np.array(scoring) * 1000, 50)),
        "scoring_ms_p95": float(np.percentile(np.array(scoring) * 1000, 95)),
        "max_scored": args.max_scored,
        "scorer": "ranking" if rating is None else "ranking+rating_drop",
    }
    _print_result(result, args)
    about = (
        "Sampled (user, item of the user's fused top k) pairs explained as `kgrec explain` does; coverage,"
        " supported share and validity are shares of pairs and paths, fidelity compares the top supporting"
        " path's effect on the fusion score with a random path's, `deletion` removes the top 1-3 supporting"
        " paths, latency is per explanation in ms. The module docstring of the script defines each figure."
    )
    write_results(
        "explanations", f"Explanations ({args.dataset})", about, result, name=f"explanations-{args.dataset}"
    )
    print(json.dumps(result))


def _print_result(result: dict, args: argparse.Namespace) -> None:
    print(f"{args.dataset}: pairs {result['pairs']} (one of each sampled user's fused top {args.k})")
    print(f"coverage  {result['coverage']:.1%} with at least one path found (target >= 95%)")
    print(
        f"supported {result['supported']:.1%} with at least one supporting path (score > 0), shown as the "
        f"reasons; the rest say that no path supports them; {result['despite_paths']} paths under 'despite'"
    )
    print(
        f"validity  {result['validity']:.1%} of {result['paths_returned']} returned paths found again by "
        "independent Cypher"
    )
    if result["fidelity_pairs"]:
        ratio = result["fidelity_ratio"]
        print(
            f"fidelity  mean effect on the fusion score of the top supporting path "
            f"{result['fidelity_top_path']:+.4f}, of a random walk of the same length "
            f"{result['fidelity_random_path']:+.4f} (x{ratio:.1f}; target >= 5; "
            f"{result['fidelity_pairs']} pairs; top path anchored on a training interaction in "
            f"{result['top_anchor_in_training']:.0%})"
            if ratio is not None
            else f"fidelity  top {result['fidelity_top_path']:+.4f}, random {result['fidelity_random_path']}"
        )
    if result["rating_drop_top_path"] is not None:
        print(
            f"          mean drop in predicted rating: top path {result['rating_drop_top_path']:+.4f}, "
            f"random walk {result['rating_drop_random_path']:+.4f}"
        )
    d = result["deletion"]
    print(
        f"deletion  removing the top 1/2/3 supporting paths ({d['pairs']} supported pairs; "
        f"{d['in_top']} of them in the user's top {args.k} with all interactions):"
    )
    for row in d["curve"]:
        print(
            f"          top {row['removed']}: fusion score drops {row['drop']:+.4f} (as many random "
            f"interactions: {row['random_drop']:+.4f}); out of the top {args.k}: {row['out_of_top']:.0%} "
            f"({row['pairs']} pairs with {row['removed']}+ supporting paths)"
        )
    print(
        f"          after removing all their supporting paths (up to 3), {d['out_after_all']:.0%} of the "
        f"recommendations leave the top {args.k}"
    )
    print(f"sizing    supporting paths shown: {result['strengths']}")
    print(
        f"diversity {len(result['kinds'])} kinds, {result['kind_entropy_bits']:.2f} bits; top paths: "
        f"{result['top_path_kinds']}"
    )
    print(
        f"latency   p50 {result['latency_ms_p50']:.0f} ms, p95 {result['latency_ms_p95']:.0f} ms per "
        f"explanation (target p95 < 200 ms; {result['scorer']} of {args.max_scored} paths at most); the "
        f"ranking scorer's share p50 {result['scoring_ms_p50']:.0f} ms, p95 {result['scoring_ms_p95']:.0f} ms, "
        "the rest the graph's path queries"
    )
    if result["scorer"] != "ranking":
        print(
            f"          without the rating drop: p50 {result['latency_ms_p50_without_rating_drop']:.0f} ms, "
            f"p95 {result['latency_ms_p95_without_rating_drop']:.0f} ms (the ranking scorer alone)"
        )


def _print_sample(explainer: Explainer, pairs: list[tuple[str, str]], dataset: str) -> None:
    """Each pair's user, item and sentences: the supporting paths, then those against it (or the note)."""
    print(f"{len(pairs)} explained recommendations ({dataset}, one of each sampled user's fused top list):")
    for k, (user, item) in enumerate(pairs, start=1):
        e = explainer.explain(user, item, top=3)
        print(f"\n{k}. user {user}, item {display_name(e.item_name, item)} ({item})")
        for p in e.paths:
            print(f"   why     [{p.score:+.3f}] {p.sentence}")
        for p in e.despite:
            print(f"   despite [{p.score:+.3f}] {p.sentence}")
        if e.note:
            print(f"   note    {e.note}")
    print()


def _dataset(args: argparse.Namespace) -> Dataset:
    if args.dataset == "demo":
        return demo_dataset()[0]
    if args.dataset == "magazine":
        return magazine_dataset(args.data or MAGAZINE, args.min_ratings)
    return read_hin(args.data or HIN)


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
    if args.dataset == "demo":  # a smoke run: small models
        train = TrainConfig(seed=seed, text=False, max_epochs=60, mf_epochs=10)
        rank = RankConfig(
            seed=seed, params={"lightgcn": {"epochs": 5}, "als": {"iterations": 5}}, candidates=50
        )
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


if __name__ == "__main__":
    main()
