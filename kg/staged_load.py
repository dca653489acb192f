"""A load too large for one transaction, still all-or-nothing: staged in steps under a load marker, then made
the graph's in one small transaction.

How it goes (:func:`write_staged`):

1. A marker node (label ``KgrecLoad``) names the load, the process that writes it (machine, pid and
   the pid's start time) and when the server last saw it. Its uniqueness constraint lets one staged load run
   at a time.
2. Each batch of the load's parts (:mod:`kg.load_parts`, the same as the one-transaction load's) is a
   transaction of its own, a *step*: it claims the marker (the load must still be running), writes its rows
   with the staged form of the statement, which returns what the rows created and the values they
   overwrote, and records that beside the rows in a step node.
3. Deleting the marker, one small transaction, ends the load: from then on it is the graph's. Its steps are
   then dropped in batches; steps without a marker are dropped by whichever process comes next.

A load that stops before its end is rolled back: its steps undone newest first (created nodes and
relationships deleted, overwritten values put back), each undo in one transaction with its step's removal,
then the marker. The load does so itself on an error or Ctrl-C; after a ``kill -9`` or a crash, the next
kgrec process to connect does (:func:`settle_loads`), once the load is known dead: on the same machine its
process is gone (read from ``/proc``; no process is signalled), from another machine its marker has not been
seen for :data:`STALE_AFTER_S`. Until then the graph holds its committed steps: training refuses to export
meanwhile (:meth:`kg.GraphStore.export`), and a one-transaction load refuses to start.

Example:
    >>> from kg.load_parts import load_parts
    >>> written = write_staged(driver, "neo4j", load_parts(ds, schema), 10_000)      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import neo4j
from neo4j.exceptions import ConstraintError

import kg.queries as q
from core.errors import InputError, Neo4jError
from core.progress import Progress
from core.schema import RATED, NodeType, RelType
from kg.load_parts import LoadPart

__all__ = [
    "STAGE_FROM_ROWS",
    "STALE_AFTER_S",
    "LoadMarker",
    "LoadTransaction",
    "load_markers",
    "roll_back",
    "settle_loads",
    "write_staged",
]

STAGE_FROM_ROWS = 500_000
"""Rows from which ``--transaction auto`` stages a load: at 1M ratings one transaction outgrew the managed
server's default heap (1g; :mod:`kg.bulk_import`)."""

STALE_AFTER_S = 300.0
"""Seconds without a step after which a load written from another machine counts as dead."""

_UNDO_AT_ONCE = 20  # steps read per round of a roll-back
_TAKEN_OVER = "load {load} was rolled back by another process while it was written; nothing of it is left"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class LoadTransaction(StrEnum):
    """``kgrec load --transaction``: one transaction, staged, or staged from :data:`STAGE_FROM_ROWS` rows."""

    AUTO = "auto"
    ONE = "one"
    STAGED = "staged"


@dataclass(frozen=True)
class LoadMarker:
    """A staged load the graph holds: its ``id``, ``state`` (``running`` or ``rolling back``), who writes it,
    and the seconds since a step of it was last seen."""

    id: str
    state: str
    host: str
    pid: int
    pid_started: int | None
    idle_s: float

    def dead(self) -> bool:
        """Whether nothing writes this load any more (see the module)."""
        if self.state != "running":
            return True  # a roll-back began and did not end: the next one finishes it
        if self.host == _HOST and self.pid_started is not None:
            return _started(self.pid) != self.pid_started
        return self.idle_s > STALE_AFTER_S

    def describe(self) -> str:
        return f"load {self.id} by pid {self.pid} on {self.host.split('/')[0]}, last step {self.idle_s:.0f} s ago"


def load_markers(driver: neo4j.Driver, database: str) -> list[LoadMarker]:
    """The staged loads the graph holds, oldest first."""
    rows = driver.execute_query(q.LOADS, database_=database, routing_=neo4j.RoutingControl.READ).records
    return [
        LoadMarker(r["id"], r["state"], r["host"], int(r["pid"]), r["pid_started"], r["idle_ms"] / 1000.0)
        for r in rows
    ]


def settle_loads(driver: neo4j.Driver, database: str) -> list[LoadMarker]:
    """Roll back the staged loads whose writer is dead and drop steps left without a load; returns the loads
    still running. Reads once and writes nothing when the graph holds no staged load."""
    pending = driver.execute_query(q.PENDING_LOADS, database_=database, routing_=neo4j.RoutingControl.READ)
    if not pending.records[0]["n"]:
        return []
    running = []
    for marker in load_markers(driver, database):
        if marker.dead():
            roll_back(driver, database, marker.id)
        else:
            running.append(marker)
    with driver.session(database=database) as session:
        while session.execute_write(
            lambda tx: tx.run(q.DROP_ORPHAN_STEPS, limit=1_000).single(strict=True)["n"]
        ):
            pass
    return running


def write_staged(
    driver: neo4j.Driver,
    database: str,
    parts: Iterable[LoadPart],
    batch_size: int,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write ``parts`` as a staged load (see the module); returns the rows written per label and type."""
    running = settle_loads(driver, database)
    if running:
        raise InputError(
            f"another load is being written ({running[0].describe()}); load when it has finished"
        )
    for statement in (q.CREATE_LOAD_SLOT_CONSTRAINT, q.CREATE_LOAD_STEP_INDEX):
        driver.execute_query(statement, database_=database)
    load = uuid.uuid4().hex
    mine = {"load": load, "host": _HOST, "pid": os.getpid(), "pid_started": _started(os.getpid())}
    try:
        driver.execute_query(q.OPEN_LOAD, mine, database_=database)
    except ConstraintError as e:
        raise InputError("another load is being written; load when it has finished") from e
    written: dict[str, int] = {}
    try:
        with driver.session(database=database) as session:
            step = 0
            for part in parts:
                for start in range(0, len(part.rows), batch_size):
                    step += 1
                    rows = part.rows[start : start + batch_size]
                    session.execute_write(_step, load, step, part, rows)
                    if progress:
                        progress(part.step, start + len(rows), len(part.rows))
                written[part.step] = written.get(part.step, 0) + len(part.rows)
        closed = driver.execute_query(q.CLOSE_LOAD, {"load": load}, database_=database).records
        if not closed or not closed[0]["closed"]:
            raise Neo4jError(_TAKEN_OVER.format(load=load))
    except BaseException:
        # an error, or Ctrl-C: undo it now if the server answers, else the next process will; the first
        # error is the one to report
        with contextlib.suppress(Exception):
            roll_back(driver, database, load)
        raise
    settle_loads(driver, database)  # its steps, now without a load
    return written


def roll_back(driver: neo4j.Driver, database: str, load: str) -> bool:
    """Undo the staged load ``load`` step by step, newest first, then drop its marker; ``False`` when the
    graph holds no such load (it ended, or another process rolled it back)."""
    with driver.session(database=database) as session:
        taken = session.execute_write(lambda tx: tx.run(q.ROLL_BACK_LOAD, load=load).consume())
        if not taken.counters.properties_set:
            return False
        while True:
            steps = session.execute_read(
                lambda tx: tx.run(q.LAST_STEPS, load=load, limit=_UNDO_AT_ONCE).data()
            )
            for found in steps:
                session.execute_write(_undo, load, found)
            if len(steps) < _UNDO_AT_ONCE:
                break
        session.execute_write(lambda tx: tx.run(q.DROP_LOAD, load=load).consume())
    return True


def _step(
    tx: neo4j.ManagedTransaction, load: str, step: int, part: LoadPart, rows: list[dict[str, Any]]
) -> None:
    claimed = tx.run(q.CLAIM_LOAD, load=load).single()
    if claimed is None or not claimed["running"]:
        raise Neo4jError(_TAKEN_OVER.format(load=load))
    undo: dict[str, Any] = {"created": [], "sources": [], "targets": [], "changed": "[]"}
    if part.node is not None:
        node = part.node
        found = _first_per_key(tx.run(q.stage_nodes(node), rows=rows).data(), ("key",))
        undo["created"] = [r["key"] for r in found if r["created"]]
        changed = [[r["key"], dict(r["before"])] for r in found if not r["created"] and r["before"]]
        undo |= {"kind": "node", "names": [node.label, node.key], "changed": json.dumps(changed)}
    elif part.rel is not None and part.rel.type == RATED.type:
        found = _first_per_key(tx.run(q.STAGE_RATINGS, rows=rows).data(), ("user", "item"))
        created = [r for r in found if r["created"]]
        changed = [[r["user"], r["item"], r["rating"], r["ts"]] for r in found if not r["created"]]
        undo |= {
            "kind": "rating",
            "names": [],
            "sources": [r["user"] for r in created],
            "targets": [r["item"] for r in created],
            "changed": json.dumps(changed),
        }
    else:
        rel = part.rel
        assert rel is not None  # a part is of a node type or of a relationship type
        found = tx.run(q.stage_links(rel), rows=rows).data()
        s, t = rel.source, rel.target
        undo |= {
            "kind": "link",
            "names": [s.label, s.key, rel.type, t.label, t.key],
            "sources": [r["source"] for r in found],
            "targets": [r["target"] for r in found],
        }
    if undo["created"] or undo["sources"] or undo["changed"] != "[]":
        tx.run(q.RECORD_STEP, load=load, step=step, **undo).consume()


def _undo(tx: neo4j.ManagedTransaction, load: str, found: dict[str, Any]) -> None:
    if not tx.run(q.DROP_STEP, load=load, step=found["step"]).single(strict=True)["n"]:
        return  # undone by another process meanwhile
    names = [_checked(n) for n in found["names"] or []]
    changed = json.loads(found["changed"] or "[]")
    pairs = [
        {"source": a, "target": b}
        for a, b in zip(found["sources"] or [], found["targets"] or [], strict=True)
    ]
    if found["kind"] == "node":
        node = NodeType(*names)
        tx.run(q.undo_changed_nodes(node), rows=[{"key": k, "before": b} for k, b in changed]).consume()
        tx.run(q.undo_created_nodes(node), keys=found["created"] or []).consume()
    elif found["kind"] == "rating":
        rows = [{"user": u, "item": i, "rating": r, "ts": t} for u, i, r, t in changed]
        tx.run(q.RESTORE_RATINGS, rows=rows).consume()
        tx.run(q.undo_created_links(RATED), rows=pairs).consume()
    elif found["kind"] == "link":
        rel = RelType(names[2], NodeType(names[0], names[1]), NodeType(names[3], names[4]))
        tx.run(q.undo_created_links(rel), rows=pairs).consume()
    else:
        raise Neo4jError(f"step {found['step']} of load {load} is of an unknown kind {found['kind']!r}")


def _first_per_key(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """A batch's rows, the first of each key only: its ``before`` is what the graph held before the batch."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(tuple(row[k] for k in key), row)
    return list(seen.values())


def _checked(name: str) -> str:
    """A label, type or key name read back from a step, before it is put into a statement."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise Neo4jError(f"a staged load's step names {name!r}, which is no label, type or key")
    return name


def _started(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks after boot, from ``/proc``); ``None`` when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count the fields after its last ')'
    return int(stat.rsplit(")", 1)[1].split()[19])


def _host() -> str:
    """This machine: its name and, where readable, its boot (a pid is only comparable within one boot)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "unknown boot"
    return f"{socket.gethostname()}/{boot}"


_HOST = _host()
