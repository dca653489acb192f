"""The candidate models, one file each, and the registry that names them.

Adding a model is one file here (a :class:`CandidateModel` with its ``name``, ``params_type``, ``fit``,
``scores``, ``state`` and ``restore``), one entry in :data:`MODELS`, and its test; ``RankConfig.parts``
then turns it on, and the ranker's features and checkpoint follow from that list.

Example:
    >>> MODELS["lightgcn"].__name__, MODELS["lightgcn"].name
    ('LightGCN', 'lightgcn')
    >>> set(DEFAULT_PARTS) <= set(MODELS)
    True
"""

from __future__ import annotations

from rank.models.als import Als
from rank.models.base import CandidateModel, Context
from rank.models.ease import Ease
from rank.models.knn import ItemKnn
from rank.models.lightgcn import LightGCN
from rank.models.popularity import Popularity
from rank.models.rp3 import Rp3Beta

__all__ = ["DEFAULT_PARTS", "MODELS", "CandidateModel", "Context"]

MODELS: dict[str, type[CandidateModel]] = {
    model.name: model
    for model in (
        Popularity,
        Ease,
        Als,
        LightGCN,
        Rp3Beta,
        ItemKnn,
    )
}
"""Every candidate model by its name (its feature columns' prefix, its file's name in a checkpoint)."""

DEFAULT_PARTS = ("popularity", "ease", "als", "lightgcn", "rp3")
"""The models the ranker fuses unless ``RankConfig.parts`` says otherwise, in feature-column order."""
