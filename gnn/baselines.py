"""Classic rating predictors: global mean, bias baseline, biased MF and the SVD++ peer.

All are vectorised (numpy or torch, no Python loop per rating) and share one shape: ``fit_rows`` and
``predict_rows`` on integer rows (``-1`` = unseen, which falls back to the terms that exist), and ``fit`` /
``predict`` on frames with ``user`` and ``item`` keys and a ``rating`` column.

* :class:`BiasBaseline` is scikit-surprise's ``BaselineOnly`` (alternating least squares,
  ``reg_u=15, reg_i=10``, 10 passes): ``r = mu + b_u + b_i``.
* :class:`BiasedMF` is Funk SVD, ``r = mu + b_u + b_i + p_u.q_i`` (scikit-surprise ``SVD``).
* :class:`SVDpp` is Koren's SVD++, ``r = mu + b_u + b_i + q_i.(p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)``.

Both factor models use scikit-surprise's defaults (20 factors, 20 epochs, lr 0.007, reg 0.02, init std 0.1)
and its SGD update rules, applied to shuffled mini-batches of 256 ratings at once.

Example:
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"], "rating": [5.0, 3.0, 4.0]})
    >>> BiasBaseline().fit(train).predict(pd.DataFrame({"user": ["b"], "item": ["y"]})).round(2).tolist()
    [3.9]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from core.errors import ModelError
from core.progress import Progress
from gnn.stopping import EarlyStopping
from gnn.threads import torch_threads

__all__ = ["BiasBaseline", "BiasedMF", "FactorParams", "GlobalMean", "SVDpp", "require_pairs"]


def require_pairs(frame: pd.DataFrame) -> None:
    """Raise a :class:`ModelError` unless a pairs frame has its ``user`` and ``item`` columns."""
    if not {"user", "item"} <= set(frame.columns):
        raise ModelError(f"pairs need columns user,item; got {list(frame.columns)}")


@dataclass
class _Keyed:
    """Frame-level fit/predict on top of row-level fit_rows/predict_rows."""

    users: pd.Index = field(default_factory=lambda: pd.Index([]), init=False, repr=False)
    items: pd.Index = field(default_factory=lambda: pd.Index([]), init=False, repr=False)

    def _rows(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        require_pairs(frame)
        return (
            self.users.get_indexer(pd.Index(frame["user"].astype(str))).astype(np.int64),
            self.items.get_indexer(pd.Index(frame["item"].astype(str))).astype(np.int64),
        )

    def _index(self, train: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        require_pairs(train)
        self.users = pd.Index(pd.unique(train["user"].astype(str)))
        self.items = pd.Index(pd.unique(train["item"].astype(str)))
        users, items = self._rows(train)
        return users, items, train["rating"].to_numpy(np.float64)

    def _val(self, val: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if val is None or val.empty:
            return None
        users, items = self._rows(val)
        return users, items, val["rating"].to_numpy(np.float64)

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Predicted rating per row of ``pairs`` (keys unseen in training fall back to biases)."""
        users, items = self._rows(pairs)
        return self.predict_rows(users, items)

    def predict_rows(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass
class GlobalMean(_Keyed):
    """Predicts the mean training rating for every pair."""

    mu: float = field(default=0.0, init=False)

    def fit(self, train: pd.DataFrame, val: pd.DataFrame | None = None) -> GlobalMean:
        self.mu = float(train["rating"].mean())
        return self

    def predict_rows(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.full(len(users), self.mu)


@dataclass
class BiasBaseline(_Keyed):
    """``mu + b_u + b_i`` by alternating regularised least squares (scikit-surprise ``BaselineOnly``)."""

    reg_user: float = 15.0
    reg_item: float = 10.0
    epochs: int = 10
    mu: float = field(default=0.0, init=False)
    user_bias: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)
    item_bias: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)

    def fit(self, train: pd.DataFrame, val: pd.DataFrame | None = None) -> BiasBaseline:
        users, items, ratings = self._index(train)
        return self.fit_rows(users, items, ratings, len(self.users), len(self.items))

    def fit_rows(
        self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, num_users: int, num_items: int
    ) -> BiasBaseline:
        """Fit on training ratings given as parallel arrays ``[E]`` of rows and values."""
        self.mu = float(ratings.mean())
        n_u = np.bincount(users, minlength=num_users)
        n_i = np.bincount(items, minlength=num_items)
        bu, bi = np.zeros(num_users), np.zeros(num_items)
        for _ in range(self.epochs):
            bu = np.bincount(users, weights=ratings - self.mu - bi[items], minlength=num_users) / (
                self.reg_user + n_u
            )
            bi = np.bincount(items, weights=ratings - self.mu - bu[users], minlength=num_items) / (
                self.reg_item + n_i
            )
        self.user_bias, self.item_bias = bu, bi
        return self

    def predict_rows(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        pred = np.full(len(users), self.mu)
        if len(self.user_bias):
            pred += np.where(users >= 0, self.user_bias[np.maximum(users, 0)], 0.0)
        if len(self.item_bias):
            pred += np.where(items >= 0, self.item_bias[np.maximum(items, 0)], 0.0)
        return pred


@dataclass
class FactorParams:
    """The parameters of a factor model, updated in place by SGD.

    ``user_bias`` ``[U]``, ``item_bias`` ``[I]``, ``user_factors`` ``[U, k]``, ``item_factors`` ``[I, k]``,
    and for SVD++ the implicit-feedback factors ``implicit`` ``[I, k]`` (``y_j``).
    """

    user_bias: Tensor
    item_bias: Tensor
    user_factors: Tensor
    item_factors: Tensor
    implicit: Tensor | None = None

    def clone(self) -> FactorParams:
        return FactorParams(
            self.user_bias.clone(),
            self.item_bias.clone(),
            self.user_factors.clone(),
            self.item_factors.clone(),
            None if self.implicit is None else self.implicit.clone(),
        )


def _no_params() -> FactorParams:
    return FactorParams(torch.zeros(0), torch.zeros(0), torch.zeros(0, 0), torch.zeros(0, 0))


@dataclass
class _FactorModel(_Keyed):
    """Funk SVD and SVD++ by vectorised mini-batch SGD with scikit-surprise's update rules.

    Each rating of a shuffled mini-batch contributes the update surprise's sequential SGD would make, all
    evaluated at the batch's starting parameters and summed (``index_add_``); with small batches this is
    the same trajectory up to second-order terms, at numpy speed instead of a Python loop per rating.
    """

    factors: int = 20
    lr: float = 0.007
    reg: float = 0.02
    epochs: int = 20
    batch_size: int = 256
    init_std: float = 0.1
    seed: int = 0
    patience: int | None = None
    mu: float = field(default=0.0, init=False)
    epochs_run: int = field(default=0, init=False)
    min_rating: float = field(default=-np.inf, init=False)
    max_rating: float = field(default=np.inf, init=False)
    params: FactorParams = field(default_factory=_no_params, init=False, repr=False)

    implicit_feedback = False
    stage = "mf"
    """The stage name this model reports to ``progress``."""

    def fit(self, train: pd.DataFrame, val: pd.DataFrame | None = None) -> Self:
        """Fit on a ratings frame; with ``val`` and ``patience`` set, stop when validation RMSE stalls."""
        users, items, ratings = self._index(train)
        return self.fit_rows(users, items, ratings, len(self.users), len(self.items), val=self._val(val))

    def fit_rows(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        num_users: int,
        num_items: int,
        *,
        val: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None,
    ) -> Self:
        """Fit on training arrays ``[E]``; ``val`` (rows and ratings) with ``patience`` early-stops.

        ``progress(stage, epoch, epochs)`` is called after each pass (``stage`` is ``"mf"`` or ``"svdpp"``).
        """
        if len(ratings) == 0:
            raise ModelError("cannot fit a factor model on zero ratings")
        gen = torch.Generator().manual_seed(self.seed)
        self.mu = float(ratings.mean())
        self.min_rating, self.max_rating = float(ratings.min()), float(ratings.max())
        u = torch.from_numpy(users.astype(np.int64))
        i = torch.from_numpy(items.astype(np.int64))
        r = torch.from_numpy(ratings.astype(np.float32))
        k = self.factors
        self.params = FactorParams(
            user_bias=torch.zeros(num_users),
            item_bias=torch.zeros(num_items),
            user_factors=torch.randn((num_users, k), generator=gen) * self.init_std,
            item_factors=torch.randn((num_items, k), generator=gen) * self.init_std,
        )
        if self.implicit_feedback:
            self.params.implicit = torch.randn((num_items, k), generator=gen) * self.init_std
            self._build_implicit(u, i, num_users, num_items)
        # the SGD steps touch a few hundred rows each: on a loaded machine intra-op threads spinning on
        # barriers made them ten times slower, not faster
        with torch_threads(1):
            self._epochs(u, i, r, gen, val, progress)
        return self

    def _epochs(
        self,
        u: Tensor,
        i: Tensor,
        r: Tensor,
        gen: torch.Generator,
        val: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        progress: Progress | None,
    ) -> None:
        """Shuffled SGD passes; with validation and patience, keeps the best state seen.

        Patience counts only once validation has improved on an earlier pass (see :class:`EarlyStopping`).
        """
        stopping = EarlyStopping[FactorParams](self.patience or 1, wait_for_gain=True)
        for epoch in range(self.epochs):
            order = torch.randperm(len(r), generator=gen)
            for start in range(0, len(r), self.batch_size):
                batch = order[start : start + self.batch_size]
                self._step(u[batch], i[batch], r[batch])
            self.epochs_run = epoch + 1
            if progress is not None:
                progress(self.stage, epoch + 1, self.epochs)
            if val is None or self.patience is None:
                continue
            score = float(np.sqrt(np.mean((self.predict_rows(val[0], val[1]) - val[2]) ** 2)))
            if stopping.update(score, self.params.clone):
                break
        if stopping.best_state is not None:
            self.params = stopping.best_state

    def predict_rows(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        u = torch.from_numpy(np.asarray(users, dtype=np.int64))
        i = torch.from_numpy(np.asarray(items, dtype=np.int64))
        pu = _take(self._user_vectors(), u)
        pred = self.mu + _take(self.params.user_bias, u) + _take(self.params.item_bias, i)
        pred = pred + (pu * _take(self.params.item_factors, i)).sum(-1)
        return np.clip(pred.double().numpy(), self.min_rating, self.max_rating)

    def _user_vectors(self) -> Tensor:
        return self.params.user_factors

    def _build_implicit(self, u: Tensor, i: Tensor, num_users: int, num_items: int) -> None:
        raise NotImplementedError

    def _step(self, u: Tensor, i: Tensor, r: Tensor) -> None:
        p = self.params
        lr, reg = self.lr, self.reg
        bu, bi, pu, qi = p.user_bias[u], p.item_bias[i], p.user_factors[u], p.item_factors[i]
        y = p.implicit
        if y is not None:
            seg, cols, norm = self._expand(u)
            imp = torch.zeros_like(pu).index_add_(0, seg, y[cols]) * norm[:, None]
        else:
            imp = torch.zeros_like(pu)
        err = r - (self.mu + bu + bi + (qi * (pu + imp)).sum(-1))
        p.user_bias.index_add_(0, u, lr * (err - reg * bu))
        p.item_bias.index_add_(0, i, lr * (err - reg * bi))
        p.user_factors.index_add_(0, u, lr * (err[:, None] * qi - reg * pu))
        p.item_factors.index_add_(0, i, lr * (err[:, None] * (pu + imp) - reg * qi))
        if y is not None:
            # every j in N(u): y_j += lr * (err * |N(u)|^-1/2 * q_i - reg * y_j), once per rating of u
            grad = (err * norm)[:, None] * qi
            y.index_add_(0, cols, lr * (grad[seg] - reg * y[cols]))

    def _expand(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError


def _take(table: Tensor, rows: Tensor) -> Tensor:
    """``table[rows]`` where row ``-1`` (unseen) reads zeros, so the prediction keeps only known terms."""
    out = table[rows.clamp(min=0)]
    mask = (rows >= 0).to(out.dtype)
    return out * (mask if out.dim() == 1 else mask[:, None])


@dataclass
class BiasedMF(_FactorModel):
    """Biased matrix factorisation (Funk SVD; scikit-surprise ``SVD`` rules), ``mu + b_u + b_i + p_u.q_i``.

    Example:
        >>> mf = BiasedMF(factors=8).fit(train, val)  # doctest: +SKIP
        >>> mf.predict(test)  # doctest: +SKIP
    """


@dataclass
class SVDpp(_FactorModel):
    """SVD++ with implicit feedback from the items each user rated in training.

    Defaults are scikit-surprise ``SVDpp``'s: 20 factors, 20 epochs, lr 0.007, reg 0.02, init std 0.1.

    Example:
        >>> SVDpp().fit(train).predict(test)  # doctest: +SKIP
    """

    implicit_feedback = True
    stage = "svdpp"
    _indptr: Tensor = field(default_factory=lambda: torch.zeros(1, dtype=torch.long), init=False, repr=False)
    _indices: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long), init=False, repr=False)

    def _build_implicit(self, u: Tensor, i: Tensor, num_users: int, num_items: int) -> None:
        # N(u) in CSR form: the distinct items each user rated in training
        pairs = torch.unique(torch.stack([u, i]), dim=1)
        counts = torch.bincount(pairs[0], minlength=num_users)
        self._indptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
        self._indices = pairs[1]

    def _expand(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """For a batch of user rows ``[B]``: (batch position, item) of every ``j in N(u)``, and ``|N(u)|^-1/2``."""
        start, deg = self._indptr[u], self._indptr[u + 1] - self._indptr[u]
        seg = torch.repeat_interleave(torch.arange(len(u)), deg)
        offsets = torch.arange(len(seg)) - torch.repeat_interleave(deg.cumsum(0) - deg, deg)
        cols = self._indices[torch.repeat_interleave(start, deg) + offsets]
        return seg, cols, deg.clamp(min=1).float().rsqrt()

    def _user_vectors(self) -> Tensor:
        users = torch.arange(len(self._indptr) - 1)
        seg, cols, norm = self._expand(users)
        p, y = self.params.user_factors, self.params.implicit
        assert y is not None, "SVD++ draws its implicit factors when it fits"
        implicit = torch.zeros_like(p).index_add_(0, seg, y[cols])
        return p + implicit * norm[:, None]
