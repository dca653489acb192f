"""The queries a shopper who wanted an item might type, generated from the item's graph facts, as
product-search papers build them: the item's category name at two depths, its brand name, two or three
words of its title, and one category word with one title word (``mixed``).

The search ranker trains on such queries generated from training interactions, and is measured on those
generated from held-out ones (:mod:`kgrec.search_eval`).

Example:
    >>> import numpy as np
    >>> queries = generated_queries("Vogue Italia Annual", ["Conde Nast"],
    ...     ["Magazine Subscriptions > Fashion & Style > Women"], np.random.default_rng(0))
    >>> queries["category_broad"], queries["category_narrow"], queries["brand"]
    ('Fashion & Style', 'Women', 'Conde Nast')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kg.text_search import query_words
from loaders.records import split_category

__all__ = ["QUERY_TYPES", "TRAINING_TYPES", "category_of", "generated_queries"]

QUERY_TYPES = ("category_broad", "category_narrow", "brand", "title", "mixed")
"""``category_broad``: the category name one level below the root (the root itself where there is no
deeper level); ``category_narrow``: the name one level further down; ``brand``; ``title``: two or three
title words in title order; ``mixed``: a category word and a title word."""

TRAINING_TYPES = (*QUERY_TYPES, "category_root")
"""What the search ranker trains on: the measured types, and the name of the item's root category, a broad
query whose candidates only the shopper's taste and popularity tell apart."""


def category_of(query_type: str, categories: Sequence[str]) -> str | None:
    """The path (``A > B``) of the category a category query names: the item's first category cut to the
    query's depth; ``None`` for other query types or when the item has no category that deep."""
    if not categories or query_type not in ("category_root", "category_broad", "category_narrow"):
        return None
    path = split_category(categories[0])
    below = 1 if len(path) > 1 else 0  # the root, when it is not the item's own category, is "category_root"
    depth = {"category_root": 0, "category_broad": below, "category_narrow": below + 1}.get(query_type, 0)
    return " > ".join(path[: depth + 1]) if depth < len(path) else None


def generated_queries(
    title: str | None,
    brands: Sequence[str],
    categories: Sequence[str],
    rng: np.random.Generator,
    types: Sequence[str] = QUERY_TYPES,
) -> dict[str, str]:
    """One query per type of ``types`` the item's facts allow (a type without facts is absent)."""
    out: dict[str, str] = {}
    for kind in ("category_broad", "category_narrow", "category_root"):
        path = category_of(kind, categories)
        if path is not None and (kind != "category_root" or len(split_category(categories[0])) > 1):
            out[kind] = split_category(path)[-1]
    if brands:
        out["brand"] = brands[0]
    words = [w for w in query_words(title or "") if not w.isdigit()]
    if len(words) >= 2:
        n = min(len(words), int(rng.integers(2, 4)))
        out["title"] = " ".join(words[i] for i in sorted(rng.choice(len(words), n, replace=False)))
    category_words = [w for c in ("category_broad", "category_narrow") for w in query_words(out.get(c, ""))]
    title_words = [w for w in words if w not in category_words]
    if category_words and title_words:
        out["mixed"] = f"{rng.choice(category_words)} {rng.choice(title_words)}"
    return {kind: out[kind] for kind in types if kind in out}
