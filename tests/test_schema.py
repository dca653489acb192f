from __future__ import annotations

import pytest

from core.errors import SchemaError
from core.kinds import EventKind
from core.schema import EVENT_RELS, RATED, Schema, entity_label_for, validate_label, validate_rel_type


def test_core_edge_types_are_pyg_triples() -> None:
    assert RATED.edge_type == ("user", "rated", "item")
    assert {r.type for r in Schema.core().rel_types} == {
        "RATED",
        "MADE_BY",
        "IN_CATEGORY",
        "SUBCATEGORY_OF",
        "ALSO_BOUGHT",
        "ALSO_VIEWED",
    }


def test_entity_registration_names_label_relationship_and_edge_type() -> None:
    schema = Schema.core().with_entity("Genre").with_item_link("SIMILAR_TO")
    assert schema.entity("Genre").relationship == "HAS_GENRE"
    assert schema.entity("Genre").edge_type == ("item", "has_genre", "genre")
    assert schema.rel_type("SIMILAR_TO").edge_type == ("item", "similar_to", "item")
    assert "Genre" in [n.label for n in schema.node_types]


@pytest.mark.parametrize("bad", ["Foo) DETACH DELETE (n", "genre", "In", "User", "A-B", ""])
def test_unsafe_or_reserved_labels_are_refused(bad: str) -> None:
    with pytest.raises(SchemaError):
        validate_label(bad)


@pytest.mark.parametrize("bad", ["RATED", "HAS_X", "bad-rel", "x]->() DELETE r //", "IN"])
def test_unsafe_or_reserved_rel_types_are_refused(bad: str) -> None:
    with pytest.raises(SchemaError):
        validate_rel_type(bad)


def test_entity_label_from_file_name() -> None:
    assert entity_label_for("view") == "View"
    assert entity_label_for("release_year") == "ReleaseYear"


def test_discover_rebuilds_registered_types() -> None:
    schema = Schema.discover(
        ["User", "Item", "Brand", "Category", "View", "Orphan"], ["RATED", "HAS_VIEW", "SIMILAR_TO"]
    )
    assert [e.label for e in schema.entities] == ["View"]
    assert [r.type for r in schema.item_links] == ["SIMILAR_TO"]


def test_every_event_kind_but_a_rating_counts_on_its_reserved_relationship() -> None:
    assert set(EVENT_RELS) == set(EventKind) - {EventKind.RATING}
    assert {kind: rel.type for kind, rel in EVENT_RELS.items()} == {
        "view": "VIEWED",
        "cart": "CARTED",
        "purchase": "PURCHASED",
    }
    for rel in EVENT_RELS.values():
        with pytest.raises(SchemaError):
            validate_rel_type(rel.type)
