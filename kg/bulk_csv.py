"""A validated dataset as ``neo4j-admin database import`` CSV files: what :meth:`kg.GraphStore.write` would
write, node for node and property for property, with no Cypher.

One file per node label (``id:ID(Item)``: the label's key, in an ID space named by the label) and one per
relationship type (``:START_ID(User),:END_ID(Item)``). Strings are always quoted, so an empty string stays
an empty string; a missing value is an empty unquoted field, which the import tool leaves unset, as the
transactional load leaves a null property unset. A property column is typed by its values (``long`` when all
are integers, ``double`` when all are numbers, else strings), as the driver types each value it sends.
Relationships are written once per pair of nodes, as ``MERGE`` makes them; a rating given twice keeps the
most recent one (the later row on a tie), as ``MERGE_RATINGS`` does.

Example:
    >>> import pandas as pd
    >>> column_type(pd.Series([4.0, None]))
    'double'
    >>> print(cells(pd.Series(['a "b" c', None]), "string"))
    ['"a ""b"" c"', '']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Literal

import pandas as pd

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
from kg.users import user_rows
from loaders.records import Dataset, category_key, category_tree

__all__ = ["ImportFiles", "cells", "column_type", "write_import_files"]

ColumnType = Literal["string", "long", "double"]


@dataclass
class ImportFiles:
    """The files written for one import: ``(label, path)`` and ``(type, path)`` pairs, the rows of each
    label and type, and whether a quoted value spans lines (the tool then needs ``--multiline-fields``)."""

    nodes: list[tuple[str, Path]] = field(default_factory=list)
    relationships: list[tuple[str, Path]] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)
    multiline: bool = False

    @property
    def rows(self) -> int:
        return sum(self.written.values())


def column_type(values: pd.Series) -> ColumnType:
    """``long`` when every value present is an integer, ``double`` when every one is a number, else
    ``string`` (booleans too: a load has none)."""
    present = values.dropna()
    if len(present) == 0 or pd.api.types.is_bool_dtype(present):
        return "string"
    if pd.api.types.is_integer_dtype(present):
        return "long"
    if pd.api.types.is_float_dtype(present):
        return "double"
    if present.map(lambda v: isinstance(v, bool) or not isinstance(v, Real)).any():
        return "string"
    return "long" if present.map(lambda v: isinstance(v, Integral)).all() else "double"


def cells(values: pd.Series, kind: ColumnType) -> list[str]:
    """The CSV fields of a column: strings quoted (quotes doubled), numbers as Python writes them, a missing
    value as an empty field."""
    missing = values.isna().to_numpy()
    if kind == "string":
        text = ['"' + str(v).replace('"', '""') + '"' for v in values.tolist()]
    else:
        filled = values.where(~missing, 0)
        text = (filled.astype("int64") if kind == "long" else filled.astype(float)).astype(str).tolist()
    if missing.any():
        text = ["" if gone else t for t, gone in zip(text, missing, strict=True)]
    return text


class _Writer:
    def __init__(self, folder: Path, progress: Progress | None) -> None:
        self.folder = folder
        self.progress = progress
        self.files = ImportFiles()

    def _write(self, name: str, header: list[str], columns: list[list[str]]) -> Path:
        path = self.folder / f"{name}.csv"
        rows = len(columns[0])
        body = "\n".join(map(",".join, zip(*columns, strict=True)))
        # a line break inside a quoted value: more lines than rows
        if body.count("\n") != rows - 1 or "\r" in body:
            self.files.multiline = True
        path.write_text(",".join(header) + "\n" + body + "\n", encoding="utf-8")
        if self.progress:
            self.progress(f"writing import files: {name}", rows, rows)
        return path

    def _typed(self, props: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
        header, columns = [], []
        for name in props.columns:
            kind = column_type(props[name])
            header.append(name if kind == "string" else f"{name}:{kind}")
            columns.append(cells(props[name], kind))
        return header, columns

    def nodes(self, node: NodeType, keys: pd.Series, props: pd.DataFrame | None = None) -> None:
        self.files.written[node.label] = self.files.written.get(node.label, 0) + len(keys)
        if not len(keys):  # the transactional load writes nothing for a label without rows either
            return
        header, columns = self._typed(props.reset_index(drop=True)) if props is not None else ([], [])
        key = cells(keys.astype(str).reset_index(drop=True), "string")
        path = self._write(f"nodes-{node.label}", [f"{node.key}:ID({node.label})", *header], [key, *columns])
        self.files.nodes.append((node.label, path))

    def links(self, rel: RelType, frame: pd.DataFrame, props: list[str] | None = None) -> None:
        start, end = rel.end_columns
        pairs = frame.assign(**{start: frame[start].astype(str), end: frame[end].astype(str)})
        pairs = pairs.drop_duplicates([start, end], keep="last").reset_index(drop=True)
        self.files.written[rel.type] = len(pairs)
        if not len(pairs):
            return
        header, columns = self._typed(pairs[props]) if props else ([], [])
        ends = [f":START_ID({rel.source.label})", f":END_ID({rel.target.label})"]
        ends_cells = [cells(pairs[start], "string"), cells(pairs[end], "string")]
        path = self._write(f"relationships-{rel.type}", [*ends, *header], [*ends_cells, *columns])
        self.files.relationships.append((rel.type, path))


def write_import_files(
    dataset: Dataset, schema: Schema, folder: Path, progress: Progress | None = None
) -> ImportFiles:
    """Write ``dataset`` (with ``schema``: the core plus its entity types and links, registered) as import
    files into ``folder``; the graph they make is the one :meth:`kg.GraphStore.write` makes of it on an
    empty graph."""
    folder.mkdir(parents=True, exist_ok=True)
    out, ds = _Writer(folder, progress), dataset

    item_keys = pd.Series(
        pd.unique(
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
        ),
        dtype=object,
    )
    described = ds.items.assign(id=ds.items["id"].astype(str)).drop_duplicates("id", keep="last")
    props = described.set_index("id")[["title", "description", "price"]].reindex(item_keys)
    props = props.astype(object).where(props.notna(), None)
    out.nodes(ITEM, item_keys, props)

    users = pd.DataFrame(user_rows(ds), columns=["key", "props"])
    names = users["props"].map(lambda p: p.get("name"))
    out.nodes(USER, users["key"], pd.DataFrame({"name": names}) if names.notna().any() else None)
    out.nodes(BRAND, pd.Series(pd.unique(ds.brands["brand"].astype(str)), dtype=object))
    tree, parent_links = category_tree(ds.categories["path"])
    out.nodes(
        CATEGORY,
        pd.Series(list(tree), dtype=object),
        pd.DataFrame({"name": [n for n, _ in tree.values()], "depth": [d for _, d in tree.values()]}),
    )
    for label, frame in ds.entities.items():
        out.nodes(schema.entity(label).node, pd.Series(pd.unique(frame["value"].astype(str)), dtype=object))
    for label, frame in ds.user_entities.items():
        node = schema.user_entity(label).node
        out.nodes(node, pd.Series(pd.unique(frame["value"].astype(str)), dtype=object))

    ratings = ds.ratings.assign(
        rating=ds.ratings["rating"].astype(float), ts=ds.ratings["ts"].astype("int64")
    )
    # MERGE_RATINGS keeps the most recent rating of a pair; on a tie the later row
    out.links(RATED, ratings.sort_values("ts", kind="stable"), ["rating", "ts"])
    out.links(MADE_BY, ds.brands.rename(columns={"item": "source", "brand": "target"}))
    leaf = pd.DataFrame(
        {"source": ds.categories["item"], "target": [category_key(p) for p in ds.categories["path"]]}
    )
    out.links(IN_CATEGORY, leaf)
    out.links(SUBCATEGORY_OF, pd.DataFrame(sorted(parent_links), columns=["source", "target"]))
    for label, frame in ds.entities.items():
        out.links(schema.entity(label).rel, frame.rename(columns={"item": "source", "value": "target"}))
    for rel, frame in ds.item_links.items():
        out.links(schema.rel_type(rel), frame)
    for label, frame in ds.user_entities.items():
        out.links(schema.user_entity(label).rel, frame.rename(columns={"user": "source", "value": "target"}))
    for rel, frame in ds.user_links.items():
        out.links(schema.rel_type(rel), frame)
    return out.files
