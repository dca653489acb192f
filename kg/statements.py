"""One Cypher statement against the driver: a read as an auto-commit transaction, a write in a transaction
function; driver errors become :mod:`core.errors`.

A read is one round trip as an auto-commit transaction; a transaction function adds ``BEGIN`` and
``COMMIT``: on a point read of the serving path (a user's events, the seen-filter) that was 1.1 ms of the
driver's CPU and 2.2 ms of wall time against 0.6 ms and 1.5 ms. A transaction function retries what the
driver calls retryable (a cluster member gone, a transient server error); a read here does the same, up to
``READ_ATTEMPTS`` times. Writes keep the transaction function, whose retries also cover deadlocks; an
``implicit`` write (Cypher a person runs with ``--write``) is one auto-commit transaction, not retried, as
``CALL { ... } IN TRANSACTIONS`` needs. (The house style names the driver's two tiers, ``execute_query``
and transaction functions; ``execute_query`` runs a transaction function too, at the same cost, so reads
depart from it for the figures above.)

Example:
    >>> run_statement(driver, "neo4j", "RETURN 1 AS one", {}, write=False)   # doctest: +SKIP
    [{'one': 1}]
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import neo4j
import neo4j.exceptions
from neo4j.exceptions import ClientError, DriverError, IncompleteCommit, ServiceUnavailable, SessionExpired

from core.errors import Neo4jError, Neo4jUnavailableError, WriteRefusedError
from kg.checks import write_refusal

__all__ = ["READ_ATTEMPTS", "memory_hint", "run_statement"]

READ_ATTEMPTS = 3
"""Tries of a read whose failure the driver calls retryable, 0.1 s and then 0.2 s apart."""


def run_statement(
    driver: neo4j.Driver,
    database: str,
    query: str,
    params: Mapping[str, Any] | None,
    *,
    write: bool,
    plan: bool = False,
    implicit: bool = False,
) -> list[dict[str, Any]]:
    """Run ``query``; with ``plan``, return ``[plan]`` of an ``EXPLAIN`` instead of its rows. A read that
    writes, or a write to a database that is read-only, raises :class:`WriteRefusedError`; a server that does not answer, :class:`Neo4jUnavailableError`;
    any other failure is a :class:`Neo4jError`."""
    try:
        return (
            _write(driver, database, query, params, implicit)
            if write
            else _read(driver, database, query, params, plan)
        )
    except ClientError as e:
        if not write and e.code and ("AccessMode" in e.code or "ForbiddenOnReadOnly" in e.code):
            raise WriteRefusedError("this query writes; rerun with --write to allow it") from e
        if write and (refusal := write_refusal(e.code, database)):
            raise WriteRefusedError(refusal) from e
        raise Neo4jError(f"{e.code}: {e.message}{memory_hint(e.code)}") from e
    except IncompleteCommit as e:  # not "unavailable": running the write again might apply it twice
        raise Neo4jError(
            f"the connection broke during the commit; the write may or may not be applied: {e}"
        ) from e
    except (ServiceUnavailable, SessionExpired) as e:
        raise Neo4jUnavailableError(f"Neo4j is not reachable: {e}") from e
    except neo4j.exceptions.Neo4jError as e:
        raise Neo4jError(f"{e}{memory_hint(e.code)}") from e
    except DriverError as e:
        raise Neo4jError(str(e)) from e


def memory_hint(code: str | None) -> str:
    """What to change when Neo4j refused a statement for memory (``code``: the server's status code): the
    managed server's transactions may use 70% of its heap, ``KGREC_HEAP``; a server of one's own has its own
    limits. Empty for any other failure.

    >>> memory_hint("Neo.TransientError.General.MemoryPoolOutOfMemoryError")[:52]
    ' (out of transaction memory: give the managed Neo4j '
    >>> memory_hint("Neo.ClientError.Statement.SyntaxError")
    ''
    """
    if not code or "OutOfMemoryError" not in code:
        return ""
    return (
        " (out of transaction memory: give the managed Neo4j a larger heap, `kgrec neo4j stop` and run again"
        " with KGREC_HEAP=3g for example (1g by default; a transaction may use 70% of it), or raise"
        " db.memory.transaction.total.max and db.memory.transaction.max on a server of your own)"
    )


def _read(
    driver: neo4j.Driver, database: str, query: str, params: Mapping[str, Any] | None, plan: bool
) -> list[dict[str, Any]]:
    for attempt in range(READ_ATTEMPTS):
        try:
            with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
                result = session.run(query, dict(params or {}))
                return [result.consume().plan or {}] if plan else [_row(r) for r in result]
        except (neo4j.exceptions.Neo4jError, DriverError) as e:
            if attempt + 1 == READ_ATTEMPTS or not e.is_retryable():
                raise
            time.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: object) -> bool:
    """Whether ``Record.data()`` keeps ``value`` as it is: a scalar, or a list or map of plain values."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is list:
        return all(map(_plain, value))  # type: ignore[call-overload]
    if kind is dict:
        return all(map(_plain, value.values()))  # type: ignore[attr-defined]
    return False


def _row(record: neo4j.Record) -> dict[str, Any]:
    """``record.data()``, without its conversion where nothing needs one: ``data()`` walks every value
    through a chain of ``isinstance`` checks against abstract types, which cost an explanation's path reads
    (a few hundred nested values each) more CPU than Bolt's decoding of them."""
    row = dict(record.items())
    return row if all(map(_plain, row.values())) else record.data()


def _write(
    driver: neo4j.Driver, database: str, query: str, params: Mapping[str, Any] | None, implicit: bool
) -> list[dict[str, Any]]:
    def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
        return [_row(r) for r in tx.run(query, dict(params or {}))]

    with driver.session(database=database, default_access_mode=neo4j.WRITE_ACCESS) as session:
        if implicit:  # `CALL { ... } IN TRANSACTIONS` commits its own batches: only auto-commit allows that
            return [_row(r) for r in session.run(query, dict(params or {}))]
        return session.execute_write(work)
