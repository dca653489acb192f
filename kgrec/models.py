"""The two trained models a workspace serves, as one folder: the rating model (:mod:`gnn`) in the model
folder and the ranker (:mod:`rank`) in its ``ranker/`` subfolder, each read when first asked for.

A folder saved by a kgrec from before the ranker has no ``ranker/``: its rating model still predicts, and
asking for the ranker says to train again.

Example:
    >>> models = TrainedModels(Path("models/shop"))     # doctest: +SKIP
    >>> models.trained_ranker().rank(["U00001"], 10)    # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ModelError
from gnn import RatingModel
from rank import Ranker, RatingModelScores, load_ranker, save_ranker

__all__ = ["RANKER_DIR", "TrainedModels"]

RANKER_DIR = "ranker"
"""The ranker's folder inside the model folder (written by :func:`rank.save_ranker`)."""


class TrainedModels:
    """The rating model and the ranker of one model folder (``directory``), loaded lazily.

    Loaded when first asked for, so that commands that do not serve (load, stats, a retrain) work in a
    workspace whose saved models cannot be read. The loaded ranker gets the rating model as its
    ``predicted_rating`` feature (:class:`rank.RatingModelScores`).
    """

    def __init__(
        self, directory: Path, model: RatingModel | None = None, ranker: Ranker | None = None
    ) -> None:
        self.directory = Path(directory)
        self._model = model
        self._ranker = ranker

    @property
    def model(self) -> RatingModel | None:
        path = self.directory
        if self._model is None and ((path / "config.json").exists() or (path / "model.pt").exists()):
            self._model = RatingModel.load(path)
        return self._model

    @property
    def ranker(self) -> Ranker | None:
        model = self.model
        folder = self.directory / RANKER_DIR
        if self._ranker is None and model is not None and (folder / "meta.json").exists():
            self._ranker = load_ranker(folder)
            self._ranker.rating = RatingModelScores(model)
        return self._ranker

    def trained_model(self) -> RatingModel:
        model = self.model
        if model is None:
            raise ModelError(
                "no trained model in this workspace; run `kgrec train` (or Recommender.fit) first"
            )
        return model

    def trained_ranker(self) -> Ranker:
        ranker = self.ranker
        if ranker is None:
            self.trained_model()  # no model at all: that error first
            raise ModelError(
                f"the model in {self.directory} has no ranker (saved by an older kgrec); train again "
                "with `kgrec train` (or Recommender.fit) to rank recommendations"
            )
        return ranker

    def save(self, directory: Path | str) -> Path:
        """Write the rating model to ``directory`` and the ranker, when there is one, to its ``ranker/``."""
        path = self.trained_model().save(directory)
        if self.ranker is not None:
            save_ranker(self.ranker, path / RANKER_DIR)
        return path
