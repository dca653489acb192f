"""Loading benchmark: amazon-hin into a clean graph, batched UNWIND ... MERGE against one MERGE per row.

Prints rows per second for nodes and relationships on the whole dataset, then the same first 10,000
ratings loaded both ways in the same run, with the ratio, and a final JSON line; writes the figures to
docs/benchmarks/load.md (with the command, the date, the machine).

    .venv/bin/python bench/load.py [--data ../shared/data/amazon-hin] [--workspace bench-load]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import HIN, write_results

from core.settings import Settings
from kg import GraphStore
from loaders import read_hin

NAIVE_ROWS = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HIN)
    parser.add_argument("--workspace", default="bench-load")
    args = parser.parse_args()
    settings = Settings(workspace=args.workspace)
    with GraphStore.connect(settings) as store:
        store.reset()
        started = time.perf_counter()
        dataset = read_hin(args.data)
        parsed = time.perf_counter() - started
        written = store.write(dataset)
        total = time.perf_counter() - started
        stats = store.stats()
        nodes = sum(stats.nodes.values())
        rels = sum(stats.relationships.values())
        print(f"amazon-hin full load: {total:.1f} s (parse {parsed:.1f} s), constraints and indexes included")
        print(f"  nodes {nodes:,}  relationships {rels:,}  -> {(nodes + rels) / total:,.0f} rows/s overall")
        print(f"  written per type: {written}")

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
        batched_ds = type(dataset)(report=type(dataset.report)(source="bench"), ratings=sample)
        started = time.perf_counter()
        store.write(batched_ds)
        batched = time.perf_counter() - started
        print(
            f"first {NAIVE_ROWS:,} ratings: naive one-MERGE-per-row {naive:.1f} s ({NAIVE_ROWS / naive:,.0f} rows/s), "
            f"batched {batched:.2f} s ({NAIVE_ROWS / batched:,.0f} rows/s), speed-up x{naive / batched:.1f}"
        )
        store.reset()
    result = {
        "bench": "load",
        "full_seconds": round(total, 2),
        "nodes": nodes,
        "relationships": rels,
        "rows_per_s": round((nodes + rels) / total),
        "naive_seconds": round(naive, 2),
        "batched_seconds": round(batched, 3),
        "speedup": round(naive / batched, 1),
    }
    about = (
        f"`{args.data.name}` read and written into a clean graph (`full_seconds`, constraints and indexes"
        f" included; `rows_per_s` counts nodes and relationships), then its first {NAIVE_ROWS:,} ratings"
        " written one `MERGE` transaction per row (`naive_seconds`) and batched (`batched_seconds`)."
    )
    write_results("load", "Loading", about, result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
