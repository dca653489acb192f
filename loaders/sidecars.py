"""Tables that go beside a ratings table: item metadata, user metadata, user attributes and user links.

Each ``attach_*`` reads one file into a loaded :class:`loaders.Dataset` (its rejected rows into the
dataset's report, with file and line) and records what it did in ``report.files``. :func:`with_sidecars`
attaches all of them at once, as ``kgrec load table`` does.

- items (``--items``): an id column plus any of title, description, price, brand, category (a path such as
  ``Books > History``), found by header name or chosen by :class:`ItemColumns`;
- users (``--users``): an id column, a display-name column, and any further columns as user attributes
  (the header names the attribute: ``city`` -> ``City``);
- user attributes (``--user-attr LABEL=FILE``): ``user, value`` files -> ``(:User)-[:HAS_LABEL]->(:Label)``;
- user links (``--user-link REL=FILE``): ``user, user`` files -> ``(:User)-[:REL]->(:User)``.

Example:
    >>> ds = read_table(Path("ratings.csv"))                         # doctest: +SKIP
    >>> ds = with_sidecars(ds, items=Path("movies.csv"))               # doctest: +SKIP
    >>> ds.items.columns.tolist()                                     # doctest: +SKIP
    ['id', 'title', 'description', 'price']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from core.errors import LoadError, SchemaError
from core.schema import entity_label_for, validate_label, validate_rel_type
from loaders.reading import ErrorBudget, Table, pair_frame, sniff_table
from loaders.records import Dataset, FileUse, ItemRow, split_category
from loaders.text import clean_text

__all__ = [
    "ItemColumns",
    "attach_items",
    "attach_ml100k_users",
    "attach_user_attr",
    "attach_user_link",
    "attach_users",
    "with_sidecars",
]

_ITEM_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "item", "item_id", "itemid", "movieid", "asin", "product", "product_id"),
    "title": ("title", "name", "item_name", "product_name"),
    "description": ("description", "desc", "summary"),
    "price": ("price",),
    "brand": ("brand", "maker", "manufacturer", "publisher"),
    "category": ("category", "categories", "category_path", "genre", "genres"),
}
_USER_ID = ("id", "user", "user_id", "userid", "reviewerid")
_USER_NAME = ("name", "display_name", "username", "user_name", "nickname")


@dataclass(frozen=True)
class ItemColumns:
    """Columns of an items file, by header name or 0-based index; ``None``: found by header name."""

    id: str | None = None
    title: str | None = None
    description: str | None = None
    price: str | None = None
    brand: str | None = None
    category: str | None = None


def attach_items(dataset: Dataset, path: Path, columns: ItemColumns | None = None) -> Dataset:
    """Item titles, descriptions, prices, brands and category paths (``A > B`` or ``A/B``... as ``>``)."""
    columns = columns or ItemColumns()
    report = dataset.report
    table = _sniff(Path(path), {n for names in _ITEM_NAMES.values() for n in names})
    # without a header: id and title by position, the rest only when chosen
    defaults = {"id": 0, "title": 1 if table.header is None and table.width > 1 else None}
    found = {
        name: table.column(getattr(columns, name), names, defaults.get(name))
        for name, names in _ITEM_NAMES.items()
    }
    rows, brands, categories = [], [], []
    for number, fields in table.rows():
        report.rows_read += 1
        raw = {k: fields[i] for k, i in found.items() if i is not None and k != "category"}
        try:
            item = ItemRow.model_validate(
                {k: (v.strip() or None) if k != "id" else v for k, v in raw.items()}
            )
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            report.reject(str(path), number, f"{field}: {err['msg']}", field)
            continue
        report.rows_accepted += 1
        rows.append((item.id, item.title, item.description, item.price))
        if item.brand:
            brands.append((item.id, item.brand))
        if found["category"] is not None:
            names = split_category(clean_text(fields[found["category"]]) or "")
            if names:
                categories.append((item.id, names))
    frame = pd.DataFrame(rows, columns=["id", "title", "description", "price"])
    dataset.items = (
        pd.concat([dataset.items, frame]).drop_duplicates("id", keep="last").reset_index(drop=True)
    )
    if brands:
        dataset.brands = pd.concat([dataset.brands, pd.DataFrame(brands, columns=["item", "brand"])])
    if categories:
        dataset.categories = pd.concat(
            [dataset.categories, pd.DataFrame(categories, columns=["item", "path"])]
        )
    used = ", ".join(
        f"{k}={table.header[i] if table.header else i}" for k, i in found.items() if i is not None
    )
    report.files.append(FileUse(file=str(path), role="items", rows=len(frame), note=f"columns {used}"))
    return dataset


def attach_users(dataset: Dataset, path: Path) -> Dataset:
    """User display names and attributes: the id column, a name column, and every further column named by
    the header becomes a user attribute (a file without a header gives id and name only)."""
    report = dataset.report
    table = _sniff(Path(path), {*_USER_ID, *_USER_NAME})
    id_col = table.column(None, _USER_ID, 0)
    name_col = table.column(None, _USER_NAME, None if table.header else (1 if table.width > 1 else None))
    attrs: dict[int, str] = {}
    if table.header is not None:
        for index, title in enumerate(table.header):
            if index not in (id_col, name_col):
                attrs[index] = _label(title, path)
    names: list[tuple[str, str]] = []
    values: dict[str, list[tuple[str, str]]] = {label: [] for label in attrs.values()}
    for number, fields in table.rows():
        report.rows_read += 1
        user = fields[id_col].strip() if id_col is not None else ""
        if not user:
            report.reject(str(path), number, "missing id", "id")
            continue
        report.rows_accepted += 1
        name = clean_text(fields[name_col]) if name_col is not None else None
        if name:
            names.append((user, name))
        for index, label in attrs.items():
            value = clean_text(fields[index])
            if value:
                values[label].append((user, value))
    frame = pd.DataFrame(names, columns=["id", "name"])
    dataset.users = (
        pd.concat([dataset.users, frame]).drop_duplicates("id", keep="last").reset_index(drop=True)
    )
    for label, pairs in values.items():
        _add_user_entity(dataset, label, pd.DataFrame(pairs, columns=["user", "value"]).drop_duplicates())
    note = f"names: {len(frame)}; attributes: {', '.join(values) or 'none'}"
    report.files.append(FileUse(file=str(path), role="users", rows=len(frame), note=note))
    return dataset


def attach_user_attr(dataset: Dataset, label: str, path: Path) -> Dataset:
    """A ``user, value`` file as the user entity ``label`` (``City``: ``(:User)-[:HAS_CITY]->(:City)``)."""
    name = _label(label, path)
    pairs = pair_frame(Path(path), dataset.report).rename(columns={"source": "user", "target": "value"})
    _add_user_entity(dataset, name, pairs)
    dataset.report.files.append(FileUse(file=str(path), role=f"user entity {name}", rows=len(pairs)))
    return dataset


def attach_user_link(dataset: Dataset, rel: str, path: Path) -> Dataset:
    """A ``user, user`` file as the user link ``rel`` (``FRIEND``: ``(:User)-[:FRIEND]->(:User)``)."""
    try:
        name = validate_rel_type(rel.upper())
    except SchemaError as e:
        raise LoadError(str(e), file=str(path)) from e
    pairs = pair_frame(Path(path), dataset.report)
    pairs = pairs[pairs["source"] != pairs["target"]].reset_index(drop=True)
    dataset.user_links[name] = pd.concat([dataset.user_links.get(name), pairs]).drop_duplicates()
    dataset.report.files.append(FileUse(file=str(path), role=f"user link {name}", rows=len(pairs)))
    return dataset


def with_sidecars(
    dataset: Dataset,
    *,
    items: Path | None = None,
    item_columns: ItemColumns | None = None,
    users: Path | None = None,
    user_attrs: Mapping[str, Path] | None = None,
    user_links: Mapping[str, Path] | None = None,
    budget: ErrorBudget | None = None,
) -> Dataset:
    """Attach every side table given, then check the error budget over the whole load."""
    if items is not None:
        attach_items(dataset, items, item_columns)
    if users is not None:
        attach_users(dataset, users)
    for label, path in (user_attrs or {}).items():
        attach_user_attr(dataset, label, path)
    for rel, path in (user_links or {}).items():
        attach_user_link(dataset, rel, path)
    (budget or ErrorBudget()).check(dataset.report)
    return dataset


_AGE_BANDS = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55"))


def attach_ml100k_users(dataset: Dataset, path: Path) -> Dataset:
    """MovieLens 100K ``u.user`` (``id|age|gender|occupation|zip``) as user entities: ``AgeBand`` (the bands
    of MovieLens 1M: under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+), ``Gender``, ``Occupation`` and
    ``ZipPrefix`` (the first three characters of the zip code). A folder without ``u.user`` is unchanged."""
    if not os.path.lexists(path):  # a link that leads nowhere is reported by the read, not passed over
        return dataset
    table = Table(Path(path), "|", None, 5)
    found: dict[str, list[tuple[str, str]]] = {"AgeBand": [], "Gender": [], "Occupation": [], "ZipPrefix": []}
    for number, (user, age, gender, occupation, zip_code) in table.rows():
        dataset.report.rows_read += 1
        if not user.strip() or not age.strip().isdigit():
            dataset.report.reject(str(path), number, "missing id or age", "id" if not user.strip() else "age")
            continue
        dataset.report.rows_accepted += 1
        years = int(age)
        band = next((b for limit, b in _AGE_BANDS if years < limit), "56+")
        for label, value in (
            ("AgeBand", band),
            ("Gender", gender.strip()),
            ("Occupation", occupation.strip()),
            ("ZipPrefix", zip_code.strip()[:3]),
        ):
            if value:
                found[label].append((user.strip(), value))
    for label, pairs in found.items():
        _add_user_entity(dataset, label, pd.DataFrame(pairs, columns=["user", "value"]))
    dataset.report.files.append(
        FileUse(
            file=str(path), role="users", rows=len(found["AgeBand"]), note="user entities " + ", ".join(found)
        )
    )
    return dataset


def _sniff(path: Path, names: set[str]) -> Table:
    """The file's layout; a first row naming a known column is a header even when no column is numeric."""
    table = sniff_table(path)
    if table.header is None:
        first = next(table.rows(), (0, []))[1]
        if any(f.strip().lower() in names for f in first):
            return sniff_table(path, delimiter=table.delimiter, header=True)
    return table


def _add_user_entity(dataset: Dataset, label: str, pairs: pd.DataFrame) -> None:
    if label in dataset.entities:
        raise LoadError(f"{label!r} is an item entity of this load; name the user attribute otherwise")
    dataset.user_entities[label] = pd.concat([dataset.user_entities.get(label), pairs]).drop_duplicates()


def _label(name: str, path: Path) -> str:
    try:
        return validate_label(name) if name[:1].isupper() and "_" not in name else entity_label_for(name)
    except SchemaError as e:
        raise LoadError(str(e), file=str(path)) from e
