"""The graph's single vocabulary: node labels, keys, relationship types and their PyG edge types.

Core schema::

    (:User {id})-[:RATED {rating, ts}]->(:Item {id, title, description, price})
    (:Item)-[:MADE_BY]->(:Brand {name})
    (:Item)-[:IN_CATEGORY]->(:Category {path, name, depth})-[:SUBCATEGORY_OF]->(:Category)
    (:Item)-[:ALSO_BOUGHT]->(:Item)
    (:Item)-[:ALSO_VIEWED]->(:Item)

A dataset may bring further entity types linked to items (``View``, ``Genre``, ``City``...) and further
item-to-item links. They are registered under validated identifiers: an entity label ``X`` is keyed by
``id`` and reached by ``(:Item)-[:HAS_X]->(:X)``; an item link ``REL`` is ``(:Item)-[:REL]->(:Item)``.
User-side knowledge is registered the same way: a user entity ``X`` (``Age``, ``Occupation``, ``City``...)
is reached by ``(:User)-[:HAS_X]->(:X)``, a user link ``REL`` (``FRIEND``...) is ``(:User)-[:REL]->(:User)``.
A label is an item entity or a user entity, never both (the relationship type ``HAS_X`` names one side).
Everything downstream (export, training, explanations) enumerates :class:`Schema` and so picks them up.

Example:
    >>> s = Schema.core().with_entity("Genre")
    >>> s.entity("Genre").relationship
    'HAS_GENRE'
    >>> s.entity("Genre").edge_type
    ('item', 'has_genre', 'genre')
    >>> u = s.with_user_entity("Age").with_user_link("FRIEND")
    >>> u.user_entity("Age").edge_type, u.rel_type("FRIEND").edge_type
    (('user', 'has_age', 'age'), ('user', 'friend', 'user'))
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from functools import cache

from core.errors import SchemaError
from core.kinds import EventKind

__all__ = [
    "ALSO_BOUGHT",
    "ALSO_VIEWED",
    "BRAND",
    "CARTED",
    "CATEGORY",
    "EVENT",
    "EVENT_RELS",
    "IN_CATEGORY",
    "ITEM",
    "MADE_BY",
    "PURCHASED",
    "RATED",
    "SUBCATEGORY_OF",
    "USER",
    "VIEWED",
    "EdgeType",
    "EntityType",
    "NodeType",
    "RelType",
    "Schema",
    "entity_label_for",
    "reverse_edge_type",
    "validate_label",
    "validate_rel_type",
]

EdgeType = tuple[str, str, str]

_LABEL = re.compile(r"^[A-Z][A-Za-z0-9]{0,39}$")
_REL = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")


@dataclass(frozen=True)
class NodeType:
    """A node label, its key property and the PyG node type name."""

    label: str
    key: str

    @property
    def pyg(self) -> str:
        return _snake(self.label)


@dataclass(frozen=True)
class RelType:
    """A relationship type between two node types, and its PyG edge-type triple."""

    type: str
    source: NodeType
    target: NodeType

    @property
    def edge_type(self) -> EdgeType:
        return (self.source.pyg, self.type.lower(), self.target.pyg)

    @property
    def end_columns(self) -> tuple[str, str]:
        """The columns of a frame of these relationships that hold their ends' keys: ``user``, ``item`` for
        a user's interaction with an item (``RATED``, the shopper events), ``source``, ``target`` for any
        other relationship (an item's brand, item-item links, a user's entities).

        Example:
            >>> RATED.end_columns, MADE_BY.end_columns
            (('user', 'item'), ('source', 'target'))
        """
        return ("user", "item") if (self.source, self.target) == (USER, ITEM) else ("source", "target")


@dataclass(frozen=True)
class EntityType:
    """A dataset-specific entity linked from items, e.g. ``View`` via ``HAS_VIEW``."""

    node: NodeType
    rel: RelType

    @property
    def label(self) -> str:
        return self.node.label

    @property
    def relationship(self) -> str:
        return self.rel.type

    @property
    def edge_type(self) -> EdgeType:
        return self.rel.edge_type


USER = NodeType("User", "id")
ITEM = NodeType("Item", "id")
BRAND = NodeType("Brand", "name")
CATEGORY = NodeType("Category", "path")  # the full path from its root: "Books > History"

RATED = RelType("RATED", USER, ITEM)
MADE_BY = RelType("MADE_BY", ITEM, BRAND)
IN_CATEGORY = RelType("IN_CATEGORY", ITEM, CATEGORY)
SUBCATEGORY_OF = RelType("SUBCATEGORY_OF", CATEGORY, CATEGORY)
ALSO_BOUGHT = RelType("ALSO_BOUGHT", ITEM, ITEM)
ALSO_VIEWED = RelType("ALSO_VIEWED", ITEM, ITEM)

# Shopper behaviour posted to the HTTP service (kgrec.service): per user and item, how many times and when
# last (``count``, ``last``), idempotent by the ``Event`` node of each event id. Not part of the training
# schema: reserved, so that Schema.discover does not take them for item links.
VIEWED = RelType("VIEWED", USER, ITEM)
CARTED = RelType("CARTED", USER, ITEM)
PURCHASED = RelType("PURCHASED", USER, ITEM)
EVENT_RELS: dict[EventKind, RelType] = {
    EventKind.VIEW: VIEWED,
    EventKind.CART: CARTED,
    EventKind.PURCHASE: PURCHASED,
}
"""The one mapping of an event's kind to the relationship it counts on; a rating (``EventKind.RATING``) sets
``RATED``, as a loaded rating does."""
EVENT = NodeType("Event", "id")

_CORE_NODES = (USER, ITEM, BRAND, CATEGORY)
_CORE_RELS = (RATED, MADE_BY, IN_CATEGORY, SUBCATEGORY_OF, ALSO_BOUGHT, ALSO_VIEWED)
_RESERVED_LABELS = {n.label for n in _CORE_NODES} | {EVENT.label}
_RESERVED_RELS = {r.type for r in _CORE_RELS} | {r.type for r in EVENT_RELS.values()}


def validate_label(name: str) -> str:
    """Return ``name`` if it is a safe, non-core node label (``CamelCase`` identifier), else raise."""
    if not _LABEL.match(name) or keyword.iskeyword(_snake(name)):
        raise SchemaError(f"entity label {name!r} must match {_LABEL.pattern} and not be a Python keyword")
    if name in _RESERVED_LABELS:
        raise SchemaError(f"entity label {name!r} is a core label; it cannot be registered again")
    return name


def validate_rel_type(name: str) -> str:
    """Return ``name`` if it is a safe, non-core relationship type (``UPPER_SNAKE``), else raise."""
    if not _REL.match(name) or keyword.iskeyword(name.lower()):
        raise SchemaError(f"relationship type {name!r} must match {_REL.pattern} and not be a keyword")
    if name in _RESERVED_RELS or name.startswith("HAS_"):
        raise SchemaError(f"relationship type {name!r} is reserved")
    return name


def entity_label_for(name: str) -> str:
    """The label for a raw entity name from a file (``item_view.dat`` -> ``View``), validated."""
    label = "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-\s]+", name.strip()) if part)
    return validate_label(label)


def reverse_edge_type(edge_type: EdgeType) -> EdgeType:
    """The edge type that carries messages back along ``edge_type`` in the PyG graph.

    A relation between two node types gets a ``rev_<rel>`` twin pointing the other way; a relation within one
    node type is made symmetric instead, so it is its own reverse.

    Example:
        >>> reverse_edge_type(("user", "rated", "item"))
        ('item', 'rev_rated', 'user')
        >>> reverse_edge_type(("item", "also_bought", "item"))
        ('item', 'also_bought', 'item')
    """
    src, rel, dst = edge_type
    return edge_type if src == dst else (dst, f"rev_{rel}", src)


@cache  # asked for on every edge of every explained path; labels are few
def _snake(label: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", label).lower()


@dataclass(frozen=True)
class Schema:
    """The core schema plus the entity types and links a dataset registered, on the item and the user side.

    Immutable: ``with_entity``, ``with_item_link``, ``with_user_entity`` and ``with_user_link`` return a new
    schema.
    """

    entities: tuple[EntityType, ...] = ()
    item_links: tuple[RelType, ...] = field(default=())
    user_entities: tuple[EntityType, ...] = ()
    user_links: tuple[RelType, ...] = ()

    @classmethod
    def core(cls) -> Schema:
        return cls()

    @classmethod
    def discover(cls, labels: list[str], rel_types: list[str], user_sourced: Collection[str] = ()) -> Schema:
        """Rebuild the schema from the labels and relationship types a database holds; ``user_sourced``
        names the relationship types that start at users (user entities and user links)."""
        schema = cls()
        for label in sorted(labels):
            if label in _RESERVED_LABELS or not _LABEL.match(label):
                continue
            rel = f"HAS_{label.upper()}"
            if rel in rel_types:
                schema = schema.with_user_entity(label) if rel in user_sourced else schema.with_entity(label)
        entity_rels = {e.relationship for e in schema.entities + schema.user_entities}
        for rel in sorted(rel_types):
            if rel in _RESERVED_RELS or rel in entity_rels or not _REL.match(rel) or rel.startswith("HAS_"):
                continue
            schema = schema.with_user_link(rel) if rel in user_sourced else schema.with_item_link(rel)
        return schema

    def with_entity(self, label: str) -> Schema:
        validate_label(label)
        if any(e.label == label for e in self.entities):
            return self
        if any(e.label == label for e in self.user_entities):
            raise SchemaError(f"{label!r} is a user entity already; an item entity needs another label")
        node = NodeType(label, "id")
        entity = EntityType(node, RelType(f"HAS_{label.upper()}", ITEM, node))
        return replace(self, entities=self.entities + (entity,))

    def with_item_link(self, rel_type: str) -> Schema:
        validate_rel_type(rel_type)
        if any(r.type == rel_type for r in self.item_links):
            return self
        if any(r.type == rel_type for r in self.user_links):
            raise SchemaError(f"{rel_type!r} is a user link already; an item link needs another type")
        return replace(self, item_links=self.item_links + (RelType(rel_type, ITEM, ITEM),))

    def with_user_entity(self, label: str) -> Schema:
        """Register ``(:User)-[:HAS_X]->(:X)`` for the label ``X`` (an age band, an occupation, a city...)."""
        validate_label(label)
        if any(e.label == label for e in self.user_entities):
            return self
        if any(e.label == label for e in self.entities):
            raise SchemaError(f"{label!r} is an item entity already; a user entity needs another label")
        node = NodeType(label, "id")
        entity = EntityType(node, RelType(f"HAS_{label.upper()}", USER, node))
        return replace(self, user_entities=self.user_entities + (entity,))

    def with_user_link(self, rel_type: str) -> Schema:
        """Register ``(:User)-[:REL]->(:User)`` (friends, nearest neighbours...)."""
        validate_rel_type(rel_type)
        if any(r.type == rel_type for r in self.user_links):
            return self
        if any(r.type == rel_type for r in self.item_links):
            raise SchemaError(f"{rel_type!r} is an item link already; a user link needs another type")
        return replace(self, user_links=self.user_links + (RelType(rel_type, USER, USER),))

    def entity(self, label: str) -> EntityType:
        for e in self.entities:
            if e.label == label:
                return e
        raise SchemaError(
            f"no entity type {label!r} in the schema (have: {[e.label for e in self.entities]})"
        )

    def user_entity(self, label: str) -> EntityType:
        for e in self.user_entities:
            if e.label == label:
                return e
        raise SchemaError(
            f"no user entity {label!r} in the schema (have: {[e.label for e in self.user_entities]})"
        )

    @property
    def node_types(self) -> tuple[NodeType, ...]:
        return _CORE_NODES + tuple(e.node for e in self.entities + self.user_entities)

    @property
    def rel_types(self) -> tuple[RelType, ...]:
        return (
            _CORE_RELS
            + tuple(e.rel for e in self.entities)
            + self.item_links
            + tuple(e.rel for e in self.user_entities)
            + self.user_links
        )

    def node_type(self, label: str) -> NodeType:
        for n in self.node_types:
            if n.label == label:
                return n
        raise SchemaError(f"no node label {label!r} in the schema")

    def rel_type(self, name: str) -> RelType:
        for r in self.rel_types:
            if r.type == name:
                return r
        raise SchemaError(f"no relationship type {name!r} in the schema")
