"""``kgrec explain`` and ``kgrec report``: why an item is recommended, for one user or for a merchandiser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import NotFoundError
from kgrec.cli.batch import SOME_FAILED, each_user, user_lines
from kgrec.cli.output import JsonFlag, error_line, fail, out, print_explanation
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
    """A self-contained report for merchandisers: who gets what recommended, and why.

    A user of --users FILE that the graph does not hold gets one ``error:`` line on stderr, the report covers
    the others, and the exit status is 4 (1: no report written, as when none of the file's users is held).
    """
    from explain import render_html, render_markdown

    if fmt not in ("html", "md"):
        fail(f"--format must be html or md, got {fmt!r}")
    chosen = None if users is None else user_lines(users)
    failed: list[str] = []
    with open_recommender(settings_of(ctx)) as rec:
        if chosen is not None:
            # recommend's own check, so that both commands fail the same users with the same error
            lists = each_user(rec, chosen, k=1)
            failed = [u for u in chosen if isinstance(lists[u], NotFoundError)]
            for user in failed:
                error_line(str(lists[user]))
            chosen = [u for u in chosen if u not in failed]
            if not chosen:
                fail(f"{users}: none of its users is in the graph; no report written")
        data = rec.report(chosen, brand=brand, category=category, sample=sample)
    output.write_text(render_html(data) if fmt == "html" else render_markdown(data), encoding="utf-8")
    out.print(f"report written to {output}")
    if failed:
        raise typer.Exit(SOME_FAILED)
