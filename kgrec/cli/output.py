"""What the commands print: the two consoles, JSON, the error line, progress bars and the shared tables.

Results go to stdout (tables, or JSON with ``--json``); notes, progress and errors go to stderr, so that
``kgrec recommend U1 --json | jq`` reads clean JSON.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich import progress as bars
from rich.console import Console, ConsoleDimensions
from rich.table import Table
from rich.text import Text

from core.progress import Progress

if TYPE_CHECKING:
    from explain import Explanation
    from gnn import Scores
    from kgrec.results import Recommendation
    from rank import RankingMetrics

__all__ = [
    "JsonFlag",
    "emit_json",
    "dim",
    "err",
    "error_line",
    "fail",
    "notes",
    "out",
    "print_explanation",
    "importance_table",
    "progress_bar",
    "ranking_tables",
    "recommendation_table",
    "scores_table",
    "visible",
]

# Control characters except tab and newline; \x1b starts every ANSI escape sequence.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    r"""Text from the data made safe for a terminal: control characters shown as ``\xNN``, never acted on.

    Example:
        >>> visible("red\x1b[31m title")
        'red\\x1b[31m title'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _PlainConsole(Console):
    """A console for which every string is plain text: catalogue data is never markup.

    Titles such as ``[feat. x]`` or ``[/]`` are printed as they are (rich would read them as markup tags and
    drop or reject them), and escape sequences in the data are shown, not sent to the terminal. Styled
    output is built as :class:`rich.text.Text`, which does not pass through here.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs.update(markup=False, emoji=False, highlight=False)
        return super().render_str(visible(text), **kwargs)

    @property
    def size(self) -> ConsoleDimensions:
        # Piped or redirected, rich would lay tables out for 80 columns and cut their cells ("popular…"); a
        # file has no width, so tables keep their natural one. COLUMNS still rules when set.
        size = super().size
        if self.is_terminal or os.environ.get("COLUMNS", "").isdigit():
            return size
        return ConsoleDimensions(max(size.width, _PIPED_WIDTH), size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


_PIPED_WIDTH = 240


# The consoles hold no settings: each finds sys.stdout/sys.stderr when it writes (so CliRunner captures).
out = _PlainConsole()
err = _PlainConsole(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def error_line(message: str) -> None:
    """Print one ``error:`` line on stderr."""
    err.print(Text.assemble(("error:", "red"), " ", visible(message)), soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print the one error line and exit with status 1."""
    error_line(message)
    raise typer.Exit(1)


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def dim(message: str) -> Text:
    """A secondary line (a note, a progress stage), in the dim style."""
    return Text(visible(message), style="dim")


def notes(quiet: bool) -> Progress | None:
    """Progress that prints each stage as a dim line (starting a server, connecting); none when quiet."""
    if quiet:
        return None

    def note(stage: str, done: int, total: int) -> None:
        err.print(dim(stage))

    return note


@contextmanager
def progress_bar(quiet: bool) -> Iterator[Progress | None]:
    """Progress drawn as one bar per stage on stderr, gone when done; plain lines when stderr is not a
    terminal (a log, CI); none when quiet."""
    if quiet:
        yield None
        return
    if not err.is_terminal:
        yield _progress_lines()
        return
    columns = (
        bars.TextColumn("{task.description:>14}"),
        bars.BarColumn(),
        bars.MofNCompleteColumn(),
        bars.TimeElapsedColumn(),
    )
    with bars.Progress(*columns, console=err, transient=True) as drawn:
        tasks: dict[str, bars.TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = drawn.add_task(stage, total=total)
            drawn.update(tasks[stage], completed=done, total=total)

        yield update


def _progress_lines(every: float = 10.0) -> Progress:
    """Progress for a log: a line when a stage starts, at most one each ``every`` seconds while it runs,
    and one when it ends; a stage of unknown size (``total`` 0) is named once."""
    last: dict[str, float] = {}

    def update(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = total > 0 and done >= total
        if stage in last and not finished and now - last[stage] < every:
            return
        if stage in last and total == 0:
            return
        last[stage] = now
        count = f"{done:,}/{total:,}" if total else ""
        err.print(dim(f"{stage} {count}".rstrip() + (" done" if finished else "")))

    return update


def scores_table(title: str, scores: dict[str, Scores]) -> Table:
    table = Table("part", "RMSE", "MAE", title=title)
    for part, score in scores.items():
        table.add_row(part, f"{score.rmse:.4f}", f"{score.mae:.4f}")
    return table


def ranking_tables(title: str, rankings: dict[str, RankingMetrics]) -> list[Table]:
    """One table per cut-off K: a row per ranking (the fusion, each part) with every top-K metric."""
    first = next(iter(rankings.values()))
    tables = []
    for k in [m.k for m in first.at_k]:
        table = Table(
            "ranking",
            "NDCG",
            "Recall",
            "HitRate",
            "MRR",
            "MAP",
            "coverage",
            "pop. pct",
            title=f"{title} @{k}",
        )
        for name, metrics in rankings.items():
            m = metrics.at(k)
            cells = (m.ndcg, m.recall, m.hit_rate, m.mrr, m.map, m.coverage)
            table.add_row(name, *(f"{v:.4f}" for v in cells), f"{m.popularity_percentile:.1f}")
        tables.append(table)
    return tables


def importance_table(importances: dict[str, float]) -> Table:
    """The fusion's features by share of LightGBM gain, largest first."""
    table = Table("feature", "gain share", title="fusion feature importances")
    for name, share in sorted(importances.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{share:.1%}")
    return table


def recommendation_table(title: str, rows: list[Recommendation]) -> Table:
    """Recommended items in ranked order: the fusion score and the predicted stars; a column that is empty in
    every row (no titles, no brands in the data) is left out."""
    headers = ("#", "item", "title", "brand", "score", "predicted")
    cells = [
        (str(n), r.item, r.title or "", r.brand or "", f"{r.score:.3f}")
        + ("-" if r.predicted_rating is None else f"{r.predicted_rating:.2f}",)
        for n, r in enumerate(rows, start=1)
    ]
    kept = [k for k in range(len(headers)) if not cells or any(row[k] for row in cells)]
    table = Table(*(headers[k] for k in kept), title=title)
    for row in cells:
        table.add_row(*(row[k] for k in kept))
    return table


def print_explanation(explanation: Explanation) -> None:
    """The supporting paths; apart from them, those that work against the item (never shown as reasons)."""
    if not explanation.paths:
        out.print(f"  {explanation.note or '(no path in the graph links them)'}", highlight=False)
    for path in explanation.paths:
        out.print(f"  [{path.score:+.2f}] {path.sentence}", highlight=False)
    if explanation.despite:
        out.print("  despite:")
    for path in explanation.despite:
        out.print(f"  [{path.score:+.2f}] {path.sentence}", highlight=False)
