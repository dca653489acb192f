"""Loads are all-or-nothing: killed, failing or concurrent, a load leaves the graph as it was or complete.

The reliability suite of the load guarantee (docs/loading.md, "Loading is all-or-nothing"): ``kill -9`` (and once
Ctrl-C) of a real ``kgrec load`` process while its write transaction is open, at several seeded moments; a failing load
beside a succeeding one; two overlapping loads at once. Real Neo4j throughout.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.settings import Settings
from kg import GraphStore
from loaders import read_table
from loaders.demo import demo_dataset, write_demo_files

KGREC = str(Path(sys.executable).parent / "kgrec")
SNAPSHOT = (
    "MATCH ()-[r:RATED]->() RETURN count(r) AS ratings, sum(r.rating) AS stars, sum(r.ts) AS ts, "
    "COUNT { MATCH (n) } AS nodes, COUNT { MATCH ()-[x]->() } AS relationships"
)


def _snapshot(store: GraphStore) -> dict[str, Any]:
    """Counts and sums that change when any rating is added, removed or updated."""
    return store.read(SNAPSHOT)[0]


def _files(directory: Path) -> tuple[Path, Path]:
    """A base load and a bigger second one that adds ratings and rewrites every base rating (newer, other
    value), so a half-applied second load shows in the counts or in the sums."""
    files = write_demo_files(directory, n_users=2500, n_items=400, ratings_per_user=24)
    ratings = pd.read_csv(files["ratings"])
    base = directory / "base.csv"
    ratings.iloc[:15_000].to_csv(base, index=False)
    second = ratings.copy()
    second.loc[: 15_000 - 1, "rating"] = 6 - second.loc[: 15_000 - 1, "rating"]
    second.loc[: 15_000 - 1, "ts"] = second.loc[: 15_000 - 1, "ts"] + 1
    update = directory / "update.csv"
    second.to_csv(update, index=False)
    return base, update


def _load(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KGREC, "load", "table", "--ratings", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )


def _load_transaction_open(store: GraphStore) -> bool:
    rows = store.read("SHOW TRANSACTIONS YIELD currentQuery RETURN currentQuery")
    return any("UNWIND $rows" in (row["currentQuery"] or "") for row in rows)


@pytest.mark.neo4j
def test_kill_9_during_a_load_leaves_the_graph_before_or_after(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    base, update = _files(tmp_path)
    assert _load(base).returncode == 0
    before = _snapshot(store)
    assert _load(update).returncode == 0
    after = _snapshot(store)
    assert after != before

    killed_mid_load = 0
    for seed in range(3):
        store.reset()
        assert _load(base).returncode == 0
        assert _snapshot(store) == before
        loading = subprocess.Popen(
            [KGREC, "load", "table", "--ratings", str(update)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while loading.poll() is None and not _load_transaction_open(store) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.Random(seed).uniform(0.0, 1.5))
        if loading.poll() is None:
            # kill -9 twice, and once Ctrl-C (SIGINT), which the driver answers with a rollback
            os.kill(loading.pid, signal.SIGINT if seed == 2 else signal.SIGKILL)
            killed_mid_load += 1
        loading.wait()
        # Any command next, as a user would, then the counts.
        assert subprocess.run([KGREC, "stats", "--json"], capture_output=True, check=False).returncode == 0
        state = _snapshot(store)
        assert state in (before, after), f"seed {seed}: half-written graph {state}"
    assert killed_mid_load >= 2, "the kills must land while the load's transaction is open"


@pytest.mark.neo4j
def test_a_failing_load_beside_a_succeeding_one_takes_nothing_with_it(
    store: GraphStore, neo4j_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared, _ = demo_dataset(n_users=30, n_items=40, ratings_per_user=6, seed=1)
    store.write(shared)
    succeeding, _ = demo_dataset(n_users=60, n_items=40, ratings_per_user=8, seed=2)
    failing, _ = demo_dataset(n_users=60, n_items=40, ratings_per_user=8, seed=3)

    with GraphStore.connect(neo4j_settings) as failing_store:
        original = GraphStore._batched

        def flaky(tx: object, query: str, *args: Any, **kwargs: Any) -> int:
            if "MERGE (u)-[r:RATED]" in query:
                time.sleep(0.5)  # the other load runs meanwhile
                raise RuntimeError("connection lost mid-load")
            return original(failing_store, tx, query, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(failing_store, "_batched", flaky)
        errors: list[BaseException] = []

        def run_failing() -> None:
            try:
                failing_store.write(failing)
            except RuntimeError as e:
                errors.append(e)

        thread = threading.Thread(target=run_failing)
        thread.start()
        store.write(succeeding)
        thread.join()
    assert errors, "the failing load failed"
    concurrent = _snapshot(store)
    assert concurrent == _snapshot_after(store, [shared, succeeding])


def _snapshot_after(store: GraphStore, datasets: list[Any]) -> dict[str, Any]:
    """The graph that loading ``datasets`` one after the other into an empty graph gives."""
    store.reset()
    for dataset in datasets:
        store.write(dataset)
    return _snapshot(store)


@pytest.mark.neo4j
def test_a_failed_load_rolls_back_the_ratings_it_updated(store: GraphStore, tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text("user,item,rating,ts\nu1,i1,5,10\nu2,i1,1,10\n")
    store.write(read_table(first))
    before = _snapshot(store)
    second = tmp_path / "second.csv"
    second.write_text("user,item,rating,ts\nu1,i1,1,20\nu2,i1,5,20\nu3,i2,4,20\n")
    dataset = read_table(second)
    original = GraphStore._batched
    calls = {"n": 0}

    def fail_after_ratings(self: GraphStore, tx: object, query: str, *args: Any, **kwargs: Any) -> int:
        done = original(self, tx, query, *args, **kwargs)  # type: ignore[arg-type]
        calls["n"] += 1
        if "MERGE (u)-[r:RATED]" in query:
            raise RuntimeError("stopped after updating ratings")
        return done

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GraphStore, "_batched", fail_after_ratings)
        with pytest.raises(RuntimeError):
            store.write(dataset)
    assert calls["n"] > 1
    assert _snapshot(store) == before
    assert store.read("MATCH (:User {id: 'u1'})-[r:RATED]->() RETURN r.rating AS r")[0]["r"] == 5


@pytest.mark.neo4j
def test_two_overlapping_loads_at_once_both_land_exactly(store: GraphStore, neo4j_settings: Settings) -> None:
    one, _ = demo_dataset(n_users=80, n_items=50, ratings_per_user=10, seed=4)
    two, _ = demo_dataset(n_users=80, n_items=50, ratings_per_user=10, seed=5)
    errors: list[BaseException] = []

    def run(dataset: Any) -> None:
        try:
            with GraphStore.connect(neo4j_settings) as own:
                own.write(dataset)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(d,)) for d in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    together = _snapshot(store)
    # Where both loads rate the same pair at the same time, the later commit wins: either order is exact.
    assert together in (_snapshot_after(store, [one, two]), _snapshot_after(store, [two, one]))
