"""How one statement runs (kg/statements.py): a read retried while the driver calls its failure retryable,
then given up with a clear error; a read that writes refused; other failures named. The driver is a
stand-in that fails as told (the real round trip is exercised by every graph test)."""

from __future__ import annotations

from typing import Any, cast

import neo4j
import neo4j.exceptions
import pytest
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from core.errors import Neo4jError, WriteRefusedError
from kg.statements import READ_ATTEMPTS, run_statement


class _Result(list[Any]):
    def consume(self) -> Any:
        raise AssertionError("not asked for a plan")


class _Record:
    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    def data(self) -> dict[str, Any]:
        return self.row

    def items(self) -> list[tuple[str, Any]]:
        return list(self.row.items())


class _Driver:
    """Sessions whose ``run`` raises the next of ``failures``, then answers ``[{"one": 1}]``."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.runs = 0
        self.modes: list[str] = []

    def session(self, database: str, default_access_mode: str) -> _Driver:
        self.modes.append(default_access_mode)
        return self

    def __enter__(self) -> _Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, query: str, params: dict[str, Any]) -> _Result:
        self.runs += 1
        if self.failures:
            raise self.failures.pop(0)
        return _Result([_Record({"one": 1})])


def _server_error(code: str) -> neo4j.exceptions.Neo4jError:
    return neo4j.exceptions.Neo4jError._hydrate_neo4j(code=code, message=code.rsplit(".", 1)[1])


def _read(driver: _Driver) -> list[dict[str, Any]]:
    return run_statement(cast(neo4j.Driver, driver), "neo4j", "RETURN 1 AS one", {}, write=False)


def test_a_read_is_retried_while_the_failure_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kg.statements.time.sleep", lambda s: None)
    deadlock = _server_error("Neo.TransientError.Transaction.DeadlockDetected")
    driver = _Driver([SessionExpired("the member left"), deadlock])
    assert _read(driver) == [{"one": 1}]
    assert driver.runs == 3 and set(driver.modes) == {neo4j.READ_ACCESS}
    gone = _Driver([SessionExpired("gone")] * READ_ATTEMPTS)
    with pytest.raises(Neo4jError, match="gone"):
        _read(gone)
    assert gone.runs == READ_ATTEMPTS
    down = _Driver([ServiceUnavailable("refused")] * READ_ATTEMPTS)
    with pytest.raises(Neo4jError, match="not reachable"):
        _read(down)


def test_a_failure_that_is_not_retryable_is_named_at_once() -> None:
    writes = _Driver([_server_error("Neo.ClientError.Statement.AccessMode")])
    with pytest.raises(WriteRefusedError, match="--write"):
        _read(writes)
    syntax = _Driver([_server_error("Neo.ClientError.Statement.SyntaxError")])
    with pytest.raises(Neo4jError, match="Neo.ClientError.Statement.SyntaxError"):
        _read(syntax)
    assert writes.runs == syntax.runs == 1


def test_a_statement_refused_for_memory_says_which_setting_to_raise() -> None:
    per_transaction = _Driver([_server_error("Neo.ClientError.General.TransactionOutOfMemoryError")])
    with pytest.raises(Neo4jError, match=r"TransactionOutOfMemoryError.*KGREC_HEAP=3g"):
        _read(per_transaction)
    pool = _Driver([_server_error("Neo.TransientError.General.MemoryPoolOutOfMemoryError")] * READ_ATTEMPTS)
    with pytest.raises(Neo4jError, match=r"kgrec neo4j stop.*KGREC_HEAP"):
        _read(pool)
