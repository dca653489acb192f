"""``kgrec recommend``, ``similar``, ``search`` and ``profile``: what the trained model serves."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from kgrec.cli.output import JsonFlag, emit_json, out, recommendation_table
from kgrec.cli.session import open_recommender, settings_of

__all__ = ["profile", "recommend", "search", "similar"]


def recommend(
    ctx: typer.Context,
    user: str,
    k: Annotated[int, typer.Option("--k", help="how many items")] = 10,
    brand: Annotated[str | None, typer.Option(help="only items of this brand")] = None,
    category: Annotated[str | None, typer.Option(help="only items in this category or below it")] = None,
    include_seen: Annotated[bool, typer.Option(help="also items the user already rated")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Top items for a user."""
    with open_recommender(settings_of(ctx), quiet=as_json) as rec:
        rows = rec.recommend(user, k, not include_seen, brand, category)
    if as_json:
        emit_json([r.model_dump() for r in rows])
    else:
        out.print(recommendation_table(f"recommendations for {user}", rows))


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
    user: Annotated[str | None, typer.Option(help="re-rank by this user's predicted rating")] = None,
    k: Annotated[int, typer.Option("--k")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Full-text search on item titles and descriptions."""
    with open_recommender(settings_of(ctx), quiet=as_json, need_model=user is not None) as rec:
        rows = rec.search(query, user, k)
    if as_json:
        emit_json([r.model_dump() for r in rows])
        return
    table = Table("item", "title", "text score", "predicted", title=f"search: {query}")
    for r in rows:
        predicted = "" if r.predicted is None else f"{r.predicted:.2f}"
        table.add_row(r.item, r.title or "", f"{r.text_score:.2f}", predicted)
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
