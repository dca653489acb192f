"""Staged loads (kg.staged_load): a load in many transactions is still all-or-nothing.

Against the real server: a staged load writes what one transaction writes; one that fails half-way, is
killed with ``kill -9`` (a real ``kgrec load`` process, at seeded moments while its steps commit) or whose
writer died leaves the graph as it was, updated ratings and item properties included; a second load and
training wait for a running one. The marker's liveness rule is unit-tested without a server.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import kg.queries as q
import kg.staged_load as staged
from core.errors import InputError, KGRecError
from core.settings import Settings
from kg import GraphStore, LoadTransaction
from kg.staged_load import STALE_AFTER_S, LoadMarker, load_markers, settle_loads
from loaders import Dataset
from loaders.demo import demo_dataset

KGREC = str(Path(sys.executable).parent / "kgrec")
SNAPSHOT = (
    "MATCH ()-[r:RATED]->() WITH count(r) AS ratings, sum(r.rating) AS stars, sum(r.ts) AS ts "
    "RETURN ratings, stars, ts, COUNT { MATCH (n) } AS nodes, COUNT { MATCH ()-[x]->() } AS relationships, "
    "COLLECT { MATCH (i:Item) WHERE i.title IS NOT NULL RETURN i.id + '=' + i.title ORDER BY i.id } AS titles, "
    "COUNT { MATCH (m) WHERE m:KgrecLoad OR m:KgrecLoadStep } AS staging"
)


def _snapshot(store: GraphStore) -> dict[str, Any]:
    """Counts and sums that change when a rating is added, removed or updated, and every item's title."""
    return store.read(SNAPSHOT)[0]


def _base_and_update() -> tuple[Dataset, Dataset]:
    """A base load and a second one that adds users, items and ratings, rewrites every base rating (newer,
    another value) and retitles every base item: half of it shows in the counts, the sums or the titles."""
    full, _ = demo_dataset(n_users=120, n_items=90, ratings_per_user=10, seed=4)
    base, _ = demo_dataset(n_users=120, n_items=90, ratings_per_user=10, seed=4)
    base.ratings = full.ratings.iloc[:600].copy()
    base.items = full.items[full.items["id"].isin(base.ratings["item"])].copy()
    update = full
    update.ratings = full.ratings.copy()
    update.ratings.loc[:599, "rating"] = 6 - update.ratings.loc[:599, "rating"]
    update.ratings.loc[:599, "ts"] = update.ratings.loc[:599, "ts"] + 1
    update.items = full.items.assign(title=full.items["title"].astype(str) + " (new edition)")
    return base, update


@pytest.mark.neo4j
def test_a_staged_load_writes_what_one_transaction_writes(store: GraphStore) -> None:
    base, update = _base_and_update()
    store.write(base, transaction=LoadTransaction.ONE)
    store.write(update, transaction=LoadTransaction.ONE)
    expected = _snapshot(store)

    store.reset()
    store.batch_size = 37  # many steps, some of one part, some across two
    try:
        store.write(base, transaction=LoadTransaction.STAGED)
        written = store.write(update, transaction=LoadTransaction.STAGED)
    finally:
        store.batch_size = 10_000
    assert _snapshot(store) == expected
    assert written["RATED"] == len(update.ratings)
    assert expected["staging"] == 0


@pytest.mark.neo4j
def test_a_staged_load_that_fails_half_way_leaves_the_graph_as_it_was(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, update = _base_and_update()
    store.write(base)
    before = _snapshot(store)
    store.batch_size = 50
    steps = []
    original = staged._step

    def failing(tx: Any, load: str, step: int, *args: Any) -> None:
        steps.append(step)
        if step == 12:  # past the nodes (new and retitled) and into the ratings (new and rewritten)
            raise RuntimeError("connection lost mid-load")
        original(tx, load, step, *args)

    monkeypatch.setattr(staged, "_step", failing)
    try:
        with pytest.raises(RuntimeError, match="connection lost"):
            store.write(update, transaction=LoadTransaction.STAGED)
    finally:
        store.batch_size = 10_000
    assert max(steps) == 12
    assert _snapshot(store) == before


@pytest.mark.neo4j
def test_a_load_taken_over_by_a_roll_back_stops_at_its_next_step(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process that took the load for dead (from another machine, after 300 s without a step) began
    rolling it back: the writer's next step finds it so, and nothing of the load stays."""
    base, update = _base_and_update()
    store.write(base)
    before = _snapshot(store)
    store.batch_size = 50
    original = staged._step

    def taken_over(tx: Any, load: str, step: int, *args: Any) -> None:
        if step == 8:
            store.write_query("MATCH (m:KgrecLoad) SET m.state = 'rolling back'")
        original(tx, load, step, *args)

    monkeypatch.setattr(staged, "_step", taken_over)
    try:
        with pytest.raises(KGRecError, match="rolled back by another process"):
            store.write(update, transaction=LoadTransaction.STAGED)
    finally:
        store.batch_size = 10_000
    assert _snapshot(store) == before


@pytest.mark.neo4j
def test_a_dead_writers_load_is_rolled_back_by_the_next_connection(
    store: GraphStore, neo4j_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, update = _base_and_update()
    store.write(base)
    before = _snapshot(store)
    store.batch_size = 50
    stopped = 0
    original = staged._step

    def stopping(tx: Any, load: str, step: int, *args: Any) -> None:
        nonlocal stopped
        if step == 10:
            stopped += 1
            raise KeyboardInterrupt  # as a kill: no roll-back of its own, below
        original(tx, load, step, *args)

    monkeypatch.setattr(staged, "_step", stopping)
    monkeypatch.setattr(staged, "roll_back", lambda *a: False)  # the dead writer does not undo itself
    try:
        with pytest.raises(KeyboardInterrupt):
            store.write(update, transaction=LoadTransaction.STAGED)
    finally:
        store.batch_size = 10_000
    monkeypatch.undo()
    assert stopped == 1 and _snapshot(store) != before
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    # its writer: a process of this machine that has ended
    store.write_query("MATCH (m:KgrecLoad) SET m.pid = $pid, m.pid_started = 1", {"pid": int(gone.stdout)})
    [marker] = load_markers(store._driver, store.database)
    assert marker.dead()
    with GraphStore.connect(neo4j_settings) as other:  # any next process
        assert _snapshot(other) == before


@pytest.mark.neo4j
def test_a_running_load_holds_off_a_second_load_and_training(store: GraphStore) -> None:
    base, update = _base_and_update()
    store.write(base)
    store.write_query(
        q.OPEN_LOAD,
        {"load": "x1", "host": staged._HOST, "pid": os.getpid(), "pid_started": staged._started(os.getpid())},
    )
    try:
        assert settle_loads(store._driver, store.database)[0].id == "x1"  # alive: this process
        for transaction in (LoadTransaction.ONE, LoadTransaction.STAGED):
            with pytest.raises(InputError, match="is being written"):
                store.write(update, transaction=transaction)
        with pytest.raises(InputError, match="train when it has finished"):
            store.export()
    finally:
        store.write_query(q.DROP_LOAD, {"load": "x1"})
    assert store.export().edges["RATED"].shape[0] == len(base.ratings)


def test_whether_a_loads_writer_is_dead() -> None:
    me = staged._started(os.getpid())
    alive = LoadMarker("a", "running", staged._HOST, os.getpid(), me, 9999.0)
    assert me is not None and not alive.dead()  # same machine, process there: however long since a step
    assert LoadMarker("b", "running", staged._HOST, os.getpid(), me + 1, 0.0).dead()  # the pid reused
    assert LoadMarker("c", "rolling back", staged._HOST, os.getpid(), me, 0.0).dead()  # a roll-back to finish
    elsewhere = "another-machine/boot"
    assert not LoadMarker("d", "running", elsewhere, 1, 5, STALE_AFTER_S - 1).dead()
    assert LoadMarker("e", "running", elsewhere, 1, 5, STALE_AFTER_S + 1).dead()


def _write_tables(directory: Path, dataset: Dataset) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    dataset.ratings.to_csv(directory / "ratings.csv", index=False)
    dataset.items[["id", "title"]].to_csv(directory / "items.csv", index=False)
    return ["--ratings", str(directory / "ratings.csv"), "--items", str(directory / "items.csv")]


def _steps(store: GraphStore) -> int:
    return int(store.read("MATCH (s:KgrecLoadStep) RETURN count(s) AS n")[0]["n"])


@pytest.mark.neo4j
def test_kill_9_during_a_staged_load_leaves_the_graph_before_or_after(
    store: GraphStore, cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, update = _base_and_update()
    base_args, update_args = (
        _write_tables(tmp_path / "base", base),
        _write_tables(tmp_path / "update", update),
    )
    load = [KGREC, "load", "table", "--transaction", "staged"]
    monkeypatch.setenv("KGREC_BATCH_SIZE", "40")  # about 70 steps
    assert subprocess.run([*load, *base_args], capture_output=True, check=False).returncode == 0
    before = _snapshot(store)
    assert subprocess.run([*load, *update_args], capture_output=True, check=False).returncode == 0
    after = _snapshot(store)
    assert after != before and after["staging"] == 0

    killed_mid_load = 0
    for seed in range(3):
        store.reset()
        assert subprocess.run([*load, *base_args], capture_output=True, check=False).returncode == 0
        loading = subprocess.Popen(
            [*load, *update_args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while loading.poll() is None and _steps(store) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(random.Random(seed).uniform(0.0, 0.5))
        if loading.poll() is None:
            os.kill(loading.pid, signal.SIGKILL)
            killed_mid_load += 1
        loading.wait()
        half = _snapshot(store)
        # Any command next, as a user would, then the graph.
        assert subprocess.run([KGREC, "stats", "--json"], capture_output=True, check=False).returncode == 0
        state = _snapshot(store)
        assert state in (before, after), f"seed {seed}: half-written graph {state}"
        if loading.returncode == -signal.SIGKILL and half["staging"]:
            assert state == before  # killed before its end: rolled back
    assert killed_mid_load >= 2, "the kills must land while the load's steps commit"
