"""What a dataset writes into the graph, as the parts a load runs in order: the rows of each node type, the
ratings, then the rows of each other relationship type. Both ways of loading run the same parts: the one
transaction of :meth:`kg.GraphStore.write` and the staged load of :mod:`kg.staged_load`.

Example:
    >>> import pandas as pd
    >>> from core.schema import Schema
    >>> from loaders import Dataset, LoadReport
    >>> ds = Dataset(report=LoadReport(source="x"))
    >>> ds.ratings = pd.DataFrame({"user": ["u1"], "item": ["i1"], "rating": [5.0], "ts": [7]})
    >>> [(p.step, p.rows) for p in load_parts(ds, Schema.core()) if p.rows]
    [('Item', [{'key': 'i1', 'props': {}}]), ('User', [{'key': 'u1', 'props': {}}]), ('RATED', [{'user': 'u1', 'item': 'i1', 'rating': 5.0, 'ts': 7}])]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import kg.queries as q
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
from kg.users import user_rows, write_user_side
from loaders.records import Dataset, category_key, category_tree

__all__ = ["LoadPart", "dataset_rows", "load_parts"]


@dataclass(frozen=True)
class LoadPart:
    """The rows of one write: nodes of ``node`` (``{key, props}``), or relationships of ``rel``
    (``{source, target}``; ratings ``{user, item, rating, ts}``)."""

    node: NodeType | None
    rel: RelType | None
    rows: list[dict[str, Any]]

    @property
    def step(self) -> str:
        """The label or relationship type written: the progress step and the key of the written counts."""
        return self.node.label if self.node is not None else self._rel.type

    @property
    def statement(self) -> str:
        """The batched ``UNWIND $rows ... MERGE`` statement that writes these rows."""
        if self.node is not None:
            return q.merge_nodes(self.node)
        return q.MERGE_RATINGS if self._rel.type == RATED.type else q.merge_links(self._rel)

    @property
    def _rel(self) -> RelType:
        assert self.rel is not None  # a part is of a node type or of a relationship type
        return self.rel


def load_parts(ds: Dataset, schema: Schema) -> Iterator[LoadPart]:
    """The parts of loading ``ds`` into a graph of ``schema`` (the one :meth:`kg.GraphStore.load_schema` gives),
    nodes before the relationships between them."""
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
    yield _nodes(ITEM, list(item_rows.values()))
    yield _nodes(USER, user_rows(ds))
    yield _nodes(BRAND, [{"key": b, "props": {}} for b in pd.unique(ds.brands["brand"].astype(str))])
    tree, parent_links = category_tree(ds.categories["path"])
    yield _nodes(CATEGORY, [{"key": k, "props": {"name": n, "depth": d}} for k, (n, d) in tree.items()])
    for entity, frame in ds.entities.items():
        node = schema.entity(entity).node
        yield _nodes(node, [{"key": v, "props": {}} for v in pd.unique(frame["value"].astype(str))])
    ratings = ds.ratings.assign(user=ds.ratings["user"].astype(str), item=ds.ratings["item"].astype(str))
    rows = [
        {"user": u, "item": i, "rating": float(r), "ts": int(t)}
        for u, i, r, t in ratings[["user", "item", "rating", "ts"]].itertuples(index=False)
    ]
    yield LoadPart(None, RATED, rows)
    yield _links(MADE_BY, ds.brands.rename(columns={"item": "source", "brand": "target"}))
    leaf = pd.DataFrame(
        {"source": ds.categories["item"], "target": [category_key(p) for p in ds.categories["path"]]}
    )
    yield _links(IN_CATEGORY, leaf.drop_duplicates())
    yield _links(SUBCATEGORY_OF, pd.DataFrame(sorted(parent_links), columns=["source", "target"]))
    for entity, frame in ds.entities.items():
        yield _links(schema.entity(entity).rel, frame.rename(columns={"item": "source", "value": "target"}))
    for rel, frame in ds.item_links.items():
        yield _links(schema.rel_type(rel), frame)
    user_side: list[LoadPart] = []
    write_user_side(
        ds,
        schema,
        lambda node, rows: user_side.append(_nodes(node, rows)),
        lambda rel, frame: user_side.append(_links(rel, frame)),
    )
    yield from user_side


def dataset_rows(dataset: Dataset) -> int:
    """The rows of every frame of ``dataset``: what :data:`kg.bulk_import.BULK_FROM_ROWS` and
    :data:`kg.staged_load.STAGE_FROM_ROWS` are compared with."""
    frames = [dataset.ratings, dataset.items, dataset.brands, dataset.categories, dataset.users]
    frames += [*dataset.entities.values(), *dataset.item_links.values()]
    frames += [*dataset.user_entities.values(), *dataset.user_links.values()]
    return sum(len(f) for f in frames)


def _nodes(node: NodeType, rows: list[dict[str, Any]]) -> LoadPart:
    return LoadPart(node, None, rows)


def _links(rel: RelType, frame: pd.DataFrame) -> LoadPart:
    pairs = frame[["source", "target"]].astype(str).itertuples(index=False)
    return LoadPart(None, rel, [{"source": s, "target": t} for s, t in pairs])


def _plain(value: Any) -> Any:
    """pandas/numpy scalars and NaN to plain Python values the driver accepts."""
    if value is None:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
