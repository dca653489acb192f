"""Typed settings read from ``KGREC_*`` and ``NEO4J_*`` environment variables.

Example:
    >>> from core.settings import Settings
    >>> Settings(workspace="magazine").workspace
    'magazine'
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["URI_SCHEMES", "Neo4jSettings", "Settings"]

URI_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
"""What ``NEO4J_URI`` may start with: the Neo4j driver's schemes, plain or TLS."""

_WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "kgrec"


def _default_cache() -> Path:
    return Path.home() / ".cache" / "kgrec"


class Neo4jSettings(BaseSettings):
    """Connection to an external Neo4j. Leave ``uri`` unset to let kgrec run its own server.

    ``uri`` takes the driver's schemes: ``bolt://`` for one server, ``neo4j://`` for routing (a cluster,
    Aura), each also with TLS: ``+s`` checks the server's certificate against the system's CAs, ``+ssc``
    accepts any (self-signed) certificate.

    Example:
        >>> Neo4jSettings(uri="neo4j+s://abc.databases.neo4j.io").uri
        'neo4j+s://abc.databases.neo4j.io'
    """

    model_config = SettingsConfigDict(env_prefix="NEO4J_", extra="ignore")

    uri: str | None = None
    user: str = "neo4j"
    password: SecretStr | None = None
    database: str = "neo4j"

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if not value:  # NEO4J_URI="" means unset: kgrec runs its own server
            return None
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in URI_SCHEMES or not rest.split("/", 1)[0]:
            raise ValueError(
                f"NEO4J_URI {value!r} must start with one of {', '.join(s + '://' for s in URI_SCHEMES)}"
                " and name a host"
            )
        return value


class Settings(BaseSettings):
    """Where kgrec keeps its state and how it runs its managed Neo4j.

    Attributes:
        workspace: name of the dataset workspace; each has its own graph (own data directory).
        home: per-user directory for workspaces (graph data, logs, models, password file).
        cache: per-user directory for downloaded Neo4j jars.
        neo4j_version: the Neo4j 5.26 LTS patch fetched from Maven Central.
        model_dir: where the trained model is saved and loaded (default: ``<workspace>/model``).
        batch_size: rows per ``UNWIND`` write transaction.
        heap: JVM heap of the managed server.
        neo4j_plugins: put APOC core on the managed server's plugin path (off: a server without APOC).
        neo4j_read_only: start the managed server's databases read-only
            (``server.databases.default_to_read_only``): reads run, every write is refused.
    """

    model_config = SettingsConfigDict(env_prefix="KGREC_", extra="ignore")

    workspace: str = "default"
    home: Path = Field(default_factory=_default_home)
    cache: Path = Field(default_factory=_default_cache)
    neo4j_version: str = "5.26.30"
    apoc_version: str = "5.26.19"
    model_dir: Path | None = None
    batch_size: int = 10_000
    heap: str = "1g"
    neo4j_plugins: bool = True
    neo4j_read_only: bool = False
    neo4j: Neo4jSettings = Field(default_factory=Neo4jSettings)

    @field_validator("workspace")
    @classmethod
    def _valid_workspace(cls, value: str) -> str:
        if not _WORKSPACE_NAME.match(value):
            raise ValueError(f"workspace name {value!r} must be letters, digits, '_', '.', '-' (max 64)")
        return value

    @property
    def workspace_dir(self) -> Path:
        """The directory holding this workspace's graph, logs, models and credentials."""
        return self.home / "workspaces" / self.workspace

    @property
    def model_path(self) -> Path:
        """Where the trained model lives: ``model_dir`` when set, else inside the workspace."""
        return self.model_dir or self.workspace_dir / "model"
