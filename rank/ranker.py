"""The ranking stack: candidate models propose items, a LightGBM LambdaRank model orders their union.

Training (:meth:`Ranker.fit`) on a user's training interactions:

1. a per-user validation slice is held out of the training interactions (``RankConfig.validation_fraction``,
   random or latest, like the evaluation split);
2. the candidate models of ``RankConfig.parts`` (:mod:`rank.models`; by default popularity, EASE with its
   ridge chosen on that slice, ALS, LightGCN, RP3beta) are fitted on the rest;
3. for a sample of validation users, the union of the models' top ``RankConfig.candidates`` items gets the
   features of :mod:`rank.features`, labelled 1 where the user took the item in the validation slice; on a
   random split this is repeated for ``RankConfig.fusion_draws`` slices (the models refitted without each),
   and LambdaRank learns to order them all (early stopping on NDCG@10 of a fifth of those users);
4. the candidate models are fitted again on all training interactions, and serve.

Nothing from held-out test interactions is used: the caller passes training interactions only.

Example:
    >>> ranker = Ranker(RankConfig(seed=0))                         # doctest: +SKIP
    >>> report = ranker.fit(train, item_keys, knowledge, rating)    # doctest: +SKIP
    >>> ranker.rank(["U00002"], k=10).items                         # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.errors import ModelError
from core.progress import Progress
from gnn.split import SplitKind, holdout_split
from rank.ann_candidates import ann_table, build_indexes
from rank.ann_index import ItemIndexes
from rank.config import RankConfig
from rank.evaluate import top_k
from rank.features import CandidateTable, candidate_table, concat_tables, feature_names
from rank.fusion import FusionReport, fit_lambdarank
from rank.interactions import Interactions, Keys
from rank.knowledge import Knowledge
from rank.models import MODELS, CandidateModel, Context
from rank.stars import stars_where_needed
from rank.timing import TimeProfile, no_time_features

__all__ = ["FusionReport", "Ranked", "Ranker", "RatingScores"]

_BATCH = 512
"""Users per batch when building candidate tables (bounds the dense ``[users, items]`` blocks)."""

_PARALLEL_ROWS = 20_000
"""Feature rows from which the fusion model predicts on every core."""


class RatingScores(Protocol):
    """Predicted stars of every catalogue item (columns in the order of ``items``) for each user,
    ``[len(users), len(items)]``, NaN where the rating model cannot say."""

    def __call__(self, users: Sequence[str], items: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Ranked:
    """Per user, the ranked catalogue columns (``-1`` pads a short list) and their fusion scores."""

    items: np.ndarray
    scores: np.ndarray


class Ranker:
    """Candidate models plus the learned fusion; see the module docstring for how it is trained."""

    def __init__(self, config: RankConfig | None = None) -> None:
        self.config = config or RankConfig()
        self.parts: dict[str, CandidateModel] = {}
        self.booster: lgb.Booster | None = None
        self.data: Interactions | None = None
        self.knowledge: Knowledge | None = None
        self.rating: RatingScores | None = None
        self.features: list[str] = []
        self.item_age_days = np.zeros(0, dtype=np.float32)
        self.item_popularity = np.zeros(0, dtype=np.int64)
        self.timing = TimeProfile(self.config.time_sigma_months)
        self.indexes = ItemIndexes(self.config.ann_links, self.config.ann_search)

    # -- training -------------------------------------------------------------------------------------
    def fit(
        self,
        train: pd.DataFrame,
        item_keys: Keys,
        knowledge: Knowledge,
        rating: RatingScores | None = None,
        kind: SplitKind = "random",
        progress: Progress | None = None,
    ) -> FusionReport:
        """Train on ``train`` (``user``, ``item``, ``rating``, ``ts``) over the catalogue ``item_keys``."""
        cfg = self.config
        say = progress or _silent
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        users = np.asarray(pd.unique(train["user"].astype(str)))
        items = np.asarray([str(k) for k in item_keys])
        split = holdout_split(train, kind, cfg.validation_fraction, cfg.seed)
        fit_part = Interactions.build(split.train, items, users, cfg.min_rating)
        held = Interactions.build(split.test, items, users, cfg.min_rating)
        if held.matrix.nnz == 0:
            raise ModelError(
                "no validation interactions to train the ranker on: too few interactions per user"
            )
        self.knowledge, self.rating = knowledge, rating
        self.features = feature_names(cfg.parts, list(knowledge.relations))
        val_rows = np.flatnonzero(np.diff(held.matrix.indptr) > 0)
        relevant = [held.matrix.indices[held.matrix.indptr[r] : held.matrix.indptr[r + 1]] for r in val_rows]
        rng = np.random.default_rng(cfg.seed)
        # the validation users a model may choose its hyperparameters on (EASE's ridge)
        tune = rng.choice(len(val_rows), min(len(val_rows), 2000), replace=False)
        context = Context(knowledge, cfg.seed, cfg.device)
        self.parts = {name: MODELS[name](cfg.params_for(name), context) for name in cfg.parts}
        tuning = self._fit_parts(fit_part, say, seconds, (val_rows[tune], [relevant[i] for i in tune]))

        mark = time.perf_counter()
        draws = [self._labelled(fit_part, held, rng)]
        # more validation slices, the models refitted without each: more labels for the fusion (a temporal
        # split has one latest slice)
        for draw in range(1, cfg.fusion_draws if kind == "random" else 1):
            other = holdout_split(train, kind, cfg.validation_fraction, cfg.seed + draw)
            other_part = Interactions.build(other.train, items, users, cfg.min_rating)
            self._fit_parts(other_part, say, seconds)
            draws.append(
                self._labelled(other_part, Interactions.build(other.test, items, users, cfg.min_rating), rng)
            )
        table = concat_tables([d[0] for d in draws])
        labels = np.concatenate([d[1] for d in draws])
        recall = float(labels.sum()) / max(sum(d[2] for d in draws), 1)
        self.booster, val_ndcg = fit_lambdarank(
            table, labels, self.features, cfg, rng, np.concatenate([d[3] for d in draws])
        )
        seconds["fusion"] = time.perf_counter() - mark
        say("fusion", 1, 1)
        fusion_users, fusion_rows, validation = len(table.groups), len(labels), int(held.matrix.nnz)
        del draws, table, labels, split, fit_part, held, relevant  # done with: freed before the refit
        self.data = Interactions.build(train, items, users, cfg.min_rating)
        self._fit_parts(self.data, say, seconds, warm=True)
        build_indexes(self)
        seconds["total"] = time.perf_counter() - started
        gains = self.booster.feature_importance(importance_type="gain")
        total_gain = float(gains.sum()) or 1.0
        return FusionReport(
            train_interactions=int(self.data.matrix.nnz),
            validation_interactions=validation,
            tuning=tuning,
            fusion_users=fusion_users,
            fusion_rows=fusion_rows,
            candidate_recall=recall,
            trees=self.booster.num_trees(),
            validation_ndcg10=val_ndcg,
            importances={n: float(g) / total_gain for n, g in zip(self.features, gains, strict=True)},
            seconds=seconds,
        )

    def _fit_parts(
        self,
        data: Interactions,
        say: Progress,
        seconds: dict[str, float],
        tune: tuple[np.ndarray, list[np.ndarray]] | None = None,
        warm: bool = False,
    ) -> dict[str, dict[str, float]]:
        """Fit every part on ``data`` (the first time, with ``tune``'s validation users and their items,
        letting each model choose what it tunes, and giving what each tried; the last time, ``warm``: each
        from its last fit where it can), and the item statistics."""
        tuning: dict[str, dict[str, float]] = {}
        for n, (name, model) in enumerate(self.parts.items()):
            mark = time.perf_counter()
            if tune is None:
                (model.refit if warm else model.fit)(data)
            elif tried := model.tune(data, *tune):
                tuning[name] = tried
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - mark
            say(name, n + 1, len(self.parts))
        self.item_popularity = data.popularity()
        self.timing = TimeProfile(self.config.time_sigma_months).fit(data)
        item_first = data.first_seen()
        latest = float(data.ts.max()) if len(data.ts) else 0.0
        age = np.where(item_first > 0, (latest - item_first) / 86_400.0, np.nan)
        self.item_age_days = age.astype(np.float32)
        return tuning

    def _labelled(
        self, fit_part: Interactions, held: Interactions, rng: np.random.Generator
    ) -> tuple[CandidateTable, np.ndarray, int, np.ndarray]:
        """One validation slice's training table, with the models fitted on ``fit_part``: up to
        ``fusion_users`` users with held-out items, each row labelled 1 where ``held`` has the pair; the
        number of held-out pairs of those users (for candidate recall) and each user's row."""
        val_rows = np.flatnonzero(np.diff(held.matrix.indptr) > 0)
        n = min(len(val_rows), self.config.fusion_users)
        rows = val_rows[np.sort(rng.choice(len(val_rows), n, replace=False))]
        self.data = fit_part
        keys = [str(fit_part.user_keys[r]) for r in rows]
        seen = fit_part.seen(rows)
        tables = []
        for start in range(0, len(rows), _BATCH):  # a batch at a time, user positions kept
            b = slice(start, start + _BATCH)
            t = self._table(keys[b], rows[b], seen[b], seen[b], None)
            tables.append(CandidateTable(t.user + start, t.item, t.features, t.groups))
        table = concat_tables(tables)
        truth = held.matrix[rows]
        labels = np.asarray(truth[table.user, table.item]).ravel().astype(np.float32)
        return table, labels, int(truth.sum()), rows

    # -- serving --------------------------------------------------------------------------------------
    def rank(
        self,
        users: Sequence[str],
        k: int,
        exclude: sp.csr_matrix | None = None,
        allowed: np.ndarray | None = None,
    ) -> Ranked:
        """The fused top ``k`` for each user (keys; a user without training interactions gets what the
        models can do without them). Training items are left out, and so is whatever ``exclude``
        (``[users, items]``) marks; ``allowed`` (``[items]`` bool) restricts the catalogue."""
        data = self.trained_data()
        rows = data.user_rows(list(users))
        seen = data.seen(rows)
        hide = seen if exclude is None else (seen + exclude).tocsr()
        return self._ranked([str(u) for u in users], rows, seen, hide, allowed, k)

    def rank_new(self, taken: Sequence[str], k: int, allowed: np.ndarray | None = None) -> Ranked:
        """The fused top ``k`` for a newcomer known by the items they ``taken`` (keys; unknown ones are
        ignored), those items left out: each model places them from those items alone."""
        seen = self._taken_row(taken)
        return self._ranked([""], np.array([-1]), seen, seen, allowed, k)

    def page_scores(self, user: str, items: Sequence[str], taken: Sequence[str] | None = None) -> np.ndarray:
        """The fusion score of ``items`` (held keys) as a page offering only them ranks them for ``user``: the
        models' trained user (as :meth:`rank`), or, given ``taken`` or a user they were not fitted on, placed
        from the items ``taken`` (as :meth:`rank_new`)."""
        data = self.trained_data()
        targets, row = data.item_rows(list(items)), data.user_rows([str(user)])
        allowed, known = np.isin(np.arange(data.n_items), targets), taken is None and row[0] >= 0
        seen = data.seen(row) if known else self._taken_row(taken or [])
        table = self._table([str(user)], row if known else np.array([-1]), seen, seen, allowed, targets, row)
        return self._predict(table.features)

    def _taken_row(self, taken: Sequence[str]) -> sp.csr_matrix:
        data = self.trained_data()
        cols = data.item_rows(list(taken))
        return sp.csr_matrix(np.isin(np.arange(data.n_items), cols[cols >= 0])[None, :], dtype=np.float32)

    def fused_scores(self, user: str, taken: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """The fusion score of ``items`` for ``user`` as if their interactions were the items ``taken``
        (keys), each model placing them from those items as it places a newcomer (the time features keep the
        user's own times where known); the same call with and without some of the items is the
        counterfactual an explanation is scored by."""
        return self.fused_scores_many(user, [taken], items)[0]

    def fused_scores_many(
        self, user: str, takens: Sequence[Sequence[str]], items: Sequence[str]
    ) -> np.ndarray:
        """:meth:`fused_scores` for several sets of items taken, in one table: ``[len(takens), len(items)]``
        (an explanation's removals cost one call instead of one each)."""
        table = self._takens_table(user, takens, items, listed=False)
        return self._predict(table.features).reshape(len(takens), len(items))

    def fused_scores_listed(
        self, user: str, takens: Sequence[Sequence[str]], items: Sequence[str], k: int
    ) -> tuple[np.ndarray, Ranked]:
        """:meth:`fused_scores_many`, and from the same table the first set's top ``k`` besides ``items``
        (one row, its items taken left out): an explanation's removals and the user's list, placed alike."""
        table = self._takens_table(user, takens, items, listed=True)
        fused, first = self._predict(table.features), int(table.groups[0])
        columns, scores = table.item[:first], fused[:first]  # the first set's rows: sorted columns
        targets = self.trained_data().item_rows(list(items))
        out = np.vstack([scores[np.searchsorted(columns, targets)], fused[first:].reshape(-1, len(items))])
        others = np.flatnonzero(~np.isin(columns, targets))
        order = others[np.lexsort((columns[others], -scores[others]))][:k]
        listed = Ranked(np.full((1, k), -1, dtype=np.int64), np.full((1, k), -np.inf))
        listed.items[0, : order.size], listed.scores[0, : order.size] = columns[order], scores[order]
        return out, listed

    def _takens_table(
        self, user: str, takens: Sequence[Sequence[str]], items: Sequence[str], *, listed: bool
    ) -> CandidateTable:
        """The table of ``items`` for ``user`` placed from each set of ``takens`` (and, ``listed``, the
        first set's candidates as well)."""
        data = self.trained_data()
        cols = [np.unique(c[c >= 0]) for c in (data.item_rows(list(t)) for t in takens)]
        rows = np.repeat(np.arange(len(takens)), [len(c) for c in cols])
        flat = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        seen = sp.csr_matrix((np.ones(len(flat), np.float32), (rows, flat)), (len(takens), data.n_items))
        targets = data.item_rows(list(items))
        if (targets < 0).any():
            raise ModelError(
                f"item {list(items)[int(np.argmax(targets < 0))]!r} is not in the ranker's catalogue"
            )
        keys, newcomer = [str(user)] * len(takens), np.full(len(takens), -1)
        when = np.repeat(data.user_rows([str(user)]), len(takens))
        first = np.arange(len(takens)) == 0 if listed else None
        return self._table(keys, newcomer, seen, seen, None, only=targets, time_rows=when, listed=first)

    def part_rank(self, part: str, users: Sequence[str], k: int) -> np.ndarray:
        """One candidate model's own top ``k`` (training items left out): how each part ranks alone."""
        data = self.trained_data()
        rows = data.user_rows(list(users))
        out = []
        for s in range(0, len(rows), _BATCH):
            seen = data.seen(rows[s : s + _BATCH])
            out.append(top_k(self.parts[part].scores(rows[s : s + _BATCH], seen), k, exclude=seen))
        return np.vstack(out)

    def trained_data(self) -> Interactions:
        if self.data is None or self.booster is None:
            raise ModelError("the ranker is not trained; run `kgrec train` (or Ranker.fit) first")
        return self.data

    def _ranked(
        self,
        keys: list[str],
        rows: np.ndarray,
        seen: sp.csr_matrix,
        hide: sp.csr_matrix,
        allowed: np.ndarray | None,
        k: int,
    ) -> Ranked:
        assert self.booster is not None
        out_items = np.full((len(rows), k), -1, dtype=np.int64)
        out_scores = np.full((len(rows), k), -np.inf, dtype=np.float64)
        for start in range(0, len(rows), _BATCH):
            batch = slice(start, start + _BATCH)
            table = self._table(keys[batch], rows[batch], seen[batch], hide[batch], allowed)
            fused = self._predict(table.features)
            bounds = np.r_[0, np.cumsum(table.groups)]
            for u in range(len(table.groups)):
                lo, hi = bounds[u], bounds[u + 1]
                order = np.lexsort((table.item[lo:hi], -fused[lo:hi]))[:k]
                out_items[start + u, : len(order)] = table.item[lo:hi][order]
                out_scores[start + u, : len(order)] = fused[lo:hi][order]
        return Ranked(out_items, out_scores)

    def _predict(self, features: np.ndarray) -> np.ndarray:
        """Fusion scores of feature rows; a serving call's few hundred rows run on one thread (LightGBM's
        thread start-up costs more than the trees)."""
        assert self.booster is not None
        if not len(features):
            return np.zeros(0)
        threads = 1 if len(features) < _PARALLEL_ROWS else 0
        return np.asarray(self.booster.predict(features, num_threads=threads), dtype=np.float64)

    def _table(
        self,
        keys: list[str],
        rows: np.ndarray,
        seen: sp.csr_matrix,
        hide: sp.csr_matrix,
        allowed: np.ndarray | None,
        only: np.ndarray | None = None,
        time_rows: np.ndarray | None = None,
        listed: np.ndarray | None = None,
    ) -> CandidateTable:
        """Candidates and features of one batch of users: ``keys`` and ``rows`` (``-1`` for a user the models
        were not fitted on), their interactions ``seen`` and what to leave out, ``hide``; or the features of
        the columns ``only`` (with the candidates too for the users ``listed`` marks). ``time_rows``
        (default ``rows``) are whose times the time features use."""
        data = self.data
        assert data is not None and self.knowledge is not None
        when = rows if time_rows is None else time_rows
        if data.n_items >= self.config.ann_above:
            return ann_table(self, keys, rows, seen, hide, allowed, only, when, listed)
        if allowed is not None:
            hide = (hide + sp.csr_matrix(np.tile(~allowed, (len(rows), 1)))).tocsr()
        scores = {
            name: np.asarray(part.scores(rows, seen), dtype=np.float32) for name, part in self.parts.items()
        }
        hidden = sp.coo_matrix(hide)  # once for every part's list
        lists = {name: top_k(s, self.config.candidates, exclude=hidden) for name, s in scores.items()}
        predicted = stars_where_needed(self.rating, keys, data.item_keys, lists, only, listed)
        activity = np.asarray(seen.sum(axis=1)).ravel()
        affinity = self.knowledge.affinity(seen)
        timing = partial(self.timing.features, when) if self.config.time_features else no_time_features
        return candidate_table(
            scores,
            lists,
            predicted,
            self.item_popularity,
            self.item_age_days,
            activity,
            affinity,
            timing,
            only,
            listed,
        )


def _silent(stage: str, done: int, total: int) -> None:
    return None
