"""Training of the GNN part: AdamW on squared error, full-batch or neighbour-sampled mini-batches, early
stopping on the validation RMSE of warm pairs.

Each epoch draws a fresh share of the training ratings as its targets (``supervision_ratio``) and passes
messages over the rest, so the encoder never sees the edge it is asked to score, as at prediction time.

The network and the graph are placed once on ``config.device`` (:func:`gnn.device.resolve_device`); random
draws and neighbour sampling stay on the CPU, so a seed draws the same targets and batches on any device,
and each mini-batch moves to the device as it comes. The trained network is handed back on the CPU.

Launched in several processes (:func:`gnn.distributed.launch`), training runs in mini-batches: each epoch's
targets are drawn alike on every rank, each rank trains on its shard of them in its share of each step's
batch (:meth:`gnn.distributed.World.share`), ``DistributedDataParallel`` averages the gradients, and rank
0's validation RMSE decides when every rank stops.

Example:
    >>> net = RatingNet.for_graph(graph, config, mu=4.1)  # doctest: +SKIP
    >>> epochs = fit_network(net, graph, train, val, config, minibatch=False)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from core.errors import ModelError
from core.progress import Progress
from core.schema import EdgeType, reverse_edge_type
from gnn.config import TrainConfig
from gnn.device import resolve_device
from gnn.distributed import World, parallel, world
from gnn.graph import RATED_EDGE
from gnn.metrics import rmse
from gnn.model import RatingNet, node_inputs
from gnn.sampler import link_loader
from gnn.stopping import EarlyStopping

__all__ = ["Rows", "fit_network"]

Rows = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Ratings as user rows, item rows (``-1`` where unknown) and values, ``[E]`` each."""


@dataclass(frozen=True)
class _Ratings:
    """Ratings as tensors: user rows, item rows ``[E]`` (int64) and values ``[E]`` (float32)."""

    users: Tensor
    items: Tensor
    ratings: Tensor

    def subset(self, mask: Tensor) -> _Ratings:
        return _Ratings(self.users[mask], self.items[mask], self.ratings[mask])

    def to(self, device: torch.device) -> _Ratings:
        return _Ratings(self.users.to(device), self.items.to(device), self.ratings.to(device))


def fit_network(
    net: RatingNet,
    graph: HeteroData,
    train: Rows,
    val: Rows,
    config: TrainConfig,
    *,
    minibatch: bool,
    progress: Progress | None = None,
) -> int:
    """Train ``net`` in place; restore its best validation state; return the epochs run.

    ``progress("gnn", epoch, max_epochs)`` is called after each epoch (in mini-batches, ``max_epochs`` is
    at most ``config.minibatch_max_epochs``). ``net`` trains on
    ``config.device`` and is back on the CPU when this returns.
    """
    device, team = resolve_device(config.device), world()
    if team.size > 1 and not minibatch:
        raise ModelError("data-parallel training runs in mini-batches; full-batch asked of several processes")
    net.to(device)
    step = parallel(_BatchLoss(net, config.bias_reg), device, sampled=True) if minibatch else None
    on_device = graph if device.type == "cpu" else graph.clone().to(device)
    # fused: one kernel over each parameter instead of a dozen whole-tensor operations; in mini-batches the
    # unfused step over the id tables was a sixth of an epoch at 10M interactions (py-spy)
    opt = torch.optim.AdamW(net.parameter_groups(config.weight_decay), lr=config.lr, fused=True)
    ratings = _Ratings(
        *(torch.from_numpy(a.astype(np.int64 if k < 2 else np.float32)) for k, a in enumerate(train))
    )
    val_users, val_items, val_ratings = _warm_validation(graph, ratings, val)
    val_users, val_items = val_users.to(device), val_items.to(device)
    low, high = float(ratings.ratings.min()), float(ratings.ratings.max())
    gen = torch.Generator().manual_seed(config.seed)
    stopping = EarlyStopping[dict[str, Tensor]](config.patience)
    epochs = 0
    max_epochs = min(config.max_epochs, config.minibatch_max_epochs) if minibatch else config.max_epochs
    for epoch in range(max_epochs):
        net.train()
        targets, messages = _supervision(ratings, config.supervision_ratio, gen)
        if step is not None:
            edges = _with_rated(graph.edge_index_dict, messages)
            _minibatch_epoch(step, opt, graph, edges, targets, config, epoch, device, team)
        else:
            edges = _with_rated(on_device.edge_index_dict, messages.to(device))
            _full_batch_step(net, opt, on_device, edges, targets.to(device), config.bias_reg)
        epochs = epoch + 1
        if progress is not None:
            progress("gnn", epochs, max_epochs)
        if len(val_ratings) == 0 or (epochs % config.eval_every and epochs < max_epochs):
            continue
        # every rank holds the same parameters; rank 0 scores them and every rank stops alike
        score = team.from_rank0(
            _validation_rmse(net, on_device, val_users, val_items, val_ratings, low, high)
            if team.rank == 0
            else 0.0
        )
        if not np.isfinite(score):
            raise ModelError(f"GNN training diverged at epoch {epochs} (validation RMSE {score})")
        if stopping.update(score, lambda: copy.deepcopy(net.state_dict()), epochs=config.eval_every):
            break
    if stopping.best_state is not None:
        net.load_state_dict(stopping.best_state)
    net.to("cpu")
    net.eval()
    return epochs


def _warm_validation(graph: HeteroData, train: _Ratings, val: Rows) -> tuple[Tensor, Tensor, np.ndarray]:
    """The validation ratings whose user and item both had training ratings (the pairs the GNN scores)."""
    warm_user = torch.bincount(train.users, minlength=int(graph["user"].num_nodes)) > 0
    warm_item = torch.bincount(train.items, minlength=int(graph["item"].num_nodes)) > 0
    vu, vi = torch.from_numpy(val[0]), torch.from_numpy(val[1])
    keep = (vu >= 0) & (vi >= 0)
    keep[keep.clone()] = warm_user[vu[keep]] & warm_item[vi[keep]]
    return vu[keep], vi[keep], val[2][keep.numpy()]


def _supervision(ratings: _Ratings, ratio: float, gen: torch.Generator) -> tuple[_Ratings, _Ratings]:
    """This epoch's target ratings and the ratings that carry its messages (all of them when ratio is 1)."""
    if ratio >= 1.0:
        return ratings, ratings
    target = torch.rand(len(ratings.ratings), generator=gen) < ratio
    return ratings.subset(target), ratings.subset(~target)


def _with_rated(edge_index_dict: dict[EdgeType, Tensor], messages: _Ratings) -> dict[EdgeType, Tensor]:
    """The message edges of one epoch: the given ratings (both directions) and every other edge type."""
    out = dict(edge_index_dict)
    forward = torch.stack([messages.users, messages.items])
    out[RATED_EDGE] = forward
    out[reverse_edge_type(RATED_EDGE)] = forward.flip(0)
    return out


def _loss(
    net: RatingNet, pred: Tensor, truth: Tensor, users: Tensor, items: Tensor, bias_reg: float
) -> Tensor:
    penalty = net.bias_penalty(users, items)
    return ((pred - truth) ** 2).mean() + bias_reg * penalty


def _full_batch_step(
    net: RatingNet,
    opt: torch.optim.Optimizer,
    graph: HeteroData,
    edges: dict[EdgeType, Tensor],
    targets: _Ratings,
    bias_reg: float,
) -> None:
    """One optimiser step on all of this epoch's targets, messages passed over the whole graph."""
    opt.zero_grad()
    z = net.encode_graph(graph, edges)
    u, i = targets.users, targets.items
    _loss(net, net.decode(z["user"], z["item"], u, i, u, i), targets.ratings, u, i, bias_reg).backward()
    opt.step()


class _BatchLoss(nn.Module):
    """A mini-batch's loss as a module's forward: DistributedDataParallel averages the gradients of what
    its forward computed, so the whole step goes through one."""

    def __init__(self, net: RatingNet, bias_reg: float) -> None:
        super().__init__()
        self.net, self.bias_reg = net, bias_reg

    def forward(
        self,
        x: dict[str, Tensor],
        n_id: dict[str, Tensor],
        edge_index_dict: dict[EdgeType, Tensor],
        label_index: Tensor,
        label: Tensor,
    ) -> Tensor:
        z = self.net.encode(x, n_id, edge_index_dict)
        lu, li = label_index
        gu, gi = n_id["user"][lu], n_id["item"][li]
        pred = self.net.decode(z["user"], z["item"], lu, li, gu, gi)
        return _loss(self.net, pred, label, gu, gi, self.bias_reg)


def _minibatch_epoch(
    step: nn.Module,
    opt: torch.optim.Optimizer,
    graph: HeteroData,
    edges: dict[EdgeType, Tensor],
    targets: _Ratings,
    config: TrainConfig,
    epoch: int,
    device: torch.device,
    team: World,
) -> None:
    """One pass over this epoch's target ratings (this rank's shard of them) in neighbour-sampled
    mini-batches, sampled on the CPU and trained on ``device``."""
    seed = config.seed * 100_003 + epoch
    if team.size > 1:
        targets = targets.subset(team.shard(len(targets.ratings), torch.Generator().manual_seed(seed)))
    epoch_graph = graph.clone()
    for edge_type, edge_index in edges.items():
        epoch_graph[edge_type].edge_index = edge_index
    loader = link_loader(
        epoch_graph,
        RATED_EDGE,
        torch.stack([targets.users, targets.items]),
        targets.ratings,
        num_neighbors=list(config.num_neighbors),
        batch_size=team.share(config.batch_size),
        seed=seed + 7_919 * team.rank,  # rank 0 samples as a single process does
    )
    featured = node_inputs(graph)[0]
    for batch in loader:
        batch = batch.to(device)
        opt.zero_grad()
        n_id = {t: batch[t].n_id for t in batch.node_types}
        x = {t: batch[t].x for t in featured if t in batch.node_types}
        store = batch[RATED_EDGE]
        step(x, n_id, batch.edge_index_dict, store.edge_label_index, store.edge_label).backward()
        opt.step()


def _validation_rmse(
    net: RatingNet,
    graph: HeteroData,
    users: Tensor,
    items: Tensor,
    truth: np.ndarray,
    low: float,
    high: float,
) -> float:
    """RMSE of the network's clamped predictions on validation pairs, messages over the whole graph."""
    net.eval()
    with torch.no_grad():
        z = net.encode_graph(graph)
        pred = net.decode(z["user"], z["item"], users, items, users, items).clamp(low, high)
    return rmse(pred.cpu().numpy(), truth)
