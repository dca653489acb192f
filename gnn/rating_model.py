"""The trained, blended rating model: predict on dataset keys, rank items, export embeddings, checkpoint.

``rating = w0 + w_bias * bias(u, i) + w_mf * mf(u, i) + w_gnn * gnn(u, i)``, clipped to the training rating
range, with the weights learned on validation ratings. A pair whose user has no training ratings (or is
unknown) falls back to ``mu + b_i``; an item unknown or without training ratings and without graph
neighbours, to ``mu + b_u``; both, to ``mu``. An item without training ratings that has graph neighbours is
scored by the full model with parameters borrowed from those neighbours (see :mod:`gnn.coldstart`).

Example:
    >>> model = RatingModel.load("models/amazon")  # doctest: +SKIP
    >>> model.predict(pd.DataFrame({"user": ["42"], "item": ["17"]}))  # doctest: +SKIP
    array([4.31])
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.typing import EdgeType

from core.errors import ModelError
from gnn.baselines import pair_columns
from gnn.config import TrainConfig
from gnn.counterfactual import EdgeRemovalEncoder
from gnn.features import FeatureScaler
from gnn.foldin import RatingFoldIn
from gnn.graph import RATED_EDGE, EdgeRows, drop_edges
from gnn.idmap import IdMap
from gnn.metrics import Scores
from gnn.model import RatingNet

__all__ = ["PARTS", "BlendWeights", "ColdStartCounts", "RatingModel", "TrainMetrics", "build_net"]

PARTS = ("bias", "mf", "gnn")
"""The blended parts, in the order of :class:`BlendWeights`."""

_FORMAT = 2  # 2: the training ratings travel with the model (counterfactuals of the bias and MF parts)
_SOURCES = ("model", "neighbours", "bias", "global")


class BlendWeights(BaseModel):
    """Least-squares weights of the parts, fitted on validation ratings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intercept: float
    bias: float
    mf: float
    gnn: float


class ColdStartCounts(BaseModel):
    """How the pairs of one prediction were served.

    ``cold_users``: pairs whose user is unknown or has no training ratings. ``cold_items``: pairs whose
    item is unknown or has no training ratings. ``from_neighbours``: pairs scored by the full model with an
    item borrowed from its graph neighbours. ``bias_fallback``: pairs scored ``mu + b_u`` or ``mu + b_i``.
    ``global_mean``: pairs with neither a known user nor a known item.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pairs: int
    cold_users: int
    cold_items: int
    from_neighbours: int
    bias_fallback: int
    global_mean: int


class TrainMetrics(BaseModel):
    """What one training run measured; saved with the model as ``metrics.json``.

    ``val``/``test``: scores per part (``global_mean``, ``bias``, ``mf``, ``gnn``, ``blend``).
    """

    model_config = ConfigDict(extra="forbid")

    val: dict[str, Scores]
    test: dict[str, Scores]
    blend: BlendWeights
    epochs: dict[str, int]
    seconds: dict[str, float]
    cold_start_test: ColdStartCounts
    minibatch: bool
    ratings: dict[str, int]


@dataclass
class RatingModel:
    """A trained model. Build it with :class:`gnn.Trainer`, or :meth:`load` a saved one.

    Attributes:
        config: the training configuration.
        id_map: dataset keys to tensor rows, per node type.
        scaler: the feature scaler fitted on training ratings.
        graph: the message-passing graph (training ratings and every other edge; node features ``x``).
        net: the GNN part.
        arrays: the other parts and masks, numpy: ``bias_user``/``bias_item`` (bias baseline),
            ``mf_bu``/``mf_bi``/``mf_p``/``mf_q`` (MF part), ``warm_user``/``warm_item`` (had training
            ratings), ``filled_item`` (cold item with parameters borrowed from neighbours).
        scalars: ``mu`` (bias baseline mean), ``mf_mu``, ``min_rating``, ``max_rating``.
        blend: the blend weights.
        metrics: the training run's metrics, when known.
    """

    config: TrainConfig
    id_map: IdMap
    scaler: FeatureScaler
    graph: HeteroData
    net: RatingNet
    arrays: dict[str, np.ndarray]
    scalars: dict[str, float]
    blend: BlendWeights
    metrics: TrainMetrics | None = None
    _z: dict[str, Tensor] | None = field(default=None, init=False, repr=False)
    _removal_encoder: EdgeRemovalEncoder | None = field(default=None, init=False, repr=False)
    _item_terms_cache: tuple[Tensor, ...] | None = field(default=None, init=False, repr=False)
    _fold_in_cache: RatingFoldIn | None = field(default=None, init=False, repr=False)

    # ---------------------------------------------------------------- prediction

    def predict(self, pairs: pd.DataFrame, *, drop_edges: EdgeRows | None = None) -> np.ndarray:
        """Predicted rating ``[len(pairs)]`` for a frame of ``user``, ``item`` keys (or ``source``/``target``).

        ``drop_edges`` answers "what if these edges were not in the graph", by forward edge type and rows
        (``{("user", "rated", "item"): (user_rows, item_rows)}``): the GNN part passes messages without
        them, and for removed training ratings the bias and MF parameters of each pair's user and item are
        refitted without those ratings (see :mod:`gnn.foldin`). Other users' and items' parameters stay as
        trained, and so does a pair served by a fallback (a cold user, or a cold item without neighbours).

        Example:
            >>> model.predict(pd.DataFrame({"user": ["u1", "u1"], "item": ["i1", "i9"]}))  # doctest: +SKIP
            array([4.12, 3.87])
        """
        return self.predict_parts(pairs, drop_edges=drop_edges)["blend"].to_numpy()

    def predict_parts(self, pairs: pd.DataFrame, *, drop_edges: EdgeRows | None = None) -> pd.DataFrame:
        """Per pair: each part's prediction, the blend, and ``source`` (model/neighbours/bias/global)."""
        users, items = self._pair_rows(pairs)
        parts = self._predict_rows(users, items, self._encode(drop_edges))
        removed = _rated_rows(drop_edges)
        if len(removed[0]):
            lo, hi = self.scalars["min_rating"], self.scalars["max_rating"]
            for n in np.flatnonzero(parts["source"].isin(["model", "neighbours"]).to_numpy()):
                bias, mf = self._fold_in().parts(int(users[n]), int(items[n]), [removed])
                bias, mf = np.clip(bias, lo, hi), np.clip(mf, lo, hi)
                gnn = parts["gnn"].to_numpy()[n : n + 1]
                parts.loc[n, ["bias", "mf", "blend"]] = bias[0], mf[0], self._blend(bias, mf, gnn)[0]
        return parts

    def predict_without(self, user: object, item: object, removals: Sequence[EdgeRows]) -> np.ndarray:
        """``predict`` of one pair once per removal ``[len(removals)]``: ``predict(pair, drop_edges=r)`` for
        each ``r``, with the GNN part computed exactly but only over the nodes whose encoder output the
        removal changes (and the bias and MF parts refitted at the pair's two ends, as ``predict`` does).

        Much faster than ``predict(..., drop_edges=...)`` on a large graph (no whole-graph pass per removal;
        see :mod:`gnn.counterfactual`); the first call builds the edge index and the per-layer states.

        Example:
            >>> model.predict_without("u1", "i9", [{RATED_EDGE: ([3], [5])}, {}])  # doctest: +SKIP
            array([4.01, 4.12])
        """
        users, items = self._pair_rows(pd.DataFrame({"user": [user], "item": [item]}))
        parts = self._predict_rows(users, items, self._encode(None)).iloc[0]
        if parts["source"] not in ("model", "neighbours") or not removals:
            # a fallback is served from trained biases alone, and is not refitted (see ``predict``)
            return np.full(len(removals), float(parts["blend"]))
        if self._removal_encoder is None:
            self._removal_encoder = EdgeRemovalEncoder(self.net, self.graph)
        u, i = int(users[0]), int(items[0])
        z_user, z_item = self._removal_encoder.pair(u, i, removals)
        self.net.eval()
        with torch.no_grad():
            at = torch.arange(len(removals))
            pred = self.net.decode(z_user, z_item, at, at, torch.full_like(at, u), torch.full_like(at, i))
        lo, hi = self.scalars["min_rating"], self.scalars["max_rating"]
        gnn = np.clip(pred.double().numpy(), lo, hi)
        bias, mf = self._fold_in().parts(u, i, [_rated_rows(r) for r in removals])
        return self._blend(np.clip(bias, lo, hi), np.clip(mf, lo, hi), gnn)

    def cold_start(self, pairs: pd.DataFrame) -> ColdStartCounts:
        """How many of ``pairs`` are cold and how each was served."""
        users, items = self._pair_rows(pairs)
        return self._cold_counts(users, items)

    def score_items(self, users: Sequence[object], items: Sequence[object] | None = None) -> np.ndarray:
        """Blended scores ``[len(users), n_items]`` of every item (or of ``items``) for each user.

        Columns follow ``id_map.keys("item")`` (or ``items``); each score equals :meth:`predict` of that
        pair. The encoder output and the per-item decoder terms are computed once and cached, so ranking
        all items for a user costs one ``[n_items, hidden] x [hidden, hidden]`` product.

        Example:
            >>> scores = model.score_items(["u1"])  # doctest: +SKIP
            >>> top = np.argsort(-scores[0])[:10]  # doctest: +SKIP
        """
        a, s = self.arrays, self.scalars
        lo, hi = s["min_rating"], s["max_rating"]
        user_rows = self.id_map.rows("user", users)
        n_items = self.id_map.num_nodes("item")
        item_rows = np.arange(n_items) if items is None else self.id_map.rows("item", items)
        user_ok = (user_rows >= 0) & a["warm_user"][np.maximum(user_rows, 0)]
        item_ok = (item_rows >= 0) & (a["warm_item"] | a["filled_item"])[np.maximum(item_rows, 0)]
        u, i = np.where(user_ok, user_rows, 0), np.where(item_ok, item_rows, 0)
        bu = np.where(user_ok, a["bias_user"][u], 0.0)
        bi = np.where(item_ok, a["bias_item"][i], 0.0)
        q, mf_bi, terms = torch.from_numpy(a["mf_q"]), a["mf_bi"], self._item_terms()
        if items is not None:  # all items need no gather: a cold item's column becomes the fallback below
            q, mf_bi, terms = q[i], mf_bi[i], tuple(t[torch.from_numpy(i)] for t in terms)
        out = np.empty((len(user_rows), len(item_rows)))
        # a block of users costs [block, n_items, hidden] floats in the decoder
        chunk = max(1, 262_144 // max(len(item_rows), 1))
        with _threads_for(len(user_rows) * len(item_rows) * self.config.hidden**2):
            for start in range(0, len(user_rows), chunk):
                rows = slice(start, start + chunk)
                fallback = np.clip(s["mu"] + bu[rows, None] + bi[None, :], lo, hi)
                # torch, not numpy, multiplies: two thread pools spinning on two cores slowed both threefold
                dot = (torch.from_numpy(a["mf_p"][u[rows]]) @ q.T).numpy()
                mf = s["mf_mu"] + a["mf_bu"][u[rows], None] + mf_bi[None, :] + dot
                gnn = self._gnn_all(u[rows], terms)
                blend = self._blend(fallback, np.clip(mf, lo, hi), gnn)
                out[rows] = np.where(user_ok[rows, None] & item_ok[None, :], blend, fallback)
        return out

    def linked_scores(
        self, user: object, nodes: Mapping[EdgeType, Sequence[object]]
    ) -> dict[EdgeType, list[float | None]]:
        """The user's mean predicted rating of the items linked to each node, per edge type from items.

        ``nodes`` maps an edge type from items (``("item", "made_by", "brand")``) to node keys; a node the
        model has no item of, or every node of an edge type the model's graph lacks, gets ``None``.

        Example:
            >>> model.linked_scores("u1", {("item", "made_by", "brand"): ["Crema Co", "Inkwell"]})  # doctest: +SKIP
            {('item', 'made_by', 'brand'): [4.61, 2.87]}
        """
        scores = self.score_items([user])[0]
        out: dict[EdgeType, list[float | None]] = {}
        for edge_type, keys in nodes.items():
            out[edge_type] = [None] * len(keys)
            if edge_type not in self.graph.edge_types:
                continue
            items, linked_to = self.graph[edge_type].edge_index.numpy()
            for n, row in enumerate(self.id_map.rows(edge_type[2], keys)):
                linked = items[linked_to == row] if row >= 0 else items[:0]
                out[edge_type][n] = float(scores[linked].mean()) if len(linked) else None
        return out

    def training_items(self, user: object) -> np.ndarray:
        """Item rows the user rated in the training ratings (empty for a user the model does not know)."""
        row = int(self.id_map.rows("user", [user])[0])
        return self._fold_in().rated_items(row) if row >= 0 else np.empty(0, dtype=np.int64)

    def embeddings(self, node_type: str = "item") -> np.ndarray:
        """Final encoder embeddings ``[N, hidden]`` of a node type, rows in ``id_map.keys(node_type)`` order.

        Example:
            >>> vectors = model.embeddings("item")  # doctest: +SKIP
            >>> dict(zip(model.id_map.keys("item"), vectors))  # doctest: +SKIP
        """
        z = self._encode(None)
        if node_type not in z:
            raise ModelError(f"no embeddings for node type {node_type!r}; have {sorted(z)}")
        return z[node_type].numpy().copy()

    # ---------------------------------------------------------------- internals

    def _pair_rows(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        u, i = pair_columns(pairs)
        return self.id_map.rows("user", pairs[u].tolist()), self.id_map.rows("item", pairs[i].tolist())

    def _encode(self, remove: EdgeRows | None) -> dict[str, Tensor]:
        if remove is None and self._z is not None:
            return self._z
        graph = self.graph if not remove else drop_edges(self.graph, remove)
        self.net.eval()
        with torch.no_grad():
            z = self.net.encode(
                {t: graph[t].x for t in graph.node_types if "x" in graph[t]},
                {t: torch.arange(graph[t].num_nodes) for t in graph.node_types},
                graph.edge_index_dict,
            )
        if remove is None:
            self._z = z
        return z

    def _status(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, ...]:
        a = self.arrays
        user_ok = (users >= 0) & a["warm_user"][np.maximum(users, 0)]
        item_warm = (items >= 0) & a["warm_item"][np.maximum(items, 0)]
        item_filled = (items >= 0) & a["filled_item"][np.maximum(items, 0)]
        return user_ok, item_warm, item_filled

    def _cold_counts(self, users: np.ndarray, items: np.ndarray) -> ColdStartCounts:
        user_ok, item_warm, item_filled = self._status(users, items)
        item_ok = item_warm | item_filled
        return ColdStartCounts(
            pairs=len(users),
            cold_users=int((~user_ok).sum()),
            cold_items=int((~item_warm).sum()),
            from_neighbours=int((user_ok & item_filled).sum()),
            bias_fallback=int((user_ok ^ item_ok).sum()),
            global_mean=int((~user_ok & ~item_ok).sum()),
        )

    def _predict_rows(self, users: np.ndarray, items: np.ndarray, z: dict[str, Tensor]) -> pd.DataFrame:
        a, s = self.arrays, self.scalars
        lo, hi = s["min_rating"], s["max_rating"]
        user_ok, item_warm, item_filled = self._status(users, items)
        item_ok = item_warm | item_filled
        full = user_ok & item_ok
        u, i = np.where(user_ok, users, 0), np.where(item_ok, items, 0)
        bu = np.where(user_ok, a["bias_user"][u], 0.0)
        bi = np.where(item_ok, a["bias_item"][i], 0.0)
        # the fallback every part shares: whichever bias exists on top of the global mean
        fallback = np.clip(s["mu"] + bu + bi, lo, hi)
        parts = {name: fallback.copy() for name in PARTS}
        blend = fallback.copy()
        if full.any():
            fu, fi = u[full], i[full]
            parts["bias"][full] = fallback[full]
            mf = s["mf_mu"] + a["mf_bu"][fu] + a["mf_bi"][fi] + (a["mf_p"][fu] * a["mf_q"][fi]).sum(1)
            parts["mf"][full] = np.clip(mf, lo, hi)
            parts["gnn"][full] = self._gnn_rows(fu, fi, z)
            blend[full] = self._blend(parts["bias"][full], parts["mf"][full], parts["gnn"][full])
        source = np.select(
            [full & item_warm, full, user_ok | item_ok], ["model", "neighbours", "bias"], default="global"
        )
        return pd.DataFrame({**parts, "blend": blend, "source": source})

    def _blend(self, bias: np.ndarray | float, mf: np.ndarray | float, gnn: np.ndarray) -> np.ndarray:
        w = self.blend
        mix = w.intercept + w.bias * bias + w.mf * mf + w.gnn * gnn
        return np.clip(mix, self.scalars["min_rating"], self.scalars["max_rating"])

    def _fold_in(self) -> RatingFoldIn:
        if self._fold_in_cache is None:
            a, s, c = self.arrays, self.scalars, self.config
            self._fold_in_cache = RatingFoldIn(
                a["train_user"], a["train_item"], a["train_rating"], a, mu=s["mu"], mf_mu=s["mf_mu"],
                reg_user=c.bias_reg_user, reg_item=c.bias_reg_item, mf_reg=c.mf_reg,
            )  # fmt: skip
        return self._fold_in_cache

    def _item_terms(self) -> tuple[Tensor, ...]:
        if self._item_terms_cache is None:
            z = self._encode(None)["item"]
            self.net.eval()
            with torch.no_grad():
                self._item_terms_cache = self.net.item_terms(z, torch.arange(z.shape[0]))
        return self._item_terms_cache

    def _gnn_all(self, user_rows: np.ndarray, item_terms: tuple[Tensor, ...]) -> np.ndarray:
        rows = torch.from_numpy(user_rows)
        self.net.eval()
        with torch.no_grad():
            pred = self.net.decode_all(self._encode(None)["user"][rows], rows, item_terms)
        return np.clip(pred.double().numpy(), self.scalars["min_rating"], self.scalars["max_rating"])

    def _gnn_rows(self, users: np.ndarray, items: np.ndarray, z: dict[str, Tensor]) -> np.ndarray:
        self.net.eval()
        out = np.empty(len(users))
        with torch.no_grad():
            for start in range(0, len(users), 262_144):
                rows_u, rows_i = users[start : start + 262_144], items[start : start + 262_144]
                u, u_at = np.unique(rows_u, return_inverse=True)
                i, i_at = np.unique(rows_i, return_inverse=True)
                # the decoder's per-node layers run on the rows asked for, not on every node's embedding
                pred = self.net.decode(
                    z["user"][torch.from_numpy(u)], z["item"][torch.from_numpy(i)],
                    torch.from_numpy(u_at), torch.from_numpy(i_at),
                    torch.from_numpy(rows_u), torch.from_numpy(rows_i),
                )  # fmt: skip
                out[start : start + len(rows_u)] = pred.double().numpy()
        return np.clip(out, self.scalars["min_rating"], self.scalars["max_rating"])

    # ---------------------------------------------------------------- checkpoints

    def save(self, directory: str | Path) -> Path:
        """Write the checkpoint to ``directory`` atomically (built in a sibling temp dir, then renamed).

        Holds ``model.pt`` (network weights, message graph, part arrays), ``id_map.json``,
        ``scaler.json``, ``config.json``, ``metrics.json`` and ``meta.json``. An existing checkpoint there
        is replaced only once the new one is complete.
        """
        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            torch.save(
                {
                    "net": self.net.state_dict(),
                    "num_nodes": {t: int(self.graph[t].num_nodes) for t in self.graph.node_types},
                    "x": {t: self.graph[t].x for t in self.graph.node_types if "x" in self.graph[t]},
                    "edge_index": [(list(et), self.graph[et].edge_index) for et in self.graph.edge_types],
                    "arrays": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.arrays.items()},
                },
                tmp / "model.pt",
            )
            self.id_map.save(tmp / "id_map.json")
            self.scaler.save(tmp / "scaler.json")
            (tmp / "config.json").write_text(self.config.model_dump_json(indent=2))
            if self.metrics is not None:
                (tmp / "metrics.json").write_text(self.metrics.model_dump_json(indent=2))
            meta = {"format": _FORMAT, "scalars": self.scalars, "blend": self.blend.model_dump()}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
            old = None
            if target.exists():
                old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
                target.rename(old)
            tmp.rename(target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelError(f"could not save the model to {target}: {e}") from e
        return target

    @classmethod
    def load(cls, directory: str | Path) -> RatingModel:
        """Load a checkpoint written by :meth:`save`; predictions are identical to the saved model's.

        Example:
            >>> model = RatingModel.load("models/amazon")  # doctest: +SKIP
        """
        path = Path(directory)
        try:
            meta = json.loads((path / "meta.json").read_text())
            if meta.get("format") != _FORMAT:
                raise ModelError(
                    f"{path}: checkpoint format {meta.get('format')}, this kgrec reads {_FORMAT}; train again"
                )
            config = TrainConfig.model_validate_json((path / "config.json").read_text())
            metrics_path = path / "metrics.json"
            metrics = (
                TrainMetrics.model_validate_json(metrics_path.read_text()) if metrics_path.exists() else None
            )
            state = torch.load(path / "model.pt", weights_only=True)
            id_map = IdMap.load(path / "id_map.json")
            scaler = FeatureScaler.load(path / "scaler.json")
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise ModelError(f"could not load a model from {path}: {e}") from e
        graph = HeteroData()
        for t, n in state["num_nodes"].items():
            graph[t].num_nodes = n
            if t in state["x"]:
                graph[t].x = state["x"][t]
        for et, edge_index in state["edge_index"]:
            graph[tuple(et)].edge_index = edge_index
        scalars = {k: float(v) for k, v in meta["scalars"].items()}
        net = build_net(graph, config, scalars["mf_mu"])
        net.load_state_dict(state["net"])
        arrays = {k: v.numpy() for k, v in state["arrays"].items()}
        return cls(
            config, id_map, scaler, graph, net, arrays, scalars, BlendWeights(**meta["blend"]), metrics
        )


def build_net(graph: HeteroData, config: TrainConfig, mu: float) -> RatingNet:
    """A :class:`RatingNet` for ``graph`` with its lazy layers initialised by one dry forward pass."""
    x = {t: graph[t].x for t in graph.node_types if "x" in graph[t]}
    net = RatingNet(
        graph.metadata(),
        {t: int(graph[t].num_nodes) for t in graph.node_types},
        {t: int(v.shape[1]) for t, v in x.items()},
        hidden=config.hidden,
        layers=config.layers,
        dropout=config.dropout,
        mu=mu,
    )
    with torch.no_grad():
        net.encode(x, {t: torch.arange(graph[t].num_nodes) for t in graph.node_types}, graph.edge_index_dict)
    return net


def _rated_rows(removal: EdgeRows | None) -> tuple[np.ndarray, np.ndarray]:
    """The removal's training ratings ``(user rows, item rows)``; empty when it removes none."""
    users, items = (removal or {}).get(RATED_EDGE, ([], []))
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)


@contextmanager
def _threads_for(multiply_adds: int) -> Iterator[None]:
    """Intra-op threads for ranking: one for a few milliseconds of work, else all cores but one.

    A parallel operation waits for its slowest thread, and a thread descheduled for the Neo4j server (or
    anything else) stalls it: on 2 cores, two threads gave a 2,753-item ranking three times the p99 of one,
    and a 100,000-item ranking a p99 of 37-48 ms (outliers to 96 ms) against 27-31 ms with one.
    """
    # the thread count is the process's: one ranking at a time sets and restores it
    with _RANKING:
        before = torch.get_num_threads()
        small = multiply_adds < 1 << 26
        torch.set_num_threads(1 if small else max(1, min(before, (os.cpu_count() or 1) - 1)))
        try:
            yield
        finally:
            torch.set_num_threads(before)


_RANKING = threading.Lock()
