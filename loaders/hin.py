"""The HIN benchmark layout family (librahu's HIN datasets for recommendation: Amazon, Yelp, MovieLens,
Douban Movie and Book, LastFM), read as published.

A folder holds ``.dat`` files named after what they link, tab- or comma-separated, without a header:

- ``user_<type>.dat``: the ratings, ``user, <type>[, value[, timestamp]]``. ``<type>`` (``item``,
  ``business``, ``movie``, ``artist``, ``book``...) is the item type: the one that also starts other files'
  names (``movie_genre.dat``), or the one given as ``ratings``.
- ``<type>_<entity>.dat``: item knowledge, ``<type>, <entity>[, weight]``. ``brand`` and ``category`` fill the
  core schema, ``title`` and ``name`` give item titles, any other name is an entity type (``genre`` ->
  ``Genre``).
- ``<type>_<type>.dat`` and ``<type>_<type>(<tag>).dat``: item links ``LINKED_ITEM`` and ``<TAG>_ITEM``
  (``movie_movie(knn).dat`` -> ``KNN_ITEM``).
- ``user_<entity>.dat``: user knowledge (``user_age.dat`` -> ``Age``, ``user_group.dat`` -> ``Group``).
- ``user_user.dat``: user links ``FRIEND``; ``user_user(<tag>).dat``: ``<TAG>_USER`` (``KNN_USER``).

Values in the ratings file (the third column), by one rule for the whole file:

- every value within 1-5: **ratings**, as given;
- every value a unix time (at least 10^8, whole numbers): **timestamps** of implicit feedback, rating 5;
- clearly counts, that is at least a quarter of the values (:data:`COUNTS_SHARE`) outside 1-5: **counts**
  (LastFM listens) or weights with no rating scale, read as implicit feedback: a count ``c`` of a user whose
  largest count is ``m`` becomes ``1 + 4 * log(1 + c) / log(1 + m)`` stars (the user's most-played item 5,
  one play of a heavy listener near 1);
- some values outside 1-5 but fewer than a quarter: ratings with values off the scale, and the load fails
  naming the first of their lines (a 6 among 300 ratings must not turn every rating into a count).
  ``values="ratings"`` reads such a file as ratings all the same (the off-scale rows rejected, within the
  error budget), ``values="counts"`` as counts (``kgrec load hin --values``);
- no third column: every pair is a positive interaction, rating 5.

Weight columns of knowledge and link files are not read. Files outside the layout are listed as ignored.
The load report's ``files`` says what was done with each file.

Example:
    >>> ds = read_hin(Path("../shared/data/amazon-hin"))   # doctest: +SKIP
    >>> [(f.file, f.role) for f in ds.report.files][-1]      # doctest: +SKIP
    ('user_item.dat', 'ratings')
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import pandas as pd

from core.errors import LoadError, SchemaError
from core.schema import entity_label_for, validate_rel_type
from loaders.reading import ErrorBudget, pair_frame, ratings_frame, sniff_table
from loaders.records import Dataset, FileUse, LoadReport

__all__ = ["read_hin"]

_NAME = re.compile(r"^([a-z][a-z0-9]*)_([a-z][a-z0-9_]*?)(?:\(([a-z0-9_]+)\))?\.dat$")
_TS_FLOOR = 1e8  # unix seconds from March 1973 on: no rating or listen count is this large
COUNTS_SHARE = 0.25
"""The share of values outside 1-5 from which a ratings file's third column is clearly counts."""
_NAMED = 5  # off-scale lines an error names


def read_hin(
    directory: Path | str,
    budget: ErrorBudget | None = None,
    *,
    ratings: str | None = None,
    values: Literal["ratings", "counts"] | None = None,
) -> Dataset:
    """Read a folder of the HIN benchmark layout family (see the module docstring).

    Args:
        directory: the folder.
        budget: how many bad rows the load tolerates.
        ratings: the ratings file's name (``user_movie.dat``) when the folder's names leave the item type
            ambiguous.
        values: how to read the ratings file's third column when its values leave the rule undecided
            (a few outside 1-5): as ``ratings`` or as ``counts``; ``None``: by the rule alone.

    Raises:
        LoadError: no ratings file, an ambiguous item type, a ratings file that is neither ratings nor clearly
            counts, a file whose rows break the error budget.
    """
    budget = budget or ErrorBudget()
    directory = Path(directory)
    if not directory.is_dir():
        raise LoadError("not a folder", file=str(directory))
    report = LoadReport(source=str(directory))
    # everything but folders: a link loop, a FIFO or an unreadable file of the layout fails its read loudly
    files = sorted(p for p in directory.iterdir() if not p.is_dir())
    parsed = {p.name: _NAME.match(p.name) for p in files}
    kind = _item_type(directory, parsed, ratings)
    ratings_path = directory / f"user_{kind}.dat"
    frame, note = _ratings(ratings_path, report, values)
    dataset = Dataset(report=report, ratings=frame)
    report.files.append(FileUse(file=ratings_path.name, role="ratings", rows=len(frame), note=note))
    for path in files:
        if path == ratings_path:
            continue
        match = parsed[path.name]
        if match is None:
            report.files.append(FileUse(file=path.name, role="ignored", note="not a <a>_<b>.dat file"))
            continue
        left, right, tag = match.groups()
        if left not in ("user", kind):
            report.files.append(
                FileUse(file=path.name, role="ignored", note=f"starts with neither user_ nor {kind}_")
            )
            continue
        if right == kind and left == "user":
            report.files.append(FileUse(file=path.name, role="ignored", note="a second ratings file"))
            continue
        report.files.append(_knowledge(dataset, path, left == "user", right, tag, kind))
    for label in [lb for lb in dataset.user_entities if lb in dataset.entities]:
        # a label is one side's: the users' City of a Yelp-like folder becomes UserCity beside the items' City
        renamed = entity_label_for(f"user_{label}")
        dataset.user_entities[renamed] = dataset.user_entities.pop(label)
        for use in report.files:
            if use.role == f"user entity {label}":
                use.role, use.note = f"user entity {renamed}", f"{use.note}; renamed: items have {label}"
    budget.check(report)
    return dataset


def _item_type(directory: Path, parsed: dict[str, re.Match[str] | None], chosen: str | None) -> str:
    if chosen is not None:
        match = parsed.get(chosen)
        if match is None or match.group(1) != "user" or match.group(3):
            raise LoadError(f"{chosen!r} is not a user_<type>.dat file of the folder", file=str(directory))
        return match.group(2)
    found = [m for m in parsed.values() if m is not None]
    candidates = sorted({m.group(2) for m in found if m.group(1) == "user" and m.group(2) != "user"})
    with_knowledge = [c for c in candidates if any(m.group(1) == c for m in found)]
    if len(with_knowledge) == 1:
        return with_knowledge[0]
    if not with_knowledge and "item" in candidates:
        return "item"
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise LoadError("no ratings file user_<type>.dat in the folder", file=str(directory))
    raise LoadError(
        f"cannot tell the ratings file among {[f'user_{c}.dat' for c in candidates]}; name it (--ratings)",
        file=str(directory),
    )


def _ratings(
    path: Path, report: LoadReport, chosen: Literal["ratings", "counts"] | None
) -> tuple[pd.DataFrame, str]:
    """The ratings frame and a note saying how the values were read (the module docstring's rule)."""
    table = sniff_table(path, header=False)
    rows = list(table.rows())
    sep = "tab" if table.delimiter == "\t" else repr(table.delimiter)
    values = np.array([_number(f[2]) for _, f in rows], dtype=np.float64) if table.width >= 3 else None
    ts_col = 3 if table.width >= 4 else None
    known = values[~np.isnan(values)] if values is not None else np.zeros(0)
    off = (known < 1) | (known > 5)
    if values is None:
        mode = "pairs"
    elif chosen is not None:
        mode = chosen
    elif len(known) and not off.any():
        mode = "ratings"
    elif len(known) and known.min() >= _TS_FLOOR and np.all(known == np.round(known)) and ts_col is None:
        mode, ts_col = "timestamps", 2
    elif not len(known) or off.mean() >= COUNTS_SHARE:
        mode = "counts"
    else:
        _off_scale(path, rows, values, int(off.sum()), len(known))
    top: dict[str, float] = {}
    if mode == "counts" and values is not None:
        for (_, fields), value in zip(rows, values, strict=True):
            if not math.isnan(value):
                user = fields[0].strip()
                top[user] = max(top.get(user, 0.0), value)

    def raw() -> Any:
        for k, (number, fields) in enumerate(rows):
            row: dict[str, Any] = {"user": fields[0], "item": fields[1], "rating": 5.0}
            if mode == "ratings":
                row["rating"] = fields[2]
            elif mode == "counts" and values is not None:
                row["rating"] = _stars(values[k], top.get(fields[0].strip(), 0.0))
            if ts_col is not None:
                row["ts"] = fields[ts_col]
            yield number, row

    frame = ratings_frame(raw(), file=str(path), report=report)
    notes = {
        "pairs": "no value column: every pair read as a positive interaction (rating 5)",
        "ratings": "third column: ratings on a 1-5 scale",
        "timestamps": "third column: unix times; every pair a positive interaction (rating 5)",
        "counts": "third column: counts with no rating scale, read as implicit feedback "
        "(1 + 4 log(1+c) / log(1+user's largest count) stars)",
    }
    extra = f", column {ts_col + 1}: unix time" if ts_col is not None and mode != "timestamps" else ""
    return frame, f"{sep}-separated, {table.width} columns; {notes[mode]}{extra}"


def _off_scale(
    path: Path, rows: list[tuple[int, list[str]]], values: np.ndarray, off: int, known: int
) -> NoReturn:
    """Fail for a file of ratings with a few values off the 1-5 scale, naming the first of their lines."""
    lines = [(n, f[2].strip()) for (n, f), v in zip(rows, values, strict=True) if v < 1 or v > 5][:_NAMED]
    named = ", ".join(f"{n} ({v})" for n, v in lines)
    raise LoadError(
        f"{off} of {known} values are outside the 1-5 scale, too few for a file of counts (at least "
        f"{COUNTS_SHARE:.0%}): lines {named}{', ...' if off > len(lines) else ''}; correct them, or say how "
        "to read the column (--values ratings rejects those rows, --values counts reads counts)",
        file=str(path),
        line=lines[0][0],
        field="rating",
    )


def _stars(count: float, top: float) -> float | str:
    if math.isnan(count) or count < 0:
        return "not a count"  # rejected by the row model, with its line
    if top <= 0:
        return 1.0
    return round(1.0 + 4.0 * math.log1p(count) / math.log1p(top), 3)


def _knowledge(
    dataset: Dataset, path: Path, user_side: bool, right: str, tag: str | None, kind: str
) -> FileUse:
    """Read one knowledge or link file into ``dataset``; say what it became."""
    report = dataset.report
    pairs = pair_frame(path, report, header=False)
    width = sniff_table(path, header=False).width
    note = f"{width} columns" + ("; columns past the second (weights) not read" if width > 2 else "")
    try:
        if user_side and right == "user":
            rel = validate_rel_type(f"{tag.upper()}_USER" if tag else "FRIEND")
            dataset.user_links[rel] = pairs
            return FileUse(file=path.name, role=f"user link {rel}", rows=len(pairs), note=note)
        if user_side:
            label = entity_label_for(right if tag is None else f"{right}_{tag}")
            dataset.user_entities[label] = pairs.rename(columns={"source": "user", "target": "value"})
            return FileUse(file=path.name, role=f"user entity {label}", rows=len(pairs), note=note)
        if right == kind:
            rel = validate_rel_type(f"{tag.upper()}_ITEM" if tag else "LINKED_ITEM")
            dataset.item_links[rel] = pairs
            return FileUse(file=path.name, role=f"item link {rel}", rows=len(pairs), note=note)
        if right == "brand":
            dataset.brands = pairs.rename(columns={"source": "item", "target": "brand"})
            return FileUse(file=path.name, role="brand", rows=len(pairs), note=note)
        if right == "category":
            dataset.categories = pd.DataFrame(
                {"item": pairs["source"], "path": [(c,) for c in pairs["target"]]}
            )
            return FileUse(file=path.name, role="category", rows=len(pairs), note=note)
        if right in ("title", "name"):
            first = pairs.drop_duplicates("source")
            dataset.items = pd.DataFrame(
                {"id": first["source"], "title": first["target"], "description": None, "price": None}
            )
            return FileUse(file=path.name, role="item titles", rows=len(first), note=note)
        label = entity_label_for(right if tag is None else f"{right}_{tag}")
    except SchemaError as e:
        raise LoadError(str(e), file=str(path)) from e
    dataset.entities[label] = pairs.rename(columns={"source": "item", "target": "value"})
    return FileUse(file=path.name, role=f"item entity {label}", rows=len(pairs), note=note)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
