"""Every Cypher statement kgrec sends, named by intent, in small modules by what they are for.

- :mod:`kg.queries.indexes`: constraints and indexes, and their names (created ``IF NOT EXISTS``).
- :mod:`kg.queries.loading`: batched ``UNWIND $rows ... MERGE`` writes, embeddings, removals.
- :mod:`kg.queries.reading`: what the database holds (labels, types, counts) and the export.
- :mod:`kg.queries.serving`: the reads behind recommendations, search, profiles and reports.
- :mod:`kg.queries.searching`: search: the entity name index, per-field item text, linked entities' items.
- :mod:`kg.queries.explaining`: the explanation path patterns and their checks.
- :mod:`kg.queries.events`: shopper events from the HTTP service, written idempotently, and their reads.
- :mod:`kg.queries.checks`: what kgrec asks a server when it connects (its plugins, its database's access).

Labels and relationship types come from :mod:`core.schema` (validated identifiers, never user input); every
value is a ``$parameter``. Statements that depend on a registered entity type or item link are built by
small functions from those validated names. Every statement is re-exported here: ``import kg.queries as q``.

Example:
    >>> from core.schema import USER
    >>> count_nodes(USER)
    'MATCH (n:User) RETURN count(n) AS n'
"""

from __future__ import annotations

from kg.queries.checks import DATABASE_ACCESS, SERVER_PROCEDURES
from kg.queries.events import (
    EVENT_ITEMS,
    EXISTING_ITEMS,
    EXPORT_EVENTS,
    GRAPH_ANSWERS,
    GRAPH_NOW,
    RATING_SCALE,
    RECORD_EVENTS,
    REMOVE_IMPLICIT_EVENTS,
    STORED_EVENTS,
    USER_EVENT_INTERACTIONS,
)
from kg.queries.explaining import (
    BRAND_PATHS,
    CATEGORY_PATHS,
    CO_RATING_SUPPORT,
    ENDPOINTS_EXIST,
    PARENT_CATEGORY_PATHS,
    SIMILAR_USER_PATHS,
    entity_paths,
    item_link_paths,
    recorded_path_exists,
    user_entity_paths,
    user_link_paths,
)
from kg.queries.indexes import (
    AWAIT_INDEXES,
    CREATE_ITEM_TEXT_INDEX,
    CREATE_RATING_INDEX,
    ITEM_EMBEDDING_INDEX,
    ITEM_TEXT_INDEX,
    RATING_INDEX,
    SCHEMA_NAMES,
    SHOW_CONSTRAINT_STATEMENTS,
    SHOW_INDEX_STATEMENTS,
    VECTOR_INDEX_OPTIONS,
    create_key_constraint,
    create_vector_index,
    drop_vector_index,
    embedding_index,
)
from kg.queries.loading import (
    DELETE_NODES_BATCH,
    DELETE_RELATIONSHIPS_BATCH,
    DROP_NAME_KEYED_CATEGORY_CONSTRAINT,
    GRAPH_IS_EMPTY,
    MERGE_NAIVE_RATING,
    MERGE_RATINGS,
    merge_links,
    merge_nodes,
    set_embeddings,
)
from kg.queries.reading import (
    ITEM_IDS,
    LIST_LABELS,
    LIST_REL_TYPES,
    count_nodes,
    count_relationships,
    export_links,
    export_nodes,
    starts_at_users,
)
from kg.queries.searching import (
    ENTITY_INDEX_LABELS,
    ENTITY_NAME_INDEX,
    LINK_RELS,
    MATCHING_ENTITY_NAMES,
    SEARCH_CANDIDATES,
    SEARCH_FACTS,
    TEXT_ITEM_COUNT,
    create_entity_name_index,
    drop_entity_name_index,
)
from kg.queries.serving import (
    CATALOGUE_COUNTS,
    ITEM_CARDS,
    ITEM_EXISTS,
    ITEM_FACTS,
    ITEMS_IN_CATEGORY,
    ITEMS_OF_BRAND,
    NAME_KEYED_CATEGORIES,
    RATED_AMONG,
    RATED_BY_USER,
    SEARCH_ITEMS,
    SIMILAR_ITEMS,
    TOP_RATERS,
    USER_EXISTS,
    USERS_RATING_ALIKE,
    user_leaning,
)

__all__ = [
    "AWAIT_INDEXES",
    "BRAND_PATHS",
    "CATALOGUE_COUNTS",
    "CATEGORY_PATHS",
    "CO_RATING_SUPPORT",
    "CREATE_ITEM_TEXT_INDEX",
    "CREATE_RATING_INDEX",
    "DATABASE_ACCESS",
    "DELETE_NODES_BATCH",
    "DELETE_RELATIONSHIPS_BATCH",
    "DROP_NAME_KEYED_CATEGORY_CONSTRAINT",
    "ENDPOINTS_EXIST",
    "ENTITY_INDEX_LABELS",
    "ENTITY_NAME_INDEX",
    "EVENT_ITEMS",
    "EXISTING_ITEMS",
    "EXPORT_EVENTS",
    "GRAPH_ANSWERS",
    "GRAPH_IS_EMPTY",
    "GRAPH_NOW",
    "ITEMS_IN_CATEGORY",
    "ITEMS_OF_BRAND",
    "ITEM_CARDS",
    "ITEM_EMBEDDING_INDEX",
    "ITEM_EXISTS",
    "ITEM_FACTS",
    "ITEM_IDS",
    "ITEM_TEXT_INDEX",
    "LINK_RELS",
    "LIST_LABELS",
    "LIST_REL_TYPES",
    "MATCHING_ENTITY_NAMES",
    "MERGE_NAIVE_RATING",
    "MERGE_RATINGS",
    "NAME_KEYED_CATEGORIES",
    "PARENT_CATEGORY_PATHS",
    "RATED_AMONG",
    "RATED_BY_USER",
    "RATING_INDEX",
    "SCHEMA_NAMES",
    "SHOW_CONSTRAINT_STATEMENTS",
    "SHOW_INDEX_STATEMENTS",
    "RATING_SCALE",
    "RECORD_EVENTS",
    "REMOVE_IMPLICIT_EVENTS",
    "SEARCH_CANDIDATES",
    "SEARCH_FACTS",
    "SEARCH_ITEMS",
    "SERVER_PROCEDURES",
    "SIMILAR_ITEMS",
    "SIMILAR_USER_PATHS",
    "STORED_EVENTS",
    "TEXT_ITEM_COUNT",
    "TOP_RATERS",
    "USERS_RATING_ALIKE",
    "USER_EVENT_INTERACTIONS",
    "USER_EXISTS",
    "VECTOR_INDEX_OPTIONS",
    "count_nodes",
    "count_relationships",
    "create_entity_name_index",
    "create_key_constraint",
    "create_vector_index",
    "drop_entity_name_index",
    "drop_vector_index",
    "embedding_index",
    "entity_paths",
    "export_links",
    "export_nodes",
    "item_link_paths",
    "merge_links",
    "merge_nodes",
    "recorded_path_exists",
    "set_embeddings",
    "starts_at_users",
    "user_entity_paths",
    "user_leaning",
    "user_link_paths",
]
