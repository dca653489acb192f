"""The first load of an empty workspace through ``neo4j-admin database import full``: the validated dataset as
import files (:mod:`kg.bulk_csv`), a new store built from them, then the schema's constraints and indexes.

All-or-nothing by construction: the tool builds the new store in a folder of its own, beside the
workspace's, while the managed server is stopped (under the workspace lock, so that no command starts it
meanwhile); only a finished store is moved into the server's data directory, the previous one moved aside.
If the import fails, nothing was moved: the server starts again on the previous store, and the error is one
line. If the server does not start on the new store, or its constraints cannot be created, the previous
store is moved back. A ``kill -9`` during the import leaves the server stopped on the previous store (the
next command starts it); the two renames of the swap are the only moment that is not covered.

When a load takes this path (:func:`write_dataset`): ``--bulk never`` never; ``always`` whenever it can (else
an error saying why not); ``auto`` (the default) when it can and the dataset has at least
:data:`BULK_FROM_ROWS` rows. It can when the server is the workspace's managed one (not ``NEO4J_URI``), not
read-only, and its graph has no node. The bulk path has a fixed cost, the server's stop and start with the
schema (about 20 s of amazon-hin's 24.6 s in ``bench/load.py`` on a quiet 2-core machine, where one
transaction took 10 s; 45 s under load); 10M ratings took 80.5 s through it, while one transaction cannot
hold 1M on the managed server's default heap (1g).

Example:
    >>> BulkMode("auto") is BulkMode.AUTO
    True
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import deque
from enum import StrEnum
from pathlib import Path

import kg.queries as q
from core.errors import InputError, KGRecError, Neo4jError
from core.progress import Progress
from core.settings import Settings
from kg.bulk_csv import ImportFiles, write_import_files
from kg.load_parts import dataset_rows
from kg.server import ADMIN_ENTRY_POINT, ManagedNeo4j
from kg.staged_load import LoadTransaction
from kg.store import GraphStore
from loaders.records import Dataset

__all__ = ["BULK_FROM_ROWS", "BulkMode", "bulk_refusal", "write_bulk", "write_dataset"]

BULK_FROM_ROWS = 200_000
"""Rows (all frames of the dataset) from which ``--bulk auto`` imports an empty workspace (see the module)."""

# what the tool prints (verbose): "Nodes, started 2026-...", "Done in 317ms", a stack trace's "Caused by:"
_STARTED = re.compile(r"^(.+?), started \d{4}-\d\d-\d\d")
_CAUSE = re.compile(r"^Caused by: [\w.$]+: (.+)$")
# a warning the tool ends without a line break, so that the next stage's line follows it on the same line
_WARNING = re.compile(r"^WARNING: heap size .*? Suggested heap size is [\d.]+\s?\w?i?B")
_TRACE = re.compile(r"^\s+(at |\.\.\. \d+ more)")


class BulkMode(StrEnum):
    """``kgrec load --bulk``: whether a load may go through ``neo4j-admin database import``."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


def bulk_refusal(store: GraphStore, settings: Settings) -> str | None:
    """Why the bulk import cannot load into ``store``; ``None`` when it can."""
    if settings.neo4j.uri:
        return "NEO4J_URI names a server kgrec does not manage"
    if settings.neo4j_read_only:
        return "the workspace's server is read-only"
    if not store.read(q.GRAPH_IS_EMPTY)[0]["empty"]:
        return "the graph is not empty (the bulk import only builds a new store)"
    return None


def write_dataset(
    store: GraphStore,
    settings: Settings,
    dataset: Dataset,
    mode: BulkMode = BulkMode.AUTO,
    progress: Progress | None = None,
    transaction: LoadTransaction = LoadTransaction.AUTO,
) -> bool:
    """Load ``dataset`` through the bulk import or the transactional load (in one transaction or staged, as
    ``transaction`` says), as ``mode`` says (see the module); returns whether it was the bulk import. Either
    way ``dataset.report.written`` says what was written."""
    if mode is BulkMode.NEVER:
        store.write(dataset, progress, transaction)
        return False
    refusal = bulk_refusal(store, settings)
    if refusal and mode is BulkMode.ALWAYS:
        raise InputError(f"--bulk always cannot import: {refusal}; load with --bulk auto or never")
    if refusal or (mode is BulkMode.AUTO and dataset_rows(dataset) < BULK_FROM_ROWS):
        store.write(dataset, progress, transaction)
        return False
    write_bulk(store, settings, dataset, progress)
    return True


def write_bulk(
    store: GraphStore, settings: Settings, dataset: Dataset, progress: Progress | None = None
) -> dict[str, int]:
    """Import ``dataset`` into the empty graph of the workspace's managed server; ``store`` is connected to
    the restarted server afterwards. Returns the rows written per node label and relationship type. Where
    :func:`bulk_refusal` refuses, raises :class:`InputError` and touches nothing."""
    if refusal := bulk_refusal(store, settings):
        raise InputError(f"the bulk import cannot load: {refusal}")
    schema = store.load_schema(dataset)
    kept = store.read(q.SHOW_CONSTRAINT_STATEMENTS) + store.read(q.SHOW_INDEX_STATEMENTS)
    server = ManagedNeo4j(settings)
    work = server.root / "bulk-import"
    shutil.rmtree(work, ignore_errors=True)
    swap = _Swap(server.root / "data", work, store.database)
    try:
        files = write_import_files(dataset, schema, work / "csv", progress)
        _staging_conf(server.root / "conf" / "neo4j.conf", work)
        if progress:
            progress("stopping Neo4j for the bulk import", 0, 0)
        try:
            with server.offline(progress) as start:
                _run_import(server, work, files, store.database, progress)
                swap.new_in()
                try:
                    start()
                except KGRecError as e:
                    swap.previous_back()
                    start()
                    raise Neo4jError(
                        f"Neo4j did not start on the imported store; the graph is as it was: {e}"
                    ) from e
        finally:  # started again, on the new store or the previous one
            store.reconnect(settings, progress)
        try:
            if progress:
                progress("constraints and indexes", 0, 0)
            present = set(store.read(q.SCHEMA_NAMES)[0]["names"])
            for row in kept:
                if row["name"] not in present:
                    store.write_query(row["createStatement"])
            store.ensure_schema(schema)
        except KGRecError as e:
            with server.offline(progress):
                swap.previous_back()
            store.reconnect(settings, progress)
            raise Neo4jError(f"the bulk import was undone, the graph is as it was: {e}") from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    dataset.report.written = files.written
    return files.written


class _Swap:
    """The database's store and transaction folders moved between the server's data directory and the
    import's: the new ones in (the previous ones aside), or the previous ones back."""

    def __init__(self, data: Path, work: Path, database: str) -> None:
        self.places = [
            (data / kind / database, work / "data" / kind / database, work / "previous" / kind)
            for kind in ("databases", "transactions")
        ]

    def new_in(self) -> None:
        try:
            for live, new, aside in self.places:
                aside.parent.mkdir(parents=True, exist_ok=True)
                if live.exists():
                    live.rename(aside)
                new.rename(live)
        except OSError as e:
            self.previous_back()
            raise Neo4jError(f"the imported store could not be moved in; the graph is as it was: {e}") from e

    def previous_back(self) -> None:
        for live, _, aside in self.places:
            if aside.exists():
                shutil.rmtree(live, ignore_errors=True)
                aside.rename(live)


def _staging_conf(conf: Path, work: Path) -> None:
    """The server's configuration with its data directory moved to the import's own: the tool builds the
    new store there and never touches the server's."""
    lines = [
        f"server.directories.data={work / 'data'}" if line.startswith("server.directories.data=") else line
        for line in conf.read_text().splitlines()
    ]
    (work / "conf").mkdir(parents=True, exist_ok=True)
    (work / "conf" / "neo4j.conf").write_text("\n".join(lines) + "\n")


def _run_import(
    server: ManagedNeo4j, work: Path, files: ImportFiles, database: str, progress: Progress | None
) -> None:
    """Run ``neo4j-admin database import full`` (its main class, from the server's jars) on ``files``; each
    stage it starts and ends is progress; a failure raises with the tool's own reason on one line. (Verbose:
    only then does the tool print the reason, such as the row that names a missing node.)"""
    cmd = [
        "java",  # the JVM's default heap (a quarter of the memory), which the tool sizes its work by
        "-cp",
        f"{server.jars.lib_dir}/*",
        ADMIN_ENTRY_POINT,
        "database",
        "import",
        "full",
        database,  # first: each --nodes and --relationships takes every word after it as one more file
        "--verbose",
        "--overwrite-destination=true",
        f"--report-file={work / 'import.report'}",
        *(f"--nodes={label}={path}" for label, path in files.nodes),
        *(f"--relationships={rel}={path}" for rel, path in files.relationships),
        *(["--multiline-fields=true"] if files.multiline else []),
    ]
    env = {**os.environ, "NEO4J_HOME": str(server.root), "NEO4J_CONF": str(work / "conf")}
    said: deque[str] = deque(maxlen=200)
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None  # piped above
        stage = ""
        for line in proc.stdout:
            if _TRACE.match(line):
                continue
            said.append(line.strip())
            if found := _STARTED.match(_WARNING.sub("", line)):
                stage = f"neo4j-admin import: {found.group(1)}"
                if progress:
                    progress(stage, 0, 1)
            elif line.startswith("Done in") and stage and progress:
                progress(stage, 1, 1)
        code = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: the tool is ours to stop
            proc.kill()
            proc.wait()
    if code != 0:
        raise Neo4jError(f"the bulk import failed, the graph is as it was: {_reason(list(said))}")


def _reason(lines: list[str]) -> str:
    """The tool's own words for its failure, on one line: the message of the deepest ``Caused by``, else its
    last line.

    Example:
        >>> _reason(["Error in input data", "Caused by: a.B: ERROR in input",
        ...          "Caused by: a.InputException: x (User)-[RATED]->y (Item) referring to missing node x"])
        'x (User)-[RATED]->y (Item) referring to missing node x'
    """
    causes = [m.group(1) for line in lines if (m := _CAUSE.match(line))]
    said = [line for line in lines if line]
    return (causes[-1] if causes else said[-1] if said else "neo4j-admin exited with no output")[:500]
