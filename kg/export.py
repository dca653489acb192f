"""The graph as plain frames: what ``kg`` hands to training and what ``gnn`` consumes.

Example:
    >>> import pandas as pd
    >>> from core.schema import Schema
    >>> g = GraphExport(Schema.core(), nodes={"User": pd.DataFrame({"key": ["u1"]})}, edges={})
    >>> g.node_keys("User")
    ['u1']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import neo4j
import neo4j.exceptions
import numpy as np
import pandas as pd

import kg.queries as q
from core.errors import Neo4jError
from core.progress import Progress
from core.schema import RATED, Schema
from kg.event_export import EVENT_COLUMNS, event_frames

__all__ = ["GraphExport", "export_graph"]


@dataclass
class GraphExport:
    """A snapshot of the graph.

    Attributes:
        schema: the schema the graph was exported under (core plus registered entities and links).
        nodes: per node label, a frame with column ``key`` (the business key: ``id`` or ``name``) and the
            node's properties. ``Item`` carries ``title``, ``description``, ``price`` (NaN when absent);
            ``Category`` carries ``depth`` (0 for a root). Every label of the schema is present, maybe empty.
        edges: per relationship type, a frame with its two ends' keys (:attr:`core.schema.RelType.end_columns`).
            ``RATED``, who rated which item, has ``user`` and ``item``, plus ``rating`` (float) and ``ts``
            (int unix seconds, 0 when unknown). Every other type relates arbitrary nodes (an item and its
            brand or category, two linked items or users, a user and a user entity), a different concept,
            and has ``source`` and ``target``. Every type is present.
        events: the shopper events the service stored, outside the schema (:mod:`kg.event_export`): per
            ``VIEWED``, ``CARTED``, ``PURCHASED``, ``user``, ``item``, ``count`` and ``ts`` (the latest).
        read_at: Neo4j's clock when the export began (epoch seconds): an event recorded later may be
            missing from it (the service stamps events by the same clock).

    Every frame's rows are in the order of its keys, not the store's, so the same graph exports the same
    frames whatever order it was written in.
    """

    schema: Schema
    nodes: dict[str, pd.DataFrame]
    edges: dict[str, pd.DataFrame]
    events: dict[str, pd.DataFrame] = field(default_factory=dict)
    read_at: float = 0.0

    def node_keys(self, label: str) -> list[str]:
        return [str(k) for k in self.nodes[label]["key"].tolist()]


# One read streams a whole relationship type into the client: at 10M interactions the events took longer than
# the managed server's default limit for a transaction (120 s) on a loaded machine.
_READ_TIMEOUT_S = 3600.0


def export_graph(
    driver: neo4j.Driver, database: str, schema: Schema, progress: Progress | None = None
) -> GraphExport:
    """Every node label and relationship type of ``schema`` (item and user side alike) read into frames, one
    streamed query each (what :meth:`kg.GraphStore.export` returns)."""
    steps = len(schema.node_types) + len(schema.rel_types)
    read_at = float(driver.execute_query(q.GRAPH_NOW, database_=database).records[0]["now"])
    nodes: dict[str, pd.DataFrame] = {}
    edges: dict[str, pd.DataFrame] = {}
    for done, node in enumerate(schema.node_types, start=1):
        nodes[node.label] = _frame(driver, database, q.export_nodes(node), ["key"])
        if progress:
            progress("export", done, steps)
    for done, rel in enumerate(schema.rel_types, start=len(schema.node_types) + 1):
        cols = [*rel.end_columns, "rating", "ts"] if rel == RATED else list(rel.end_columns)
        edges[rel.type] = _frame(driver, database, q.export_links(rel), cols)
        if progress:
            progress("export", done, steps)
    events = event_frames(_frame(driver, database, q.EXPORT_EVENTS, EVENT_COLUMNS))
    return GraphExport(schema, nodes, edges, events, read_at)


def _frame(driver: neo4j.Driver, database: str, query: str, columns: list[str]) -> pd.DataFrame:
    try:
        frame = driver.execute_query(
            neo4j.Query(query, timeout=_READ_TIMEOUT_S),  # type: ignore[arg-type]
            database_=database,
            routing_=neo4j.RoutingControl.READ,
            result_transformer_=neo4j.Result.to_df,
        )
    except neo4j.exceptions.Neo4jError as e:
        raise Neo4jError(str(e)) from e
    if frame.empty:
        return pd.DataFrame({c: [] for c in columns})
    keys = [k for k in ("type", "key", "user", "item", "source", "target") if k in frame]
    for key in keys:  # keys are strings, whatever the node stored
        frame[key] = _one_object_per_key(frame[key])
    # in key order, not the store's: the same data trains the same model, whatever the store's history
    return frame.sort_values(keys, kind="stable", ignore_index=True)


def _one_object_per_key(column: pd.Series) -> np.ndarray:
    """The column as strings, each distinct key one object that its rows share: the driver makes a string
    per row, so a key named by ten rows was held ten times."""
    codes, uniques = pd.factorize(column.astype(str).to_numpy())
    return np.asarray(uniques, dtype=object)[codes]
