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

__all__ = ["Neo4jSettings", "Settings"]

_WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "kgrec"


def _default_cache() -> Path:
    return Path.home() / ".cache" / "kgrec"


class Neo4jSettings(BaseSettings):
    """Connection to an external Neo4j. Leave ``uri`` unset to let kgrec run its own server."""

    model_config = SettingsConfigDict(env_prefix="NEO4J_", extra="ignore")

    uri: str | None = None
    user: str = "neo4j"
    password: SecretStr | None = None
    database: str = "neo4j"


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
