"""``kgrec load ...``: read a dataset (validated), write it into the graph, print the load report."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer

from core.errors import LoadError
from kg import BulkMode, LoadTransaction, write_dataset
from kgrec.cli.output import JsonFlag, emit_json, fail, out, progress_bar
from kgrec.cli.session import open_store, settings_of
from loaders import Dataset, ErrorBudget, read_amazon2018, read_hin, read_movielens, read_table
from loaders.sidecars import ItemColumns, with_sidecars

__all__ = ["load_app"]

load_app = typer.Typer(
    help="Load a dataset into the graph (validated; a bad file leaves nothing behind).", no_args_is_help=True
)


class HinValues(StrEnum):
    """How ``kgrec load hin --values`` reads a ratings file's third column."""

    ratings = "ratings"
    counts = "counts"


_VALUES: dict[HinValues, Literal["ratings", "counts"]] = {
    HinValues.ratings: "ratings",
    HinValues.counts: "counts",
}

MaxBad = Annotated[
    float, typer.Option("--max-bad", help="Share of bad rows tolerated before the load fails.")
]
Bulk = Annotated[
    BulkMode,
    typer.Option(
        "--bulk",
        help="first load of an empty workspace through neo4j-admin database import (a new store, built whole "
        "or not at all; the managed server restarts): auto from 200,000 rows, always, or never (one "
        "transaction)",
    ),
]


Transaction = Annotated[
    LoadTransaction,
    typer.Option(
        "--transaction",
        help="one transaction, or staged: one transaction per batch under a load marker, rolled back whole if "
        "the load stops (for loads past the server's memory); auto stages from 500,000 rows",
    ),
]


def _load(
    ctx: typer.Context,
    read: Callable[[], Dataset],
    as_json: bool,
    bulk: BulkMode,
    transaction: LoadTransaction,
) -> None:
    try:
        dataset = read()
    except LoadError as e:  # with --json, the report of what was read so far, before the error line
        if as_json and e.report is not None:
            emit_json(e.report.model_dump())  # type: ignore[attr-defined]  # a loaders.LoadReport
        raise
    settings = settings_of(ctx)
    with open_store(settings, quiet=as_json) as store, progress_bar(as_json) as progress:
        imported = write_dataset(store, settings, dataset, bulk, progress, transaction)
    report = dataset.report
    if as_json:
        emit_json(report.model_dump())
        return
    out.print(
        f"read {report.rows_read:,} rows, accepted {report.rows_accepted:,}, "
        f"rejected {report.rejected_count:,}, duplicates dropped {report.duplicates_dropped:,}"
    )
    for rejection in report.rejected[:10]:
        out.print(f"  rejected {rejection.file}:{rejection.line}: {rejection.reason}", highlight=False)
    if report.rejected_count > 10:
        out.print(f"  ... and {report.rejected_count - 10} more (use --json for all)")
    for use in report.files:
        note = f" ({use.note})" if use.note else ""
        out.print(f"  {use.file}: {use.role}, {use.rows:,} rows{note}", highlight=False)
    out.print("written: " + ", ".join(f"{k} {v:,}" for k, v in report.written.items()))
    if imported:
        out.print("  through neo4j-admin database import (a new store), then constraints and indexes")


@load_app.command("hin")
def load_hin(
    ctx: typer.Context,
    directory: Path,
    ratings: Annotated[
        str | None, typer.Option(help="the ratings file's name (user_<type>.dat) when several could be")
    ] = None,
    values: Annotated[
        HinValues | None,
        typer.Option(
            help="read the ratings file's third column as ratings or counts when a few values lie outside 1-5 "
            "(without it such a file fails, naming their lines)"
        ),
    ] = None,
    as_json: JsonFlag = False,
    max_bad: MaxBad = 0.01,
    bulk: Bulk = BulkMode.AUTO,
    transaction: Transaction = LoadTransaction.AUTO,
) -> None:
    """A folder of the HIN benchmark collection (Amazon, Yelp, MovieLens, Douban, LastFM) as published:
    user_<type>.dat ratings (clearly counts, such as listens with no 1-5 scale, are read as implicit
    feedback), <type>_<entity>.dat item knowledge, <type>_<type>(knn).dat item links, user_<entity>.dat user
    knowledge, user_user*.dat user links (friends). The report says what was done with each file."""
    chosen = None if values is None else _VALUES[values]
    _load(
        ctx,
        lambda: read_hin(directory, ErrorBudget(max_bad), ratings=ratings, values=chosen),
        as_json,
        bulk,
        transaction,
    )


@load_app.command("amazon2018")
def load_amazon2018(
    ctx: typer.Context,
    meta: Annotated[Path, typer.Option(help="meta_*.json[.gz] product metadata")],
    ratings: Annotated[Path | None, typer.Option(help="ratings CSV: item,user,rating,ts")] = None,
    reviews: Annotated[Path | None, typer.Option(help="reviews JSON lines [.gz]")] = None,
    as_json: JsonFlag = False,
    max_bad: MaxBad = 0.01,
    bulk: Bulk = BulkMode.AUTO,
    transaction: Transaction = LoadTransaction.AUTO,
) -> None:
    """Amazon review data 2018: metadata plus ratings CSV or reviews."""
    budget = ErrorBudget(max_bad)
    _load(
        ctx,
        lambda: read_amazon2018(meta, ratings=ratings, reviews=reviews, budget=budget),
        as_json,
        bulk,
        transaction,
    )


def _pairs(values: list[str], what: str) -> dict[str, Path]:
    parsed = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            fail(f"{what} must look like NAME=FILE, got {value!r}")
        parsed[name] = Path(path)
    return parsed


@load_app.command("table")
def load_table(
    ctx: typer.Context,
    ratings: Annotated[Path, typer.Option(help="ratings table (CSV/TSV, header optional)")],
    item_attr: Annotated[
        list[str], typer.Option(help="LABEL=FILE: item,value table (Brand, Category, any)")
    ] = [],  # noqa: B006
    item_link: Annotated[list[str], typer.Option(help="REL=FILE: item,item table (e.g. ALSO_BOUGHT)")] = [],  # noqa: B006
    user_attr: Annotated[
        list[str], typer.Option(help="LABEL=FILE: user,value table (e.g. City, AgeBand)")
    ] = [],  # noqa: B006
    user_link: Annotated[list[str], typer.Option(help="REL=FILE: user,user table (e.g. FRIEND)")] = [],  # noqa: B006
    items: Annotated[
        Path | None,
        typer.Option(help="item metadata: id plus any of title, description, price, brand, category (A > B)"),
    ] = None,
    items_col: Annotated[
        list[str], typer.Option(help="FIELD=COLUMN for --items when the header does not say (e.g. title=2)")
    ] = [],  # noqa: B006
    users: Annotated[
        Path | None, typer.Option(help="user metadata: id, display name, further columns as attributes")
    ] = None,
    user_col: Annotated[str | None, typer.Option(help="user column: name or 0-based index")] = None,
    item_col: Annotated[str | None, typer.Option(help="item column: name or index")] = None,
    rating_col: Annotated[str | None, typer.Option(help="rating column: name or index")] = None,
    ts_col: Annotated[str | None, typer.Option(help="timestamp column: name or index")] = None,
    sep: Annotated[str | None, typer.Option(help="separator (detected when omitted); 'tab' for TAB")] = None,
    header: Annotated[
        bool | None,
        typer.Option(
            "--header/--no-header",
            help="whether the first row of the ratings and --item-attr/--item-link tables names the columns; "
            "detected per file when omitted",
        ),
    ] = None,
    scale: Annotated[str, typer.Option(help="rating scale LOW-HIGH")] = "1-5",
    as_json: JsonFlag = False,
    max_bad: MaxBad = 0.01,
    bulk: Bulk = BulkMode.AUTO,
    transaction: Transaction = LoadTransaction.AUTO,
) -> None:
    """Any ratings table plus item and user tables: item attributes and links, item metadata (--items), user
    metadata (--users), user attributes and user-user links (friends)."""
    low, _, high = scale.partition("-")
    try:
        bounds = (float(low), float(high))
    except ValueError:
        fail(f"--scale must look like 1-5, got {scale!r}")
    attrs, links = _pairs(item_attr, "--item-attr"), _pairs(item_link, "--item-link")
    user_attrs, user_links = _pairs(user_attr, "--user-attr"), _pairs(user_link, "--user-link")
    chosen = {k: str(v) for k, v in _pairs(items_col, "--items-col").items()}
    unknown = set(chosen) - set(ItemColumns.__dataclass_fields__)
    if unknown:
        fail(f"--items-col names one of {sorted(ItemColumns.__dataclass_fields__)}, got {sorted(unknown)}")
    columns = ItemColumns(**chosen)
    delimiter = "\t" if sep == "tab" else sep
    _load(
        ctx,
        lambda: with_sidecars(
            read_table(
                ratings,
                item_attrs=attrs,
                item_links=links,
                user_col=user_col,
                item_col=item_col,
                rating_col=rating_col,
                ts_col=ts_col,
                delimiter=delimiter,
                header=header,
                scale=bounds,
                budget=ErrorBudget(max_bad),
            ),
            items=items,
            item_columns=columns,
            users=users,
            user_attrs=user_attrs,
            user_links=user_links,
            budget=ErrorBudget(max_bad),
        ),
        as_json,
        bulk,
        transaction,
    )


@load_app.command("movielens")
def load_movielens(
    ctx: typer.Context,
    directory: Path,
    as_json: JsonFlag = False,
    max_bad: MaxBad = 0.01,
    bulk: Bulk = BulkMode.AUTO,
    transaction: Transaction = LoadTransaction.AUTO,
) -> None:
    """MovieLens 100K (u.data, u.item) or the ratings.csv/movies.csv layout; genres become categories."""
    _load(ctx, lambda: read_movielens(directory, ErrorBudget(max_bad)), as_json, bulk, transaction)
