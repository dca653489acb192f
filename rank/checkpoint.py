"""The ranker on disk: the interactions, the knowledge graph's item relations and the item statistics in
``ranker.npz``, each candidate model in its own ``parts/<name>.npz`` written by the model's ``save`` (all read
with ``allow_pickle=False``: loading runs no code), the LightGBM model as its own text format (checked before LightGBM parses it: a damaged file is a
:class:`ModelError`, never a crash), and the settings as JSON. Written to a temporary folder and
renamed into place, so a reader never sees half a ranker.

Example:
    >>> save_ranker(ranker, "models/amazon/ranker")     # doctest: +SKIP
    >>> load_ranker("models/amazon/ranker").rank(["U1"], 10)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from core.errors import ModelError
from core.files import replace_folder
from rank.ann_candidates import build_indexes
from rank.booster_text import read_booster
from rank.config import RankConfig
from rank.features import feature_names
from rank.interactions import Interactions
from rank.knowledge import Knowledge
from rank.models import MODELS, Context
from rank.ranker import Ranker
from rank.timing import TimeProfile

__all__ = ["FORMAT", "FUSION_FILE", "PARTS_FOLDER", "load_ranker", "save_ranker"]

FORMAT = 4
"""2: the time features of :mod:`rank.timing` (rebuilt from the interactions' times at load). 3: RP3beta, a
fifth candidate model. 4: the candidate models of ``RankConfig.parts``, each saved by itself in
:data:`PARTS_FOLDER`; LightGCN's features are ``lightgcn_*`` (``kg_gcn_*`` before)."""

PARTS_FOLDER = "parts"
"""Where each candidate model's file is, ``<name>.npz``."""

FUSION_FILE = "fusion.txt"
"""The LightGBM model, in its text format; ``meta.json`` keeps its SHA-256 (``fusion_sha256``), and it is
checked (:mod:`rank.booster_text`) before LightGBM reads it."""


def save_ranker(ranker: Ranker, directory: str | Path) -> Path:
    """Write a trained ranker to ``directory`` (replaced whole)."""
    return replace_folder(directory, lambda staging: _write(ranker, staging), "the ranker")


def _write(ranker: Ranker, staging: Path) -> None:
    data = ranker.trained_data()
    assert ranker.knowledge is not None and ranker.booster is not None
    arrays: dict[str, np.ndarray] = {
        "user_keys": data.user_keys,
        "item_keys": data.item_keys,
        "rows": data.rows,
        "cols": data.cols,
        "ts": data.ts,
        "item_age_days": ranker.item_age_days,
        "link_a": ranker.knowledge.item_links[0],
        "link_b": ranker.knowledge.item_links[1],
    }
    relations = list(ranker.knowledge.relations)
    for n, rel in enumerate(relations):
        m = ranker.knowledge.relations[rel]
        arrays[f"rel{n}_indptr"], arrays[f"rel{n}_indices"] = m.indptr, m.indices
        arrays[f"rel{n}_shape"] = np.asarray(m.shape)
    (staging / PARTS_FOLDER).mkdir()
    for name, model in ranker.parts.items():
        model.save(staging / PARTS_FOLDER / f"{name}.npz")
    np.savez(staging / "ranker.npz", allow_pickle=False, **arrays)
    ranker.booster.save_model(str(staging / FUSION_FILE))
    meta = {
        "format": FORMAT,
        "config": ranker.config.model_dump(),
        "features": ranker.features,
        "relations": relations,
        "fusion_sha256": hashlib.sha256((staging / FUSION_FILE).read_bytes()).hexdigest(),
    }
    (staging / "meta.json").write_text(json.dumps(meta, indent=1))


def load_ranker(directory: str | Path) -> Ranker:
    """Read a ranker written by :func:`save_ranker`; a missing, garbled or foreign folder is one
    :class:`ModelError` naming it, never a traceback from numpy or LightGBM."""
    folder = Path(directory)
    try:
        return _read(folder)
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - any defect of the files, whatever layer reports it
        raise ModelError(f"cannot read the ranker in {folder}: {type(e).__name__}: {e}; train again") from e


def _read(folder: Path) -> Ranker:
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != FORMAT:
        raise ModelError(
            f"{folder}: ranker format {meta.get('format')!r}, this kgrec reads {FORMAT}; train again"
        )
    features = list(meta["features"])
    config = RankConfig(**meta["config"])
    if features != feature_names(config.parts, list(meta["relations"])):
        raise ModelError(f"{folder}: meta.json names features this kgrec does not build; train again")
    booster = read_booster(folder / FUSION_FILE, features, meta.get("fusion_sha256"))
    with np.load(folder / "ranker.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    shape = (len(a["user_keys"]), len(a["item_keys"]))
    matrix = sp.csr_matrix((np.ones(len(a["rows"]), np.float32), (a["rows"], a["cols"])), shape=shape)
    data = Interactions(a["user_keys"], a["item_keys"], a["rows"], a["cols"], a["ts"], matrix)
    relations = {}
    for n, rel in enumerate(meta["relations"]):
        indptr, indices = a[f"rel{n}_indptr"], a[f"rel{n}_indices"]
        values = np.ones(len(indices), np.float32)
        relations[rel] = sp.csr_matrix((values, indices, indptr), shape=tuple(a[f"rel{n}_shape"]))
    knowledge = Knowledge(relations, (a["link_a"], a["link_b"]))
    ranker = Ranker(config)
    ranker.data, ranker.knowledge, ranker.booster = data, knowledge, booster
    ranker.features, ranker.item_age_days = features, a["item_age_days"]
    ranker.item_popularity = data.popularity()
    ranker.timing = TimeProfile(config.time_sigma_months).fit(data)
    context = Context(knowledge, config.seed, config.device)
    ranker.parts = {
        name: MODELS[name].load(folder / PARTS_FOLDER / f"{name}.npz", config.params_for(name), context)
        for name in config.parts
    }
    build_indexes(ranker)
    return ranker
