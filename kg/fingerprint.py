"""Which graph a model was trained on, told by its catalogue: the number of items and a hash of their ids.

Users and ratings are not part of it: the service adds both as shoppers' events arrive, while the items
change only when a dataset is loaded. Two graphs with the same fingerprint hold the same items, so a model
trained on one ranks the other's catalogue; a different fingerprint means a model saved for another
dataset (or for this one before more items were loaded), whose lists would name items this graph lacks.

Example:
    >>> fp = GraphFingerprint.of(["I2", "I1"])
    >>> fp.items, fp == GraphFingerprint.of(["I1", "I2"])
    (2, True)
    >>> GraphFingerprint.of(["I1", "I3"]).describe()
    '2 items, ids 83e39104…'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

__all__ = ["GraphFingerprint"]


class GraphFingerprint(BaseModel):
    """``items``, the number of items, and ``items_sha256``, the SHA-256 of their ids sorted (each id's
    UTF-8 bytes and a NUL)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: int
    items_sha256: str

    @classmethod
    def of(cls, item_ids: Iterable[object]) -> GraphFingerprint:
        """The fingerprint of a catalogue of ``item_ids`` (in any order; each once)."""
        ids = sorted(str(i) for i in item_ids)
        digest = hashlib.sha256()
        for item in ids:
            digest.update(item.encode() + b"\0")
        return cls(items=len(ids), items_sha256=digest.hexdigest())

    def describe(self) -> str:
        """A few words for a message: the count and the start of the hash."""
        return f"{self.items:,} items, ids {self.items_sha256[:8]}…"
