"""The learned search ranker: two LightGBM LambdaRank models over (query, item) features, one personal and
one for anonymous queries, trained by :func:`rank.search_training.fit_search`.

Features: the query-item features of :data:`rank.search_candidates.QUERY_FEATURES` (text score per field,
how the item matches each linked entity), the item's popularity and age in the training interactions, and,
in the personal form, the user's fused ranking score for the item as a page offering only the query's
candidates ranks it (:meth:`rank.Ranker.page_scores`: the ranker's trained user, or a user it does not know
placed from the items they took), its rank among the candidates, and the rating model's predicted stars.
The personal model boosts on from the anonymous one (its trees fit what the anonymous score leaves), so a
personal score is the anonymous score plus the personal trees' and early stopping keeps only personal trees
that help.

Saved as ``personal.txt``, ``anonymous.txt`` (LightGBM's text format) and ``meta.json`` in a folder of its own
(``search/`` in the model folder), written whole or not at all.

Example:
    >>> found = gather(store, "inkwell pens", link_rels(store.schema()))                # doctest: +SKIP
    >>> scores, personal = search_ranker.score(ranker, found, "U00001", taken)         # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import lightgbm as lgb
import numpy as np

from core.errors import ModelError
from core.files import replace_folder
from rank.booster_text import read_booster
from rank.ranker import Ranker
from rank.search_candidates import QUERY_FEATURES, Candidates

__all__ = [
    "FORMAT",
    "ITEM_FEATURES",
    "PERSONAL_FEATURES",
    "SearchRanker",
    "candidate_features",
    "personal_scores",
    "search_features",
]

FORMAT = 2
ITEM_FEATURES = ("item_popularity", "item_age_days")
PERSONAL_FEATURES = ("fused_score", "fused_rank", "predicted_rating")


def search_features(personal: bool) -> list[str]:
    """The feature names of the personal or the anonymous form, in column order."""
    return [*QUERY_FEATURES, *ITEM_FEATURES, *(PERSONAL_FEATURES if personal else ())]


class SearchRanker:
    """The personal and anonymous search models; see the module docstring."""

    def __init__(self, personal: lgb.Booster, anonymous: lgb.Booster) -> None:
        self.personal = personal
        self.anonymous = anonymous

    def score(
        self, ranker: Ranker, found: Candidates, user: str | None, taken: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The search score of each candidate, and the user's fused score of each (NaN when anonymous)."""
        if not found.items:
            return np.zeros(0), np.zeros(0)
        anonymous, _ = candidate_features(ranker, found, None)
        base = np.asarray(self.anonymous.predict(anonymous, num_threads=1), dtype=np.float64)
        if user is None:
            return base, np.full(len(found.items), np.nan)
        known = ranker.trained_data().user_rows([user])[0] >= 0
        personal = personal_scores(ranker, user, None if known else taken, found.items)
        rows, fused = candidate_features(ranker, found, personal)
        return base + np.asarray(self.personal.predict(rows, num_threads=1), dtype=np.float64), fused

    def save(self, directory: str | Path) -> Path:
        """Write both models and the feature names to ``directory`` (replaced whole)."""

        def write(staging: Path) -> None:
            self.personal.save_model(str(staging / "personal.txt"))
            self.anonymous.save_model(str(staging / "anonymous.txt"))
            meta = {
                "format": FORMAT,
                "personal": search_features(True),
                "anonymous": search_features(False),
                **{f"{name}_sha256": _sha256(staging / f"{name}.txt") for name in ("personal", "anonymous")},
            }
            (staging / "meta.json").write_text(json.dumps(meta, indent=1))

        return replace_folder(directory, write, "the search ranker")

    @classmethod
    def load(cls, directory: str | Path) -> SearchRanker:
        """Read a folder written by :meth:`save`; anything amiss is one :class:`ModelError` naming it."""
        folder = Path(directory)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("format") != FORMAT or meta.get("personal") != search_features(True):
                raise ModelError(f"{folder}: a search ranker of another kgrec; train again")
            # checked before LightGBM reads them: a damaged model file aborts LightGBM's parser
            return cls(
                read_booster(folder / "personal.txt", search_features(True), meta.get("personal_sha256")),
                read_booster(folder / "anonymous.txt", search_features(False), meta.get("anonymous_sha256")),
            )
        except ModelError:
            raise
        except Exception as e:  # noqa: BLE001 - any defect of the files, whatever layer reports it
            raise ModelError(f"cannot read the search ranker in {folder}: {type(e).__name__}: {e}") from e


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def personal_scores(
    ranker: Ranker, user: str, taken: Sequence[str] | None, items: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """Per item the ranker holds: the user's fused score on a page of those items (the ranker's trained
    user, or with ``taken`` the user placed from those items) and predicted stars (NaN where the rating
    model cannot say)."""
    keys = [i for i, c in zip(items, ranker.trained_data().item_rows(list(items)), strict=True) if c >= 0]
    if not keys:
        return {}
    fused = ranker.page_scores(user, keys, taken)
    stars = np.full(len(keys), np.nan)
    if ranker.rating is not None:
        stars = np.asarray(ranker.rating([user], np.asarray(keys, dtype=str))[0], dtype=np.float64)
    return {k: (float(f), float(s)) for k, f, s in zip(keys, fused, stars, strict=True)}


def candidate_features(
    ranker: Ranker, found: Candidates, personal: dict[str, tuple[float, float]] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The feature rows of ``found`` (the personal form with the user's :func:`personal_scores`) and the
    fused score per candidate (NaN in the anonymous form, or for an item the ranker does not hold)."""
    data = ranker.trained_data()
    cols = data.item_rows(found.items)
    known = cols >= 0
    item = np.full((len(cols), len(ITEM_FEATURES)), np.nan, dtype=np.float32)
    item[known, 0] = np.log1p(ranker.item_popularity[cols[known]])
    item[known, 1] = ranker.item_age_days[cols[known]]
    if personal is None:
        return np.hstack([found.features, item]), np.full(len(cols), np.nan)
    scores = np.asarray([personal.get(i, (np.nan, np.nan)) for i in found.items], dtype=np.float64)
    fused = scores[:, 0] if len(scores) else np.zeros(0)
    rows = np.full((len(cols), len(PERSONAL_FEATURES)), np.nan, dtype=np.float32)
    has = ~np.isnan(fused)
    order = np.argsort(-fused[has], kind="stable")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    rows[has, 0], rows[has, 1], rows[:, 2] = fused[has], ranks, scores[:, 1] if len(scores) else 0
    return np.hstack([found.features, item, rows]), fused
