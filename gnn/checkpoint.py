"""The checkpoint format: a trained model as a directory of files, written atomically, read back exactly.

Format 2 (the training ratings travel with the model, for the counterfactuals of the bias and MF parts):

* ``model.pt``: network weights, the message graph (node counts, features, edges) and the part arrays;
* ``meta.json``: the format number, the scalars (global means, rating range) and the blend weights;
* ``id_map.json``, ``scaler.json``, ``config.json`` and, when known, ``metrics.json``.

Array and scalar names in the files are the format's own; :class:`Checkpoint` maps them to named attributes.

Example:
    >>> Checkpoint.load("models/amazon").config.hidden  # doctest: +SKIP
    64
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import HeteroData

from core.errors import ModelError
from core.files import replace_folder
from gnn.config import TrainConfig
from gnn.features import FeatureScaler
from gnn.idmap import IdMap
from gnn.model import RatingNet
from gnn.params import BiasParams, Coverage, MFParams, RatingRange, TrainingRatings
from gnn.records import BlendWeights, TrainMetrics

__all__ = ["FORMAT", "Checkpoint"]

FORMAT = 2
"""The checkpoint format this code writes and reads; an older checkpoint is refused (train again)."""


@dataclass(frozen=True)
class Checkpoint:
    """Everything a :class:`gnn.RatingModel` is made of, as saved and loaded."""

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
    metrics: TrainMetrics | None

    def save(self, directory: str | Path) -> Path:
        """Write to ``directory`` atomically (built in a sibling temp dir, then renamed).

        An existing checkpoint there is replaced only once the new one is complete.
        """
        return replace_folder(directory, self._write, "the model")

    @classmethod
    def load(cls, directory: str | Path) -> Checkpoint:
        """Read a checkpoint written by :meth:`save`; anything missing, garbled or of the wrong structure in
        its files is one :class:`ModelError` naming the folder, never a traceback from torch or pickle."""
        path = Path(directory)
        try:
            return cls._read(path)
        except ModelError:
            raise
        except Exception as e:  # noqa: BLE001 - any defect of the files, whatever layer reports it
            raise ModelError(f"could not load a model from {path}: {type(e).__name__}: {e}") from e

    @classmethod
    def _read(cls, path: Path) -> Checkpoint:
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            raise ModelError(
                f"{path}: checkpoint format {meta.get('format')}, this kgrec reads {FORMAT}; train again"
            )
        config = TrainConfig.model_validate_json((path / "config.json").read_text())
        metrics_path = path / "metrics.json"
        metrics = (
            TrainMetrics.model_validate_json(metrics_path.read_text()) if metrics_path.exists() else None
        )
        # onto the CPU whatever device trained it: serving runs there, and a GPU may not be here
        with warnings.catch_warnings():
            # a foreign pickle gets torch's note on its protocol before it is refused; the refusal says it all
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
        id_map = IdMap.load(path / "id_map.json")
        scaler = FeatureScaler.load(path / "scaler.json")
        graph = HeteroData()
        for t, n in state["num_nodes"].items():
            graph[t].num_nodes = n
            if t in state["x"]:
                graph[t].x = state["x"][t]
        for et, edge_index in state["edge_index"]:
            graph[tuple(et)].edge_index = edge_index
        scalars = {k: float(v) for k, v in meta["scalars"].items()}
        net = RatingNet.for_graph(graph, config, scalars["mf_mu"])
        net.load_state_dict(state["net"])
        a = {k: v.numpy() for k, v in state["arrays"].items()}
        return cls(
            config=config,
            id_map=id_map,
            scaler=scaler,
            graph=graph,
            net=net,
            bias=BiasParams(scalars["mu"], a["bias_user"], a["bias_item"]),
            mf=MFParams(scalars["mf_mu"], a["mf_bu"], a["mf_bi"], a["mf_p"], a["mf_q"]),
            coverage=Coverage(a["warm_user"], a["warm_item"], a["filled_item"]),
            training=TrainingRatings(a["train_user"], a["train_item"], a["train_rating"]),
            rating_range=RatingRange(scalars["min_rating"], scalars["max_rating"]),
            blend=BlendWeights(**meta["blend"]),
            metrics=metrics,
        )

    def _write(self, tmp: Path) -> None:
        graph = self.graph
        arrays = {
            "bias_user": self.bias.user,
            "bias_item": self.bias.item,
            "mf_bu": self.mf.user_bias,
            "mf_bi": self.mf.item_bias,
            "mf_p": self.mf.user_factors,
            "mf_q": self.mf.item_factors,
            "warm_user": self.coverage.warm_user,
            "warm_item": self.coverage.warm_item,
            "filled_item": self.coverage.filled_item,
            "train_user": self.training.users,
            "train_item": self.training.items,
            "train_rating": self.training.ratings,
        }
        torch.save(
            {
                "net": self.net.state_dict(),
                "num_nodes": {t: int(graph[t].num_nodes) for t in graph.node_types},
                "x": {t: graph[t].x for t in graph.node_types if "x" in graph[t]},
                "edge_index": [(list(et), graph[et].edge_index) for et in graph.edge_types],
                "arrays": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()},
            },
            tmp / "model.pt",
        )
        self.id_map.save(tmp / "id_map.json")
        self.scaler.save(tmp / "scaler.json")
        (tmp / "config.json").write_text(self.config.model_dump_json(indent=2))
        if self.metrics is not None:
            (tmp / "metrics.json").write_text(self.metrics.model_dump_json(indent=2))
        scalars = {
            "mu": self.bias.mu,
            "mf_mu": self.mf.mu,
            "min_rating": self.rating_range.low,
            "max_rating": self.rating_range.high,
        }
        meta = {"format": FORMAT, "scalars": scalars, "blend": self.blend.model_dump()}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
