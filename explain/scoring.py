"""How much a path matters: counterfactually with the rating model, or by its shape when there is none.

A scorer is any callable ``scorer(user, item, paths) -> Scores``. :class:`CounterfactualScorer` removes the
path's edges from the model's message-passing input and measures the drop in the predicted rating
(``score = predicted - predicted_without_path``; positive: the path pushed the rating up). It only needs an
object with ``predict(pairs, drop_edges=...)`` and ``id_map`` (a :class:`gnn.RatingModel`), so this module
does not import torch itself. :class:`ShapeScorer` is the fallback: a score in ``[0, 1]`` from the user's
rating of the anchor item, the support the path has in the data, and its length.

Example:
    >>> from gnn import RatingModel  # doctest: +SKIP
    >>> scorer = CounterfactualScorer(RatingModel.load("models/demo"), store.schema())  # doctest: +SKIP
    >>> Explainer(store, scorer).explain("U00002", "I00014")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from explain.models import ExplainedPath
from kg.schema import EdgeType, Schema

__all__ = [
    "CounterfactualScorer",
    "LocalCounterfactualScorer",
    "PathScorer",
    "PredictsWithDrop",
    "Scores",
    "ShapeScorer",
    "edge_rows",
]


@dataclass(frozen=True)
class Scores:
    """One score per path, in order; ``predicted`` is the model's rating of the pair when a model scored."""

    values: list[float]
    predicted: float | None = None


class PathScorer(Protocol):
    name: str

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> Scores: ...


class PredictsWithDrop(Protocol):
    """What the counterfactual needs of a model (:class:`gnn.RatingModel` has it)."""

    id_map: Any

    def predict(self, pairs: pd.DataFrame, *, drop_edges: Any = None) -> np.ndarray: ...


class ShapeScorer:
    """``score = (anchor rating / max_rating) * (0.25 + 0.75 * share) * 0.9 ** (len(rels) - 2)``.

    ``share`` is ``both / fans`` for item-anchored paths (the share of the anchor's fans who also rated the
    target well) and ``min(agree, 5) / 5`` for similar users; 0 when unknown. Longer paths lose 10% a hop.
    """

    name = "shape"

    def __init__(self, max_rating: float = 5.0) -> None:
        self.max_rating = max_rating

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> Scores:
        return Scores([self.score(p) for p in paths])

    def score(self, path: ExplainedPath) -> float:
        rating = path.rels[0].properties.get("rating")
        strength = float(rating) / self.max_rating if isinstance(rating, int | float) else 0.5
        s = path.support
        if path.kind == "similar_users":
            share = min(float(s.get("agree", 0)), 5.0) / 5.0
        else:
            share = float(s["both"]) / float(s["fans"]) if s.get("fans") else 0.0
        return round(strength * (0.25 + 0.75 * share) * 0.9 ** (len(path.rels) - 2), 6)


def edge_rows(
    path: ExplainedPath, schema: Schema, id_map: Any, keep: set[EdgeType] | None = None
) -> dict[EdgeType, tuple[list[int], list[int]]]:
    """The path's edges as model rows per forward edge type: ``{("user", "rated", "item"): ([u], [i])}``.

    Edges whose end the model does not know (row ``-1``), or whose type is not in ``keep``, are left out.
    """
    out: dict[EdgeType, tuple[list[int], list[int]]] = {}
    for rel in path.rels:
        rt = schema.rel_type(rel.type)
        src = int(id_map.rows(rt.source.pyg, [path.nodes[rel.start].key])[0])
        dst = int(id_map.rows(rt.target.pyg, [path.nodes[rel.end].key])[0])
        if src < 0 or dst < 0 or (keep is not None and rt.edge_type not in keep):
            continue
        rows = out.setdefault(rt.edge_type, ([], []))
        rows[0].append(src)
        rows[1].append(dst)
    return out


class CounterfactualScorer:
    """Score = predicted rating minus the prediction with the path's edges removed from message passing.

    Each path costs one encoder pass of the model over its message graph; :class:`explain.Explainer` bounds
    how many paths reach this scorer (``max_scored``).
    """

    name = "counterfactual"

    def __init__(self, model: PredictsWithDrop, schema: Schema) -> None:
        self.model = model
        self.schema = schema
        graph = getattr(model, "graph", None)
        # drop_edges refuses edge types the message graph lacks (e.g. an entity type with no edges)
        self._keep: set[EdgeType] | None = set(graph.edge_types) if graph is not None else None

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> Scores:
        pair = pd.DataFrame({"user": [user], "item": [item]})
        base = float(self.model.predict(pair)[0])
        values = []
        for path in paths:
            rows = edge_rows(path, self.schema, self.model.id_map, self._keep)
            after = float(self.model.predict(pair, drop_edges=rows)[0]) if rows else base
            values.append(round(base - after, 6))
        return Scores(values, predicted=round(base, 6))


class LocalCounterfactualScorer(CounterfactualScorer):
    """The counterfactual of :class:`CounterfactualScorer`, computed on the pair's computation subgraph.

    A ``layers``-deep message-passing encoder's output for the user and the item depends only on their
    ``layers``-hop in-neighbourhood, so the encoder runs on that subgraph alone, once for all the paths
    together (one copy of the subgraph per path, side by side in one batch). The result equals the full
    model's ``predict(pairs, drop_edges=...)`` (the bias and MF parts do not depend on message passing;
    the blend is recomputed from the parts). Needs a :class:`gnn.RatingModel` (its message graph ``graph``,
    ``net``, ``config.layers``, ``blend``, ``scalars`` and ``predict_parts``); imports torch when called.
    """

    name = "counterfactual"

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> Scores:
        m: Any = self.model
        pair = pd.DataFrame({"user": [user], "item": [item]})
        parts = m.predict_parts(pair).iloc[0]
        base = float(parts["blend"])
        if parts["source"] not in ("model", "neighbours") or not paths:
            return Scores([0.0] * len(paths), predicted=round(base, 6))
        removals = [edge_rows(p, self.schema, m.id_map, self._keep) for p in paths]
        u = int(m.id_map.rows("user", [user])[0])
        i = int(m.id_map.rows("item", [item])[0])
        gnn = _local_gnn(m, u, i, [{}, *removals])
        w, lo, hi = m.blend, m.scalars["min_rating"], m.scalars["max_rating"]
        fixed = w.intercept + w.bias * float(parts["bias"]) + w.mf * float(parts["mf"])
        blends = np.clip(fixed + w.gnn * gnn, lo, hi)
        return Scores([round(float(blends[0] - b), 6) for b in blends[1:]], predicted=round(base, 6))


def _local_gnn(
    model: Any, user: int, item: int, removals: list[dict[EdgeType, tuple[list[int], list[int]]]]
) -> np.ndarray:
    """The GNN part's prediction ``[len(removals)]`` for one (user row, item row) pair, once per removal."""
    import torch

    g = model.graph
    layers = int(model.config.layers)
    edge_types = list(g.edge_types)
    need: dict[str, torch.Tensor] = {t: torch.empty(0, dtype=torch.long) for t in g.node_types}
    need["user"] = torch.tensor([user])
    need["item"] = torch.tensor([item])

    def in_edges(nodes: dict[str, torch.Tensor]) -> dict[EdgeType, torch.Tensor]:
        return {et: g[et].edge_index[:, torch.isin(g[et].edge_index[1], nodes[et[2]])] for et in edge_types}

    for _ in range(layers - 1):
        grown = {t: [v] for t, v in need.items()}
        for et, ei in in_edges(need).items():
            grown[et[0]].append(ei[0])
        need = {t: torch.unique(torch.cat(v)) for t, v in grown.items()}
    edges = in_edges(need)  # every in-edge of the nodes one hop short of the inputs
    grown = {t: [v] for t, v in need.items()}
    for et, ei in edges.items():
        grown[et[0]].append(ei[0])
    n_id = {t: torch.unique(torch.cat(v)) for t, v in grown.items()}

    # per removal, the (src, dst) pairs to drop per edge type as codes src * width + dst, mirrored the way
    # gnn.graph.drop_edges mirrors them (same-type relations both ways, others on their rev_ type)
    width = max(int(g[t].num_nodes) for t in g.node_types) + 1

    def codes(removal: dict[EdgeType, tuple[list[int], list[int]]]) -> dict[EdgeType, torch.Tensor]:
        out: dict[EdgeType, list[torch.Tensor]] = {}
        for (s, r, d), (src, dst) in removal.items():
            a, b = torch.tensor(src, dtype=torch.long), torch.tensor(dst, dtype=torch.long)
            out.setdefault((s, r, d), []).append(a * width + b)
            back = (s, r, d) if s == d else (d, f"rev_{r}", s)
            out.setdefault(back, []).append(b * width + a)
        return {et: torch.cat(v) for et, v in out.items()}

    copies = len(removals)
    sizes = {t: len(v) for t, v in n_id.items()}
    x_dict, ids = {}, {}
    for t in g.node_types:
        ids[t] = n_id[t].repeat(copies)
        if "x" in g[t]:
            x_dict[t] = g[t].x[n_id[t]].repeat(copies, 1)
    edge_index_dict = {}
    drops = [codes(r) for r in removals]
    for et in edge_types:
        ei = edges[et]
        present = ei[0] * width + ei[1]
        local = torch.stack([torch.searchsorted(n_id[et[0]], ei[0]), torch.searchsorted(n_id[et[2]], ei[1])])
        blocks = []
        for k in range(copies):
            gone = drops[k].get(et)
            kept = local if gone is None else local[:, ~torch.isin(present, gone)]
            blocks.append(kept + torch.tensor([[k * sizes[et[0]]], [k * sizes[et[2]]]]))
        edge_index_dict[et] = torch.cat(blocks, dim=1)
    net = model.net
    net.eval()
    with torch.no_grad():
        z = net.encode(x_dict, ids, edge_index_dict)
        u_loc = int(torch.searchsorted(n_id["user"], torch.tensor(user)))
        i_loc = int(torch.searchsorted(n_id["item"], torch.tensor(item)))
        u_index = torch.tensor([k * sizes["user"] + u_loc for k in range(copies)])
        i_index = torch.tensor([k * sizes["item"] + i_loc for k in range(copies)])
        pred = net.decode(z["user"], z["item"], u_index, i_index,
                          torch.full((copies,), user), torch.full((copies,), item))  # fmt: skip
    return np.clip(pred.double().numpy(), model.scalars["min_rating"], model.scalars["max_rating"])
