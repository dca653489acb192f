"""Search benchmark (issue 22): the learned search ranker against its peers, and its latency, same run.

Per dataset, each user's latest interaction (users with two or more) is held out; the rest is loaded into a
``bench-search-*`` workspace (reset first) and trained with ``Recommender.fit(test_ratings=held)`` (the
served models, the search ranker included, train on everything loaded). Then:

- quality (:func:`kgrec.search_eval.evaluate_search`): per held-out (user, item), one query per type
  (category name one level below the root and one further, brand, 2-3 title words, a category word with a
  title word); HitRate/NDCG/MRR@10 of the search ranker (personal, anonymous), text-only full text, the most
  rated items of the linked entities, and the fused category or brand page (``recommend(user, category=|brand=)``);
- latency in process: p50/p99 of ``Recommender.search`` (anonymous and personal) against text-only full text
  (``GraphStore.search``) on the same queries, after a warm-up.

Datasets: Amazon 2018 Magazine Subscriptions (5-core reviews and the metadata), the demo catalogue, and
amazon-hin (no titles: latency only, on its category and brand ids, trained with fewer epochs). The rating
model trains without text features (``TrainConfig(text=False)``) to keep the run short on a shared machine.
Writes docs/benchmarks/search.md (the figures, the command, the date, the machine) and prints the JSON last.

    .venv/bin/python bench/search.py [--skip-hin] [--search-pairs 800] [--latency-queries 300]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import pandas as pd
from common import HIN, MAGAZINE, percentiles, say, write_results

from core.settings import Settings
from gnn import TrainConfig
from kgrec import Recommender
from kgrec.search_eval import SearchEvaluation, evaluate_search
from loaders import Dataset, read_amazon2018, read_hin
from loaders.demo import demo_dataset
from rank import RankConfig
from rank.search_queries import QUERY_TYPES, generated_queries

TARGETS = (
    ("category_broad", "page", 1.0),
    ("category_narrow", "page", 1.0),
    ("brand", "page", 1.0),
    ("title", "text_only", 1.0),
    ("mixed", "text_only", 1.5),
)


def held_out_latest(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rest, each user's latest rating) for users with two or more ratings."""
    ordered = ratings.sort_values(["user", "ts", "item"], kind="stable")
    counts = ordered.groupby("user")["item"].transform("size")
    latest = ordered.groupby("user").cumcount(ascending=False) == 0
    held = ordered[latest & (counts >= 2)]
    return ordered.drop(held.index).reset_index(drop=True), held.reset_index(drop=True)


def trained(
    workspace: str,
    dataset: Dataset,
    held: pd.DataFrame | None,
    config: TrainConfig,
    rank: RankConfig,
    pairs: int,
) -> Recommender:
    rec = Recommender.connect(Settings(workspace=workspace))
    rec.store.reset()
    rec.load_dataset(dataset)
    started = time.perf_counter()
    rec.fit(config, rank, test_ratings=held, search_pairs=pairs, progress=say)
    say(f"  {workspace}: trained in {time.perf_counter() - started:.0f} s")
    return rec


def latency(rec: Recommender, queries: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """p50/p99 over ``queries`` (user, text) of the three ways to answer them."""
    calls = {
        "search_anonymous": lambda u, q: rec.search(q, k=10),
        "search_personal": lambda u, q: rec.search(q, user=u, k=10),
        "text_only": lambda u, q: rec.store.search(q, limit=10),
    }
    out = {}
    for name, call in calls.items():
        for user, text in queries[:20]:  # warm-up: Neo4j plans the statements, the caches fill
            _quiet(call, user, text)
        seconds = []
        for user, text in queries:
            started = time.perf_counter()
            _quiet(call, user, text)
            seconds.append(time.perf_counter() - started)
        out[name] = percentiles(seconds)
    return out


def _quiet(call: Any, user: str, text: str) -> None:
    try:
        call(user, text)
    except Exception as e:  # noqa: BLE001 - a query matching nothing is an answer too; its time counts
        if type(e).__name__ != "NotFoundError":
            raise


def sample_queries(rec: Recommender, pairs: pd.DataFrame, n: int) -> list[tuple[str, str]]:
    facts = rec.store.search_facts(list(pairs["item"].astype(str)))
    rng = np.random.default_rng(0)
    out = []
    for user, item in pairs[["user", "item"]].astype(str).itertuples(index=False):
        if item in facts:
            f = facts[item]
            out += [
                (user, q) for q in generated_queries(f["title"], f["brands"], f["categories"], rng).values()
            ]
    picked = rng.permutation(len(out))[:n]
    return [out[i] for i in picked]


def targets(result: SearchEvaluation) -> list[dict[str, Any]]:
    """Each of the issue's targets: the search ranker's MRR@10 over its peer's, and personal over anonymous."""
    m = result.metrics
    rows = []
    for kind, peer, need in TARGETS:
        if kind in m["search"] and kind in m.get(peer, {}):
            ours, theirs = m["search"][kind].mrr, m[peer][kind].mrr
            ratio = ours / theirs if theirs else float("inf")
            rows.append({"type": kind, "against": peer, "ratio": ratio, "need": need, "met": ratio >= need})
    for kind in QUERY_TYPES:
        if kind in m["search"] and kind in m["search_anonymous"]:
            p, a = m["search"][kind].mrr, m["search_anonymous"][kind].mrr
            rows.append(
                {
                    "type": kind,
                    "against": "search_anonymous",
                    "ratio": p / a if a else float("inf"),
                    "need": 1.0,
                    "met": p >= a,
                }
            )
    return rows


def section(name: str, r: dict[str, Any]) -> list[str]:
    """One dataset's figures as markdown: quality per method and query type, the targets, latency."""
    lines = ["", f"## {name}", ""]
    if "quality" in r:
        q = r["quality"]
        types = [t for t in QUERY_TYPES if t in q["metrics"]["search"]]
        lines += [f"{q['pairs']} held-out pairs.", "", "| answered by | " + " | ".join(types) + " |"]
        lines.append("|---" * (len(types) + 1) + "|")
        for method, by_type in q["metrics"].items():
            cells = [
                f"{by_type[t]['mrr']:.3f} ({by_type[t]['hit_rate']:.3f}, {by_type[t]['ndcg']:.3f})"
                if t in by_type
                else "-"
                for t in types
            ]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines += ["", "| target | ratio of MRR@10 | needed | met |", "|---|---|---|---|"]
        for t in r["targets"]:
            met = "yes" if t["met"] else "no"
            lines.append(
                f"| {t['type']}: search / {t['against']} | {t['ratio']:.2f} | {t['need']:.1f} | {met} |"
            )
    if "latency" in r:
        lines += ["", f"Latency in process, {r['latency_queries']} queries (ms):", ""]
        lines += ["| call | p50 | p99 |", "|---|---|---|"]
        lines += [f"| {call} | {v['p50_ms']} | {v['p99_ms']} |" for call, v in r["latency"].items()]
    return lines


ABOUT = """How search works: `kgrec/searching.py`, `rank/search*.py`; the protocol: `kgrec/search_eval.py`.
Per held-out (user, item), one query per type; MRR@10 (HitRate@10, NDCG@10). `page` is the fused
category or brand page (`recommend(user, category=|brand=)`) given the query's own category or brand."""


def write(results: dict[str, Any]) -> None:
    """docs/benchmarks/search.md: the datasets measured so far."""
    body = [line for name, r in results.items() for line in section(name, r)]
    write_results("search", "Search", ABOUT, "\n".join(body))


def run(name: str, rec: Recommender, held: pd.DataFrame | None, n_latency: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if held is not None:
        started = time.perf_counter()
        result = evaluate_search(rec, held)
        say(f"  {name}: evaluated in {time.perf_counter() - started:.0f} s")
        out["quality"], out["targets"] = result.model_dump(), targets(result)
        print("\n".join(section(name, out)), flush=True)
    pairs = held if held is not None else rec.store.export().edges["RATED"].sample(n_latency, random_state=0)
    queries = sample_queries(rec, pairs, n_latency)
    out["latency"], out["latency_queries"] = latency(rec, queries), len(queries)
    print(f"{name} latency: {out['latency']}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-hin", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--search-pairs", type=int, default=800)
    parser.add_argument("--latency-queries", type=int, default=300)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    pairs, n = args.search_pairs, args.latency_queries

    magazine = read_amazon2018(
        MAGAZINE / "meta_Magazine_Subscriptions.json.gz",
        reviews=MAGAZINE / "Magazine_Subscriptions_5.json.gz",
    )
    magazine.ratings, held = held_out_latest(magazine.ratings)
    say(f"magazine: {len(magazine.ratings):,} ratings loaded, {len(held):,} held out")
    config = TrainConfig(seed=0, text=False)
    with trained("bench-search-magazine", magazine, held, config, RankConfig(seed=0), pairs) as rec:
        results["Amazon 2018 Magazine Subscriptions (5-core reviews)"] = run("magazine", rec, held, n)
    write(results)  # after each dataset: a later one may not finish

    if not args.skip_demo:
        demo, _ = demo_dataset(seed=0)
        demo.ratings, held = held_out_latest(demo.ratings)
        with trained("bench-search-demo", demo, held, config, RankConfig(seed=0), pairs) as rec:
            results["demo catalogue (loaders.demo, seed 0)"] = run("demo", rec, held, n)
        write(results)

    if not args.skip_hin:
        config = TrainConfig(seed=0, text=False, max_epochs=20)
        rank = RankConfig(seed=0, fusion_users=2000)
        with trained("bench-search-hin", read_hin(HIN), None, config, rank, pairs) as rec:
            name = "amazon-hin (no titles: latency only; 20 epochs, fusion on 2,000 users)"
            results[name] = run("hin", rec, None, n)

    write(results)
    print(json.dumps({"bench": "search", **results}, default=str))


if __name__ == "__main__":
    main()
