"""Training: split, features, the three parts, cold-start filling, the blend, the metrics.

Example:
    >>> from gnn import Trainer, TrainConfig
    >>> result = Trainer(TrainConfig(seed=0)).fit(export)  # doctest: +SKIP
    >>> result.metrics.test["blend"].rmse  # doctest: +SKIP
    0.93
    >>> result.model.save("models/amazon")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from core.errors import ModelError
from gnn.baselines import BiasBaseline, BiasedMF
from gnn.coldstart import fill_cold_items, item_neighbourhoods
from gnn.config import TrainConfig
from gnn.features import build_node_features
from gnn.graph import RATED_EDGE, message_graph, to_hetero_data
from gnn.idmap import IdMap
from gnn.metrics import rmse, scores
from gnn.model import RatingNet
from gnn.rating_model import BlendWeights, RatingModel, TrainMetrics, build_net
from gnn.sampler import link_loader
from gnn.split import RatingSplit, split_ratings
from gnn.text import item_text_embeddings, item_texts
from kg.export import GraphExport

__all__ = ["ProgressFn", "TrainResult", "Trainer"]

ProgressFn = Callable[[str, int, int], None]
"""``progress(stage, step, total)``: stage is ``features``, ``bias``, ``mf``, ``gnn`` or ``blend``."""

_REV_RATED = (RATED_EDGE[2], f"rev_{RATED_EDGE[1]}", RATED_EDGE[0])

Rows = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class TrainResult:
    """The trained model, what it scored, and the split it was trained and measured on."""

    model: RatingModel
    metrics: TrainMetrics
    split: RatingSplit


class Trainer:
    """Trains a :class:`RatingModel` on a graph export.

    Example:
        >>> trainer = Trainer(TrainConfig(split="temporal", seed=1))
        >>> result = trainer.fit(export, progress=lambda stage, i, n: None)  # doctest: +SKIP
    """

    def __init__(self, config: TrainConfig | None = None) -> None:
        self.config = config or TrainConfig()

    def fit(
        self, export: GraphExport, split: RatingSplit | None = None, *, progress: ProgressFn | None = None
    ) -> TrainResult:
        """Train all parts and the blend; ``split`` defaults to ``split_ratings`` with the config's settings.

        A given ``split`` must be over ``export.edges["RATED"]`` (its training pairs must be in the graph).
        Seeded from ``config.seed`` without touching the caller's global torch RNG state.
        """
        with torch.random.fork_rng():
            torch.manual_seed(self.config.seed)
            return self._fit(export, split, progress or _silent)

    def _fit(self, export: GraphExport, split: RatingSplit | None, progress: ProgressFn) -> TrainResult:
        cfg = self.config
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        progress("features", 0, 1)
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
        nu, ni = ids.num_nodes("user"), ids.num_nodes("item")
        seconds["features"] = time.perf_counter() - t0
        progress("features", 1, 1)

        t0 = time.perf_counter()
        bias = BiasBaseline(cfg.bias_reg_user, cfg.bias_reg_item, cfg.bias_epochs).fit_rows(
            tu, ti, tr, nu, ni
        )
        seconds["bias"] = time.perf_counter() - t0
        progress("bias", 1, 1)

        t0 = time.perf_counter()
        mf = BiasedMF(
            factors=cfg.mf_factors,
            lr=cfg.mf_lr,
            reg=cfg.mf_reg,
            epochs=cfg.mf_epochs,
            patience=cfg.mf_patience,
            seed=cfg.seed,
        )
        mf.fit_rows(
            tu, ti, tr, nu, ni, val=val if len(val[0]) else None, progress=lambda i, n: progress("mf", i, n)
        )
        seconds["mf"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        mu = float(tr.mean())
        net = build_net(graph, cfg, mu)
        minibatch = len(tr) >= cfg.minibatch_threshold
        gnn_epochs = _train_gnn(net, graph, train, val, cfg, minibatch, progress)
        seconds["gnn"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        warm_user = np.bincount(tu, minlength=nu) > 0
        warm_item = np.bincount(ti, minlength=ni) > 0
        mf_p, mf_bu = mf.params["p"].numpy().copy(), mf.params["bu"].numpy().copy()
        mf_p[~warm_user], mf_bu[~warm_user] = 0.0, 0.0  # never trained: random init, not knowledge
        item_emb = net.emb["item"]
        assert isinstance(item_emb, torch.nn.Embedding)
        with torch.no_grad():
            filled, (bias_item, mf_bi, mf_q, emb_item, gnn_bi) = fill_cold_items(
                item_neighbourhoods(graph),
                warm_item,
                [
                    bias.item_bias,
                    mf.params["bi"].numpy(),
                    mf.params["q"].numpy(),
                    item_emb.weight.detach().numpy(),
                    net.item_bias.weight.detach().numpy(),
                ],
            )
            item_emb.weight.copy_(torch.from_numpy(emb_item))
            net.item_bias.weight.copy_(torch.from_numpy(gnn_bi))
        model = RatingModel(
            config=cfg,
            id_map=ids,
            scaler=scaler,
            graph=graph,
            net=net,
            arrays={
                "bias_user": bias.user_bias,
                "bias_item": bias_item,
                "mf_bu": mf_bu,
                "mf_bi": mf_bi,
                "mf_p": mf_p,
                "mf_q": mf_q,
                "warm_user": warm_user,
                "warm_item": warm_item,
                "filled_item": filled,
                # the bias and MF parts' counterfactuals refit on these (gnn.foldin)
                "train_user": tu,
                "train_item": ti,
                "train_rating": tr,
            },
            scalars={
                "mu": bias.mu,
                "mf_mu": mf.mu,
                "min_rating": float(tr.min()),
                "max_rating": float(tr.max()),
            },
            blend=BlendWeights(intercept=0.0, bias=0.0, mf=0.0, gnn=1.0),
        )
        val_parts = model._predict_rows(val[0], val[1], model._encode(None))
        model.blend = _fit_blend(val_parts, val[2], cfg.blend_ridge)
        seconds["blend"] = time.perf_counter() - t0
        progress("blend", 1, 1)

        report = {}
        for name, (u, i, r) in (("val", val), ("test", test)):
            parts = model._predict_rows(u, i, model._encode(None))
            report[name] = {"global_mean": scores(np.full(len(r), mu), r)}
            report[name].update({p: scores(parts[p].to_numpy(), r) for p in ("bias", "mf", "gnn", "blend")})
        metrics = TrainMetrics(
            val=report["val"],
            test=report["test"],
            blend=model.blend,
            epochs={"mf": mf.epochs_run, "gnn": gnn_epochs},
            seconds=seconds,
            cold_start_test=model._cold_counts(test[0], test[1]),
            minibatch=minibatch,
            ratings={"train": len(tr), "val": len(val[2]), "test": len(test[2])},
        )
        model.metrics = metrics
        return TrainResult(model=model, metrics=metrics, split=split)

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


def _silent(stage: str, step: int, total: int) -> None:
    return None


def _rows(ids: IdMap, frame: pd.DataFrame) -> Rows:
    """User rows, item rows (``-1`` where unknown) and ratings of a ratings frame."""
    return (
        ids.rows("user", frame["source"].tolist()),
        ids.rows("item", frame["target"].tolist()),
        frame["rating"].to_numpy(np.float32),
    )


def _fit_blend(parts: pd.DataFrame, truth: np.ndarray, ridge: float) -> BlendWeights:
    """Ridge least squares of the rating on ``[1, bias, mf, gnn]`` over validation pairs the model scored."""
    scored = parts["source"].isin(["model", "neighbours"]).to_numpy()
    if scored.sum() < 10:
        # too little validation data to learn from: an even average of the parts
        return BlendWeights(intercept=0.0, bias=1 / 3, mf=1 / 3, gnn=1 / 3)
    x = np.column_stack(
        [np.ones(scored.sum())] + [parts[p].to_numpy()[scored] for p in ("bias", "mf", "gnn")]
    )
    y = truth[scored].astype(np.float64)
    penalty = ridge * np.diag([0.0, 1.0, 1.0, 1.0])  # the intercept is not shrunk
    w = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    return BlendWeights(intercept=float(w[0]), bias=float(w[1]), mf=float(w[2]), gnn=float(w[3]))


def _train_gnn(
    net: RatingNet,
    graph: HeteroData,
    train: Rows,
    val: Rows,
    cfg: TrainConfig,
    minibatch: bool,
    progress: ProgressFn,
) -> int:
    """Adam with early stopping on validation RMSE (warm pairs); restores the best state; returns epochs."""
    no_decay = {"user_bias.weight", "item_bias.weight"}
    opt = torch.optim.AdamW(
        [
            {
                "params": [p for n, p in net.named_parameters() if n not in no_decay],
                "weight_decay": cfg.weight_decay,
            },
            {"params": [net.user_bias.weight, net.item_bias.weight], "weight_decay": 0.0},
        ],
        lr=cfg.lr,
    )
    tu, ti, tr = (torch.from_numpy(a.astype(np.int64 if k < 2 else np.float32)) for k, a in enumerate(train))
    warm_user = torch.bincount(tu, minlength=int(graph["user"].num_nodes)) > 0
    warm_item = torch.bincount(ti, minlength=int(graph["item"].num_nodes)) > 0
    vu, vi = torch.from_numpy(val[0]), torch.from_numpy(val[1])
    keep = (vu >= 0) & (vi >= 0)
    keep[keep.clone()] = warm_user[vu[keep]] & warm_item[vi[keep]]
    vu, vi, vr = vu[keep], vi[keep], val[2][keep.numpy()]
    x = {t: graph[t].x for t in graph.node_types if "x" in graph[t]}
    n_id = {t: torch.arange(graph[t].num_nodes) for t in graph.node_types}
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_state, bad, epochs = float("inf"), copy.deepcopy(net.state_dict()), 0, 0
    for epoch in range(cfg.max_epochs):
        net.train()
        if cfg.supervision_ratio < 1.0:
            target = torch.rand(len(tr), generator=gen) < cfg.supervision_ratio
        else:
            target = torch.ones(len(tr), dtype=torch.bool)
        message = ~target if cfg.supervision_ratio < 1.0 else target
        edges = _with_rated(graph.edge_index_dict, tu[message], ti[message])
        if minibatch:
            _minibatch_epoch(net, opt, graph, edges, tu[target], ti[target], tr[target], x, cfg, epoch)
        else:
            opt.zero_grad()
            z = net.encode(x, n_id, edges)
            u, i = tu[target], ti[target]
            loss = _loss(net, net.decode(z["user"], z["item"], u, i, u, i), tr[target], u, i, cfg.bias_reg)
            loss.backward()
            opt.step()
        epochs = epoch + 1
        progress("gnn", epochs, cfg.max_epochs)
        if len(vr) == 0 or (epochs % cfg.eval_every and epochs < cfg.max_epochs):
            continue
        net.eval()
        with torch.no_grad():
            z = net.encode(x, n_id, graph.edge_index_dict)
            pred = net.decode(z["user"], z["item"], vu, vi, vu, vi).clamp(float(tr.min()), float(tr.max()))
        score = rmse(pred.numpy(), vr)
        if not np.isfinite(score):
            raise ModelError(f"GNN training diverged at epoch {epochs} (validation RMSE {score})")
        if score < best - 1e-5:
            best, bad, best_state = score, 0, copy.deepcopy(net.state_dict())
        else:
            bad += cfg.eval_every
            if bad >= cfg.patience:
                break
    if len(vr):
        net.load_state_dict(best_state)
    net.eval()
    return epochs


def _loss(net: RatingNet, pred: Tensor, truth: Tensor, u: Tensor, i: Tensor, bias_reg: float) -> Tensor:
    reg = (net.user_bias(u) ** 2 + net.item_bias(i) ** 2).mean()
    return ((pred - truth) ** 2).mean() + bias_reg * reg


def _with_rated(
    edge_index_dict: dict[tuple[str, str, str], Tensor], users: Tensor, items: Tensor
) -> dict[tuple[str, str, str], Tensor]:
    """The message edges of one epoch: the given ratings (both directions) and every other edge type."""
    out = dict(edge_index_dict)
    forward = torch.stack([users, items])
    out[RATED_EDGE] = forward
    out[_REV_RATED] = forward.flip(0)
    return out


def _minibatch_epoch(
    net: RatingNet,
    opt: torch.optim.Optimizer,
    graph: HeteroData,
    edges: dict[tuple[str, str, str], Tensor],
    tu: Tensor,
    ti: Tensor,
    tr: Tensor,
    x: dict[str, Tensor],
    cfg: TrainConfig,
    epoch: int,
) -> None:
    """One pass over this epoch's target ratings in neighbour-sampled mini-batches."""
    epoch_graph = graph.clone()
    for edge_type, edge_index in edges.items():
        epoch_graph[edge_type].edge_index = edge_index
    loader = link_loader(
        epoch_graph,
        RATED_EDGE,
        torch.stack([tu, ti]),
        tr,
        num_neighbors=list(cfg.num_neighbors),
        batch_size=cfg.batch_size,
        seed=cfg.seed * 100_003 + epoch,
    )
    for batch in loader:
        opt.zero_grad()
        n_id = {t: batch[t].n_id for t in batch.node_types}
        z = net.encode({t: batch[t].x for t in x if t in batch.node_types}, n_id, batch.edge_index_dict)
        store = batch[RATED_EDGE]
        lu, li = store.edge_label_index
        gu, gi = n_id["user"][lu], n_id["item"][li]
        loss = _loss(
            net, net.decode(z["user"], z["item"], lu, li, gu, gi), store.edge_label, gu, gi, cfg.bias_reg
        )
        loss.backward()
        opt.step()
