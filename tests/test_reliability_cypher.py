"""What ``kgrec cypher`` runs without ``--write`` (kg/guard.py): only reads, SHOW, built-in functions and
allow-listed procedures and APOC functions, however the call is wrapped or spelled; ``--write`` runs what
the refusal promised; errors speak of the person's query. Against the session's real Neo4j, with APOC."""

from __future__ import annotations

import json

import pytest
from neo4j.exceptions import Neo4jError
from typer.testing import CliRunner

from core.errors import WriteRefusedError
from core.settings import Settings
from kg import GraphStore
from kg.connection import connect_driver
from kg.guard import READ_FUNCTIONS, refused_operation
from kgrec.cli import app

runner = CliRunner()

WRAPPER = "apoc.cypher.runFirstColumnSingle"


def _wrapped(inner: str) -> str:
    return f"RETURN {WRAPPER}({json.dumps(inner)}, {{}}) AS result"


def test_an_apoc_wrapper_cannot_end_another_sessions_transaction(
    store: GraphStore, neo4j_settings: Settings
) -> None:
    driver, _ = connect_driver(neo4j_settings)
    wrapped = f"RETURN {WRAPPER}($inner, {{}}) AS message"
    try:
        with driver.session(database=store.database) as victim:
            for name, write in (("held", False), ("ended", True)):
                tx = victim.begin_transaction(metadata={"probe": name})
                tx.run("CREATE (:Brand {name: $name})", name=name).consume()
                shown = store.read(
                    "SHOW TRANSACTIONS YIELD transactionId, metaData WHERE metaData.probe = $name "
                    "RETURN transactionId",
                    {"name": name},
                )
                inner = f"TERMINATE TRANSACTIONS '{shown[0]['transactionId']}' YIELD message RETURN message"
                if write:  # what the refusal below stops: the wrapper ends the other session's transaction
                    assert store.typed_query(wrapped, {"inner": inner}, write=True)[0]["message"]
                    with pytest.raises(Neo4jError):
                        tx.commit()
                else:
                    with pytest.raises(WriteRefusedError, match=f"function {WRAPPER}"):
                        store.typed_query(wrapped, {"inner": inner})
                    tx.commit()  # still alive: ended, it would raise
    finally:
        driver.close()
    assert store.read("MATCH (b:Brand) RETURN collect(b.name) AS names") == [{"names": ["held"]}]


def test_an_apoc_wrapper_cannot_read_the_servers_files(store: GraphStore, neo4j_settings: Settings) -> None:
    (neo4j_settings.workspace_dir / "neo4j" / "import" / "probe.csv").write_text("secret\n")
    query = _wrapped("LOAD CSV FROM 'file:///probe.csv' AS row RETURN row[0]")
    with pytest.raises(WriteRefusedError, match=f"function {WRAPPER}"):
        store.typed_query(query)
    assert store.typed_query(query, write=True) == [{"result": "secret"}]  # what the refusal stopped


@pytest.mark.parametrize(
    "query",
    [
        _wrapped("CALL db.clearQueryCaches() YIELD value RETURN value"),
        _wrapped("CALL dbms.listConfig() YIELD name RETURN name"),
        _wrapped("CALL apoc.util.sleep(300) RETURN 1"),
        # The same call hidden as the lexer allows: backticks, comments, spaces, \u escapes, other clauses.
        "RETURN `apoc` . /* c */ `cypher`.\n runFirstColumnSingle ('CALL db.clearQueryCaches()', {}) AS x",
        "RETURN apoc\\u002ecypher\\u002erunFirstColumnSingle('CALL db.clearQueryCaches()', {}) AS x",
        "MATCH (n) WHERE apoc.cypher.runFirstColumnMany('CALL db.clearQueryCaches()', {}) = [] RETURN n",
        "MATCH (n) RETURN n ORDER BY apoc.cypher.runFirstColumnSingle('CALL db.clearQueryCaches()', {})",
        "MATCH (n) WHERE EXISTS { MATCH (n)--(m) WHERE "
        "apoc.cypher.runFirstColumnSingle('CALL db.clearQueryCaches()', {}) IS NULL } RETURN n",
        "CALL () { RETURN apoc.cypher.runFirstColumnSingle('CALL db.clearQueryCaches()', {}) AS x } RETURN x",
        "CALL db.index.fulltext.queryNodes(apoc.cypher.runFirstColumnSingle('RETURN \"x\"', {}), 'a')",
    ],
)
def test_functions_that_run_cypher_are_refused_without_write(store: GraphStore, query: str) -> None:
    with pytest.raises(WriteRefusedError, match=r"function apoc\.cypher\.runFirstColumn(Single|Many)"):
        store.typed_query(query)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("CALL dbms.listConfig()", "procedure dbms.listConfig"),
        ("CALL apoc.util.sleep(300)", "procedure apoc.util.sleep"),
        (
            "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'RETURN 1', {})",
            "procedure apoc.periodic.iterate",
        ),
        ("RETURN apoc.xml.parse('<a/>') AS x", "function apoc.xml.parse"),
    ],
)
def test_a_refusal_is_one_line_naming_the_call_and_not_calling_it_a_write(
    store: GraphStore, cli_env: Settings, query: str, named: str
) -> None:
    refused = runner.invoke(app, ["cypher", query])
    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1 and named in refused.output and "--write" in refused.output
    assert "writes" not in refused.output and "Traceback" not in refused.output
    assert "see docs/cypher.md for what it runs" in refused.output


def test_write_runs_call_in_transactions_as_the_refusal_promised(
    store: GraphStore, cli_env: Settings
) -> None:
    query = (
        "UNWIND range(1, 10) AS i CALL (i) { CREATE (:Brand {name: toString(i)}) } IN TRANSACTIONS OF 3 ROWS"
    )
    refused = runner.invoke(app, ["cypher", query])
    assert refused.exit_code == 1 and "--write" in refused.output
    assert store.stats().nodes.get("Brand", 0) == 0
    done = runner.invoke(app, ["cypher", query, "--write"])
    assert done.exit_code == 0, done.output
    assert store.stats().nodes["Brand"] == 10


def test_reads_with_built_in_and_listed_functions_still_run(store: GraphStore, cli_env: Settings) -> None:
    store.write_query("CREATE (:Brand {name: 'Acme'}), (:Brand {name: 'Bolt'})")
    query = (
        "MATCH (b:Brand) WITH collect(toLower(b.name)) AS names, count(*) AS n "
        "CALL db.labels() YIELD label WITH names, n, collect(label) AS labels "
        "RETURN names, n, coalesce(null, 2) AS c, toString(date.truncate('month', date('2020-05-17'))) AS month, "
        "point.distance(point({x: 0, y: 0}), point({x: 3, y: 4})) AS d, "
        "vector.similarity.cosine([1.0, 0.0], [1.0, 0.0]) AS cos, apoc.text.join(names, '+') AS joined, "
        "apoc.coll.sum([1, 2]) AS total, 'Brand' IN labels AS listed // apoc.cypher.run('x') in a comment"
    )
    shown = runner.invoke(app, ["cypher", query, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == [
        {
            "names": ["acme", "bolt"],
            "n": 2,
            "c": 2,
            "month": "2020-05-01",
            "d": 5.0,
            "cos": 1.0,
            "joined": "acme+bolt",
            "total": 3.0,
            "listed": True,
        }
    ]


def test_every_built_in_function_passes_and_every_listed_apoc_function_exists(store: GraphStore) -> None:
    functions = store.read("SHOW FUNCTIONS YIELD name, isBuiltIn RETURN name, isBuiltIn")
    built_in = {f["name"] for f in functions if f["isBuiltIn"]}
    assert {"toLower", "coalesce", "date.truncate", "point.distance", "vector.similarity.cosine"} <= built_in
    assert [n for n in sorted(built_in) if refused_operation({}, f"RETURN {n}(1)")] == []
    assert READ_FUNCTIONS - {f["name"] for f in functions if not f["isBuiltIn"]} == set()
    assert not any(n.startswith(("apoc.cypher.", "apoc.periodic.")) for n in READ_FUNCTIONS)


@pytest.mark.parametrize(
    ("query", "position", "caret_at"),
    [
        ("RETURN [/]", "(line 1, column 9 (offset: 8))", 9),
        ("MATCH (n)\nRETURN [/]", "(line 2, column 9 (offset: 18))", 9),
    ],
)
def test_a_syntax_error_shows_the_query_as_written(
    store: GraphStore, cli_env: Settings, query: str, position: str, caret_at: int
) -> None:
    broken = runner.invoke(app, ["cypher", query])
    assert broken.exit_code == 1 and "EXPLAIN" not in broken.output
    lines = broken.output.splitlines()
    assert position in lines[0]
    assert lines[1] == '"RETURN [/]"' and lines[2] == " " * caret_at + "^"  # under the '/'


@pytest.mark.parametrize(
    "query",
    [
        "RETURN 'apoc.cypher.runFirstColumnSingle(' AS `apoc.cypher.runFirstColumnMany(`",
        'RETURN "it\\"s apoc.cypher.run(" AS s /* apoc.cypher.run( */',
        "MATCH (n:Item) WHERE n.price > 1.5 RETURN n.title, toUpper(n.title), [x IN [1] | x]",
    ],
)
def test_names_in_strings_comments_and_backtick_names_are_not_calls(query: str) -> None:
    assert refused_operation({}, query) is None


@pytest.mark.parametrize(
    "query",
    [
        "RETURN apoc.cypher.runFirstColumnSingle('RETURN 1', {})",
        "RETURN `apoc`.`cypher`.runFirstColumnSingle ('RETURN 1', {})",
        "RETURN ap\\u006fc.cypher.runFirstColumnSingle('RETURN 1', {})",
        "RETURN apoc\\u002ecypher\\u002erunFirstColumnSingle('RETURN 1', {})",
        "RETURN apoc // a comment\n.cypher.runFirstColumnSingle('RETURN 1', {})",
        "CALL apoc.util.sleep YIELD x",
        "RETURN date.truncate('day', date()), my.plugin.fn()",
    ],
)
def test_the_text_check_alone_finds_calls_however_spelled(query: str) -> None:
    assert refused_operation({}, query) is not None
