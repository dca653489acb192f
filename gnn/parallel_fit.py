"""The rating model trained data-parallel in several processes (:mod:`gnn.distributed`).

The caller's export is written once to a private temporary folder and read by every worker, which runs
:meth:`gnn.Trainer.fit` on it; rank 0 saves the model there in the usual checkpoint format and the caller
loads it back with :meth:`gnn.RatingModel.load`, so what comes back is exactly what a reader of the folder
would get.

Example:
    >>> result = fit_in_processes(2, export, TrainConfig(seed=0))  # doctest: +SKIP
    >>> result.metrics.test["gnn"].rmse  # doctest: +SKIP
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

from gnn.config import TrainConfig
from gnn.distributed import launch, world
from gnn.rating_model import RatingModel
from gnn.split import RatingSplit
from gnn.trainer import Trainer, TrainResult
from kg.export import GraphExport

__all__ = ["fit_in_processes", "handoff_read", "handoff_write"]


def fit_in_processes(
    nproc: int, export: GraphExport, config: TrainConfig, split: RatingSplit | None = None
) -> TrainResult:
    """``Trainer(config).fit(export, split)`` in ``nproc`` processes; rank 0's model, loaded from its folder."""
    with tempfile.TemporaryDirectory(prefix="kgrec-train-") as tmp:
        inputs = handoff_write(Path(tmp), (export, config, split))
        out = Path(tmp) / "model"
        trained_split = launch(nproc, _fit_and_save, str(inputs), str(out), device=config.device)
        model = RatingModel.load(out)
    assert model.metrics is not None  # the trainer always sets them, and the checkpoint keeps them
    return TrainResult(model=model, metrics=model.metrics, split=trained_split)


def handoff_write(folder: Path, inputs: object) -> Path:
    """Write the workers' inputs once, in ``folder`` (a private temporary folder of the caller's)."""
    path = folder / "inputs.pickle"
    path.write_bytes(pickle.dumps(inputs, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def handoff_read(path: str | Path) -> Any:
    """The inputs :func:`handoff_write` wrote (the caller's own file, in its private folder)."""
    return pickle.loads(Path(path).read_bytes())  # noqa: S301 - written by the launching process


def _fit_and_save(inputs: str, out: str) -> RatingSplit:
    export, config, split = handoff_read(inputs)
    result = Trainer(config).fit(export, split)
    if world().rank == 0:
        result.model.save(out)
    return result.split
