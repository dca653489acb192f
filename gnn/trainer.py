"""Training: split, features, the three parts, cold-start filling, the blend, the metrics.

:meth:`Trainer.fit` runs these as named steps, each timed and reported to ``progress`` under its stage
(``features``, ``bias``, ``mf``, ``gnn``, ``blend``).

Example:
    >>> from gnn import Trainer, TrainConfig
    >>> result = Trainer(TrainConfig(seed=0)).fit(export)  # doctest: +SKIP
    >>> result.metrics.test["blend"].rmse  # doctest: +SKIP
    0.93
    >>> result.model.save("models/amazon")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from core.errors import ModelError
from core.kinds import NETWORK_SOURCES
from core.progress import Progress
from gnn.baselines import BiasBaseline, BiasedMF
from gnn.coldstart import fill_cold_items, item_neighbourhoods
from gnn.config import TrainConfig
from gnn.device import resolve_device
from gnn.distributed import world
from gnn.features import FeatureScaler, build_node_features
from gnn.graph import message_graph, to_hetero_data
from gnn.idmap import IdMap
from gnn.metrics import scores
from gnn.model import RatingNet
from gnn.network_training import Rows, fit_network
from gnn.params import BiasParams, Coverage, MFParams, RatingRange, TrainingRatings
from gnn.rating_model import RatingModel
from gnn.records import PARTS, BlendWeights, TrainMetrics
from gnn.split import RatingSplit, split_ratings
from gnn.text import item_text_embeddings, item_texts
from kg.export import GraphExport

__all__ = ["TrainResult", "Trainer"]


@dataclass
class TrainResult:
    """The trained model, what it scored, and the split it was trained and measured on."""

    model: RatingModel
    metrics: TrainMetrics
    split: RatingSplit


@dataclass(frozen=True)
class _Data:
    """What every step trains on: the split as rows, the message graph with its features, the id map."""

    split: RatingSplit
    ids: IdMap
    graph: HeteroData
    scaler: FeatureScaler
    train: Rows
    val: Rows
    test: Rows


@dataclass(frozen=True)
class _Network:
    """The trained GNN part, how many epochs it ran, and whether in mini-batches."""

    net: RatingNet
    epochs: int
    minibatch: bool


class Trainer:
    """Trains a :class:`RatingModel` on a graph export.

    Example:
        >>> trainer = Trainer(TrainConfig(split="temporal", seed=1))
        >>> result = trainer.fit(export, progress=lambda stage, i, n: None)  # doctest: +SKIP
    """

    def __init__(self, config: TrainConfig | None = None) -> None:
        self.config = config or TrainConfig()

    def fit(
        self, export: GraphExport, split: RatingSplit | None = None, *, progress: Progress | None = None
    ) -> TrainResult:
        """Train all parts and the blend; ``split`` defaults to ``split_ratings`` with the config's settings.

        A given ``split`` must be over ``export.edges["RATED"]`` (its training pairs must be in the graph).
        Seeded from ``config.seed`` without touching the caller's global torch RNG state. A device that is
        not here (``cuda`` without a GPU) is a ConfigError before any work.
        """
        resolve_device(self.config.device)
        with torch.random.fork_rng():
            torch.manual_seed(self.config.seed)
            return self._fit(export, split, progress or _silent)

    def _fit(self, export: GraphExport, split: RatingSplit | None, progress: Progress) -> TrainResult:
        # the order matters: the network's initialisation and dropout draw from the seeded global RNG
        seconds: dict[str, float] = {}
        progress("features", 0, 1)  # features can take a while (text embeddings): say they have started
        with _stage("features", seconds, progress):
            data = self._prepare(export, split)
        with _stage("bias", seconds, progress):
            bias = self._fit_bias(data)
        with _stage("mf", seconds):
            mf = self._fit_mf(data, progress)
        with _stage("gnn", seconds):
            network = self._fit_network(data, progress)
        with _stage("blend", seconds, progress):
            model = self._assemble(data, bias, mf, network.net)
            model.blend = self._fit_blend(model, data.val)
        metrics = self._measure(model, data, mf, network, seconds)
        model.metrics = metrics
        return TrainResult(model=model, metrics=metrics, split=data.split)

    def _prepare(self, export: GraphExport, split: RatingSplit | None) -> _Data:
        """The split as rows of the id map, and the message graph with every node type's features."""
        cfg = self.config
        full, ids = to_hetero_data(export)
        if split is None:
            split = split_ratings(export.edges["RATED"], cfg.split, cfg.seed, cfg.fractions)
        train, val, test = (_rows(ids, frame) for frame in (split.train, split.val, split.test))
        if len(train[0]) == 0 or (train[0] < 0).any() or (train[1] < 0).any():
            raise ModelError(
                "the split's training ratings must be non-empty and name users and items of the graph"
            )
        tu, ti, tr = train
        train_ts = split.train["ts"].fillna(0).to_numpy(np.int64)
        graph = message_graph(full, tu, ti)
        features, scaler = build_node_features(full, tu, ti, tr, train_ts, shrinkage=cfg.shrinkage)
        text = self._text(export, ids) if cfg.text else None
        if text is not None:
            features["item"] = torch.cat([features["item"], torch.from_numpy(text)], dim=1)
        for node_type, x in features.items():
            if node_type in graph.node_types:
                graph[node_type].x = x
        return _Data(split, ids, graph, scaler, train, val, test)

    def _fit_bias(self, data: _Data) -> BiasBaseline:
        cfg, (tu, ti, tr) = self.config, data.train
        baseline = BiasBaseline(cfg.bias_reg_user, cfg.bias_reg_item, cfg.bias_epochs)
        return baseline.fit_rows(tu, ti, tr, data.ids.num_nodes("user"), data.ids.num_nodes("item"))

    def _fit_mf(self, data: _Data, progress: Progress) -> BiasedMF:
        cfg, (tu, ti, tr), val = self.config, data.train, data.val
        mf = BiasedMF(
            factors=cfg.mf_factors,
            lr=cfg.mf_lr,
            reg=cfg.mf_reg,
            epochs=cfg.mf_epochs,
            patience=cfg.mf_patience,
            seed=cfg.seed,
        )
        nu, ni = data.ids.num_nodes("user"), data.ids.num_nodes("item")
        return mf.fit_rows(tu, ti, tr, nu, ni, val=val if len(val[0]) else None, progress=progress)

    def _fit_network(self, data: _Data, progress: Progress) -> _Network:
        cfg = self.config
        net = RatingNet.for_graph(data.graph, cfg, float(data.train[2].mean()))
        # several processes train data-parallel, which is over mini-batches
        minibatch = len(data.train[2]) >= cfg.minibatch_threshold or world().size > 1
        epochs = fit_network(
            net, data.graph, data.train, data.val, cfg, minibatch=minibatch, progress=progress
        )
        return _Network(net, epochs, minibatch)

    def _assemble(self, data: _Data, bias: BiasBaseline, mf: BiasedMF, net: RatingNet) -> RatingModel:
        """The model from its parts, cold items given their neighbours' parameters in every part; the
        blend is a placeholder until :meth:`_fit_blend`."""
        tu, ti, tr = data.train
        warm_user = np.bincount(tu, minlength=data.ids.num_nodes("user")) > 0
        warm_item = np.bincount(ti, minlength=data.ids.num_nodes("item")) > 0
        mf_p, mf_bu = mf.params.user_factors.numpy().copy(), mf.params.user_bias.numpy().copy()
        mf_p[~warm_user], mf_bu[~warm_user] = 0.0, 0.0  # never trained: random init, not knowledge
        filled, (bias_item, mf_bi, mf_q, emb_item, gnn_bi) = fill_cold_items(
            item_neighbourhoods(data.graph),
            warm_item,
            [bias.item_bias, mf.params.item_bias.numpy(), mf.params.item_factors.numpy(), *net.item_tables()],
        )
        net.set_item_tables(emb_item, gnn_bi)
        return RatingModel(
            config=self.config,
            id_map=data.ids,
            scaler=data.scaler,
            graph=data.graph,
            net=net,
            bias=BiasParams(bias.mu, bias.user_bias, bias_item),
            mf=MFParams(mf.mu, mf_bu, mf_bi, mf_p, mf_q),
            coverage=Coverage(warm_user, warm_item, filled),
            training=TrainingRatings(tu, ti, tr),
            rating_range=RatingRange(float(tr.min()), float(tr.max())),
            blend=BlendWeights(intercept=0.0, bias=0.0, mf=0.0, gnn=1.0),
        )

    def _fit_blend(self, model: RatingModel, val: Rows) -> BlendWeights:
        """Ridge least squares of the rating on ``[1, bias, mf, gnn]`` over validation pairs the blend serves."""
        users, items, truth = val
        parts = model.predict_rows(users, items)
        scored = parts["source"].isin(NETWORK_SOURCES).to_numpy()
        if scored.sum() < 10:
            # too little validation data to learn from: an even average of the parts
            return BlendWeights(intercept=0.0, bias=1 / 3, mf=1 / 3, gnn=1 / 3)
        x = np.column_stack([np.ones(scored.sum())] + [parts[p].to_numpy()[scored] for p in PARTS])
        y = truth[scored].astype(np.float64)
        penalty = self.config.blend_ridge * np.diag([0.0, 1.0, 1.0, 1.0])  # the intercept is not shrunk
        w = np.linalg.solve(x.T @ x + penalty, x.T @ y)
        return BlendWeights(intercept=float(w[0]), bias=float(w[1]), mf=float(w[2]), gnn=float(w[3]))

    def _measure(
        self, model: RatingModel, data: _Data, mf: BiasedMF, network: _Network, seconds: dict[str, float]
    ) -> TrainMetrics:
        """Every part's scores on validation and test ratings, against the global mean."""
        mu = float(data.train[2].mean())
        report = {}
        for name, (u, i, r) in (("val", data.val), ("test", data.test)):
            parts = model.predict_rows(u, i)
            report[name] = {"global_mean": scores(np.full(len(r), mu), r)}
            report[name].update({p: scores(parts[p].to_numpy(), r) for p in (*PARTS, "blend")})
        tr, val, test = data.train[2], data.val[2], data.test[2]
        return TrainMetrics(
            val=report["val"],
            test=report["test"],
            blend=model.blend,
            epochs={"mf": mf.epochs_run, "gnn": network.epochs},
            seconds=seconds,
            cold_start_test=model.cold_start_rows(data.test[0], data.test[1]),
            minibatch=network.minibatch,
            ratings={"train": len(tr), "val": len(val), "test": len(test)},
        )

    def _text(self, export: GraphExport, ids: IdMap) -> np.ndarray | None:
        items = export.nodes.get("Item")
        if items is None or items.empty or not {"title", "description"} & set(items.columns):
            return None
        rows = ids.rows("item", items["key"].tolist())
        titles = [None] * ids.num_nodes("item")
        descriptions = [None] * ids.num_nodes("item")
        for col, target in (("title", titles), ("description", descriptions)):
            if col in items:
                for row, value in zip(rows, items[col].tolist(), strict=True):
                    target[row] = value
        return item_text_embeddings(item_texts(titles, descriptions), cache_dir=self.config.text_cache_dir)


@contextmanager
def _stage(name: str, seconds: dict[str, float], progress: Progress | None = None) -> Iterator[None]:
    """Time one step into ``seconds[name]``; with ``progress``, report it done as one unit of work (a step
    that reports its own epochs passes none)."""
    started = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - started
    if progress is not None:
        progress(name, 1, 1)


def _silent(stage: str, done: int, total: int) -> None:
    return None


def _rows(ids: IdMap, frame: pd.DataFrame) -> Rows:
    """User rows, item rows (``-1`` where unknown) and ratings of a ratings frame."""
    return (
        ids.rows("user", frame["user"].tolist()),
        ids.rows("item", frame["item"].tolist()),
        frame["rating"].to_numpy(np.float32),
    )
