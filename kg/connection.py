"""The one driver of a process: to ``NEO4J_URI`` when it is set, else to the workspace's managed server;
what kgrec needs of the server is checked once it answers (:mod:`kg.checks`).

``NEO4J_URI`` takes every scheme of the driver: ``bolt://`` (one server), ``neo4j://`` (routing: a cluster or
Aura), each with ``+s`` (TLS, certificate checked against the system's CAs) or ``+ssc`` (TLS, any
certificate: self-signed ones).

Example:
    >>> from core.settings import Settings
    >>> driver, managed = connect_driver(Settings())   # doctest: +SKIP
"""

from __future__ import annotations

import neo4j
import neo4j.exceptions
from neo4j.exceptions import ServiceUnavailable

from core.errors import ConfigError, KGRecError, Neo4jError, Neo4jUnavailableError
from core.progress import Progress
from core.settings import Settings
from kg.checks import check_server
from kg.server import ManagedNeo4j, read_password

__all__ = ["connect_driver"]


def connect_driver(
    settings: Settings, progress: Progress | None = None, *, start: bool = True
) -> tuple[neo4j.Driver, bool]:
    """Open the one driver of this process: ``NEO4J_URI`` when set, else the workspace's managed server,
    started first unless ``start`` is false (then a server that is not running is a
    :class:`Neo4jUnavailableError`, as is one that does not answer).

    Returns the driver and whether the server is managed by kgrec. A server kgrec cannot use (older than
    Neo4j 5, or without the configured database) is a :class:`ConfigError`; what it merely lacks is in
    :func:`kg.checks.check_server`'s notes, answered from cache from here on.
    """
    cfg = settings.neo4j
    if cfg.uri:
        if cfg.password is None:
            raise ConfigError("NEO4J_URI is set but NEO4J_PASSWORD is not")
        auth = (cfg.user, cfg.password.get_secret_value())
        uri, managed = cfg.uri, False
    else:
        server = ManagedNeo4j(settings)
        found = server.start(progress) if start else server.uri()
        if found is None:
            raise Neo4jUnavailableError(
                f"the Neo4j of workspace {settings.workspace!r} is not running; start it: kgrec neo4j start"
            )
        uri, managed = found, True
        auth = ("neo4j", read_password(server.password_file))
    try:
        driver = neo4j.GraphDatabase.driver(
            uri, auth=auth, notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF
        )
    except ValueError as e:
        raise Neo4jError(f"cannot reach Neo4j at {uri}: {_one_line(e)}") from e
    try:
        driver.verify_connectivity()
    except (ServiceUnavailable, OSError) as e:
        driver.close()
        raise Neo4jUnavailableError(f"cannot reach Neo4j at {uri}: {_one_line(e)}") from e
    except (neo4j.exceptions.Neo4jError, ValueError) as e:
        driver.close()
        raise Neo4jError(f"cannot reach Neo4j at {uri}: {_one_line(e)}") from e
    try:
        check_server(driver, settings.neo4j.database)
    except KGRecError:
        driver.close()
        raise
    return driver, managed


def _one_line(error: Exception) -> str:
    """The driver's message on one line: it lists each address it tried on a line of its own."""
    return " ".join(str(error).split())
