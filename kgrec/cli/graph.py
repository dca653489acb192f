"""``kgrec stats``, ``kgrec cypher`` and ``kgrec reset``: look into the graph, query it, empty it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from kgrec.cli.output import JsonFlag, emit_json, fail, out
from kgrec.cli.session import open_store, settings_of

__all__ = ["cypher", "reset", "stats"]


def stats(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Node count per label and relationship count per type."""
    with open_store(settings_of(ctx), quiet=as_json) as store:
        result = store.stats()
    if as_json:
        emit_json({"nodes": result.nodes, "relationships": result.relationships})
        return
    table = Table("kind", "name", "count")
    for label, count in result.nodes.items():
        table.add_row("node", label, f"{count:,}")
    for rel, count in result.relationships.items():
        table.add_row("relationship", rel, f"{count:,}")
    out.print(table)


def _param(value: str) -> tuple[str, Any]:
    key, sep, raw = value.partition("=")
    if not sep or not key.isidentifier():
        fail(f"--param must look like name=value, got {value!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def cypher(
    ctx: typer.Context,
    query: str,
    param: Annotated[list[str], typer.Option("--param", "-p", help="name=value (JSON or text)")] = [],  # noqa: B006
    write: Annotated[
        bool,
        typer.Option("--write", help="Allow writes and what read-only refuses; runs as one auto-commit."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a Cypher query, read-only unless --write. Values go in as $parameters.

    Read-only runs reads, SHOW commands, Cypher's built-in functions and short allow-lists of procedures
    (schema introspection, full-text and vector index look-ups) and APOC functions; it refuses anything
    else (TERMINATE TRANSACTIONS, LOAD CSV, apoc.cypher.*, ...). --write runs the query as one auto-commit
    transaction, so CALL { ... } IN TRANSACTIONS works there.
    """
    params = dict(_param(p) for p in param)
    with open_store(settings_of(ctx), quiet=as_json) as store:
        rows = store.typed_query(query, params, write=write)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print("(no rows)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(json.dumps(v, default=str) if not isinstance(v, str) else v for v in row.values()))
    out.print(table)


def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm deleting the whole graph.")] = False,
) -> None:
    """Delete every node and relationship of the workspace's graph."""
    settings = settings_of(ctx)
    if not yes:
        fail(f"this deletes the whole graph of workspace {settings.workspace!r}; rerun with --yes")
    with open_store(settings) as store:
        store.reset()
    out.print(f"graph of workspace {settings.workspace!r} is empty")
