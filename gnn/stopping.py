"""Early stopping on a validation score, shared by the MF part and the GNN part.

Example:
    >>> stop = EarlyStopping(patience=2)
    >>> [stop.update(score, lambda: score) for score in (1.0, 0.9, 0.95, 0.93)]
    [False, False, False, True]
    >>> stop.best, stop.best_state
    (0.9, 0.9)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["EarlyStopping"]

State = TypeVar("State")


class EarlyStopping(Generic[State]):
    """Keeps the best (lowest) validation score and the state that reached it; says when to stop.

    Args:
        patience: epochs without a better score before stopping.
        wait_for_gain: count patience only once the score has improved on an earlier one. On small graphs
            MF's validation RMSE first gets worse for dozens of passes (the biases settle while the factors
            leave their near-zero start), and counting those passes stopped it before it learned any taste.
        min_gain: how much lower a score must be to count as better.
    """

    def __init__(self, patience: int, *, wait_for_gain: bool = False, min_gain: float = 1e-5) -> None:
        self.patience = patience
        self.min_gain = min_gain
        self.best = float("inf")
        self.best_state: State | None = None
        self._counting = not wait_for_gain
        self._stalled = 0

    def update(self, score: float, snapshot: Callable[[], State], epochs: int = 1) -> bool:
        """Record the score measured ``epochs`` epochs after the previous one; True when training should stop.

        ``snapshot`` is called only for a new best, to copy the state that reached it.
        """
        if score < self.best - self.min_gain:
            self._counting = self._counting or self.best_state is not None
            self.best, self._stalled, self.best_state = score, 0, snapshot()
            return False
        if not self._counting:
            return False
        self._stalled += epochs
        return self._stalled >= self.patience
