"""The ``kgrec`` command line: thin commands that build settings, call the public API and render results.

One module per command group; this one builds :data:`app` (the entry point ``kgrec = "kgrec.cli:app"``)
and registers them in the order ``kgrec --help`` lists them. The settings travel in the Typer context
(``ctx.obj``, built by :func:`main`); errors are handled once, by :class:`~kgrec.cli.session.HandledGroup`.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from core.settings import Settings
from kgrec.cli import demo, explaining, graph, model, serving
from kgrec.cli.load import load_app
from kgrec.cli.serve import serve
from kgrec.cli.server import neo4j_app, setup
from kgrec.cli.session import HandledGroup

__all__ = ["app"]

app = typer.Typer(
    cls=HandledGroup, help="kgrec: knowledge-graph recommendations from a real Neo4j.", no_args_is_help=True
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"kgrec {version('kgrec')}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", "-w", envvar="KGREC_WORKSPACE", help="Dataset workspace: each has its own graph."
        ),
    ] = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print kgrec's version and exit."
        ),
    ] = False,
) -> None:
    """kgrec: knowledge-graph recommendations from a real Neo4j."""
    # "" is a name, and refused as one: `-w ""` must not fall back to the default workspace
    ctx.obj = Settings(workspace=workspace) if workspace is not None else Settings()


_COMMANDS = (
    setup,
    graph.stats,
    graph.cypher,
    graph.reset,
    model.train,
    model.predict,
    model.evaluate,
    model.evaluate_search,
    serving.recommend,
    serving.similar,
    serving.search,
    serving.profile,
    explaining.explain,
    explaining.report,
    demo.demo,
    serve,
)
for _command in _COMMANDS:
    app.command()(_command)
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(load_app, name="load")
