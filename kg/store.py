"""``GraphStore``: the one door to Neo4j. Schema set-up, batched loads, stats, read-only Cypher, export.

Example:
    >>> from core.settings import Settings
    >>> with GraphStore.connect(Settings()) as store:          # doctest: +SKIP
    ...     store.write(read_hin("../shared/data/amazon-hin"))
    ...     store.stats().nodes["User"]
    6170
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, cast

import neo4j
import neo4j.exceptions
from neo4j.exceptions import ClientError, ServiceUnavailable

import kg.queries as q
from core.errors import InputError, Neo4jError, SchemaError, WriteRefusedError
from core.progress import Progress
from core.schema import Schema
from core.settings import Settings
from kg.checks import CheckedServer
from kg.connection import connect_driver
from kg.embeddings import Embeddings
from kg.export import GraphExport, export_graph
from kg.fingerprint import GraphFingerprint
from kg.guard import explained, lucene_escaped, refused_operation, unexplained
from kg.load_parts import dataset_rows, load_parts
from kg.records import (
    CatalogueCountsRecord,
    GraphStats,
    SearchHitRecord,
)
from kg.serving_reads import ServingReads
from kg.staged_load import STAGE_FROM_ROWS, LoadTransaction, settle_loads, write_staged
from kg.statements import memory_hint, run_statement
from kg.text_search import SearchReads
from kg.users import register_user_side, user_sourced
from loaders.records import Dataset

__all__ = ["GraphStore"]

# A one-transaction load may run longer than the server's default limit for queries.
_LOAD_TIMEOUT_S = 3600.0


class GraphStore(ServingReads, SearchReads, Embeddings, CheckedServer):
    """Reads and writes the kgrec graph in one Neo4j database (what serving reads per request:
    :class:`kg.serving_reads.ServingReads`; search: :class:`kg.text_search.SearchReads`)."""

    def __init__(self, driver: neo4j.Driver, database: str = "neo4j", batch_size: int = 10_000) -> None:
        self._driver = driver
        self.database = database
        self.batch_size = batch_size

    @classmethod
    def connect(cls, settings: Settings, progress: Progress | None = None) -> GraphStore:
        """Connect, and roll back a staged load whose writer died (:func:`kg.staged_load.settle_loads`): a
        ``kill -9`` during a load leaves the graph as it was for the next command."""
        driver, _ = connect_driver(settings, progress)
        store = cls(driver, settings.neo4j.database, settings.batch_size)
        if not settings.neo4j_read_only:
            # a database that refuses the writes still connects: reads go on, training and loads say why
            with contextlib.suppress(ClientError):
                settle_loads(driver, store.database)
        return store

    def close(self) -> None:
        self._driver.close()

    def reconnect(self, settings: Settings, progress: Progress | None = None) -> None:
        """Close the driver and open a new one: the managed server was restarted (:mod:`kg.bulk_import`)."""
        self._driver.close()
        self._driver, _ = connect_driver(settings, progress)

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- low level ----------------------------------------------------------------------------------
    def _run(
        self, query: str, params: Mapping[str, Any] | None = None, *, write: bool, plan: bool = False
    ) -> list[dict[str, Any]]:
        """Run one statement (see :mod:`kg.statements`); with ``plan``, return ``[plan]`` of an ``EXPLAIN``."""
        return run_statement(self._driver, self.database, query, params, write=write, plan=plan)

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query in a read transaction; a query that writes raises ``WriteRefusedError``."""
        return self._run(query, params, write=False)

    def write_query(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query in a write transaction."""
        return self._run(query, params, write=True)

    def typed_query(
        self, query: str, params: Mapping[str, Any] | None = None, *, write: bool = False
    ) -> list[dict[str, Any]]:
        """Run Cypher that a person typed: read-only unless ``write``, checked first by :mod:`kg.guard`.

        The read path refuses, before anything runs, what a read transaction would still allow (terminating
        other sessions' transactions, cache procedures, ``LOAD CSV``, functions that run Cypher of their own):
        only the guard's allow-lists run. ``write`` runs the query as one auto-commit transaction, as
        cypher-shell does, so that ``CALL { ... } IN TRANSACTIONS`` works.
        """
        if write:
            return run_statement(self._driver, self.database, query, params, write=True, implicit=True)
        try:
            plan = self._run(explained(query), params, write=False, plan=True)[0]
        except Neo4jError as e:  # a syntax error echoes the query: show the person's, not the EXPLAIN
            raise type(e)(unexplained(str(e))) from e
        refused = refused_operation(plan, query)
        if refused:
            raise WriteRefusedError(
                f"read-only Cypher does not run {refused} (see docs/cypher.md for what it runs);"
                " rerun with --write to run it"
            )
        return self._run(query, params, write=False)

    def _batched(
        self,
        tx: neo4j.ManagedTransaction,
        query: str,
        rows: Sequence[dict[str, Any]],
        step: str,
        progress: Progress | None,
    ) -> int:
        for start in range(0, len(rows), self.batch_size):
            tx.run(query, {"rows": list(rows[start : start + self.batch_size])}).consume()
            if progress:
                progress(step, min(start + self.batch_size, len(rows)), len(rows))
        return len(rows)

    # -- schema -------------------------------------------------------------------------------------
    def schema(self) -> Schema:
        """The schema of what the database holds: core plus the entity types and item links found."""
        labels = self.read(q.LIST_LABELS)[0]["labels"]
        types = self.read(q.LIST_REL_TYPES)[0]["types"]
        return Schema.discover(labels, types, user_sourced(self.read, types))

    def ensure_schema(self, schema: Schema) -> None:
        """Create uniqueness constraints on every key and the indexes, ``IF NOT EXISTS``."""
        self.write_query(q.DROP_NAME_KEYED_CATEGORY_CONSTRAINT)
        for node in schema.node_types:
            self.write_query(q.create_key_constraint(node))
        self.write_query(q.CREATE_ITEM_TEXT_INDEX)
        self.ensure_search_index(schema)
        self.write_query(q.AWAIT_INDEXES)

    # -- loading ------------------------------------------------------------------------------------
    def load_schema(self, dataset: Dataset) -> Schema:
        """The schema the graph has once ``dataset`` is loaded: the database's, plus the dataset's types."""
        self.check_category_keys()
        schema = self.schema()
        for label in dataset.entities:
            schema = schema.with_entity(label)
        for rel in dataset.item_links:
            if rel not in {r.type for r in schema.rel_types}:
                schema = schema.with_item_link(rel)
        return register_user_side(schema, dataset)

    def write(
        self,
        dataset: Dataset,
        progress: Progress | None = None,
        transaction: LoadTransaction = LoadTransaction.AUTO,
    ) -> dict[str, int]:
        """Store a dataset with batched ``UNWIND ... MERGE`` statements (:mod:`kg.load_parts`), in one
        transaction or, staged, in one per batch (``transaction``: ``auto`` stages from
        :data:`kg.staged_load.STAGE_FROM_ROWS` rows).

        Either way the load is all-or-nothing: it lands whole or leaves the graph as it was, whatever stops
        it (an error, Ctrl-C, ``kill -9`` of this process, a crash of Neo4j). One transaction is rolled back
        by the server when its connection closes, and recovery keeps only committed transactions; a staged
        load is rolled back step by step (:mod:`kg.staged_load`). Updated ratings and properties roll back
        with the rest. Concurrent one-transaction loads each see the other whole or not at all (a deadlock
        between them is retried by the driver's transaction function); one staged load runs at a time, and
        a one-transaction load does not start beside it.

        Returns the number of rows sent per node label and relationship type.
        """
        running = settle_loads(self._driver, self.database)
        if running:
            raise InputError(
                f"a staged load is being written ({running[0].describe()}); load when it has finished"
            )
        schema = self.load_schema(dataset)
        self.ensure_schema(schema)
        staged = transaction is LoadTransaction.STAGED or (
            transaction is LoadTransaction.AUTO and dataset_rows(dataset) >= STAGE_FROM_ROWS
        )

        @neo4j.unit_of_work(timeout=_LOAD_TIMEOUT_S)
        def load(tx: neo4j.ManagedTransaction) -> dict[str, int]:
            written: dict[str, int] = {}
            for part in load_parts(dataset, schema):
                written[part.step] = written.get(part.step, 0) + self._batched(
                    tx, part.statement, part.rows, part.step, progress
                )
            return written

        try:
            if staged:
                written = write_staged(
                    self._driver, self.database, load_parts(dataset, schema), self.batch_size, progress
                )
            else:
                with self._driver.session(database=self.database) as session:
                    written = session.execute_write(load)
        except ClientError as e:
            raise Neo4jError(
                f"the load was rolled back, the graph is as it was: {e.code}: {e.message}{memory_hint(e.code)}"
            ) from e
        # the server's other errors (a load past the transaction memory is a transient one)
        except neo4j.exceptions.Neo4jError as e:
            raise Neo4jError(
                f"the load was rolled back, the graph is as it was: {e}{memory_hint(e.code)}"
            ) from e
        except ServiceUnavailable as e:
            raise Neo4jError(f"the load was rolled back, the graph is as it was: {e}") from e
        dataset.report.written = written
        return written

    def merge_ratings_naive(self, rows: Sequence[dict[str, Any]]) -> None:
        """One ``MERGE`` transaction per rating: the slow way, kept only as the benchmark's peer."""
        for row in rows:
            self.write_query(q.MERGE_NAIVE_RATING, row)

    def reset(self) -> None:
        """Delete every node and relationship (constraints and indexes stay), in transactions of at most
        10,000 relationships, then 10,000 nodes."""
        for batch in (q.DELETE_RELATIONSHIPS_BATCH, q.DELETE_NODES_BATCH):
            while self.write_query(batch, {"limit": 10_000})[0]["n"]:
                pass

    def search(self, query: str, limit: int = 50, lucene: bool = False) -> list[SearchHitRecord]:
        """Full-text matches on item title and description, best first.

        The text is searched for as words: Lucene's operators in it (``AND``, ``"``, ``*``, ``:``, ...) are
        escaped, unless ``lucene`` asks for the raw query syntax.
        """
        text = query if lucene else lucene_escaped(query)
        try:
            rows = self.read(q.SEARCH_ITEMS, {"query": text, "limit": limit})
        except Neo4jError as e:
            # only Lucene refusing the text is the caller's fault; a server that is down or failing is not
            cause = e.__cause__
            if not (isinstance(cause, ClientError) and "org.apache.lucene" in (cause.message or "")):
                raise
            raise InputError(f"not a valid Lucene query: {query!r}") from e
        return cast(list[SearchHitRecord], rows)

    def catalogue_counts(self) -> CatalogueCountsRecord:
        """Items, brands, and categories that hold items directly: the denominators of coverage."""
        return cast(CatalogueCountsRecord, self.read(q.CATALOGUE_COUNTS)[0])

    def fingerprint(self) -> GraphFingerprint:
        """Which graph this is, told by its catalogue (:class:`kg.fingerprint.GraphFingerprint`): what a
        model folder records of the graph it was trained on."""
        return GraphFingerprint.of(r["id"] for r in self.read(q.ITEM_IDS))

    def check_category_keys(self) -> None:
        """Raise ``SchemaError`` if Category nodes lack a ``path``: written before categories were keyed by it."""
        if legacy := self.read(q.NAME_KEYED_CATEGORIES)[0]["n"]:
            raise SchemaError(
                f"this graph keys its {legacy:,} categories by name, as kgrec did before categories were keyed "
                "by their path; reload it: `kgrec reset --yes`, then `kgrec load ...` again (and retrain)"
            )

    # -- reading ------------------------------------------------------------------------------------
    def stats(self) -> GraphStats:
        """Node count per label and relationship count per type of the schema the database holds."""
        schema = self.schema()
        nodes = {n.label: self.read(q.count_nodes(n))[0]["n"] for n in schema.node_types}
        rels = {r.type: self.read(q.count_relationships(r))[0]["n"] for r in schema.rel_types}
        return GraphStats(nodes, rels)

    def export(self, progress: Progress | None = None) -> GraphExport:
        """The whole graph as frames (see :class:`kg.export.GraphExport`), streamed per label and type; refused
        while a staged load is being written (half of it would be trained on)."""
        running = settle_loads(self._driver, self.database)
        if running:
            raise InputError(
                f"a staged load is being written ({running[0].describe()}); train when it has finished"
            )
        self.check_category_keys()
        return export_graph(self._driver, self.database, self.schema(), progress)
