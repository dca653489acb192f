"""The training stack (:func:`rank.pipeline.train_stack`) in several processes, data-parallel for its torch
parts (:mod:`gnn.distributed`): what ``kgrec train --nproc N`` runs.

The graph is exported once, by the caller, and handed to the workers through a file in a private temporary
folder, rather than every process reading Neo4j. Each worker trains the whole stack on it: the rating
model's GNN and the LightGCN each on their shard of the mini-batches with gradients averaged, the rest alike
on every rank. Rank 0 saves both models there in their usual formats; they are loaded back with the usual
loaders, so the caller serves, saves and measures exactly what a model folder holds.

Example:
    >>> stack = train_stack_in_processes(2, export, "random", 0.2, 0, TrainConfig(), RankConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from gnn import RatingModel, TrainConfig
from gnn.distributed import launch, world
from gnn.parallel_fit import handoff_read, handoff_write
from gnn.split import SplitKind
from kg.export import GraphExport
from rank.checkpoint import load_ranker, save_ranker
from rank.config import RankConfig
from rank.pipeline import RatingModelScores, StackResult, train_stack

__all__ = ["train_stack_in_processes"]

_MEASURED = ("rating", "ranking", "parts", "fusion", "split", "test_overlap")
"""What a worker hands back besides the two models (small records and the split)."""


def train_stack_in_processes(
    nproc: int,
    export: GraphExport,
    kind: SplitKind,
    fraction: float,
    seed: int,
    train_config: TrainConfig,
    rank_config: RankConfig,
    test: pd.DataFrame | None = None,
) -> StackResult:
    """:func:`rank.pipeline.train_stack` with the same arguments, in ``nproc`` processes."""
    with tempfile.TemporaryDirectory(prefix="kgrec-train-") as tmp:
        folder = Path(tmp)
        inputs = handoff_write(folder, (export, kind, fraction, seed, train_config, rank_config, test))
        measured = launch(nproc, _train_and_save, str(inputs), str(folder), device=train_config.device)
        model = RatingModel.load(folder / "rating")
        ranker = load_ranker(folder / "ranker")
    ranker.rating = RatingModelScores(model)
    return StackResult(model=model, ranker=ranker, **measured)


def _train_and_save(inputs: str, folder: str) -> dict[str, Any]:
    export, kind, fraction, seed, train_config, rank_config, test = handoff_read(inputs)
    stack = train_stack(export, kind, fraction, seed, train_config, rank_config, None, test)
    if world().rank == 0:
        stack.model.save(Path(folder) / "rating")
        save_ranker(stack.ranker, Path(folder) / "ranker")
    return {name: getattr(stack, name) for name in _MEASURED}
