"""kgrec: a knowledge-graph recommender for e-commerce.

``Recommender`` composes the packages: ``loaders`` (files to records), ``kg`` (Neo4j), ``gnn`` (the rating
model) and ``explain`` (paths that justify a recommendation). ``KGRecError`` and ``Settings`` come from
``core``, the bottom layer.

Example:
    >>> from kgrec import Recommender
    >>> with Recommender.connect() as rec:            # doctest: +SKIP
    ...     rec.recommend("U00001", k=5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import KGRecError
from core.settings import Settings

if TYPE_CHECKING:
    from kgrec.recommender import Recommender

__all__ = ["KGRecError", "Recommender", "Settings"]


# Lazy for the CLI's start-up: `kgrec --help`, `kgrec neo4j status` and `kgrec stats` import this package
# (kgrec.cli lives in it) but not the model; importing Recommender eagerly loads torch, measured 1.8 s -> 11-16 s.
def __getattr__(name: str) -> Any:
    if name == "Recommender":
        from kgrec.recommender import Recommender

        return Recommender
    raise AttributeError(f"module 'kgrec' has no attribute {name!r}")
