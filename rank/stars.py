"""The rating model's predicted stars where the ranker's candidate table reads them.

The table reads a user's stars only at the items their candidate lists propose (a served list proposes a few
hundred of the catalogue), or, when it is the table of given columns (``only``: a page's items, an
explanation's item), only at those.

Example:
    >>> import numpy as np
    >>> stars = lambda users, items: np.ones((len(users), len(items)))
    >>> out = stars_where_needed(stars, ["u"], np.array(list("abcdefghij")), {"p": np.array([[1, 3, -1]])}, None)
    >>> out[0, [1, 3]].tolist(), int(np.isnan(out).sum())
    ([1.0, 1.0], 8)
    >>> out = stars_where_needed(stars, ["u"], np.array(list("abcdefghij")), {"p": np.array([[1, 3, -1]])}, np.array([5]))
    >>> out[0, 5].item(), int(np.isnan(out).sum())
    (1.0, 9)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["stars_where_needed"]


def stars_where_needed(
    rating: Callable[[Sequence[str], np.ndarray], np.ndarray] | None,
    keys: list[str],
    items: np.ndarray,
    lists: dict[str, np.ndarray],
    only: np.ndarray | None,
    listed: np.ndarray | None = None,
) -> np.ndarray | None:
    """Predicted stars ``[users, items]`` where the table reads them: the columns the lists propose, or the
    columns ``only`` when given (the table holds those alone, and the lists of the users ``listed`` marks;
    see :func:`rank.features.candidate_table`), NaN elsewhere; the whole catalogue once those are a quarter
    of it (a batch of many users)."""
    if only is None:
        chosen = [a.ravel() for a in lists.values()]
    else:
        mine = [] if listed is None else [a[listed].ravel() for a in lists.values()]
        chosen = [np.ravel(only), *mine]
    cols = np.unique(np.concatenate(chosen))
    cols = cols[cols >= 0].astype(np.int64)
    if rating is None or 4 * len(cols) >= len(items):
        return None if rating is None else rating(keys, items)
    out = np.full((len(keys), len(items)), np.nan, dtype=np.float32)
    out[:, cols] = rating(keys, items[cols])
    return out
