"""Loading benchmark: the transactional load (batched UNWIND ... MERGE in one transaction) beside the bulk
import (neo4j-admin database import, kg.bulk_import) into an empty graph, on amazon-hin and on a generated
catalogue of 1M ratings; and on amazon-hin's first 10,000 ratings, one MERGE per row against batched.

Prints rows per second (nodes plus relationships the graph holds after the load) for each path and size,
the bulk path's phases (import files, the tool, the server's restart, constraints and indexes), and a final
JSON line; writes the figures to docs/benchmarks/load.md (with the command, the date, the machine).

    .venv/bin/python bench/load.py [--data ../shared/data/amazon-hin] [--workspace bench-load]
                                   [--generated 1000000] [--skip-transactional-generated]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from common import HIN, say, write_results

from core.errors import KGRecError
from core.settings import Settings
from kg import GraphStore
from kg.bulk_import import write_bulk
from loaders import Dataset, read_hin
from loaders.demo import demo_dataset

NAIVE_ROWS = 10_000
# the bulk path's phases, each from the first progress stage of its own to the next phase's: stop_s runs
# from the server's stop to the tool's first stage, so it holds the tool's JVM start too
PHASES = {
    "writing import files": "files_s",
    "stopping Neo4j": "stop_s",
    "neo4j-admin import": "tool_s",
    "starting Neo4j": "start_s",
    "constraints and indexes": "schema_s",
}


def graph_rows(store: GraphStore) -> tuple[int, int]:
    stats = store.stats()
    return sum(stats.nodes.values()), sum(stats.relationships.values())


def transactional(store: GraphStore, dataset: Dataset) -> dict[str, Any]:
    """The transactional load into an emptied graph; a load the server refuses (past its transaction memory)
    is reported with its error, not hidden."""
    store.reset()
    started = time.perf_counter()
    try:
        store.write(dataset)
    except KGRecError as e:
        return {"failed": str(e)[:200], "seconds": round(time.perf_counter() - started, 1)}
    seconds = time.perf_counter() - started
    nodes, rels = graph_rows(store)
    return {
        "seconds": round(seconds, 1),
        "nodes": nodes,
        "relationships": rels,
        "rows_per_s": round((nodes + rels) / seconds),
    }


def bulk(store: GraphStore, settings: Settings, dataset: Dataset) -> dict[str, Any]:
    """The bulk import into an emptied graph, timed per phase from its progress stages."""
    store.reset()
    marks: list[tuple[str, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        for prefix, phase in PHASES.items():
            if stage.startswith(prefix) and (not marks or marks[-1][0] != phase):
                marks.append((phase, time.perf_counter()))
        if stage.startswith("neo4j-admin import") and done == 0:
            say(f"    {stage}")

    started = time.perf_counter()
    write_bulk(store, settings, dataset, progress)
    seconds = time.perf_counter() - started
    ends = [t for _, t in marks[1:]] + [started + seconds]
    phases = {phase: round(end - t, 1) for (phase, t), end in zip(marks, ends, strict=True)}
    nodes, rels = graph_rows(store)
    result = {"seconds": round(seconds, 1), "nodes": nodes, "relationships": rels}
    result["rows_per_s"] = round((nodes + rels) / seconds)
    if phases.get("tool_s"):
        result["tool_rows_per_s"] = round((nodes + rels) / phases["tool_s"])
    return result | {"phases": phases}


def both(
    store: GraphStore, settings: Settings, name: str, dataset: Dataset, skip_transactional: bool = False
) -> dict[str, Any]:
    say(f"{name}: {len(dataset.ratings):,} ratings")
    figures: dict[str, Any] = {}
    if not skip_transactional:
        say("  transactional load")
        figures["transactional"] = transactional(store, dataset)
        say(f"  -> {figures['transactional']}")
    say("  bulk import")
    figures["bulk"] = bulk(store, settings, dataset)
    say(f"  -> {figures['bulk']}")
    for path, f in figures.items():
        if "rows_per_s" in f:
            print(
                f"{name} {path}: {f['seconds']} s, {f['nodes']:,} nodes + {f['relationships']:,} relationships"
                f" -> {f['rows_per_s']:,} rows/s"
                + (f" (the tool alone {f['tool_rows_per_s']:,} rows/s)" if "tool_rows_per_s" in f else "")
            )
        else:
            print(f"{name} {path}: failed after {f['seconds']} s: {f['failed']}")
    return figures


def naive_against_batched(store: GraphStore, dataset: Dataset) -> dict[str, float]:
    sample = dataset.ratings.head(NAIVE_ROWS)
    rows = [
        {"user": str(u), "item": str(i), "rating": float(r), "ts": int(t)}
        for u, i, r, t in sample[["user", "item", "rating", "ts"]].itertuples(index=False)
    ]
    store.reset()
    started = time.perf_counter()
    store.merge_ratings_naive(rows)
    naive = time.perf_counter() - started
    store.reset()
    started = time.perf_counter()
    store.write(Dataset(report=type(dataset.report)(source="bench"), ratings=sample))
    batched = time.perf_counter() - started
    print(
        f"first {NAIVE_ROWS:,} ratings: naive one-MERGE-per-row {naive:.1f} s ({NAIVE_ROWS / naive:,.0f} rows/s), "
        f"batched {batched:.2f} s ({NAIVE_ROWS / batched:,.0f} rows/s), speed-up x{naive / batched:.1f}"
    )
    return {
        "naive_seconds": round(naive, 2),
        "batched_seconds": round(batched, 3),
        "speedup": round(naive / batched, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HIN)
    parser.add_argument("--workspace", default="bench-load")
    parser.add_argument(
        "--generated", type=int, default=1_000_000, help="ratings of the generated catalogue (0: none)"
    )
    parser.add_argument("--skip-transactional-generated", action="store_true")
    args = parser.parse_args()
    settings = Settings(workspace=args.workspace)
    result: dict[str, Any] = {"bench": "load"}
    about = (
        "Each load goes into an emptied graph of the workspace's managed Neo4j; `rows_per_s` counts the nodes"
        " and relationships the graph holds afterwards over the whole load (constraints and indexes included;"
        " for the bulk import also the import files, the server's stop and restart). `phases` are the bulk"
        " import's parts; `tool_rows_per_s` is neo4j-admin alone. The generated catalogue is"
        " `loaders.demo.demo_dataset` (users rate 25 items each, items 2 per user). Then amazon-hin's first"
        f" {NAIVE_ROWS:,} ratings written one `MERGE` transaction per row (`naive_seconds`) and batched"
        " (`batched_seconds`). The machine is shared with other jobs: figures taken under load."
    )
    with GraphStore.connect(settings, progress=say) as store:
        dataset = read_hin(args.data)
        result[args.data.name] = both(store, settings, args.data.name, dataset)
        write_results("load", "Loading", about, result)
        result["naive_against_batched"] = naive_against_batched(store, dataset)
        write_results("load", "Loading", about, result)
        if args.generated:
            users = max(1, args.generated // 25)
            generated, _ = demo_dataset(
                n_users=users, n_items=max(100, users // 2), ratings_per_user=25, seed=0
            )
            name = f"generated-{len(generated.ratings):,}"
            result[name] = both(store, settings, name, generated, args.skip_transactional_generated)
            write_results("load", "Loading", about, result)
        store.reset()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
