"""Ranking under the evaluation protocol: full ranking of the catalogue, training items left out.

Example:
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    >>> top_k(scores, 2, exclude=sp.csr_matrix([[0, 1, 0, 0]])).tolist()
    [[3, 2]]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["top_k"]


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | sp.coo_matrix | None = None) -> np.ndarray:
    """The ``k`` best columns per row of ``scores`` (``[users, items]``), best first (ties in the list by column);
    ``exclude`` (same shape, non-zero = leave out) removes items such as the training ones (a caller that
    excludes the same items from several score tables converts them to COO once). A row with fewer than
    ``k`` candidates is padded with ``-1``."""
    s = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        coo = exclude if isinstance(exclude, sp.coo_matrix) else sp.coo_matrix(exclude)
        s[coo.row, coo.col] = -np.inf
    n_users, n_items = s.shape
    k_eff = min(k, n_items)
    part = (
        np.argpartition(-s, k_eff - 1, axis=1)[:, :k_eff]
        if k_eff < n_items
        else np.tile(np.arange(n_items), (n_users, 1))
    )
    picked = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -picked), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    top[~np.isfinite(np.take_along_axis(picked, order, axis=1))] = -1
    if k_eff < k:
        top = np.hstack([top, np.full((n_users, k - k_eff), -1)])
    return top
