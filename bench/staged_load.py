"""Staged load benchmark (issue 24): an incremental load of 1M rating rows onto a loaded graph, staged
(``kgrec load --transaction staged``, kg.staged_load) against one transaction in the same run, and
``kill -9`` of the staged load at seeded moments, after which the next command must find the graph as it
was before the load or as after it.

The catalogue is the demo generator's (``loaders.demo``; 25 ratings per user, an item per two users, a brand
and a leaf category per item). The base graph holds the first ``--base`` ratings (and their items, titled,
with their brands and categories), loaded
through the bulk import into an emptied graph before each run. The incremental load holds all ``--ratings``
rows: the base ones rewritten (newer, another value), the rest new, and every item retitled (with every
item's brand and category), so half a
load shows in the counts, the rating sums or the titles. Each load is a real ``kgrec load table`` process.

Per run: wall seconds and rows per second (rating rows of the load file over the process's wall time) of
the staged load and of the one transaction (or its error: past the managed server's heap, 1g); per kill,
the moment (share of the staged load's time), the steps committed when it landed, and the seconds the
next command (``kgrec stats``) took, the roll-back included, then whether the graph was before or after.
Writes docs/benchmarks/staged_load.md (the command, the date, the machine) and prints a JSON line.

    .venv/bin/python bench/staged_load.py [--ratings 1000000] [--base 300000] [--kills 2]
                                          [--skip-one-transaction] [--workspace bench-staged]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import say, write_results

from core.settings import Settings
from kg import GraphStore
from loaders.demo import demo_dataset
from loaders.records import category_key

KGREC = str(Path(sys.executable).parent / "kgrec")
SNAPSHOT = (
    "MATCH ()-[r:RATED]->() WITH count(r) AS ratings, sum(r.rating) AS stars, sum(r.ts) AS ts "
    "RETURN ratings, stars, ts, COUNT { MATCH (n) } AS nodes, COUNT { MATCH ()-[x]->() } AS relationships, "
    "COUNT { MATCH (i:Item) WHERE i.title ENDS WITH ' (new edition)' } AS retitled"
)


def tables(directory: Path, n_ratings: int, n_base: int) -> tuple[list[str], list[str]]:
    """The base load's and the incremental load's ``kgrec load table`` arguments."""
    users = n_ratings // 25
    ds, _ = demo_dataset(n_users=users, n_items=max(users // 2, 100), ratings_per_user=25, seed=0)
    ratings = ds.ratings.iloc[:n_ratings]
    rewritten = ratings.copy()
    rewritten.loc[: n_base - 1, "rating"] = 6 - rewritten.loc[: n_base - 1, "rating"]
    rewritten.loc[: n_base - 1, "ts"] = rewritten.loc[: n_base - 1, "ts"] + 1
    items = ds.items[["id", "title"]]
    in_base = items["id"].isin(ratings.iloc[:n_base]["item"])
    paths = ds.categories.assign(path=[category_key(p) for p in ds.categories["path"]])
    loads = {
        "base": (
            ratings.iloc[:n_base],
            items[in_base],
            ds.brands[ds.brands["item"].isin(items[in_base]["id"])],
            paths[paths["item"].isin(items[in_base]["id"])],
        ),
        "update": (
            rewritten,
            items.assign(title=items["title"].astype(str) + " (new edition)"),
            ds.brands,
            paths,
        ),
    }
    args = []
    for name, (rated, titled, brands, categories) in loads.items():
        folder = directory / name
        folder.mkdir()
        rated.to_csv(folder / "ratings.csv", index=False)
        titled.to_csv(folder / "items.csv", index=False)
        brands.to_csv(folder / "brand.csv", index=False, header=False)
        categories.to_csv(folder / "category.csv", index=False, header=False)
        args.append(
            [
                "--ratings",
                str(folder / "ratings.csv"),
                "--items",
                str(folder / "items.csv"),
                "--item-attr",
                f"Brand={folder / 'brand.csv'}",
                "--item-attr",
                f"Category={folder / 'category.csv'}",
            ]
        )
    return args[0], args[1]


def kgrec(*args: str, wait: bool = True) -> Any:
    command = [KGREC, *args]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(command, capture_output=True, text=True, check=False)


def base_graph(store: GraphStore, settings: Settings, base: list[str]) -> dict[str, Any]:
    store.reset()
    done = kgrec("load", "table", *base, "--bulk", "always")
    if done.returncode:
        raise SystemExit(f"the base load failed: {done.stderr.strip()[-300:]}")
    store.reconnect(settings)  # the bulk import restarted the server
    return snapshot(store)


def snapshot(store: GraphStore) -> dict[str, Any]:
    return store.read(SNAPSHOT)[0]


def load_update(update: list[str], transaction: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = kgrec("load", "table", *update, "--bulk", "never", "--transaction", transaction)
    seconds = time.perf_counter() - started
    if done.returncode:
        return {"seconds": round(seconds, 1), "failed": done.stderr.strip().splitlines()[-1][:300]}
    return {"seconds": round(seconds, 1)}


def killed(store: GraphStore, update: list[str], after_s: float) -> dict[str, Any]:
    loading = kgrec("load", "table", *update, "--bulk", "never", "--transaction", "staged", wait=False)
    time.sleep(after_s)
    landed = loading.poll() is None
    steps = store.read("MATCH (s:KgrecLoadStep) RETURN count(s) AS n")[0]["n"]
    if landed:
        os.kill(loading.pid, signal.SIGKILL)
    loading.wait()
    started = time.perf_counter()
    kgrec("stats", "--json")
    return {
        "landed_mid_load": landed,
        "steps_committed": steps,
        "next_command_s": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=300_000)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--skip-one-transaction", action="store_true")
    parser.add_argument("--workspace", default="bench-staged")
    args = parser.parse_args()
    os.environ["KGREC_WORKSPACE"] = args.workspace
    settings = Settings(workspace=args.workspace)
    result: dict[str, Any] = {"bench": "staged_load", "ratings": args.ratings, "base": args.base}
    with tempfile.TemporaryDirectory() as tmp, GraphStore.connect(settings) as store:
        base, update = tables(Path(tmp), args.ratings, args.base)
        say(f"tables written: {args.ratings:,} rating rows, {args.base:,} of them in the base")
        before = base_graph(store, settings, base)
        staged = load_update(update, "staged")
        after = snapshot(store)
        staged["rows_per_s"] = round(args.ratings / staged["seconds"])
        result |= {"before": before, "after": after, "staged": staged}
        say(f"staged: {staged}")
        if not args.skip_one_transaction:
            base_graph(store, settings, base)
            one = load_update(update, "one")
            if "failed" not in one:
                one["rows_per_s"] = round(args.ratings / one["seconds"])
                one["same_graph_as_staged"] = snapshot(store) == after
            result["one_transaction"] = one
            say(f"one transaction: {one}")
        result["kills"] = []
        for seed in range(args.kills):
            base_graph(store, settings, base)
            share = random.Random(seed).uniform(0.2, 0.8)
            kill = killed(store, update, share * staged["seconds"])
            state = snapshot(store)
            kill |= {
                "at_share": round(share, 2),
                "graph": "before" if state == before else "after" if state == after else "neither",
            }
            result["kills"].append(kill)
            say(f"kill {seed}: {kill}")
    about = "\n\n".join(__doc__.split("\n\n")[1:3])  # the protocol, from the docstring
    write_results("staged_load", "Staged loads onto a loaded graph, and kill -9", about, result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
