"""The contract every candidate model keeps: fit on interactions, score the whole catalogue for users.

Example:
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from rank.popularity import Popularity
    >>> model: CandidateModel = Popularity()
    >>> model.name
    'popularity'
"""

from __future__ import annotations

from typing import Protocol, Self

import numpy as np
import scipy.sparse as sp

from rank.interactions import Interactions

__all__ = ["CandidateModel"]


class CandidateModel(Protocol):
    """A model that proposes items: ``scores`` is ``[len(user_rows), n_items]``, higher is better.

    ``user_rows`` index ``Interactions.user_keys`` of the data the model was fitted on; ``-1`` is a user the
    model was not fitted on (a newcomer), known only by ``seen``: the users' interactions, ``[len(user_rows),
    n_items]``. A model with per-user parameters uses them for known rows and places a newcomer from
    ``seen``; an item-based model scores from ``seen`` alone.
    """

    name: str

    def fit(self, data: Interactions) -> Self: ...

    def scores(self, user_rows: np.ndarray, seen: sp.csr_matrix) -> np.ndarray: ...
