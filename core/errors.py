"""The one exception tree of kgrec.

::

    KGRecError
    ├── ConfigError          settings or credentials missing or unusable
    ├── Neo4jError           the graph database could not be reached, started or queried
    │   ├── Neo4jUnavailableError  the server does not answer (stopped, moved, unreachable)
    │   └── WriteRefusedError   the read-only path refused a query (it writes, or calls what is not listed)
    ├── LoadError            input data rejected (carries file, line and field)
    ├── InputError           an argument out of range (``k`` of a list, a filter naming nothing)
    ├── SchemaError          an invalid label, relationship type or entity name
    │   └── PathRecordError     a path record from the graph did not validate as an explanation path
    ├── ModelError           training, checkpoints or prediction failed
    ├── NotFoundError        a user, item or other key that the graph does not hold
    └── NotReadyError        the service has no model loaded (or no graph connected) yet

The library raises these and never prints or exits; the CLI turns each into one line and a non-zero exit.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "InputError",
    "KGRecError",
    "LoadError",
    "ModelError",
    "Neo4jError",
    "Neo4jUnavailableError",
    "NotFoundError",
    "NotReadyError",
    "PathRecordError",
    "SchemaError",
    "WriteRefusedError",
]


class KGRecError(Exception):
    """Root of every error kgrec raises on purpose."""


class ConfigError(KGRecError):
    """Settings or credentials are missing or unusable."""


class Neo4jError(KGRecError):
    """The graph database could not be reached, started or queried."""


class Neo4jUnavailableError(Neo4jError):
    """The server does not answer: stopped, started again elsewhere, or unreachable. Worth retrying later."""


class WriteRefusedError(Neo4jError):
    """The read-only path refused a query: it writes, or calls what :mod:`kg.guard` does not list."""


class SchemaError(KGRecError):
    """A label, relationship type or entity name that the schema does not accept."""


class PathRecordError(SchemaError):
    """A path record from the graph layer did not validate; ``errors`` keeps pydantic's list."""

    def __init__(self, message: str, errors: list[Any]) -> None:
        super().__init__(message)
        self.errors = errors


class ModelError(KGRecError):
    """Training, checkpoint I/O or prediction failed."""


class NotFoundError(KGRecError):
    """A user, item or other key that the graph does not hold."""


class NotReadyError(KGRecError):
    """No model is loaded yet (or the graph is not connected): the service answers 503."""


class InputError(KGRecError):
    """An argument out of its range: ``k`` of a list, a brand or category filter that names nothing."""


class LoadError(KGRecError):
    """Input data was rejected.

    ``file``, ``line`` and ``field`` locate the first offending row when there is one; ``report`` is the
    load report gathered so far (a ``loaders.LoadReport``) when the failure came from the error budget.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        report: object | None = None,
    ) -> None:
        where = ""
        if file is not None:
            where = f"{file}:{line}" if line is not None else file
            if field is not None:
                where += f" (field {field})"
            where += ": "
        super().__init__(where + message)
        self.file = file
        self.line = line
        self.field = field
        self.report = report
