"""What kgrec needs from a Neo4j server, checked once per driver when it connects.

==============  ==============================================================  =============================
need            what uses it                                                    when missing
==============  ==============================================================  =============================
Neo4j 5         every statement (Cypher 5: ``COLLECT {}``, ``SHOW``, indexes)   :class:`ConfigError`
the database    every statement (``NEO4J_DATABASE``, ``neo4j`` by default)      :class:`ConfigError`
write access    load, reset, train (it stores embeddings), shopper events       a note; each write refused
vector index    train stores item embeddings in it, similar items read it       a note
APOC            only ``kgrec cypher`` queries that call ``apoc.*``              a note
==============  ==============================================================  =============================

The version comes from the server's hello (no query); the rest from two ``SHOW`` commands and, where the
database itself is writable, one write that is rolled back (:mod:`kg.queries.checks`): the database's access
says whether it is read-only, the write whether this user may write (a user with a read-only role). A note is one line for the person running kgrec: the CLI prints each on stderr,
the service logs each when it starts. A write that a read-only database refuses later is one
:class:`WriteRefusedError` saying so (:func:`write_refusal`).

Example:
    >>> check = ServerCheck("db.example.com:7687", "5.26.30", "neo4j", apoc=False, read_only=False,
    ...                     vector_index=True, user_writes=True)
    >>> check.notes()[0][:58]
    'Neo4j at db.example.com:7687 has no APOC: kgrec needs none'
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass

import neo4j
import neo4j.exceptions
from neo4j.exceptions import DriverError, ServiceUnavailable, SessionExpired

from core.errors import ConfigError, Neo4jError, Neo4jUnavailableError
from kg.queries.checks import DATABASE_ACCESS, SERVER_PROCEDURES, WRITE_PROBE

__all__ = [
    "TESTED_VERSION",
    "VECTOR_INDEX_SINCE",
    "CheckedServer",
    "ServerCheck",
    "check_server",
    "write_refusal",
]

TESTED_VERSION = "5.26"
"""The Neo4j release kgrec runs its managed server on and is tested with."""

VECTOR_INDEX_SINCE = (5, 15)
"""The first Neo4j with ``CREATE VECTOR INDEX``, which kgrec uses to store item embeddings."""

_AGENT = re.compile(r"^Neo4j/(\d+)\.(\d+)")
_READ_ONLY_CODES = ("WriteOnReadOnlyAccessDatabase", "ForbiddenOnReadOnlyDatabase")
_FORBIDDEN = "Neo.ClientError.Security.Forbidden"


@dataclass(frozen=True)
class ServerCheck:
    """What a server offers kgrec: its address and version, and whether the database is read-only, the vector
    index is there, APOC is installed and this user may write (``user_writes``; True where the database is
    read-only, which says it already)."""

    address: str
    version: str
    database: str
    apoc: bool
    read_only: bool
    vector_index: bool
    user_writes: bool

    def notes(self) -> list[str]:
        """One line per thing kgrec would use and the server lacks, saying what will not work; empty when it
        lacks nothing.

        >>> ServerCheck("h:7687", "5.26.30", "neo4j", apoc=True, read_only=False, vector_index=True,
        ...             user_writes=True).notes()
        []
        >>> for line in ServerCheck("h:7687", "5.26.30", "shop", apoc=True, read_only=True,
        ...                         vector_index=True, user_writes=True).notes():
        ...     print(line)  # doctest: +NORMALIZE_WHITESPACE
        Neo4j database 'shop' at h:7687 is read-only: recommend, explain, search and serve work; load,
        reset, train (it stores embeddings) and shopper events will be refused
        """
        where = f"at {self.address}"
        lines = []
        if _version(self.version)[0] > 5:  # 2025.01 and later: calendar versions
            lines.append(
                f"Neo4j {self.version} {where} is newer than Neo4j {TESTED_VERSION}, which kgrec is tested with"
            )
        if self.read_only:
            lines.append(
                f"Neo4j database {self.database!r} {where} is read-only: recommend, explain, search and serve "
                "work; load, reset, train (it stores embeddings) and shopper events will be refused"
            )
        if not self.user_writes:
            lines.append(
                f"this Neo4j user may not write to database {self.database!r} {where}: recommend, explain, search "
                "and serve work; load, reset, train (it stores embeddings) and shopper events will be refused"
            )
        if not self.vector_index:
            lines.append(
                f"Neo4j {self.version} {where} has no vector index (Neo4j 5.15 or later): train cannot store "
                "item embeddings, and similar items (kgrec similar, /items/{item}/similar) will not work"
            )
        if not self.apoc:
            lines.append(
                f"Neo4j {where} has no APOC: kgrec needs none, but kgrec cypher queries that call apoc.* "
                "procedures or functions will fail"
            )
        return lines


_checked: weakref.WeakKeyDictionary[neo4j.Driver, dict[str, ServerCheck]] = weakref.WeakKeyDictionary()
_checking = threading.Lock()


def check_server(driver: neo4j.Driver, database: str) -> ServerCheck:
    """The :class:`ServerCheck` of ``database`` behind ``driver``: asked of the server the first time, then
    the same answer for as long as the driver lives.

    :class:`ConfigError` for a server older than Neo4j 5 or without ``database``; :class:`Neo4jError` (or
    :class:`Neo4jUnavailableError`) when the server cannot be asked.
    """
    with _checking:
        found = _checked.get(driver, {}).get(database)
    if found is not None:
        return found
    try:
        check = _ask(driver, database)
    except (ServiceUnavailable, SessionExpired) as e:
        raise Neo4jUnavailableError(f"Neo4j is not reachable: {e}") from e
    except neo4j.exceptions.Neo4jError as e:
        raise Neo4jError(f"could not check what the Neo4j server offers: {e.code}: {e.message}") from e
    except DriverError as e:
        raise Neo4jError(f"could not check what the Neo4j server offers: {e}") from e
    with _checking:
        return _checked.setdefault(driver, {}).setdefault(database, check)


class CheckedServer:
    """Mixed into :class:`kg.GraphStore`: :attr:`server`, what its server offers."""

    _driver: neo4j.Driver
    database: str

    @property
    def server(self) -> ServerCheck:
        """What the server offers kgrec: asked once per driver (when it connected), then from cache."""
        return check_server(self._driver, self.database)


def _ask(driver: neo4j.Driver, database: str) -> ServerCheck:
    info = driver.get_server_info()
    address, agent = str(info.address), info.agent or ""
    match = _AGENT.match(agent)
    version = agent.split("/", 1)[-1] if match else agent or "of unknown version"
    if match is None or int(match[1]) < 5:
        raise ConfigError(
            f"Neo4j at {address} is {version}: kgrec needs Neo4j 5 (tested with {TESTED_VERSION})"
        )
    read = neo4j.RoutingControl.READ
    access = driver.execute_query(
        DATABASE_ACCESS, {"database": database}, database_="system", routing_=read
    ).records[0]
    if not access["access"]:
        raise ConfigError(
            f"Neo4j at {address} has no database {database!r} that this user may use (NEO4J_DATABASE)"
        )
    plugins = driver.execute_query(SERVER_PROCEDURES, database_=database, routing_=read).records[0]
    read_only = "read-only" in access["access"]
    return ServerCheck(
        address=address,
        version=version,
        database=database,
        apoc=bool(plugins["apoc"]),
        read_only=read_only,
        vector_index=bool(plugins["vector_query"]) and _version(version) >= VECTOR_INDEX_SINCE,
        user_writes=read_only or _user_writes(driver, database),
    )


def _user_writes(driver: neo4j.Driver, database: str) -> bool:
    """Whether the server lets this user write to ``database``: :data:`WRITE_PROBE` in a transaction that is
    rolled back, refused or not (closed, never committed: the driver's ``with`` block would commit it)."""
    with driver.session(database=database, default_access_mode=neo4j.WRITE_ACCESS) as session:
        tx = session.begin_transaction()
        try:
            tx.run(WRITE_PROBE).consume()
        except neo4j.exceptions.Neo4jError as e:
            if e.code == _FORBIDDEN:
                return False
            raise
        finally:
            tx.close()  # rolls back what it has not committed; nothing here commits
    return True


def _version(version: str) -> tuple[int, int]:
    """``"5.26.30"`` -> ``(5, 26)``; ``(0, 0)`` when it is not a version."""
    match = re.match(r"^(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def write_refusal(code: str | None, database: str) -> str | None:
    """The one line for a write that the server refused because nothing may write there (``code``: the
    server's status code), or None when it was refused for anything else.

    >>> write_refusal("Neo.ClientError.General.WriteOnReadOnlyAccessDatabase", "neo4j")[:46]
    "Neo4j refused the write: database 'neo4j' is r"
    >>> write_refusal("Neo.ClientError.Statement.SyntaxError", "neo4j") is None
    True
    """
    if code and any(name in code for name in _READ_ONLY_CODES):
        return (
            f"Neo4j refused the write: database {database!r} is read-only on this server; load, reset, "
            "train and shopper events need a database kgrec may write to"
        )
    if code == _FORBIDDEN:
        return (
            f"Neo4j refused the write: this Neo4j user may not write to database {database!r}; load, reset, "
            "train and shopper events need a user with write access"
        )
    return None
