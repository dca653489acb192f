"""Rating-prediction metrics and the record that reports them.

Example:
    >>> import numpy as np
    >>> round(rmse(np.array([1.0, 3.0]), np.array([2.0, 3.0])), 4)
    0.7071
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = ["Scores", "mae", "rmse", "scores"]


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Root mean squared error, ``sqrt(mean((pred - truth)^2))``; NaN for no pairs."""
    if len(truth) == 0:
        return float("nan")
    return float(np.sqrt(np.mean((np.asarray(pred, np.float64) - np.asarray(truth, np.float64)) ** 2)))


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error, ``mean(|pred - truth|)``; NaN for no pairs."""
    if len(truth) == 0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(pred, np.float64) - np.asarray(truth, np.float64))))


class Scores(BaseModel):
    """RMSE and MAE of one predictor on one set of ``n`` ratings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rmse: float
    mae: float
    n: int


def scores(pred: np.ndarray, truth: np.ndarray) -> Scores:
    """Both metrics at once."""
    return Scores(rmse=rmse(pred, truth), mae=mae(pred, truth), n=len(truth))
