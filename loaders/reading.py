"""Line-numbered reading of delimited and JSON-lines files, with the error budget every loader shares."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
from pydantic import ValidationError

from core.errors import LoadError
from loaders.files import DAMAGED, open_text
from loaders.records import LoadReport, RatingRow
from loaders.text import clean_text

__all__ = [
    "ErrorBudget",
    "Table",
    "pair_frame",
    "ratings_frame",
    "read_json_lines",
    "sniff_table",
]


@dataclass(frozen=True)
class ErrorBudget:
    """How much bad input a load tolerates before it fails whole.

    Attributes:
        max_bad_fraction: share of rows that may be rejected (bad values, missing ids).
        structural: when ``True`` (the default) a structural error, such as a wrong column count or a line
            that is not JSON, fails the load at once.
    """

    max_bad_fraction: float = 0.01
    structural: bool = True

    def check(self, report: LoadReport) -> None:
        bad = report.rejected_count
        if report.rows_read and bad / report.rows_read > self.max_bad_fraction:
            first = report.rejected[0]
            raise LoadError(
                f"{bad} of {report.rows_read} rows rejected ({bad / report.rows_read:.1%}), over the budget of "
                f"{self.max_bad_fraction:.1%}; first: {first.reason}",
                file=first.file,
                line=first.line,
                field=first.field,
                report=report,
            )


# The sniffer reads at most this much of a line: a 10 MB line is not a layout to guess from.
_SNIFF_LINE = 1 << 16


@contextmanager
def _reading(path: Path, line: Callable[[], int]) -> Iterator[None]:
    """Turn a damaged compressed stream or an unreadable CSV record into a LoadError at the line reached."""
    try:
        yield
    except DAMAGED as e:
        raise LoadError(f"compressed data is truncated or corrupt ({e})", file=str(path), line=line()) from e
    except csv.Error as e:
        raise LoadError(f"unreadable record: {e}", file=str(path), line=line()) from e


@dataclass(frozen=True)
class Table:
    """A delimited file's detected layout."""

    path: Path
    delimiter: str
    header: list[str] | None
    width: int

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line_number, fields)``; blank lines are skipped, a wrong width is a ``LoadError``.

        The line number is the physical line a record starts on, so a quoted field that spans lines does not
        shift the numbers of the records after it.
        """
        with open_text(self.path) as handle:
            reader = csv.reader(self._lines(handle), delimiter=self.delimiter)
            end = 0  # the physical line the previous record ended on
            with _reading(self.path, lambda: end + 1):
                for record, fields in enumerate(reader, start=1):
                    number, end = end + 1, reader.line_num
                    if record == 1 and self.header is not None:
                        continue
                    if not fields or (len(fields) == 1 and not fields[0].strip()):
                        continue
                    if len(fields) != self.width:
                        raise LoadError(
                            f"expected {self.width} columns, found {len(fields)}",
                            file=str(self.path),
                            line=number,
                        )
                    yield number, fields

    def _lines(self, handle: IO[str]) -> Iterator[str]:
        """The file's physical lines without byte-order marks (a file made by joining files has them inside);
        a NUL character is a LoadError naming its line and field: no id or name holds one."""
        for number, line in enumerate(handle, start=1):
            if "\ufeff" in line:
                line = line.replace("\ufeff", "")
            if "\x00" in line:
                fields = next(csv.reader([line], delimiter=self.delimiter), [])
                index = next((i for i, f in enumerate(fields) if "\x00" in f), 0)
                header = self.header or []
                raise LoadError(
                    "holds a NUL character, which no id or name may hold",
                    file=str(self.path),
                    line=number,
                    field=header[index] if index < len(header) else f"column {index + 1}",
                )
            yield line

    def column(self, wanted: str | int | None, names: tuple[str, ...], default: int | None) -> int | None:
        """Index of a column chosen by name or position, else the first header name in ``names``."""
        if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.isdigit()):
            index = int(wanted)
        elif wanted is not None:
            if self.header is None or wanted not in self.header:
                raise LoadError(f"no column named {wanted!r} (header: {self.header})", file=str(self.path))
            index = self.header.index(wanted)
        else:
            lowered = [h.strip().lower() for h in self.header] if self.header else []
            found = next((lowered.index(n) for n in names if n in lowered), default)
            if found is None:
                return None
            index = found
        if not 0 <= index < self.width:
            raise LoadError(f"column {index} out of range (file has {self.width})", file=str(self.path))
        return index


def sniff_table(path: Path, delimiter: str | None = None, header: bool | None = None) -> Table:
    """Detect delimiter (tab, comma, semicolon, pipe, whitespace) and whether the first row is a header."""
    with open_text(path) as handle, _reading(path, lambda: 1):
        sample = [line for line in (handle.readline(_SNIFF_LINE) for _ in range(20)) if line.strip()]
    if not sample:
        raise LoadError("file is empty", file=str(path))
    if delimiter is None:
        candidates = ["\t", ",", ";", "|", " "]
        # The first separator found on every sampled line wins; a broken line must not hide the layout.
        delimiter = next((d for d in candidates if all(d in line for line in sample)), ",")
    first = next(csv.reader([sample[0]], delimiter=delimiter))
    if header is None:
        second = next(csv.reader([sample[1]], delimiter=delimiter)) if len(sample) > 1 else first
        header = _looks_like_header(first, second)
    return Table(path, delimiter, [f.strip() for f in first] if header else None, len(first))


# Column names that data rows do not hold as values; a first row using one of them (and no number) is a header.
HEADER_WORDS = frozenset(
    [
        "user",
        "user_id",
        "userid",
        "reviewerid",
        "customer",
        "item",
        "item_id",
        "itemid",
        "asin",
        "product",
        "movie",
        "movie_id",
        "movieid",
        "business",
        "book",
        "artist",
        "rating",
        "ratings",
        "stars",
        "score",
        "overall",
        "ts",
        "timestamp",
        "time",
        "date",
        "unixreviewtime",
        "weight",
        "count",
        "id",
        "key",
        "source",
        "target",
        "value",
        "name",
        "title",
        "brand",
        "category",
        "categories",
        "genre",
        "tag",
        "description",
        "price",
        "label",
        "entity",
        "type",
        "relation",
    ]
)


def _looks_like_header(first: list[str], second: list[str]) -> bool:
    """Whether the first row names the columns.

    It does when it has a non-numeric field where the row below holds a number (``user,item,rating`` over
    ``u1,i1,5``), or, for files of names only (``item,brand`` over ``i1,Acme``), when it holds no number and
    at least one field is a common column name (:data:`HEADER_WORDS`). ``--header``/``--no-header`` decide
    where this guess cannot.

    Example:
        >>> _looks_like_header(["item", "value"], ["i1", "Acme"]), _looks_like_header(["i1", "Acme"], ["i2", "Co"])
        (True, False)
    """
    if any(not _numeric(a) and _numeric(b) for a, b in zip(first, second, strict=False)):
        return True
    names = [f.strip().lower() for f in first]
    return not any(_numeric(f) for f in names) and any(f in HEADER_WORDS for f in names)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; a line that is not a JSON object fails."""
    with open_text(path) as handle:
        number = 0
        with _reading(path, lambda: number + 1):
            for number, line in enumerate(handle, start=1):  # noqa: B007 - the error context reads it
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise LoadError(f"not valid JSON ({e.msg})", file=str(path), line=number) from e
                if not isinstance(obj, dict):
                    raise LoadError("expected a JSON object", file=str(path), line=number)
                yield number, obj


def ratings_frame(
    rows: Iterator[tuple[int, dict[str, Any]]],
    *,
    file: str,
    report: LoadReport,
    scale: tuple[float, float] = (1.0, 5.0),
    accept: Callable[[RatingRow], bool] | None = None,
) -> pd.DataFrame:
    """Validate raw rating rows into a frame, rejecting bad rows into ``report``; keep each pair's latest.

    Duplicate (user, item) pairs keep the row with the latest timestamp, the later line on a tie.
    """
    kept: list[tuple[str, str, float, int, int]] = []
    low, high = scale
    for number, raw in rows:
        report.rows_read += 1
        try:
            row = RatingRow.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or None
            report.reject(file, number, f"{field}: {err['msg']}" if field else err["msg"], field)
            continue
        if not low <= row.rating <= high:
            report.reject(file, number, f"rating {row.rating:g} outside the scale {low:g}-{high:g}", "rating")
            continue
        if accept is not None and not accept(row):
            continue
        kept.append((row.user, row.item, row.rating, row.ts, number))
    frame = pd.DataFrame(kept, columns=["user", "item", "rating", "ts", "line"])
    before = len(frame)
    frame = frame.sort_values(["ts", "line"]).drop_duplicates(["user", "item"], keep="last")
    report.duplicates_dropped += before - len(frame)
    report.rows_accepted += len(frame)
    return frame.drop(columns="line").sort_index().reset_index(drop=True)


def pair_frame(
    path: Path, report: LoadReport, *, delimiter: str | None = None, header: bool | None = None
) -> pd.DataFrame:
    """The first two columns of a file as ``source, target`` (further columns, such as a weight, are not
    read); rows with a missing id are rejected into ``report``, repeated pairs dropped and counted. The target
    is cleaned as a name (markup and entities), the source kept as an id."""
    table = sniff_table(path, delimiter=delimiter, header=header)
    if table.width < 2:
        raise LoadError(f"expected at least 2 columns, found {table.width}", file=str(path))
    kept = []
    for number, fields in table.rows():
        report.rows_read += 1
        source, target = fields[0].strip(), fields[1].strip()
        if not source or not target:
            report.reject(str(path), number, "missing id", "source" if not source else "target")
            continue
        kept.append((source, clean_text(target) or target))
    frame = pd.DataFrame(kept, columns=["source", "target"]).drop_duplicates()
    report.rows_accepted += len(frame)
    report.duplicates_dropped += len(kept) - len(frame)
    return frame.reset_index(drop=True)
