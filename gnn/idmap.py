"""The derived id map: dataset keys to contiguous tensor rows, per PyG node type.

The business key (``User.id``, ``Brand.name``...) is the identity; the row is an artefact of one export,
so the map is saved with the model and every prediction goes through it.

Example:
    >>> m = IdMap({"user": ("u1", "u2"), "item": ("i1",)})
    >>> m.rows("user", ["u2", "nobody"]).tolist()
    [1, -1]
    >>> m.keys("item")
    ('i1',)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import ModelError

__all__ = ["IdMap"]

_FEW_KEYS = 4096
"""Up to this many keys are looked up one by one (see :meth:`IdMap.rows`)."""


@dataclass(frozen=True)
class IdMap:
    """Keys of each node type in tensor-row order. Keys are strings, whatever type the dataset used."""

    node_keys: Mapping[str, tuple[str, ...]]
    _index: dict[str, pd.Index] = field(default_factory=dict, init=False, repr=False, compare=False)
    _positions: dict[str, dict[str, int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for node_type, keys in self.node_keys.items():
            index = pd.Index(keys)
            if not index.is_unique:
                dup = index[index.duplicated()][:3].tolist()
                raise ModelError(f"duplicate keys for node type {node_type!r}: {dup}")
            self._index[node_type] = index

    @property
    def node_types(self) -> tuple[str, ...]:
        return tuple(self.node_keys)

    def keys(self, node_type: str) -> tuple[str, ...]:
        """Keys in row order."""
        return self.node_keys[self._check(node_type)]

    def num_nodes(self, node_type: str) -> int:
        return len(self.node_keys[self._check(node_type)])

    def rows(self, node_type: str, keys: Iterable[object]) -> np.ndarray:
        """Row of each key (int64), ``-1`` for a key this map does not hold."""
        index = self._index[self._check(node_type)]
        wanted = [str(k) for k in keys]
        if len(wanted) <= _FEW_KEYS:
            # a dict lookup each: get_indexer builds an index of the keys first, which costs more than the
            # lookups for the handful of keys of a path and the few hundred candidate items of a request
            positions = self._positions.get(node_type)
            if positions is None:  # built once per node type; a race builds the same dict twice
                positions = self._positions[node_type] = {k: n for n, k in enumerate(index)}
            return np.fromiter(map(positions.get, wanted, repeat(-1)), dtype=np.int64, count=len(wanted))
        return np.asarray(index.get_indexer(pd.Index(wanted)), dtype=np.int64)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({t: list(k) for t, k in self.node_keys.items()}))

    @classmethod
    def load(cls, path: Path) -> IdMap:
        raw = json.loads(path.read_text())
        return cls({t: tuple(str(k) for k in keys) for t, keys in raw.items()})

    def _check(self, node_type: str) -> str:
        if node_type not in self.node_keys:
            raise ModelError(f"no node type {node_type!r} in the id map (have: {list(self.node_keys)})")
        return node_type
