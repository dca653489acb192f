"""The trained, blended rating model: predict on dataset keys, rank items, export embeddings, checkpoint.

``rating = w0 + w_bias * bias(u, i) + w_mf * mf(u, i) + w_gnn * gnn(u, i)``, clipped to the training rating
range, with the weights learned on validation ratings. A pair whose user has no training ratings (or is
unknown) falls back to ``mu + b_i``; an item unknown or without training ratings and without graph
neighbours, to ``mu + b_u``; both, to ``mu`` (:mod:`gnn.routing` decides). An item without training ratings
that has graph neighbours is scored by the full model with parameters borrowed from those neighbours (see
:mod:`gnn.coldstart`). The maths of each part is in :mod:`gnn.scoring`, the file format in
:mod:`gnn.checkpoint`.

Example:
    >>> model = RatingModel.load("models/amazon")  # doctest: +SKIP
    >>> model.predict(pd.DataFrame({"user": ["42"], "item": ["17"]}))  # doctest: +SKIP
    array([4.31])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from core.schema import EdgeType
from gnn.baselines import require_pairs
from gnn.checkpoint import Checkpoint
from gnn.config import TrainConfig
from gnn.features import FeatureScaler
from gnn.foldin import RatingFoldIn, rated_rows
from gnn.graph import EdgeRows
from gnn.idmap import IdMap
from gnn.model import RatingNet
from gnn.params import BiasParams, Coverage, MFParams, RatingRange, TrainingRatings
from gnn.records import BlendWeights, ColdStartCounts, TrainMetrics
from gnn.routing import PairRoutes, fallback_rating, route_items, route_pairs, route_users
from gnn.scoring import NetworkScorer, blend_parts, mf_grid, mf_pairs
from gnn.threads import ranking_threads

__all__ = ["RatingModel"]


@dataclass
class RatingModel:
    """A trained model. Build it with :class:`gnn.Trainer`, or :meth:`load` a saved one.

    Attributes:
        config: the training configuration.
        id_map: dataset keys to tensor rows, per node type.
        scaler: the feature scaler fitted on training ratings.
        graph: the message-passing graph (training ratings and every other edge; node features ``x``).
        net: the GNN part.
        bias: the bias baseline part.
        mf: the MF part.
        coverage: which users and items had training ratings, and which cold items borrowed parameters.
        training: the training ratings (the bias and MF counterfactuals refit on them).
        rating_range: the training ratings' range, which every prediction is clipped to.
        blend: the blend weights.
        metrics: the training run's metrics, when known.
    """

    config: TrainConfig
    id_map: IdMap
    scaler: FeatureScaler
    graph: HeteroData
    net: RatingNet
    bias: BiasParams
    mf: MFParams
    coverage: Coverage
    training: TrainingRatings
    rating_range: RatingRange
    blend: BlendWeights
    metrics: TrainMetrics | None = None

    # ---------------------------------------------------------------- prediction

    def predict(self, pairs: pd.DataFrame, *, drop_edges: EdgeRows | None = None) -> np.ndarray:
        """Predicted rating ``[len(pairs)]`` for a frame of ``user``, ``item`` keys.

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
        """Per pair: each part's prediction, the blend, and ``source`` (a :class:`core.kinds.PredictionSource`
        value: model, neighbours, bias or global)."""
        users, items = self._pair_rows(pairs)
        routes = route_pairs(self.coverage, users, items)
        parts = self._parts(routes, self._network.encode(drop_edges))
        removed = rated_rows(drop_edges)
        if len(removed[0]):
            clip = self.rating_range.clip
            for n in np.flatnonzero(routes.network):
                bias, mf = self._fold_in.parts(int(users[n]), int(items[n]), [removed])
                bias, mf = clip(bias), clip(mf)
                gnn = parts["gnn"].to_numpy()[n : n + 1]
                parts.loc[n, ["bias", "mf", "blend"]] = bias[0], mf[0], self._blend(bias, mf, gnn)[0]
        return parts

    def predict_rows(self, users: np.ndarray, items: np.ndarray) -> pd.DataFrame:
        """:meth:`predict_parts` of pairs given as id-map rows ``[B]`` (``-1`` for unknown keys)."""
        return self._parts(route_pairs(self.coverage, users, items), self._network.encode())

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
        routes = route_pairs(self.coverage, users, items)
        if not routes.network[0] or not removals:
            # a fallback is served from trained biases alone, and is not refitted (see ``predict``)
            served = self._parts(routes, self._network.encode())["blend"].iloc[0]
            return np.full(len(removals), float(served))
        u, i = int(users[0]), int(items[0])
        gnn = self._network.pair_without(u, i, removals)
        bias, mf = self._fold_in.parts(u, i, [rated_rows(r) for r in removals])
        return self._blend(self.rating_range.clip(bias), self.rating_range.clip(mf), gnn)

    def cold_start(self, pairs: pd.DataFrame) -> ColdStartCounts:
        """How many of ``pairs`` are cold and how each was served."""
        return self.cold_start_rows(*self._pair_rows(pairs))

    def cold_start_rows(self, users: np.ndarray, items: np.ndarray) -> ColdStartCounts:
        """:meth:`cold_start` of pairs given as id-map rows ``[B]`` (``-1`` for unknown keys)."""
        return route_pairs(self.coverage, users, items).counts()

    def score_items(self, users: Sequence[object], items: Sequence[object] | None = None) -> np.ndarray:
        """Blended scores ``[len(users), n_items]`` of every item (or of ``items``) for each user.

        Columns follow ``id_map.keys("item")`` (or ``items``); each score equals :meth:`predict` of that
        pair. The encoder output and the per-item decoder terms are computed once and cached, so ranking
        all items for a user costs one ``[n_items, hidden] x [hidden, hidden]`` product.

        Example:
            >>> scores = model.score_items(["u1"])  # doctest: +SKIP
            >>> top = np.argsort(-scores[0])[:10]  # doctest: +SKIP
        """
        user = route_users(self.coverage, self.id_map.rows("user", users))
        n_items = self.id_map.num_nodes("item")
        item = route_items(
            self.coverage, np.arange(n_items) if items is None else self.id_map.rows("item", items)
        )
        user_bias, item_bias = user.bias(self.bias), item.bias(self.bias)
        if not user.known.any():  # newcomers only (an explanation's list): the fallback, without the decoder
            return fallback_rating(self.bias, self.rating_range, user_bias[:, None], item_bias[None, :])
        q, mf_bi = torch.from_numpy(self.mf.item_factors), self.mf.item_bias
        # all items need no gather: a cold item's column becomes the fallback below
        gather = None if items is None else item.rows
        if gather is not None:
            q, mf_bi = q[gather], mf_bi[gather]
        terms = self._network.item_terms(gather)
        out = np.empty((len(user.rows), len(item.rows)))
        # a block of users costs [block, n_items, hidden] floats in the decoder
        chunk = max(1, 262_144 // max(len(item.rows), 1))
        with ranking_threads(len(user.rows) * len(item.rows) * self.config.hidden**2):
            for start in range(0, len(user.rows), chunk):
                rows = slice(start, start + chunk)
                u = user.rows[rows]
                fallback = fallback_rating(
                    self.bias, self.rating_range, user_bias[rows, None], item_bias[None, :]
                )
                mf = mf_grid(self.mf, u, q, mf_bi, self.rating_range)
                scored = self._blend(fallback, mf, self._network.grid(u, terms))
                out[rows] = np.where(user.known[rows, None] & item.known[None, :], scored, fallback)
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
        return self._fold_in.rated_items(row) if row >= 0 else np.empty(0, dtype=np.int64)

    def embeddings(self, node_type: str = "item") -> np.ndarray:
        """Final encoder embeddings ``[N, hidden]`` of a node type, rows in ``id_map.keys(node_type)`` order.

        Example:
            >>> vectors = model.embeddings("item")  # doctest: +SKIP
            >>> dict(zip(model.id_map.keys("item"), vectors))  # doctest: +SKIP
        """
        return self._network.embeddings(node_type)

    # ---------------------------------------------------------------- checkpoints

    def save(self, directory: str | Path) -> Path:
        """Write the checkpoint to ``directory`` atomically (see :meth:`gnn.checkpoint.Checkpoint.save`)."""
        # a checkpoint holds exactly the model's fields, under the same names
        return Checkpoint(**{f.name: getattr(self, f.name) for f in fields(Checkpoint)}).save(directory)

    @classmethod
    def load(cls, directory: str | Path) -> RatingModel:
        """Load a checkpoint written by :meth:`save`; predictions are identical to the saved model's.

        Example:
            >>> model = RatingModel.load("models/amazon")  # doctest: +SKIP
        """
        checkpoint = Checkpoint.load(directory)
        return cls(**{f.name: getattr(checkpoint, f.name) for f in fields(Checkpoint)})

    # ---------------------------------------------------------------- internals

    @cached_property
    def _network(self) -> NetworkScorer:
        return NetworkScorer(self.net, self.graph, self.rating_range)

    @cached_property
    def _fold_in(self) -> RatingFoldIn:
        c = self.config
        return RatingFoldIn(
            self.training,
            self.bias,
            self.mf,
            reg_user=c.bias_reg_user,
            reg_item=c.bias_reg_item,
            mf_reg=c.mf_reg,
        )

    def _pair_rows(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        require_pairs(pairs)
        users, items = pairs["user"].tolist(), pairs["item"].tolist()
        return self.id_map.rows("user", users), self.id_map.rows("item", items)

    def _parts(self, routes: PairRoutes, z: dict[str, Tensor]) -> pd.DataFrame:
        """Every part, the blend and the source of routed pairs; a fallback pair gets it in every column."""
        fallback = routes.fallback(self.bias, self.rating_range)
        bias, mf, gnn, scored = fallback.copy(), fallback.copy(), fallback.copy(), fallback.copy()
        full = routes.network
        if full.any():
            users, items = routes.user.rows[full], routes.item.rows[full]
            mf[full] = mf_pairs(self.mf, users, items, self.rating_range)
            gnn[full] = self._network.pairs(users, items, z)
            scored[full] = self._blend(bias[full], mf[full], gnn[full])
        return pd.DataFrame({"bias": bias, "mf": mf, "gnn": gnn, "blend": scored, "source": routes.sources()})

    def _blend(self, bias: np.ndarray | float, mf: np.ndarray | float, gnn: np.ndarray) -> np.ndarray:
        return blend_parts(self.blend, self.rating_range, bias, mf, gnn)
