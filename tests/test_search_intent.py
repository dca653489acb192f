"""A navigational query (:mod:`rank.search_intent`): its words name one category or one brand, nothing left
over, found from the linked entities alone; planted entity lists where the page asked for is known."""

from __future__ import annotations

import pytest

from kg.text_search import LinkedEntityRecord
from rank.search_intent import Navigation, navigation, same_words


def _entity(label: str, key: str, name: str) -> LinkedEntityRecord:
    return {"label": label, "key": key, "name": name, "score": 1.0, "items": [["I1", 0]]}


WOMEN_FASHION = _entity("Category", "Shop > Fashion & Style > Women", "Women")
WOMEN_HEALTH = _entity("Category", "Shop > Health > Women", "Women")
FASHION = _entity("Category", "Shop > Fashion & Style", "Fashion & Style")
MEREDITH = _entity("Brand", "Meredith Corporation", "Meredith Corporation")
MEREDITH_LOWER = _entity("Brand", "Meredith corporation", "Meredith corporation")
LIBERTY = _entity("Brand", "Liberty Media for Women", "Liberty Media for Women")
GENRE = _entity("Genre", "women", "women")


@pytest.mark.parametrize(
    ("words", "name", "same"),
    [
        (["fashion", "style"], "Fashion & Style", True),
        (["style", "fashion"], "Fashion and Style", True),
        (["womens"], "Women", True),  # a plural
        (["velocitta"], "Velocita", True),  # one typo from five letters on
        (["mem"], "Men", False),  # no typo below five letters
        (["fashion"], "Fashion & Style", False),  # a word of the name not typed
        (["fashion", "style", "women"], "Fashion & Style", False),  # a word left over
        ([], "Women", False),
    ],
)
def test_same_words(words: list[str], name: str, same: bool) -> None:
    assert same_words(words, name) is same


def test_a_name_alone_is_its_page() -> None:
    linked = [FASHION, WOMEN_FASHION, LIBERTY]
    assert navigation("fashion & style", linked) == Navigation(
        brand=None, category="Shop > Fashion & Style", entity="Category: Shop > Fashion & Style"
    )
    assert navigation("Meredith Corporation", [MEREDITH, LIBERTY]) == Navigation(
        brand="Meredith Corporation", category=None, entity="Brand: Meredith Corporation"
    )


def test_categories_of_one_name_are_one_page_by_that_name() -> None:
    page = navigation("women", [WOMEN_FASHION, WOMEN_HEALTH, LIBERTY])
    assert page == Navigation(brand=None, category="Women", entity="Category: Women")


def test_a_brand_spelt_twice_is_the_one_typed_or_none() -> None:
    linked = [MEREDITH_LOWER, MEREDITH]
    assert navigation("Meredith Corporation", linked) == Navigation(
        brand="Meredith Corporation", category=None, entity="Brand: Meredith Corporation"
    )
    assert navigation("Meredith corporation", linked).brand == "Meredith corporation"  # type: ignore[union-attr]
    assert navigation("meredith corporation", linked) is None


@pytest.mark.parametrize(
    ("text", "linked"),
    [
        ("women fashion", [WOMEN_FASHION, FASHION]),  # a word left over for each
        ("liberty media", [LIBERTY]),  # words of the name missing
        ("women", [WOMEN_FASHION, _entity("Brand", "Women", "Women")]),  # a category and a brand
        ("women", [GENRE]),  # an entity of the dataset's own kind has no page
        ("women", []),
    ],
)
def test_no_page(text: str, linked: list[LinkedEntityRecord]) -> None:
    assert navigation(text, linked) is None
