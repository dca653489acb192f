"""Cleaning rules for Amazon review data 2018 metadata, each one counted in the load report.

The metadata is scraped and dirty. Each rule below is a pure function; the reader applies them in this order
and :class:`CleaningCounts` (``LoadReport.cleaning``, printed by ``kgrec load ... --json``) says how many
values each one changed, so that a user can check that the cleaning did not eat their data.

1. **Entities** (:func:`unescape`): HTML entities are decoded until none is left (``&amp;amp;`` -> ``&``), in
   category names, titles, brands and descriptions alike, so that ``Fashion &amp; Style`` and
   ``Fashion & Style`` are one category.
2. **Feature text in category lists** (:func:`category_path`): the ``category`` list is a path, root first,
   but in some categories it runs on into product feature bullets. The path is cut at the first entry that
   (a) holds markup (``<``, ``>``, ``{``, ``}``, ``http``, ``www.``), (b) is longer than
   :data:`MAX_CATEGORY_CHARS` characters, or (c) reads like a sentence: it ends with ``.``, ``!`` or ``?``
   after at least three words, a word of four letters or more ends with one of them and more text follows,
   or it holds a ``;`` followed by text (so ``Dr. Seuss`` and ``U.S. History`` stay names). That entry and
   every one after it are dropped. Entries left empty by cleaning are skipped. A child named like its parent
   is kept: it is a level of the path, not a repeat.
3. **Brands** (:func:`brand_name`): Amazon's link texts are reduced to the name: ``Visit the X Store`` ->
   ``X``, ``Visit Amazon's X Page`` -> ``X``, ``by X`` (lower-case ``by``, as the byline is written) -> ``X``.
4. **Prices** (:func:`parse_price`): a number, ``$12.99``, ``£1,299.00`` or a range ``$10.99 - $15.99`` (the
   lower bound, the "from" price a shopper sees); anything else (scraped CSS, script) is no price rather
   than a number fished out of it.
5. **Titles**: markup is removed; a title with nothing readable left falls back to the description's first
   sentence (``titles_from_description``).

Example:
    >>> counts = CleaningCounts()
    >>> category_path(["Books", "Books", "Soft cotton. Machine wash."], counts)
    ['Books', 'Books']
    >>> counts.category_entries_cut, brand_name("Visit the Acme &amp; Co Store", counts)
    (1, 'Acme & Co')
    >>> parse_price("$10.99 - $15.99", counts), counts.price_ranges
    (10.99, 1)
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from pydantic import BaseModel

from loaders.text import clean_text

__all__ = [
    "MAX_CATEGORY_CHARS",
    "CleaningCounts",
    "brand_name",
    "category_path",
    "clean_field",
    "is_feature_text",
    "parse_price",
    "unescape",
]

MAX_CATEGORY_CHARS = 60
"""A category entry longer than this is feature text (real category names are well under it)."""

_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_MARKUP = re.compile(r"[<>{}]|https?:|www\.", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]$")
_INNER_STOP = re.compile(r"\w{4,}[.!?]\s+\S|;\s*\S")
_BRAND_LINKS = (
    re.compile(r"^Visit the (.+) Store$"),
    re.compile(r"^Visit Amazon's (.+) Page$"),
    re.compile(r"^by\s+(.+)$"),
)
_AMOUNT = r"[$£€]?\s*(\d[\d,]*(?:\.\d+)?)"
_PRICE = re.compile(rf"^{_AMOUNT}(?:\s*[-–]\s*{_AMOUNT})?$")


class CleaningCounts(BaseModel):
    """How many values each cleaning rule changed (all zero for formats that need no cleaning)."""

    category_lists_cut: int = 0
    """Items whose category list ran on into feature text and was cut."""
    category_entries_cut: int = 0
    """Category entries dropped as feature text (the first one and everything after it)."""
    category_names_unescaped: int = 0
    titles_unescaped: int = 0
    brands_unescaped: int = 0
    descriptions_unescaped: int = 0
    titles_from_description: int = 0
    """Titles with nothing readable once markup was removed, replaced by the description's first sentence."""
    brands_normalised: int = 0
    """``Visit the X Store``, ``Visit Amazon's X Page`` and ``by X`` reduced to ``X``."""
    prices_parsed: int = 0
    price_ranges: int = 0
    """Prices given as a range, read as their lower bound (also counted in ``prices_parsed``)."""
    prices_unparsed: int = 0
    """Non-empty price values that are not a price (left empty)."""


def unescape(value: str) -> tuple[str, bool]:
    """Decode HTML entities until none is left; also say whether there was any.

    Example:
        >>> unescape("AT&amp;amp;T")
        ('AT&T', True)
    """
    text, changed = value, False
    for _ in range(4):  # double and triple escaping happen; four rounds end any real case
        if not _ENTITY.search(text):
            break
        decoded = html.unescape(text)
        if decoded == text:
            break
        text, changed = decoded, True
    return text, changed


def clean_field(value: object, counts: CleaningCounts, field: str) -> str | None:
    """Rule 1 then :func:`loaders.text.clean_text` on a title, brand or description (lists joined);
    counts ``<field>s_unescaped``."""
    if value is None:
        return None
    raw = " ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    text, changed = unescape(raw)
    if changed:
        setattr(counts, f"{field}s_unescaped", getattr(counts, f"{field}s_unescaped") + 1)
    return clean_text(text)


def is_feature_text(entry: str) -> bool:
    """Whether a (decoded) category entry is product feature text rather than a category name (rule 2).

    Example:
        >>> is_feature_text("Fashion & Style"), is_feature_text("Soft and warm, great for winter.")
        (False, True)
    """
    text = entry.strip()
    if _MARKUP.search(text) or len(text) > MAX_CATEGORY_CHARS:
        return True
    return bool(_SENTENCE_END.search(text) and len(text.split()) >= 3) or bool(_INNER_STOP.search(text))


def category_path(entries: Iterable[object], counts: CleaningCounts) -> list[str]:
    """A ``category`` list as a clean path, root first: rules 1 and 2."""
    path: list[str] = []
    raw = list(entries)
    for position, entry in enumerate(raw):
        text, changed = unescape(str(entry))
        if is_feature_text(text):
            counts.category_lists_cut += 1
            counts.category_entries_cut += len(raw) - position
            break
        name = clean_text(text)
        if name:
            counts.category_names_unescaped += int(changed)
            path.append(name)
    return path


def brand_name(value: object, counts: CleaningCounts) -> str | None:
    """A brand as a plain name: rules 1 and 3."""
    text = clean_field(value, counts, "brand")
    if text is None:
        return None
    for pattern in _BRAND_LINKS:
        match = pattern.match(text)
        if match:
            counts.brands_normalised += 1
            return match.group(1).strip() or None
    return text


def parse_price(value: object, counts: CleaningCounts) -> float | None:
    """A price (the lower bound of a range), or ``None`` when the value is empty or not a price: rule 4."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        counts.prices_parsed += 1
        return float(value)
    text = clean_text(unescape(str(value))[0])
    if text is None:
        return None
    match = _PRICE.match(text)
    if match is None:
        counts.prices_unparsed += 1
        return None
    counts.prices_parsed += 1
    if match.group(2) is not None:
        counts.price_ranges += 1
    return float(match.group(1).replace(",", ""))
