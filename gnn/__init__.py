"""The rating model: a heterogeneous GNN over the knowledge graph, fused with behavioural and text features,
blended with matrix factorisation and a bias baseline.

The entry points are :class:`Trainer` (fit on a :class:`kg.export.GraphExport`) and :class:`RatingModel`
(predict on dataset keys, rank items, export embeddings, save and load). :class:`SVDpp` is the classic peer
the blend is measured against.

Example:
    >>> from gnn import RatingModel, TrainConfig, Trainer
    >>> result = Trainer(TrainConfig(seed=0)).fit(export)  # doctest: +SKIP
    >>> result.model.save("models/amazon")  # doctest: +SKIP
    >>> RatingModel.load("models/amazon").predict(pairs)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings

# PyG's import calls torch.jit.script, which torch 2.15 deprecates with a FutureWarning; every process that
# loads the model (CLI, service, tests) would print it, and a user can do nothing about it. Set before the
# first import below, which is the one that imports PyG.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)

from gnn.baselines import BiasBaseline, BiasedMF, GlobalMean, SVDpp
from gnn.config import TrainConfig
from gnn.device import DeviceName, resolve_device
from gnn.features import FeatureScaler
from gnn.graph import RATED_EDGE, EdgeRows, to_hetero_data
from gnn.idmap import IdMap
from gnn.metrics import Scores, mae, rmse
from gnn.rating_model import RatingModel
from gnn.records import BlendWeights, ColdStartCounts, TrainMetrics
from gnn.split import RatingSplit, split_ratings
from gnn.synthetic import PlantedTruth, planted_export
from gnn.text import text_available
from gnn.threads import serving_threads
from gnn.trainer import Trainer, TrainResult

__all__ = [
    "RATED_EDGE",
    "BiasBaseline",
    "BiasedMF",
    "BlendWeights",
    "ColdStartCounts",
    "DeviceName",
    "EdgeRows",
    "FeatureScaler",
    "GlobalMean",
    "IdMap",
    "PlantedTruth",
    "RatingModel",
    "RatingSplit",
    "SVDpp",
    "Scores",
    "TrainConfig",
    "TrainMetrics",
    "TrainResult",
    "Trainer",
    "mae",
    "planted_export",
    "resolve_device",
    "rmse",
    "serving_threads",
    "split_ratings",
    "text_available",
    "to_hetero_data",
]
