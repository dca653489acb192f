"""Entity linking: query words find categories (with their paths), brands and a dataset's own entities through
the entity name index, tolerant of case, plurals, "&"/"and" and small typos; per-field item text scores."""

from __future__ import annotations

import pandas as pd
import pytest

from kg import GraphStore
from kg.text_search import CandidateReadRecord, lucene_query, query_words
from kgrec.searching import nothing_found
from loaders import Dataset, LoadReport

RELS = ("MADE_BY", "IN_CATEGORY", "HAS_GENRE")


def _catalogue() -> Dataset:
    root = "Magazine Subscriptions"
    paths = {
        "m1": (root, "Fashion & Style", "Women"),
        "m2": (root, "Fashion & Style", "Men"),
        "m3": (root, "Health & Fitness", "Women"),
        "m4": (root, "Arts, Music & Photography", "Photography"),
        "m5": (root, "Fashion & Style"),
    }
    titles = {
        "m1": "Vogue",
        "m2": "GQ",
        "m3": "Shape",
        "m4": "Outdoor Photographer",
        "m5": "Elle Decor",
    }
    brands = {"m1": "Conde Nast", "m2": "Conde Nast", "m3": "Meredith", "m4": "Inkwell", "m5": "Hearst"}
    ratings = [(f"u{n}", item, 5.0, 1_600_000_000 + n) for n, item in enumerate(paths)]
    return Dataset(
        report=LoadReport(source="planted"),
        ratings=pd.DataFrame(ratings, columns=["user", "item", "rating", "ts"]),
        items=pd.DataFrame(
            [(i, t, f"{t}: a magazine.", 10.0) for i, t in titles.items()],
            columns=["id", "title", "description", "price"],
        ),
        brands=pd.DataFrame(list(brands.items()), columns=["item", "brand"]),
        categories=pd.DataFrame(list(paths.items()), columns=["item", "path"]),
        entities={"Genre": pd.DataFrame([("m4", "landscape"), ("m1", "couture")], columns=["item", "value"])},
    )


@pytest.fixture(scope="module")
def planted(session_store: GraphStore) -> GraphStore:
    session_store.reset()
    session_store.write(_catalogue())
    return session_store


def _read(store: GraphStore, text: str, per_entity: int = 50) -> CandidateReadRecord:
    return store.search_candidates(query_words(text), text.split(), RELS, 10, 5, per_entity)


def _best(store: GraphStore, text: str) -> tuple[str, str]:
    linked = _read(store, text)["linked"]
    assert linked, f"{text!r} links to nothing"
    return linked[0]["label"], linked[0]["key"]


def test_query_words_and_lucene_clauses() -> None:
    assert query_words("Arts & Music and THE photography") == ["arts", "music", "photography"]
    assert lucene_query(["pens", "women"]) == "(pens OR pen) (women OR womens OR women~1)"
    assert lucene_query(["2019"]) == "(2019)"
    assert query_words('title:"x" AND y*') == ["title", "x", "y"]  # Lucene's syntax never reaches Lucene


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("women fashion magazine", ("Category", "Magazine Subscriptions > Fashion & Style > Women")),
        ("Fashion and Style", ("Category", "Magazine Subscriptions > Fashion & Style")),
        ("FASHION & STYLE", ("Category", "Magazine Subscriptions > Fashion & Style")),
        ("fashon styles", ("Category", "Magazine Subscriptions > Fashion & Style")),  # a typo and a plural
        ("photographys", ("Category", "Magazine Subscriptions > Arts, Music & Photography > Photography")),
        ("inkwell", ("Brand", "Inkwell")),
        ("inkwel", ("Brand", "Inkwell")),
        ("conde nast", ("Brand", "Conde Nast")),
        ("landscapes", ("Genre", "landscape")),
    ],
)
def test_words_link_to_entities(planted: GraphStore, text: str, expected: tuple[str, str]) -> None:
    assert _best(planted, text) == expected


def test_a_linked_category_reaches_its_subcategories_items(planted: GraphStore) -> None:
    linked = _read(planted, "fashion style")["linked"]
    reached = {item: depth for item, depth in linked[0]["items"]}
    assert reached == {"m5": 0, "m1": 1, "m2": 1}
    capped = _read(planted, "fashion style elle", per_entity=1)["linked"]  # m5 a title hit
    assert "m5" in {i for i, _ in capped[0]["items"]} and len(capped[0]["items"]) == 2


def test_fields_are_scored_apart_and_ids_match(planted: GraphStore) -> None:
    assert [i for i, _ in _read(planted, "vogue")["title"]] == ["m1"]
    assert {i for i, _ in _read(planted, "magazines")["description"]} == {"m1", "m2", "m3", "m4", "m5"}
    assert _read(planted, "magazines")["title"] == []
    assert _read(planted, "m3 nothing")["ids"] == ["m3"]
    assert planted.has_item_text()


def test_the_read_says_which_candidates_the_user_rated(planted: GraphStore) -> None:
    def rated(text: str, user: str | None) -> list[str]:
        return planted.search_candidates(query_words(text), text.split(), RELS, 10, 5, 50, user)["rated"]

    assert rated("fashion style", "u1") == ["m2"]  # reached through a subcategory of the linked category
    assert rated("vogue", "u0") == ["m1"]  # a title hit
    assert rated("m3 nothing", "u2") == ["m3"]  # an item key typed
    assert rated("fashion style", "u2") == []  # u2 rated m3, no candidate here
    assert rated("fashion style", "nobody") == [] and rated("vogue", None) == []


def test_nothing_linked_suggests_the_closest_names(planted: GraphStore) -> None:
    words = query_words("fasshhion")
    assert _read(planted, "fasshhion")["linked"] == []
    assert any("Fashion" in n for n in planted.closest_entity_names(words))


def test_facts_of_items(planted: GraphStore) -> None:
    facts = planted.search_facts(["m1", "absent"])
    assert list(facts) == ["m1"]
    assert facts["m1"]["brands"] == ["Conde Nast"]
    assert facts["m1"]["categories"] == ["Magazine Subscriptions > Fashion & Style > Women"]


def test_a_catalogue_without_text_says_what_can_match(store: GraphStore) -> None:
    """Last in this file: ``store`` empties the graph the planted fixture loaded."""
    dataset = _catalogue()
    dataset.items = dataset.items.iloc[0:0]
    store.write(dataset)
    assert not store.has_item_text()
    message = str(nothing_found(store, "coffee", query_words("coffee")))
    assert message.startswith("nothing matches 'coffee'") and "only entity names and item keys" in message
    assert _read(store, "m2")["ids"] == ["m2"]
