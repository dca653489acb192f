"""``kgrec recommend``, ``similar``, ``search`` and ``profile``: what the trained models serve."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.errors import NotFoundError
from kgrec.cli.batch import SOME_FAILED, each_user, user_lines
from kgrec.cli.output import JsonFlag, emit_json, error_line, fail, out, recommendation_table
from kgrec.cli.session import open_recommender, settings_of

__all__ = ["profile", "recommend", "search", "similar"]


def recommend(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Argument(help="the user (or --users FILE for many)")] = None,
    users: Annotated[
        Path | None, typer.Option("--users", help="file with one user id per line: one list per user")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="how many items")] = 10,
    brand: Annotated[str | None, typer.Option(help="only items of this brand")] = None,
    category: Annotated[
        str | None,
        typer.Option(
            help="only items in this category or below it: a name (every category of that name) "
            "or a path from the root, 'Books > History'"
        ),
    ] = None,
    include_seen: Annotated[
        bool,
        typer.Option(
            help="also items the graph says the user rated outside training (held out, or rated since); "
            "training items never"
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Top items of the fused ranking for a user, or for every user of --users FILE in one process.

    With --json, one user gives a JSON array of recommendations; --users gives JSON lines, one object
    ``{"user": ..., "recommendations": [...]}`` per user, in the file's order (a repeated id once). A user of
    the file that the graph does not hold gets ``{"user": ..., "error": ...}`` there instead (without --json,
    one ``error:`` line on stderr), the others are served, and the exit status is 4 (1: nothing ran).
    """
    if (user is None) == (users is None):
        fail("give either a USER or --users FILE")
    if user is not None:
        with open_recommender(settings_of(ctx), quiet=as_json) as rec:
            rows = rec.recommend_many([user], k, not include_seen, brand, category)[user]
        if as_json:
            emit_json([r.model_dump() for r in rows])
        else:
            out.print(recommendation_table(f"recommendations for {user}", rows))
        return
    chosen = user_lines(users)
    with open_recommender(settings_of(ctx), quiet=as_json) as rec:
        lists = each_user(rec, chosen, k, not include_seen, brand, category)
    for who in chosen:
        served = lists[who]
        if isinstance(served, NotFoundError):
            if as_json:
                sys.stdout.write(json.dumps({"user": who, "error": str(served)}) + "\n")
            else:
                error_line(str(served))
        elif as_json:
            line = {"user": who, "recommendations": [r.model_dump() for r in served]}
            sys.stdout.write(json.dumps(line) + "\n")
        else:
            out.print(recommendation_table(f"recommendations for {who}", served))
    if any(isinstance(served, NotFoundError) for served in lists.values()):
        raise typer.Exit(SOME_FAILED)


def similar(
    ctx: typer.Context, item: str, k: Annotated[int, typer.Option("--k")] = 10, as_json: JsonFlag = False
) -> None:
    """Items closest to ITEM by the model's embeddings (Neo4j vector index)."""
    with open_recommender(settings_of(ctx), quiet=as_json) as rec:
        rows = rec.similar_items(item, k)
    if as_json:
        emit_json([r.model_dump() for r in rows])
        return
    table = Table("item", "title", "cosine", title=f"similar to {item}")
    for r in rows:
        table.add_row(r.item, r.title or "", f"{r.score:.3f}")
    out.print(table)


def search(
    ctx: typer.Context,
    query: str,
    user: Annotated[
        str | None, typer.Option(help="rank for this user (their fused ranking as a feature)")
    ] = None,
    k: Annotated[int, typer.Option("--k")] = 10,
    lucene: Annotated[
        bool,
        typer.Option("--lucene", help="read QUERY as Lucene syntax (title:x AND y*); plain words otherwise"),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Search items: words linked to categories, brands and other entities, titles and descriptions
    matched, ranked by the learned search ranker; each hit says what matched."""
    with open_recommender(settings_of(ctx), quiet=as_json, need_model=user is not None) as rec:
        rows = rec.search(query, user, k, lucene)
    if as_json:
        emit_json([r.model_dump() for r in rows])
        return
    table = Table("item", "title", "score", "matched", "personal", "predicted", title=f"search: {query}")
    for r in rows:
        score = f"{r.text_score:.2f} (text)" if r.score is None else f"{r.score:.2f}"
        personal = "" if r.personal_score is None else f"{r.personal_score:.2f}"
        predicted = "" if r.predicted is None else f"{r.predicted:.2f}"
        table.add_row(r.item, r.title or "", score, "; ".join(r.matched), personal, predicted)
    out.print(table)


def profile(ctx: typer.Context, user: str, as_json: JsonFlag = False) -> None:
    """The brands, categories and other entities a user leans to, with the model's predicted ratings."""
    with open_recommender(settings_of(ctx), quiet=as_json, need_model=False) as rec:
        result = rec.profile(user)
    if as_json:
        emit_json(result.model_dump())
        return
    mean = "-" if result.mean_rating is None else f"{result.mean_rating:.2f}"
    out.print(f"{user}: {result.ratings} ratings, mean {mean}")
    for label, rows in result.leanings.items():
        if not rows:
            continue
        table = Table(label.lower(), "ratings", "mean", "weight", "predicted")
        for r in rows:
            predicted = "-" if r.predicted is None else f"{r.predicted:.2f}"
            table.add_row(r.name, str(r.ratings), f"{r.mean_rating:.2f}", f"{r.weight:.0%}", predicted)
        out.print(table)
