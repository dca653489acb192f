"""Counterfactuals of the bias and MF parts: what a user's and an item's parameters become without some ratings.

The GNN part's counterfactual drops edges from message passing (:mod:`gnn.counterfactual`). The bias and MF
parts pass no messages: what a training rating taught them sits in the parameters of its user and its item.
:class:`RatingFoldIn` refits those two endpoints by the regularised least squares each part minimises, with
the other side held fixed (the bias baseline's alternating step, ``b_u = sum(r - mu - b_i) / (reg_u + n_u)``;
for MF, ridge regression of ``r - mu - b_i`` on ``[1, q_i]`` with the per-rating penalty ``reg * n_u``), once
on all of the endpoint's training ratings and once without the removed ones. The difference is added to the
trained parameters, so with nothing removed nothing changes; removing a user's rating of an item moves the
user's parameters, removing someone's rating of the target item moves the item's.

Example:
    >>> fold = RatingFoldIn(model.training, model.bias, model.mf, reg_user=15, reg_item=10,
    ...                     mf_reg=0.1)  # doctest: +SKIP
    >>> bias, mf = fold.parts(user=3, item=17, removed=[(np.array([3]), np.array([5]))])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gnn.graph import RATED_EDGE, EdgeRows
from gnn.params import BiasParams, MFParams, TrainingRatings

__all__ = ["RatedRows", "RatingFoldIn", "rated_rows"]

RatedRows = tuple[np.ndarray, np.ndarray]
"""The removed RATED edges of one counterfactual: (user rows, item rows)."""


def rated_rows(removal: EdgeRows | None) -> RatedRows:
    """The removal's training ratings ``(user rows, item rows)``; empty when it removes none."""
    users, items = (removal or {}).get(RATED_EDGE, ([], []))
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)


def _by(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row pointers and the order that groups ``rows``: entries of row ``r`` are ``order[ptr[r]:ptr[r+1]]``."""
    order = np.argsort(rows, kind="stable")
    return np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=size))]), order


@dataclass
class RatingFoldIn:
    """Refits of one user's and one item's bias and MF parameters on their training ratings minus a removal.

    Args:
        training: the training ratings ``[E]`` (rows and values).
        bias, mf: the trained bias baseline and MF part.
        reg_user, reg_item: the bias baseline's penalties; ``mf_reg``: MF's per-rating penalty.
    """

    training: TrainingRatings
    bias: BiasParams
    mf: MFParams
    reg_user: float
    reg_item: float
    mf_reg: float

    def __post_init__(self) -> None:
        self._user_index = _by(self.training.users, len(self.mf.user_factors))
        self._item_index = _by(self.training.items, len(self.mf.item_factors))

    def rated_items(self, user: int) -> np.ndarray:
        """Item rows of the user's training ratings."""
        ptr, order = self._user_index
        return self.training.items[order[ptr[user] : ptr[user + 1]]]

    def parts(self, user: int, item: int, removed: Sequence[RatedRows]) -> tuple[np.ndarray, np.ndarray]:
        """Bias-part and MF-part predictions ``[len(removed)]`` of the pair after each removal (unclipped).

        An empty removal gives the trained parts' own prediction.
        """
        b, m, t = self.bias, self.mf, self.training
        mine = np.concatenate([[b.user[user], m.user_bias[user]], m.user_factors[user]])
        theirs = np.concatenate([[b.item[item], m.item_bias[item]], m.item_factors[item]])
        u = mine + self._fits(
            self._user_index,
            user,
            mine,
            t.items,
            (b.item, m.item_bias, m.item_factors),
            self.reg_user,
            [r[1][r[0] == user] for r in removed],
        )
        i = theirs + self._fits(
            self._item_index,
            item,
            theirs,
            t.users,
            (b.user, m.user_bias, m.user_factors),
            self.reg_item,
            [r[0][r[1] == item] for r in removed],
        )
        bias = b.mu + u[:, 0] + i[:, 0]
        return bias, m.mu + u[:, 1] + i[:, 1] + (u[:, 2:] * i[:, 2:]).sum(1)

    def _fits(
        self,
        index: tuple[np.ndarray, np.ndarray],
        row: int,
        trained: np.ndarray,
        others: np.ndarray,
        other_side: tuple[np.ndarray, np.ndarray, np.ndarray],
        bias_reg: float,
        dropped: list[np.ndarray],
    ) -> np.ndarray:
        """Per removal, the change ``[R, 2 + factors]`` of one endpoint's bias-baseline bias, MF bias and MF
        factors (``trained``, in that order): refit(without) - refit(with), zeros where nothing is dropped,
        and ``-trained`` where nothing is left (the endpoint is then as unknown to these parts as a stranger).
        ``other_side`` holds the other endpoints' bias-baseline biases, MF biases and MF factors, held fixed.
        """
        other_bias, other_mf_bias, other_factors = other_side
        ptr, order = index
        mine = order[ptr[row] : ptr[row + 1]]
        other, r = others[mine], self.training.ratings[mine].astype(np.float64)
        out = np.zeros((len(dropped), 2 + other_factors.shape[1]))
        if not any(len(d) for d in dropped):
            return out
        design = np.hstack([np.ones((len(mine), 1)), other_factors[other].astype(np.float64)])
        bias_target = r - self.bias.mu - other_bias[other]
        mf_target = r - self.mf.mu - other_mf_bias[other]

        # every refit in one batched solve: [1 + R] row masks, the first keeping every rating
        hit = [k for k, gone in enumerate(dropped) if len(gone)]
        keeps = np.stack([np.ones(len(mine), dtype=bool)] + [~np.isin(other, dropped[k]) for k in hit])
        w = keeps.astype(np.float64)
        n = keeps.sum(1)
        gram = (design.T[None] * w[:, None, :]) @ design
        gram += (self.mf_reg * np.maximum(n, 1))[:, None, None] * np.eye(design.shape[1])
        solved = np.linalg.solve(gram, ((w * mf_target) @ design)[..., None])[..., 0]
        fits = np.column_stack([(w @ bias_target) / (bias_reg + n), solved])
        for j, k in enumerate(hit, start=1):
            out[k] = fits[j] - fits[0] if n[j] else -trained
        return out
