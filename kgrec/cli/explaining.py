"""``kgrec explain`` and ``kgrec report``: why an item is recommended, for one user or for a merchandiser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kgrec.cli.output import JsonFlag, fail, out, print_explanation
from kgrec.cli.session import open_recommender, settings_of

__all__ = ["explain", "report"]


def explain(
    ctx: typer.Context,
    user: str,
    item: str,
    top: Annotated[int, typer.Option("--top", help="how many paths")] = 3,
    as_json: JsonFlag = False,
) -> None:
    """The graph paths that justify recommending ITEM to USER (those that support it; those against it apart,
    under "despite"), scored by how much the model relies on them."""
    with open_recommender(settings_of(ctx), quiet=as_json) as rec:
        result = rec.explain(user, item, top)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    from explain.sentences import display_name

    shown = display_name(result.item_name, item)
    out.print(f"why {shown}{f' ({item})' if shown == result.item_name else ''} for {user}:", highlight=False)
    print_explanation(result)


def report(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--out", help="file to write")],
    brand: Annotated[str | None, typer.Option(help="only this brand's items")] = None,
    category: Annotated[str | None, typer.Option(help="only items in this category (or below)")] = None,
    users: Annotated[Path | None, typer.Option(help="file with one user id per line")] = None,
    sample: Annotated[int, typer.Option(help="at most this many users")] = 20,
    fmt: Annotated[str, typer.Option("--format", help="html or md")] = "html",
) -> None:
    """A self-contained report for merchandisers: who gets what recommended, and why."""
    from explain import render_html, render_markdown

    if fmt not in ("html", "md"):
        fail(f"--format must be html or md, got {fmt!r}")
    chosen = None
    if users is not None:
        if not users.exists():
            fail(f"{users}: file not found")
        chosen = [line.strip() for line in users.read_text().splitlines() if line.strip()]
    with open_recommender(settings_of(ctx)) as rec:
        data = rec.report(chosen, brand=brand, category=category, sample=sample)
    output.write_text(render_html(data) if fmt == "html" else render_markdown(data), encoding="utf-8")
    out.print(f"report written to {output}")
