"""Path scores that follow the ranking: how much a path's interactions move the fusion score that ranked the item.

Every candidate path starts with the user's own interaction, ``(user)-[RATED]->(anchor item)-...->(target)``
(the similar-users paths too: the anchor is the item the user and the similar user both rated). The fusion
ranker (:class:`rank.Ranker`) knows a user by the items they took, and
:meth:`rank.Ranker.fused_scores` scores the target for any such set of items. A path's score is

    ``fused(taken) - fused(taken without the path's anchor items)``

with ``taken`` the user's training interactions. Both calls place the user the same way (as a newcomer known
by those items), so the difference is the effect of the path's interactions alone. Positive: the path
supports the item's place in the ranking; negative: the item would rank higher without it. An anchor the
ranker did not train on (a rating outside its training part, or one below its ``min_rating``) moves nothing
and scores 0 without a call.

Paths with the same anchors share one removal: a pair whose 12 scored paths go through 5 distinct anchor
items costs one ``fused_scores_listed`` call for the full set, the 5 removals and the user's own list together
(a ranker without it: one ``rank_new`` for the list and 6 calls of ``fused_scores``).

The spread (``PathScores.spread``) is what the sizing words of :func:`explain.sentences.strength_of` are
relative to: the fusion score of the first minus that of the ``list_size``-th item (10) of the user's own list
with the target among it (the user placed the same way, from the full set:
:meth:`rank.Ranker.fused_scores_listed`, or :meth:`rank.Ranker.rank_new` rescored with ``fused_scores``). A
path whose removal costs the item a quarter of that spread is a strong reason. With a ``rating_scorer``
(the rating model's :class:`explain.LocalCounterfactualScorer`), each path's drop in predicted rating is
reported too (``PathScores.rating_drops``; :class:`explain.Explainer` puts it in the path's ``support`` as
``rating_drop``).

Only an object with ``fused_scores`` and ``trained_data`` is needed (:class:`RanksForUser`, which
:class:`rank.Ranker` is); importing this module loads neither the ranker nor torch.

Example:
    >>> ranker = train_stack(store.export()).ranker                     # doctest: +SKIP
    >>> explainer = Explainer(store, RankingScorer(ranker))              # doctest: +SKIP
    >>> explainer.explain("U00002", "I00014").paths[0].score            # doctest: +SKIP
    0.41
    >>> from explain.models import ExplainedPath, PathNode, PathRel
    >>> anchors(ExplainedPath(kind="brand", nodes=[
    ...     PathNode(label="User", key="u", name="u"), PathNode(label="Item", key="a", name="a"),
    ...     PathNode(label="Brand", key="b", name="b"), PathNode(label="Item", key="t", name="t")],
    ...     rels=[PathRel(type="RATED", start=0, end=1), PathRel(type="MADE_BY", start=1, end=2),
    ...           PathRel(type="MADE_BY", start=3, end=2)]))
    frozenset({'a'})
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from core.schema import ITEM, USER
from explain.models import ExplainedPath
from explain.scoring import PathScorer, PathScores

__all__ = ["RankedLists", "RankingScorer", "RanksForUser", "RatingLookup", "TrainedInteractions", "anchors"]


class TrainedInteractions(Protocol):
    """The ranker's training interactions (:class:`rank.Interactions` is one)."""

    @property
    def item_keys(self) -> np.ndarray: ...

    @property
    def matrix(self) -> sp.csr_matrix:
        """``[users, items]``: 1 where the user took the item."""
        ...

    def user_rows(self, keys: Sequence[str]) -> np.ndarray:
        """Row per user key, ``-1`` for a user without training interactions."""
        ...


class RatingLookup(Protocol):
    """Predicted stars ``[len(users), len(items)]`` (:class:`rank.RatingScores`)."""

    def __call__(self, users: Sequence[str], items: np.ndarray) -> np.ndarray: ...


class RankedLists(Protocol):
    """Ranked catalogue columns per user, ``-1`` padded (:class:`rank.Ranked`)."""

    @property
    def items(self) -> np.ndarray: ...


class RanksForUser(Protocol):
    """What :class:`RankingScorer` needs of a ranker (:class:`rank.Ranker` has it)."""

    rating: RatingLookup | None

    def fused_scores(self, user: str, taken: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """The fusion score of ``items`` for ``user`` known by the items ``taken``."""
        ...

    def rank_new(self, taken: Sequence[str], k: int) -> RankedLists:
        """The fused top ``k`` of a newcomer known by the items ``taken`` (one row)."""
        ...

    def trained_data(self) -> TrainedInteractions: ...


def anchors(path: ExplainedPath) -> frozenset[str]:
    """The items the path's user (its first node) interacts with along the path: what removing the path
    takes out of the user's interactions."""
    if not path.nodes or path.nodes[0].label != USER.label:
        return frozenset()
    out = set()
    for rel in path.rels:
        ends = {rel.start, rel.end}
        if 0 in ends and len(ends) == 2:
            other = path.nodes[(ends - {0}).pop()]
            if other.label == ITEM.label:
                out.add(other.key)
    return frozenset(out)


class RankingScorer:
    """Score = the item's fusion score minus the same score without the path's anchor items among the
    user's interactions (see the module docstring).

    Args:
        ranker: a trained :class:`rank.Ranker` (``rating`` set when the predicted rating is wanted).
        rating_scorer: optionally the rating model's counterfactual scorer; its per-path drops in predicted
            rating come back as ``PathScores.rating_drops`` and its prediction as ``predicted``.
        list_size: the spread is the fusion score of the user's first item minus that of this one (10).
    """

    name = "ranking"

    def __init__(
        self, ranker: RanksForUser, rating_scorer: PathScorer | None = None, *, list_size: int = 10
    ) -> None:
        self.ranker = ranker
        self.rating_scorer = rating_scorer
        self.list_size = list_size

    def taken(self, user: str) -> list[str]:
        """The user's training items (keys), as the ranker knows them; empty for a user it never saw."""
        data = self.ranker.trained_data()
        row = int(data.user_rows([user])[0])
        if row < 0:
            return []
        m = data.matrix
        return [str(k) for k in data.item_keys[m.indices[m.indptr[row] : m.indptr[row + 1]]]]

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> PathScores:
        fused, values, spread = self._measure(user, item, [anchors(p) for p in paths], with_spread=True)
        predicted: float | None = None
        drops: list[float] | None = None
        if self.rating_scorer is not None:
            rated = self.rating_scorer(user, item, paths)
            predicted, drops = rated.predicted, rated.values
        elif self.ranker.rating is not None:
            stars = float(self.ranker.rating([user], np.asarray([item]))[0, 0])
            predicted = None if np.isnan(stars) else round(stars, 6)
        return PathScores(values, predicted=predicted, fused=fused, rating_drops=drops, spread=spread)

    def effects(
        self, user: str, item: str, removals: Sequence[Collection[str]]
    ) -> tuple[float | None, list[float]]:
        """The item's fusion score from all the user's interactions, and for each removal (item keys) how
        much taking those items out of them lowers it (``fused(full) - fused(without)``, rounded to 1e-6).

        Removed items the user did not take change nothing (0, no call); equal removals share one call. The
        fusion score is ``None`` when no removal needed it.
        """
        fused, values, _ = self._measure(user, item, removals, with_spread=False)
        return fused, values

    def _measure(
        self, user: str, item: str, removals: Sequence[Collection[str]], *, with_spread: bool
    ) -> tuple[float | None, list[float], float | None]:
        """:meth:`effects`, and the spread (see the module docstring) when asked and some removal counts."""
        taken = self.taken(user)
        held = set(taken)
        effective = [frozenset(r) & held for r in removals]
        distinct = sorted({r for r in effective if r}, key=sorted)
        if not distinct:
            return None, [0.0] * len(removals), None
        ranker = self._with_rating_memo()
        takens = [taken] + [[t for t in taken if t not in r] for r in distinct]
        one_table = getattr(ranker, "fused_scores_listed", None)
        if one_table is not None:  # every removal and the user's own list in one table (rank.Ranker)
            table, own = one_table(user, takens, [item], self.list_size if with_spread else 0)
            own_scores = np.asarray(own.scores[0])
            scores = np.concatenate([table[0], own_scores[np.isfinite(own_scores)]])
            after = table[1:, 0]
        else:
            listed = self._listed(ranker, taken, item) if with_spread else []
            scores = ranker.fused_scores(user, taken, [item, *listed])
            after = np.array([ranker.fused_scores(user, t, [item])[0] for t in takens[1:]])
        full = float(scores[0])
        spread = None
        if len(scores) >= 2:
            top = np.sort(scores)[::-1][: self.list_size]
            spread = round(float(top[0] - top[-1]), 6) or None
        without = {r: float(a) for r, a in zip(distinct, after, strict=True)}
        values = [round(full - without[r], 6) if r else 0.0 for r in effective]
        return round(full, 6), values, spread

    def _listed(self, ranker: RanksForUser, taken: Sequence[str], item: str) -> list[str]:
        """The keys of the user's fused top ``list_size`` (placed from ``taken``), the target left out."""
        columns = ranker.rank_new(taken, self.list_size).items[0]
        keys = ranker.trained_data().item_keys
        return [str(keys[c]) for c in columns if c >= 0 and str(keys[c]) != item]

    def _with_rating_memo(self) -> RanksForUser:
        """A shallow copy of the ranker whose rating model answers a repeated question from memory: the
        predicted stars do not depend on the interactions removed, and each call asks for the whole
        catalogue again. The ranker itself is left as it is (safe with concurrent explanations)."""
        if self.ranker.rating is None:
            return self.ranker
        view = copy.copy(self.ranker)
        view.rating = _RatingMemo(self.ranker.rating)
        return view


class _RatingMemo:
    """A rating lookup that answers each user once per catalogue: the row of a user asked before (the
    pair's user, the newcomer of ``rank_new``) is given again, also inside a batch that repeats it."""

    def __init__(self, lookup: RatingLookup) -> None:
        self.lookup = lookup
        self.items: np.ndarray | None = None
        self.rows: dict[str, np.ndarray] = {}

    def __call__(self, users: Sequence[str], items: np.ndarray) -> np.ndarray:
        items = np.asarray(items)
        old = self.items
        if old is None or not (items is old or (items.shape == old.shape and np.array_equal(items, old))):
            self.items, self.rows = items, {}
        keys = [str(u) for u in users]
        missing = sorted(set(keys) - set(self.rows))
        if missing:
            for user, row in zip(missing, self.lookup(missing, items), strict=True):
                self.rows[user] = row
        return np.stack([self.rows[u] for u in keys]) if keys else self.lookup(keys, items)
