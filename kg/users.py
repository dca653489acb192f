"""User-side knowledge in the graph: which relationship types start at users, and the rows a load writes for
user names, user entities (``(:User)-[:HAS_X]->(:X)``) and user links (``(:User)-[:REL]->(:User)``).

:class:`kg.GraphStore` calls these; they hold no Cypher of their own (see :mod:`kg.queries`).

Example:
    >>> import pandas as pd
    >>> from loaders import Dataset, LoadReport
    >>> ds = Dataset(report=LoadReport(source="x"))
    >>> ds.ratings = pd.DataFrame({"user": ["u1"], "item": ["i1"], "rating": [5.0], "ts": [0]})
    >>> ds.users = pd.DataFrame({"id": ["u2"], "name": ["Ada"]})
    >>> user_rows(ds)
    [{'key': 'u1', 'props': {}}, {'key': 'u2', 'props': {'name': 'Ada'}}]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

import kg.queries as q
from core.schema import NodeType, RelType, Schema
from loaders.records import Dataset

__all__ = ["register_user_side", "user_rows", "user_sourced", "write_user_side"]

_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")

Read = Callable[[str], list[dict[str, Any]]]
WriteNodes = Callable[[NodeType, list[dict[str, Any]]], None]
WriteLinks = Callable[[RelType, pd.DataFrame], None]


def user_sourced(read: Read, rel_types: list[str]) -> list[str]:
    """The relationship types (of ``rel_types``, the database's) whose relationships start at users; the
    core ones are known and not asked."""
    known = {r.type for r in Schema.core().rel_types}
    return [t for t in rel_types if t not in known and _TYPE.match(t) and read(q.starts_at_users(t))[0]["n"]]


def register_user_side(schema: Schema, dataset: Dataset) -> Schema:
    """``schema`` with the dataset's user entities and user links registered."""
    for label in dataset.user_entities:
        schema = schema.with_user_entity(label)
    for rel in dataset.user_links:
        schema = schema.with_user_link(rel)
    return schema


def user_rows(dataset: Dataset) -> list[dict[str, Any]]:
    """One ``{key, props}`` row per user the dataset names (ratings, names, entities, links), with the
    display ``name`` when the dataset has one."""
    keys = pd.concat(
        [
            dataset.ratings["user"],
            dataset.users["id"],
            *(f["user"] for f in dataset.user_entities.values()),
            *(c for f in dataset.user_links.values() for c in (f["source"], f["target"])),
        ]
    ).astype(str)
    names: Mapping[str, Any] = dict(zip(dataset.users["id"].astype(str), dataset.users["name"], strict=True))
    return [
        {"key": k, "props": {"name": str(names[k])} if k in names and pd.notna(names[k]) else {}}
        for k in pd.unique(keys)
    ]


def write_user_side(dataset: Dataset, schema: Schema, nodes: WriteNodes, links: WriteLinks) -> None:
    """Write the dataset's user entities (their nodes, then ``HAS_X``) and user links, through the store's
    batched ``nodes`` and ``links`` writers."""
    for label, frame in dataset.user_entities.items():
        entity = schema.user_entity(label)
        nodes(entity.node, [{"key": v, "props": {}} for v in pd.unique(frame["value"].astype(str))])
        links(entity.rel, frame.rename(columns={"user": "source", "value": "target"}))
    for rel, frame in dataset.user_links.items():
        links(schema.rel_type(rel), frame)
