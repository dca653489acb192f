"""The graph as plain frames: what ``kg`` hands to training and what ``gnn`` consumes.

Example:
    >>> import pandas as pd
    >>> from core.schema import Schema
    >>> g = GraphExport(Schema.core(), nodes={"User": pd.DataFrame({"key": ["u1"]})}, edges={})
    >>> g.node_keys("User")
    ['u1']
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.schema import Schema

__all__ = ["GraphExport"]


@dataclass
class GraphExport:
    """A snapshot of the graph.

    Attributes:
        schema: the schema the graph was exported under (core plus registered entities and links).
        nodes: per node label, a frame with column ``key`` (the business key: ``id`` or ``name``) and the
            node's properties. ``Item`` carries ``title``, ``description``, ``price`` (NaN when absent);
            ``Category`` carries ``depth`` (0 for a root). Every label of the schema is present, maybe empty.
        edges: per relationship type, a frame with ``source`` and ``target`` keys; ``RATED`` also has
            ``rating`` (float) and ``ts`` (int unix seconds, 0 when unknown). Every type is present.
    """

    schema: Schema
    nodes: dict[str, pd.DataFrame]
    edges: dict[str, pd.DataFrame]

    def node_keys(self, label: str) -> list[str]:
        return [str(k) for k in self.nodes[label]["key"].tolist()]
