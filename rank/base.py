"""The contract every candidate model keeps: fit on interactions, score the whole catalogue for users.

Example:
    >>> import numpy as np
    >>> from rank.popularity import Popularity
    >>> model: CandidateModel = Popularity()
    >>> model.name
    'popularity'
"""

from __future__ import annotations

from typing import Protocol, Self

import numpy as np

from rank.interactions import Interactions

__all__ = ["CandidateModel"]


class CandidateModel(Protocol):
    """A model that proposes items: ``scores`` is ``[len(user_rows), n_items]``, higher is better.

    ``user_rows`` index ``Interactions.user_keys`` of the data the model was fitted on; ``-1`` is a user
    without training interactions (scored as well as the model can without them).
    """

    name: str

    def fit(self, data: Interactions) -> Self: ...

    def scores(self, user_rows: np.ndarray) -> np.ndarray: ...
