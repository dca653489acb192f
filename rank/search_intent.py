"""Whether a query is navigational: its words name one category or one brand, with no word left over.

A shopper who types a category's or a brand's name is asking for that page, and the page is the answer a shop
gives (:func:`kgrec.searching.search_hits` serves a user the fused page of the entity). The entity is found
from the text alone, among the query's linked entities (:func:`rank.search_candidates.gather`): those whose
name has the same words as the query, each word matching as the linker matches it (case, a plural, one typo
from five letters on). Several categories of one name ("Women" under two parents) are one page, as
:meth:`kgrec.Recommender.recommend` reads a name; of names with the same words (a brand spelt twice in the
data), the one typed exactly is the page, and without one, or with entities of two kinds, there is none.

Example:
    >>> same_words(["fashion", "style"], "Fashion & Style"), same_words(["womens"], "Women")
    (True, True)
    >>> same_words(["fashion"], "Fashion & Style"), same_words(["velocitta"], "Velocita")
    (False, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.schema import BRAND, CATEGORY
from kg.text_search import LinkedEntityRecord, query_words

__all__ = ["Navigation", "navigation", "same_words"]

_TYPO_FROM = 5  # as kg.text_search's fuzzy clauses


@dataclass(frozen=True)
class Navigation:
    """The page a navigational query asks for: ``brand`` or ``category`` (a path when one category has the
    name, else the name, standing for each category of it), and the ``entity`` shown as what matched."""

    brand: str | None
    category: str | None
    entity: str


def navigation(text: str, linked: Sequence[LinkedEntityRecord]) -> Navigation | None:
    """The page the query ``text`` names among its ``linked`` entities, or ``None`` when it names none or
    more than one (a word left over, or entities of different kinds or names)."""
    words = query_words(text)
    named = [
        e for e in linked if e["label"] in (BRAND.label, CATEGORY.label) and same_words(words, e["name"])
    ]
    if len({(e["label"], e["name"]) for e in named}) > 1:
        # names with the same words ("Meredith Corporation", "Meredith corporation"): the one typed as it is
        typed = [e for e in named if e["name"] == text.strip()]
        named = typed if len({e["label"] for e in typed}) == 1 else []
    if not named:
        return None
    first = named[0]
    if first["label"] == BRAND.label:
        return Navigation(brand=first["name"], category=None, entity=f"{BRAND.label}: {first['name']}")
    category = first["key"] if len(named) == 1 else first["name"]
    return Navigation(brand=None, category=category, entity=f"{CATEGORY.label}: {category}")


def same_words(words: Sequence[str], name: str) -> bool:
    """Whether each query word matches a word of ``name`` and each word of ``name`` a query word."""
    names = query_words(name)
    if not words or not names:
        return False
    return all(any(_match(w, n) for n in names) for w in words) and all(
        any(_match(w, n) for w in words) for n in names
    )


def _match(word: str, name: str) -> bool:
    if word == name or word.rstrip("s") == name.rstrip("s"):
        return True
    return len(word) >= _TYPO_FROM and len(name) >= _TYPO_FROM and _one_edit(word, name)


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by at most one inserted, deleted or replaced letter."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    for n, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            rest = n + 1 if len(a) == len(b) else n
            return a[rest:] == b[n + 1 :]
    return True
