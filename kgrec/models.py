"""The trained models a workspace serves, as one folder: the rating model (:mod:`gnn`) in the model
folder, the ranker (:mod:`rank`) in its ``ranker/`` subfolder and the search ranker
(:class:`rank.search.SearchRanker`) in ``search/``, each read when first asked for.

A folder saved by a kgrec from before the ranker has no ``ranker/``: its rating model still predicts, and
asking for the ranker says to train again.

Example:
    >>> models = TrainedModels(Path("models/shop"))     # doctest: +SKIP
    >>> models.trained_ranker().rank(["U00001"], 10)    # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError
from core.files import replace_folder
from gnn import RatingModel
from kg import GraphFingerprint
from rank import Ranker, RatingModelScores, load_ranker, save_ranker
from rank.search import SearchRanker

__all__ = [
    "DATA_FILE",
    "RANKER_DIR",
    "SEARCH_DIR",
    "ModelVersion",
    "TrainedModels",
    "exported_at_of",
    "model_version",
]

RANKER_DIR = "ranker"
"""The ranker's folder inside the model folder (written by :func:`rank.save_ranker`)."""

SEARCH_DIR = "search"
"""The search ranker's folder inside the model folder (absent in a folder saved before it)."""

DATA_FILE = "data.json"
"""When the graph was read for the training that wrote the folder (``exported_at``, epoch seconds), and which
graph it was (``graph``: a :class:`kg.GraphFingerprint` of the ranker's catalogue)."""


class TrainedModels:
    """The rating model and the ranker of one model folder (``directory``), loaded lazily.

    Loaded when first asked for, so that commands that do not serve (load, stats, a retrain) work in a
    workspace whose saved models cannot be read. The loaded ranker gets the rating model as its
    ``predicted_rating`` feature (:class:`rank.RatingModelScores`).

    Given ``graph`` (the fingerprint of the graph served now: :meth:`kg.GraphStore.fingerprint`), models read
    from the folder are first checked to have been trained on that graph, by the fingerprint the folder
    records; a folder saved before it recorded one is checked by its ranker's catalogue when the ranker is
    read (its rating model alone is not checked). Models from another graph are a :class:`ModelError`.
    """

    def __init__(
        self,
        directory: Path,
        model: RatingModel | None = None,
        ranker: Ranker | None = None,
        exported_at: float | None = None,
        search: SearchRanker | None = None,
        *,
        graph: Callable[[], GraphFingerprint] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._graph = graph
        self._graph_checked = False
        self._model = model
        self._ranker = ranker
        self._search = search
        self.exported_at = exported_at if exported_at is not None else exported_at_of(self.directory)

    @property
    def model(self) -> RatingModel | None:
        path = self.directory
        if self._model is None and ((path / "config.json").exists() or (path / "model.pt").exists()):
            self._check_graph(_trained_on(path))
            self._model = RatingModel.load(path)
        return self._model

    @property
    def ranker(self) -> Ranker | None:
        model = self.model
        folder = self.directory / RANKER_DIR
        if self._ranker is None and model is not None and (folder / "meta.json").exists():
            ranker = load_ranker(folder)
            self._check_graph(_trained_on(self.directory) or _catalogue(ranker))
            ranker.rating = RatingModelScores(model)
            self._ranker = ranker
        return self._ranker

    def _check_graph(self, trained_on: GraphFingerprint | None) -> None:
        """Refuse models trained on another graph than ``graph`` (once per folder: ``None`` when the
        folder does not say which)."""
        if self._graph is None or self._graph_checked or trained_on is None:
            return
        now = self._graph()
        if now != trained_on:
            raise ModelError(
                f"the models in {self.directory} were trained on another graph ({trained_on.describe()}; "
                f"this graph has {now.describe()}); train again with `kgrec train`"
            )
        self._graph_checked = True

    @property
    def search(self) -> SearchRanker | None:
        """The search ranker; ``None`` when the folder has none (saved before it, or trained without it)."""
        folder = self.directory / SEARCH_DIR
        if self._search is None and (folder / "meta.json").exists():
            self._search = SearchRanker.load(folder)
        return self._search

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

    @classmethod
    def read(cls, directory: Path, graph: Callable[[], GraphFingerprint] | None = None) -> TrainedModels:
        """The models of ``directory`` read now rather than when first asked for (what a server swaps in
        whole): a :class:`ModelError` when the rating model or the ranker is missing, or was trained on
        another ``graph``, or the search ranker the folder holds cannot be read."""
        models = cls(directory, graph=graph)
        models.trained_ranker()
        _ = models.search
        return models

    def save(self, directory: Path | str) -> Path:
        """Write the rating model to ``directory`` and the ranker, when there is one, to its ``ranker/``:
        one folder swapped in whole (:func:`core.files.replace_folder`), so a reader never finds the new
        rating model beside the old ranker, or none."""
        model, ranker, search = self.trained_model(), self.ranker, self.search

        def write(folder: Path) -> None:
            model.save(folder)
            if ranker is not None:
                save_ranker(ranker, folder / RANKER_DIR)
            if search is not None:
                search.save(folder / SEARCH_DIR)
            data: dict[str, object] = {"exported_at": self.exported_at}
            if ranker is not None:
                data["graph"] = _catalogue(ranker).model_dump()
            (folder / DATA_FILE).write_text(json.dumps({k: v for k, v in data.items() if v is not None}))

        return replace_folder(directory, write, "the models")


@dataclass(frozen=True)
class ModelVersion:
    """Which saved models a folder holds: ``version``, a hash of the files that describe them (settings,
    metrics, id map: it changes with every training), ``trained_at``, when they were written (epoch
    seconds), and ``data_as_of``, when the training began to read the graph (what it may not have seen
    is newer than that; ``None`` for a folder that does not say: one trained before kgrec learned from
    events, or copied without its ``data.json``)."""

    version: str
    trained_at: float
    data_as_of: float | None


_DESCRIBING = (
    "meta.json",
    "config.json",
    "metrics.json",
    "id_map.json",
    f"{RANKER_DIR}/meta.json",
    f"{SEARCH_DIR}/meta.json",
    DATA_FILE,
)


def model_version(directory: Path) -> ModelVersion | None:
    """The version of the models saved in ``directory``; ``None`` while it holds no complete pair."""
    digest = hashlib.sha256()
    try:
        trained_at = (directory / RANKER_DIR / "meta.json").stat().st_mtime
        for name in _DESCRIBING:
            path = directory / name
            if path.exists():
                digest.update(name.encode() + b"\0" + path.read_bytes())
    except OSError:  # absent, or swapped away while being read: not a complete pair now
        return None
    return ModelVersion(digest.hexdigest()[:12], trained_at, exported_at_of(directory))


def _trained_on(directory: Path) -> GraphFingerprint | None:
    """The graph the training that wrote ``directory`` read (its ``data.json``); ``None`` when the folder
    does not say (saved before it recorded that, or copied without its ``data.json``)."""
    try:
        return GraphFingerprint.model_validate(json.loads((directory / DATA_FILE).read_text())["graph"])
    except (OSError, ValueError, KeyError, TypeError):  # pydantic's ValidationError is a ValueError
        return None


def _catalogue(ranker: Ranker) -> GraphFingerprint:
    """The fingerprint of the catalogue a ranker ranks: the graph's items when it was trained."""
    return GraphFingerprint.of(ranker.trained_data().item_keys)


def exported_at_of(directory: Path) -> float | None:
    """When the training that wrote ``directory`` began to read the graph (its ``data.json``); ``None``
    when the folder does not say (or says it in a form this kgrec does not read)."""
    try:
        return float(json.loads((directory / DATA_FILE).read_text())["exported_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
