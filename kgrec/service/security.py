"""The API key: generated on first start into the workspace's ``api-key`` file (mode 0600, like the Neo4j
password), or taken from ``KGREC_API_KEY``; compared in constant time, never logged.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "api-key"
    >>> key = ensure_key_file(path)
    >>> oct(path.stat().st_mode & 0o777), ensure_key_file(path) == key, len(key) >= 32
    ('0o600', True, True)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.settings import Settings
from kg.server import read_password
from kgrec.service.settings import ServiceSettings

__all__ = ["KEY_FILE", "ApiKey", "ensure_key_file", "key_file"]

KEY_FILE = "api-key"


def key_file(settings: Settings) -> Path:
    """Where the workspace keeps its generated key."""
    return settings.workspace_dir / KEY_FILE


def ensure_key_file(path: Path) -> str:
    """The key in ``path``, generated (0600, created exclusively) when there is none; a file that others
    can read is a :class:`~core.errors.ConfigError`."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker created it first: read theirs
            return read_password(path)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return read_password(path)


class ApiKey:
    """The service's key: ``KGREC_API_KEY`` when set, else the workspace's file."""

    def __init__(self, settings: Settings, service: ServiceSettings) -> None:
        given = service.api_key.get_secret_value() if service.api_key else ""
        self.from_environment = bool(given)
        self._key = given or ensure_key_file(key_file(settings))

    def matches(self, offered: str | None) -> bool:
        return offered is not None and secrets.compare_digest(offered.encode(), self._key.encode())

    def __repr__(self) -> str:  # never shows the key
        return f"ApiKey(from_environment={self.from_environment})"
