"""What a command runs in: the settings the root callback put in the context, the one error handler, and
the graph or the recommender opened for the length of a command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from core.errors import KGRecError
from core.settings import Settings
from kg import GraphStore
from kgrec.cli.output import err, fail, notes

if TYPE_CHECKING:
    from kgrec.recommender import Recommender

__all__ = ["HandledGroup", "open_recommender", "open_store", "server_notes", "settings_of"]


class HandledGroup(TyperGroup):
    """The root command group, and the CLI's one error handler.

    Every command (and the root callback) runs inside :meth:`invoke`: an error that kgrec raises on purpose,
    or settings and options that fail validation, become one ``error:`` line on stderr and exit status 1.
    Anything else is a bug and keeps its traceback.
    """

    # ctx is Typer's vendored click Context, a private type: hence Any
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KGRecError as e:
            fail(str(e))
        except ValidationError as e:  # pydantic's message spans lines and links its docs: one line
            fail(_one_line(e))


def _one_line(error: ValidationError) -> str:
    """Each failed field as ``field: message``, on one line.

    Example:
        >>> try:
        ...     Settings(workspace="")
        ... except ValidationError as e:
        ...     print(_one_line(e))
        workspace: workspace name '' must be letters, digits, '_', '.', '-' (max 64)
    """
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or error.title}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    )


def settings_of(ctx: typer.Context) -> Settings:
    """The settings built by the root callback from ``--workspace`` and the environment."""
    settings = ctx.find_object(Settings)
    if settings is None:  # only a command invoked without the root group lands here
        raise RuntimeError("kgrec commands run under kgrec.cli.app, whose callback builds the settings")
    return settings


def server_notes(store: GraphStore) -> None:
    """Print on stderr one ``note:`` line per thing the server lacks (:mod:`kg.checks`), even when quiet:
    stdout stays the command's output."""
    for line in store.server.notes():
        err.print(f"note: {line}")


@contextmanager
def open_store(settings: Settings, quiet: bool = False) -> Iterator[GraphStore]:
    """The workspace's graph (starting its managed Neo4j when needed), closed when the command ends."""
    store = GraphStore.connect(settings, progress=notes(quiet))
    server_notes(store)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def open_recommender(
    settings: Settings, quiet: bool = False, need_model: bool = True
) -> Iterator[Recommender]:
    """The workspace's recommender; with ``need_model``, fail first when it has no trained model."""
    from kgrec.recommender import Recommender  # torch loads only for the commands that need the model

    rec = Recommender.connect(settings, progress=notes(quiet))
    server_notes(rec.store)
    try:
        if need_model:
            rec.trained_model()
        yield rec
    finally:
        rec.close()
