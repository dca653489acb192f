"""The HTTP service behind ``kgrec serve``: FastAPI over :class:`kgrec.Recommender`, with an API key, a
feedback loop into Neo4j, fold-in of new events, hot model swaps and Prometheus metrics.

One module per job: :mod:`~kgrec.service.app` (routes), :mod:`~kgrec.service.security` (the key),
:mod:`~kgrec.service.events` (``POST /events``), :mod:`~kgrec.service.foldin` (lists that react to events),
:mod:`~kgrec.service.swap` (hot model swaps), :mod:`~kgrec.service.metrics` (``/metrics``),
:mod:`~kgrec.service.errors` (JSON errors), :mod:`~kgrec.service.state` (what a process holds).

Example:
    >>> from kgrec.service import create_app
    >>> app = create_app(Settings(workspace="shop"))   # doctest: +SKIP
"""

from __future__ import annotations

from kgrec.service.app import app_from_environment, create_app
from kgrec.service.security import ApiKey, key_file
from kgrec.service.settings import ServiceSettings

__all__ = ["ApiKey", "ServiceSettings", "app_from_environment", "create_app", "key_file"]
