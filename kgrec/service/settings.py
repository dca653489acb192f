"""What the HTTP service is told through ``KGREC_*`` environment variables, beside :class:`core.Settings`.

Example:
    >>> ServiceSettings(max_events=10).max_events
    10
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kgrec.recommender import MAX_K

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Limits and intervals of ``kgrec serve``.

    Attributes:
        api_key: the key clients send (``X-API-Key`` or ``Authorization: Bearer``); ``KGREC_API_KEY``
            overrides the workspace's generated ``api-key`` file. Never logged.
        model_poll_seconds: how often the model folder is checked for a newer training.
        max_events: events per ``POST /events`` batch.
        max_body_bytes: the largest request body accepted (413 above).
        max_k: the most items one list may ask for: at most, and by default, :data:`kgrec.recommender.MAX_K`.
        window: recommendation lists the coverage and popularity gauges look back over.
        cache_seconds: how long a worked-out list or explanation may be answered again while the user's
            events and the model are unchanged (0: never; see :mod:`kgrec.service.cache`).
        cache_entries: lists and explanations kept per process (least recently used go first).
        threads: requests worked on at once per process (the rest wait their turn): the work is CPU-bound
            numpy, LightGBM and torch under one interpreter lock, so more threads than this only contend.
    """

    model_config = SettingsConfigDict(env_prefix="KGREC_", extra="ignore")

    api_key: SecretStr | None = None
    model_poll_seconds: float = Field(default=2.0, gt=0)
    max_events: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_k: int = Field(default=MAX_K, ge=1, le=MAX_K)
    window: int = Field(default=1000, ge=1)
    threads: int = Field(default=8, ge=1)
    cache_seconds: float = Field(default=60.0, ge=0)
    cache_entries: int = Field(default=10_000, ge=1)
