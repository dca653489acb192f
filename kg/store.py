"""``GraphStore``: the one door to Neo4j. Schema set-up, batched loads, stats, read-only Cypher, export.

Example:
    >>> from core.settings import Settings
    >>> with GraphStore.connect(Settings()) as store:          # doctest: +SKIP
    ...     store.write(read_hin("../shared/data/amazon-hin"))
    ...     store.stats().nodes["User"]
    6170
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import neo4j
import neo4j.exceptions
import numpy as np
import pandas as pd
from neo4j.exceptions import ClientError, ServiceUnavailable

import kg.queries as q
from core.errors import InputError, Neo4jError, SchemaError, WriteRefusedError
from core.progress import Progress
from core.schema import (
    BRAND,
    CATEGORY,
    IN_CATEGORY,
    ITEM,
    MADE_BY,
    RATED,
    SUBCATEGORY_OF,
    USER,
    NodeType,
    RelType,
    Schema,
)
from core.settings import Settings
from kg.checks import CheckedServer
from kg.connection import connect_driver
from kg.embeddings import Embeddings
from kg.export import GraphExport, export_graph
from kg.fingerprint import GraphFingerprint
from kg.guard import explained, lucene_escaped, refused_operation, unexplained
from kg.records import (
    CatalogueCountsRecord,
    GraphStats,
    SearchHitRecord,
)
from kg.serving_reads import ServingReads
from kg.statements import memory_hint, run_statement
from kg.text_search import SearchReads
from kg.users import register_user_side, user_rows, user_sourced, write_user_side
from loaders.records import Dataset, category_key, category_tree

__all__ = ["GraphStore"]

# A load is one transaction; a large one may run longer than the server's default limit for queries.
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
        driver, _ = connect_driver(settings, progress)
        return cls(driver, settings.neo4j.database, settings.batch_size)

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

    def write(self, dataset: Dataset, progress: Progress | None = None) -> dict[str, int]:
        """Store a dataset with batched ``UNWIND ... MERGE`` statements, all in one transaction.

        The load is all-or-nothing: it commits whole or leaves the graph as it was, whatever stops it (an
        error, Ctrl-C, ``kill -9`` of this process, which closes the connection and so rolls the
        transaction back, or a crash of Neo4j, whose recovery keeps only committed transactions). Updated
        ratings and properties roll back with the rest. Concurrent loads each see the other whole or not
        at all; a deadlock between them is retried by the driver's transaction function.

        Returns the number of rows sent per node label and relationship type.
        """
        schema = self.load_schema(dataset)
        self.ensure_schema(schema)

        @neo4j.unit_of_work(timeout=_LOAD_TIMEOUT_S)
        def load(tx: neo4j.ManagedTransaction) -> dict[str, int]:
            return self._write(tx, dataset, schema, progress)

        try:
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

    def _write(
        self, tx: neo4j.ManagedTransaction, ds: Dataset, schema: Schema, progress: Progress | None
    ) -> dict[str, int]:
        written: dict[str, int] = {}

        def nodes(node: NodeType, rows: list[dict[str, Any]]) -> None:
            written[node.label] = written.get(node.label, 0) + self._batched(
                tx, q.merge_nodes(node), rows, node.label, progress
            )

        def links(rel: RelType, frame: pd.DataFrame) -> None:
            rows = [
                {"source": s, "target": t}
                for s, t in frame[["source", "target"]].astype(str).itertuples(index=False)
            ]
            written[rel.type] = self._batched(tx, q.merge_links(rel), rows, rel.type, progress)

        item_rows = {
            k: {"key": k, "props": {}}
            for k in pd.unique(
                pd.concat(
                    [
                        ds.ratings["item"],
                        ds.items["id"],
                        ds.brands["item"],
                        ds.categories["item"],
                        *(f["item"] for f in ds.entities.values()),
                        *(c for f in ds.item_links.values() for c in (f["source"], f["target"])),
                    ]
                ).astype(str)
            )
        }
        for rec in ds.items.to_dict("records"):
            props = {f: _plain(rec[f]) for f in ("title", "description", "price")}
            item_rows[str(rec["id"])]["props"] = {k: v for k, v in props.items() if v is not None}
        nodes(ITEM, list(item_rows.values()))
        nodes(USER, user_rows(ds))
        nodes(BRAND, [{"key": b, "props": {}} for b in pd.unique(ds.brands["brand"].astype(str))])
        tree, parent_links = category_tree(ds.categories["path"])
        nodes(CATEGORY, [{"key": k, "props": {"name": n, "depth": d}} for k, (n, d) in tree.items()])
        for entity, frame in ds.entities.items():
            nodes(
                schema.entity(entity).node,
                [{"key": v, "props": {}} for v in pd.unique(frame["value"].astype(str))],
            )
        ratings = ds.ratings.assign(user=ds.ratings["user"].astype(str), item=ds.ratings["item"].astype(str))
        rows = [
            {"user": u, "item": i, "rating": float(r), "ts": int(t)}
            for u, i, r, t in ratings[["user", "item", "rating", "ts"]].itertuples(index=False)
        ]
        written[RATED.type] = self._batched(tx, q.MERGE_RATINGS, rows, RATED.type, progress)
        links(MADE_BY, ds.brands.rename(columns={"item": "source", "brand": "target"}))
        leaf = pd.DataFrame(
            {"source": ds.categories["item"], "target": [category_key(p) for p in ds.categories["path"]]}
        )
        links(IN_CATEGORY, leaf.drop_duplicates())
        links(SUBCATEGORY_OF, pd.DataFrame(sorted(parent_links), columns=["source", "target"]))
        for entity, frame in ds.entities.items():
            links(schema.entity(entity).rel, frame.rename(columns={"item": "source", "value": "target"}))
        for rel, frame in ds.item_links.items():
            links(schema.rel_type(rel), frame)
        write_user_side(ds, schema, nodes, links)
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
        """The whole graph as frames (see :class:`kg.export.GraphExport`), streamed per label and type."""
        self.check_category_keys()
        return export_graph(self._driver, self.database, self.schema(), progress)


def _plain(value: Any) -> Any:
    """pandas/numpy scalars and NaN to plain Python values the driver accepts."""
    if value is None:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
