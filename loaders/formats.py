"""Readers for the dataset layouts kgrec knows: Amazon 2018, any table, MovieLens (HIN: :mod:`loaders.hin`).

Each returns a :class:`loaders.Dataset` of validated frames plus its :class:`loaders.LoadReport`, and
raises :class:`core.errors.LoadError` naming file and line when the input breaks the error budget.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from core.errors import LoadError, SchemaError
from core.schema import ALSO_BOUGHT, ALSO_VIEWED, entity_label_for, validate_rel_type
from loaders.cleaning import brand_name, category_path, clean_field, parse_price
from loaders.files import SAMPLE_BYTES, open_bytes, text_encoding
from loaders.reading import (
    ErrorBudget,
    Table,
    pair_frame,
    ratings_frame,
    read_json_lines,
    sniff_table,
)
from loaders.records import Dataset, ItemRow, LoadReport, split_category
from loaders.sidecars import attach_ml100k_users
from loaders.text import clean_text

__all__ = ["read_amazon2018", "read_movielens", "read_pairs", "read_table"]


def read_amazon2018(
    meta: Path,
    *,
    ratings: Path | None = None,
    reviews: Path | None = None,
    budget: ErrorBudget | None = None,
) -> Dataset:
    """Read the Amazon review data 2018 layout: product metadata plus a ratings CSV or review JSON lines.

    The cleaning rules of :mod:`loaders.cleaning` apply (entities decoded, feature text cut from category
    lists, brand link texts reduced to the name, prices and price ranges parsed, titles stripped of markup
    and falling back to the description's first sentence) and ``report.cleaning`` counts what each changed.
    ``category`` lists become paths (root first), ``also_buy``/``also_view`` item links to items present in
    the metadata. The same asin on several lines is read once (the first line wins).
    """
    if (ratings is None) == (reviews is None):
        raise LoadError("give exactly one of ratings (CSV) or reviews (JSON lines)", file=str(meta))
    budget = budget or ErrorBudget()
    report = LoadReport(source=str(meta))
    items: dict[str, ItemRow] = {}
    links: dict[str, list[tuple[str, str]]] = {ALSO_BOUGHT.type: [], ALSO_VIEWED.type: []}
    for number, obj in read_json_lines(Path(meta)):
        report.rows_read += 1
        asin = str(obj.get("asin") or "").strip()
        if not asin:
            report.reject(str(meta), number, "asin: missing id", "asin")
            continue
        if asin in items:
            report.duplicates_dropped += 1
            continue
        counts = report.cleaning
        title = clean_field(obj.get("title"), counts, "title")
        description = clean_field(obj.get("description"), counts, "description")
        if title is None and description:
            title = _first_sentence(description)
            counts.titles_from_description += 1
        path = category_path(obj.get("category") or [], counts)
        try:
            item = ItemRow(
                id=asin,
                title=title,
                description=description,
                price=parse_price(obj.get("price"), counts),
                brand=brand_name(obj.get("brand"), counts),
                categories=[path] if path else [],
            )
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            report.reject(str(meta), number, f"{field}: {err['msg']}", field)
            continue
        items[asin] = item
        report.rows_accepted += 1
        for key, rel in (("also_buy", ALSO_BOUGHT.type), ("also_view", ALSO_VIEWED.type)):
            links[rel].extend((asin, str(other)) for other in obj.get(key) or [])
    if reviews is not None:
        rows: Iterator[tuple[int, dict[str, Any]]] = (
            (
                n,
                {
                    "user": o.get("reviewerID"),
                    "item": o.get("asin"),
                    "rating": o.get("overall"),
                    "ts": o.get("unixReviewTime"),
                },
            )
            for n, o in read_json_lines(Path(reviews))
        )
        rating_file = reviews
    else:
        assert ratings is not None
        table = sniff_table(Path(ratings), delimiter=",")
        rows = _named(table, ("item", "user", "rating", "ts"))
        rating_file = ratings
    frame = ratings_frame(rows, file=str(rating_file), report=report)
    budget.check(report)
    catalogue = list(items.values())
    return Dataset(
        report=report,
        ratings=frame,
        items=pd.DataFrame(
            [(i.id, i.title, i.description, i.price) for i in catalogue],
            columns=["id", "title", "description", "price"],
        ),
        brands=pd.DataFrame([(i.id, i.brand) for i in catalogue if i.brand], columns=["item", "brand"]),
        categories=pd.DataFrame(
            [(i.id, tuple(p)) for i in catalogue for p in i.categories], columns=["item", "path"]
        ),
        item_links={
            rel: pd.DataFrame(
                [p for p in pairs if p[1] in items and p[0] != p[1]], columns=["source", "target"]
            )
            .drop_duplicates()
            .reset_index(drop=True)
            for rel, pairs in links.items()
        },
    )


def read_table(
    ratings: Path,
    *,
    item_attrs: Mapping[str, Path] | None = None,
    item_links: Mapping[str, Path] | None = None,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    ts_col: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    scale: tuple[float, float] = (1.0, 5.0),
    budget: ErrorBudget | None = None,
) -> Dataset:
    """Read any ratings table plus item-attribute and item-item tables (CSV or TSV, header or not).

    Columns are found by header name (``user``/``user_id``/``userId``, ``item``/``item_id``/``movieId``/
    ``asin``, ``rating``, ``timestamp``/``ts``), by the options, or by position (user, item, rating, ts).
    Extra columns are ignored. ``item_attrs`` maps a label to a two-column (item, value) file:
    ``Brand`` and ``Category`` fill the core schema, any other label becomes an entity type.
    ``item_links`` maps a relationship type to a two-column (item, item) file. A ``Category`` value may be
    a path, ``Outdoor > Camping``: the item is in its last category, and the path is the tree above it.
    """
    budget = budget or ErrorBudget()
    report = LoadReport(source=str(ratings))
    table = sniff_table(Path(ratings), delimiter=delimiter, header=header)
    cols = {
        "user": table.column(user_col, ("user", "user_id", "userid", "reviewerid"), 0),
        "item": table.column(item_col, ("item", "item_id", "itemid", "movieid", "asin", "product"), 1),
        "rating": table.column(rating_col, ("rating", "score", "overall", "stars"), 2),
        "ts": table.column(
            ts_col,
            ("ts", "timestamp", "time", "unix_ts", "unixreviewtime"),
            3 if table.width > 3 and table.header is None else None,
        ),
    }
    dataset = Dataset(
        report=report,
        ratings=ratings_frame(_columns(table, cols), file=str(ratings), report=report, scale=scale),
    )
    for label, path in (item_attrs or {}).items():
        pairs = pair_frame(Path(path), report, delimiter=delimiter, header=header)
        if label.lower() == "brand":
            dataset.brands = pairs.rename(columns={"source": "item", "target": "brand"})
        elif label.lower() == "category":
            dataset.categories = pd.DataFrame(
                {"item": pairs["source"], "path": [split_category(c) or (c,) for c in pairs["target"]]}
            )
        else:
            dataset.entities[_entity_label(label, Path(path))] = pairs.rename(
                columns={"source": "item", "target": "value"}
            )
    for rel, path in (item_links or {}).items():
        try:
            name = rel if rel in (ALSO_BOUGHT.type, ALSO_VIEWED.type) else validate_rel_type(rel.upper())
        except SchemaError as e:
            raise LoadError(str(e), file=str(path)) from e
        dataset.item_links[name] = pair_frame(Path(path), report, delimiter=delimiter, header=header)
    budget.check(report)
    return dataset


def read_pairs(path: Path) -> pd.DataFrame:
    """Read (user, item) pairs to score: CSV or TSV, header optional, extra columns ignored."""
    table = sniff_table(Path(path))
    cols = {
        "user": table.column(None, ("user", "user_id", "userid"), 0),
        "item": table.column(None, ("item", "item_id", "itemid", "movieid", "asin"), 1),
    }
    rows = []
    for number, raw in _columns(table, cols):
        user, item = str(raw["user"]).strip(), str(raw["item"]).strip()
        if not user or not item:
            raise LoadError("missing id", file=str(path), line=number, field="user" if not user else "item")
        rows.append((user, item))
    return pd.DataFrame(rows, columns=["user", "item"])


_NUL = "holds a NUL character, which no id or name may hold"
_ML_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


def read_movielens(directory: Path, budget: ErrorBudget | None = None) -> Dataset:
    """Read MovieLens: the 100K layout (``u.data``, ``u.item``) or the ``ratings.csv``/``movies.csv`` one.

    Genres become categories; titles come from the movie file; 100K's ``u.user`` gives user entities
    (:func:`loaders.sidecars.attach_ml100k_users`: age band, gender, occupation, zip prefix).
    """
    budget = budget or ErrorBudget()
    directory = Path(directory)
    report = LoadReport(source=str(directory))
    if (directory / "u.data").exists():
        table = sniff_table(directory / "u.data", delimiter="\t", header=False)
        ratings = ratings_frame(
            _named(table, ("user", "item", "rating", "ts")), file=str(table.path), report=report
        )
        movies = _ml100k_movies(directory / "u.item", report)
    elif (directory / "ratings.csv").exists():
        table = sniff_table(directory / "ratings.csv", delimiter=",")
        cols = {
            k: table.column(None, (k,) + alt, i)
            for i, (k, alt) in enumerate(
                (("user", ("userid",)), ("item", ("movieid",)), ("rating", ()), ("ts", ("timestamp",)))
            )
        }
        ratings = ratings_frame(_columns(table, cols), file=str(table.path), report=report, scale=(0.5, 5.0))
        movies = _mlcsv_movies(directory / "movies.csv", report)
    else:
        raise LoadError("no MovieLens ratings file (u.data or ratings.csv)", file=str(directory))
    dataset = Dataset(
        report=report,
        ratings=ratings,
        items=pd.DataFrame(
            [(m, t, None, None) for m, t, _ in movies], columns=["id", "title", "description", "price"]
        ),
        categories=pd.DataFrame([(m, (g,)) for m, _, gs in movies for g in gs], columns=["item", "path"]),
    )
    attach_ml100k_users(dataset, directory / "u.user")  # 100K's user attributes, when the folder has them
    budget.check(report)
    return dataset


def _ml100k_movies(path: Path, report: LoadReport) -> list[tuple[str, str | None, list[str]]]:
    movies = []
    with open_bytes(path) as handle:  # checked as every file is: a regular, readable file
        raw = handle.read()
    codec = text_encoding(raw[:SAMPLE_BYTES], path)
    try:  # the published u.item is ISO-8859-1 (Misérables, Café); one saved again as UTF-8 reads too
        text = raw.decode(codec)
    except UnicodeDecodeError:
        if codec != "utf-8-sig":
            raise LoadError(f"not valid {codec} text", file=str(path)) from None
        text = raw.decode("latin-1")
    # split at newlines only: splitlines() also splits at \x85, a byte of latin-1 text
    lines = text.removesuffix("\n").split("\n") if text else []
    for number, line in enumerate(lines, start=1):
        fields = line.rstrip("\r").split("|")
        if "\x00" in line:
            column = next(i for i, f in enumerate(fields) if "\x00" in f) + 1
            raise LoadError(_NUL, file=str(path), line=number, field=f"column {column}")
        if len(fields) != 5 + len(_ML_GENRES):
            raise LoadError(
                f"expected {5 + len(_ML_GENRES)} fields, found {len(fields)}", file=str(path), line=number
            )
        genres = [g for g, flag in zip(_ML_GENRES, fields[5:], strict=True) if flag == "1" and g != "unknown"]
        movies.append((fields[0].strip(), clean_text(fields[1]), genres))
        report.rows_read += 1
        report.rows_accepted += 1
    return movies


def _mlcsv_movies(path: Path, report: LoadReport) -> list[tuple[str, str | None, list[str]]]:
    table = sniff_table(path, delimiter=",", header=True)
    movies = []
    for _, fields in table.rows():
        genres = [g for g in fields[2].split("|") if g and g != "(no genres listed)"]
        movies.append((fields[0].strip(), clean_text(fields[1]), genres))
        report.rows_read += 1
        report.rows_accepted += 1
    return movies


def _named(table: Table, names: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    return _columns(table, {n: i for i, n in enumerate(names) if i < table.width})


def _columns(table: Table, cols: Mapping[str, int | None]) -> Iterator[tuple[int, dict[str, Any]]]:
    chosen = {name: index for name, index in cols.items() if index is not None}
    for number, fields in table.rows():
        yield number, {name: fields[index] for name, index in chosen.items()}


def _entity_label(name: str, path: Path) -> str:
    try:
        return entity_label_for(name)
    except SchemaError as e:
        raise LoadError(str(e), file=str(path)) from e


def _first_sentence(text: str | None, limit: int = 80) -> str | None:
    if not text:
        return None
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"
