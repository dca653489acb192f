"""The trained state of the parts besides the network, as named arrays.

Rows follow the model's :class:`gnn.idmap.IdMap`. A user or item that had no training ratings keeps a zero
(users) or borrowed (items, see :mod:`gnn.coldstart`) row; :class:`Coverage` says which rows are knowledge.

Example:
    >>> import numpy as np
    >>> RatingRange(1.0, 5.0).clip(np.array([0.2, 3.5, 7.0])).tolist()
    [1.0, 3.5, 5.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BiasParams", "Coverage", "MFParams", "RatingRange", "TrainingRatings"]


@dataclass(frozen=True)
class BiasParams:
    """The bias baseline ``mu + b_u + b_i``: ``user`` ``[U]`` and ``item`` ``[I]`` biases."""

    mu: float
    user: np.ndarray
    item: np.ndarray


@dataclass(frozen=True)
class MFParams:
    """The MF part ``mu + b_u + b_i + p_u.q_i``: biases ``[U]``/``[I]``, factors ``[U, k]``/``[I, k]``."""

    mu: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray


@dataclass(frozen=True)
class Coverage:
    """What the model knows of each row: ``warm_user`` ``[U]`` and ``warm_item`` ``[I]`` had training
    ratings; ``filled_item`` ``[I]`` is a cold item with parameters borrowed from its graph neighbours."""

    warm_user: np.ndarray
    warm_item: np.ndarray
    filled_item: np.ndarray


@dataclass(frozen=True)
class TrainingRatings:
    """The training ratings ``[E]`` as rows and values; the bias and MF counterfactuals refit on them."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray


@dataclass(frozen=True)
class RatingRange:
    """The training ratings' range; every part's prediction and the blend are clipped to it."""

    low: float
    high: float

    def clip(self, values: np.ndarray | float) -> np.ndarray:
        return np.clip(values, self.low, self.high)
