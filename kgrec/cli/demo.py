"""``kgrec demo``: renders :func:`kgrec.demo.run_demo`, the whole pipeline on demo data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from kgrec.cli.output import (
    err,
    out,
    print_explanation,
    progress_bar,
    ranking_tables,
    recommendation_table,
    scores_table,
)
from kgrec.cli.session import open_recommender, settings_of
from kgrec.demo import demo_settings, run_demo

__all__ = ["demo"]


def _step(what: str, number: int, total: int) -> None:
    err.print(Text.assemble((f"{number}/{total}", "bold"), " ", what))


def demo(
    ctx: typer.Context,
    magazine: Annotated[
        Path | None, typer.Option(help="use the Amazon 2018 magazine folder instead of generated data")
    ] = None,
    user: Annotated[str | None, typer.Option(help="the sample user (default: one with many ratings)")] = None,
    report_path: Annotated[Path, typer.Option("--report", help="where to write the HTML report")] = Path(
        "kgrec-report.html"
    ),
) -> None:
    """The whole pipeline on demo data: Neo4j, load, train, recommendations with explanations, a report.

    Runs in its own workspace (``demo`` unless --workspace is given), which it empties first.
    """
    from explain import render_html  # torch loads only for the commands that need the model

    settings = demo_settings(settings_of(ctx))
    with open_recommender(settings, need_model=False) as rec, progress_bar(False) as progress:
        run = run_demo(rec, magazine=magazine, user=user, steps=_step, progress=progress)
    out.print(scores_table("rating: test", run.fit.rating.test))
    for table in ranking_tables("ranking on the test split", {"fusion": run.fit.ranking} | run.fit.parts):
        out.print(table)
    out.print(recommendation_table(f"recommendations for {run.user}", run.recommendations))
    for recommendation, explanation in run.explained:
        out.print(f"why {recommendation.title or recommendation.item}:", highlight=False)
        print_explanation(explanation)
    report_path.write_text(render_html(run.report), encoding="utf-8")
    out.print(f"report written to {report_path.resolve()}")
    out.print(f"Explore further: kgrec -w {run.workspace} recommend {run.user} | stats | cypher ...")
