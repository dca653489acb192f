"""Every Cypher statement kgrec sends, named by intent.

Labels and relationship types come from :mod:`core.schema` (validated identifiers, never user input); every
value is a ``$parameter``. Statements that depend on a registered entity type or item link are built by the
small functions below from those validated names. Writes are ``UNWIND $rows ... MERGE`` batches; each node
and relationship a load creates carries ``load_id`` so that a failed load can be removed whole.
"""

from __future__ import annotations

from core.schema import (
    ALSO_BOUGHT,
    BRAND,
    CATEGORY,
    IN_CATEGORY,
    ITEM,
    MADE_BY,
    RATED,
    SUBCATEGORY_OF,
    USER,
    NodeType,
    RelType,
)

# -- schema ------------------------------------------------------------------------------------------


def create_key_constraint(node: NodeType) -> str:
    name = f"{node.pyg}_{node.key}_unique"
    return f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{node.label}) REQUIRE n.{node.key} IS UNIQUE"


CREATE_ITEM_TEXT_INDEX = (
    f"CREATE FULLTEXT INDEX item_text IF NOT EXISTS FOR (i:{ITEM.label}) ON EACH [i.title, i.description]"
)
CREATE_LOAD_ID_INDEXES = tuple(
    f"CREATE INDEX {n.pyg}_load_id IF NOT EXISTS FOR (n:{n.label}) ON (n.load_id)"
    for n in (USER, ITEM, BRAND, CATEGORY)
)
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"
LIST_LABELS = "CALL db.labels() YIELD label RETURN collect(label) AS labels"
LIST_REL_TYPES = (
    "CALL db.relationshipTypes() YIELD relationshipType RETURN collect(relationshipType) AS types"
)

# -- writes -------------------------------------------------------------------------------------------


def merge_nodes(node: NodeType) -> str:
    """Rows ``{key, props}``; properties given as null are left as they were."""
    return (
        f"UNWIND $rows AS row MERGE (n:{node.label} {{{node.key}: row.key}}) "
        "ON CREATE SET n.load_id = $load_id "
        "SET n += row.props"
    )


def merge_links(rel: RelType) -> str:
    """Rows ``{source, target}`` between existing nodes of the relationship's end types."""
    s, t = rel.source, rel.target
    return (
        f"UNWIND $rows AS row MATCH (s:{s.label} {{{s.key}: row.source}}) "
        f"MATCH (t:{t.label} {{{t.key}: row.target}}) "
        f"MERGE (s)-[r:{rel.type}]->(t) ON CREATE SET r.load_id = $load_id"
    )


# A rating already stored keeps its value unless the incoming one is at least as recent.
MERGE_RATINGS = (
    f"UNWIND $rows AS row MATCH (u:{USER.label} {{id: row.user}}) MATCH (i:{ITEM.label} {{id: row.item}}) "
    f"MERGE (u)-[r:{RATED.type}]->(i) "
    "ON CREATE SET r.rating = row.rating, r.ts = row.ts, r.load_id = $load_id "
    "ON MATCH SET r.rating = CASE WHEN row.ts >= r.ts THEN row.rating ELSE r.rating END, "
    "r.ts = CASE WHEN row.ts >= r.ts THEN row.ts ELSE r.ts END"
)

MERGE_NAIVE_RATING = (
    f"MERGE (u:{USER.label} {{id: $user}}) MERGE (i:{ITEM.label} {{id: $item}}) "
    f"MERGE (u)-[r:{RATED.type}]->(i) SET r.rating = $rating, r.ts = $ts"
)


def delete_load_relationships(rel: RelType) -> str:
    return (
        f"MATCH ()-[r:{rel.type}]->() WHERE r.load_id = $load_id "
        "WITH r LIMIT $limit DELETE r RETURN count(*) AS n"
    )


def delete_load_nodes(node: NodeType) -> str:
    return (
        f"MATCH (n:{node.label}) WHERE n.load_id = $load_id "
        "WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS n"
    )


DELETE_ALL_BATCH = "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS n"

# -- reads --------------------------------------------------------------------------------------------


def count_nodes(node: NodeType) -> str:
    return f"MATCH (n:{node.label}) RETURN count(n) AS n"


def count_relationships(rel: RelType) -> str:
    return f"MATCH ()-[r:{rel.type}]->() RETURN count(r) AS n"


def export_nodes(node: NodeType) -> str:
    if node == ITEM:
        return (
            f"MATCH (n:{ITEM.label}) RETURN n.id AS key, n.title AS title, "
            "n.description AS description, n.price AS price"
        )
    if node == CATEGORY:
        return f"MATCH (n:{CATEGORY.label}) RETURN n.name AS key, coalesce(n.depth, 0) AS depth"
    return f"MATCH (n:{node.label}) RETURN n.{node.key} AS key"


def export_links(rel: RelType) -> str:
    s, t = rel.source, rel.target
    extra = ", r.rating AS rating, coalesce(r.ts, 0) AS ts" if rel == RATED else ""
    return (
        f"MATCH (s:{s.label})-[r:{rel.type}]->(t:{t.label}) "
        f"RETURN s.{s.key} AS source, t.{t.key} AS target{extra}"
    )


CATEGORY_PATHS = (
    f"MATCH (i:{ITEM.label} {{id: $item}})-[:{IN_CATEGORY.type}]->(c:{CATEGORY.label}) "
    f"MATCH p = (c)-[:{SUBCATEGORY_OF.type}*0..]->(root:{CATEGORY.label}) "
    f"WHERE NOT (root)-[:{SUBCATEGORY_OF.type}]->() "
    "RETURN [n IN reverse(nodes(p)) | n.name] AS path ORDER BY path"
)

ITEM_BRAND = (
    f"MATCH (i:{ITEM.label} {{id: $item}})-[:{MADE_BY.type}]->(b:{BRAND.label}) RETURN b.name AS brand"
)
ALSO_BOUGHT_OF = (
    f"MATCH (i:{ITEM.label} {{id: $item}})-[:{ALSO_BOUGHT.type}]->(o:{ITEM.label}) RETURN o.id AS item"
)

# -- embeddings ---------------------------------------------------------------------------------------


def set_embeddings(node: NodeType) -> str:
    """Rows ``{key, vector}``: store each node's embedding as a list of floats."""
    return (
        f"UNWIND $rows AS row MATCH (n:{node.label} {{{node.key}: row.key}}) "
        "CALL db.create.setNodeVectorProperty(n, 'embedding', row.vector)"
    )


def create_vector_index(node: NodeType, dimensions: int) -> str:
    # Dimensions must be a literal in index options; it is an int the caller computed, never user text.
    return (
        f"CREATE VECTOR INDEX {node.pyg}_embedding IF NOT EXISTS FOR (n:{node.label}) ON n.embedding "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dimensions)}, "
        "`vector.similarity_function`: 'cosine'}}"
    )


def drop_vector_index(node: NodeType) -> str:
    return f"DROP INDEX {node.pyg}_embedding IF EXISTS"


SIMILAR_ITEMS = (
    f"MATCH (i:{ITEM.label} {{id: $item}}) "
    "CALL db.index.vector.queryNodes('item_embedding', $k + 1, i.embedding) YIELD node, score "
    "WHERE node <> i RETURN node.id AS item, node.title AS title, score ORDER BY score DESC LIMIT $k"
)

# -- serving ------------------------------------------------------------------------------------------

RATED_BY_USER = (
    f"MATCH (u:{USER.label} {{id: $user}})-[r:{RATED.type}]->(i:{ITEM.label}) "
    "RETURN i.id AS item, r.rating AS rating, r.ts AS ts"
)
ITEMS_OF_BRAND = (
    f"MATCH (b:{BRAND.label} {{name: $brand}})<-[:{MADE_BY.type}]-(i:{ITEM.label}) RETURN i.id AS item"
)
# A category matches its own items and those of every category below it.
ITEMS_IN_CATEGORY = (
    f"MATCH (c:{CATEGORY.label} {{name: $category}})<-[:{SUBCATEGORY_OF.type}*0..]-(:{CATEGORY.label})"
    f"<-[:{IN_CATEGORY.type}]-(i:{ITEM.label}) RETURN DISTINCT i.id AS item"
)
# Display cards of ranked candidates, leaving out those $user rated (none when $user is null: a null id
# matches no user), so that serving a recommendation is one round trip.
ITEM_CARDS = (
    f"UNWIND $items AS key MATCH (i:{ITEM.label} {{id: key}}) "
    f"WHERE NOT EXISTS {{ MATCH (:{USER.label} {{id: $user}})-[:{RATED.type}]->(i) }} "
    f"OPTIONAL MATCH (i)-[:{MADE_BY.type}]->(b:{BRAND.label}) "
    f"OPTIONAL MATCH (i)-[:{IN_CATEGORY.type}]->(c:{CATEGORY.label}) "
    "RETURN i.id AS item, i.title AS title, collect(DISTINCT b.name)[0] AS brand, "
    "collect(DISTINCT c.name) AS categories"
)
SEARCH_ITEMS = (
    "CALL db.index.fulltext.queryNodes('item_text', $query) YIELD node, score "
    "RETURN node.id AS item, node.title AS title, score LIMIT $limit"
)
def user_leaning(rel: RelType) -> str:
    """The user's ratings grouped by the node their items reach through ``rel`` (a brand, category, entity)."""
    target = rel.target
    return (
        f"MATCH (:{USER.label} {{id: $user}})-[r:{RATED.type}]->(:{ITEM.label})-[:{rel.type}]->(e:{target.label}) "
        f"RETURN e.{target.key} AS name, count(r) AS ratings, avg(r.rating) AS mean_rating "
        "ORDER BY ratings DESC, name LIMIT $limit"
    )


USER_EXISTS = f"MATCH (u:{USER.label} {{id: $user}}) RETURN count(u) AS n"
ITEM_EXISTS = f"MATCH (i:{ITEM.label} {{id: $item}}) RETURN count(i) AS n"
USERS_RATING_ALIKE = (
    f"MATCH (u:{USER.label})-[r:{RATED.type}]->(:{ITEM.label} {{id: $item}}) WHERE abs(r.rating - $rating) <= 1 "
    "RETURN u.id AS user LIMIT $limit"
)
TOP_RATERS = (
    f"MATCH (u:{USER.label})-[r:{RATED.type}]->() WITH u, count(r) AS n "
    "RETURN u.id AS user ORDER BY n DESC, user LIMIT $limit"
)
