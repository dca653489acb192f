"""The fold-in of the bias and MF parts (gnn.foldin): each removal's refit equals the closed form its docstring
states, computed here directly, and a batch of removals equals each removal alone."""

from __future__ import annotations

import numpy as np
import pytest

from gnn.foldin import RatingFoldIn
from gnn.params import BiasParams, MFParams, TrainingRatings

REG_USER, REG_ITEM, MF_REG = 15.0, 10.0, 0.1


@pytest.fixture(scope="module")
def fold() -> RatingFoldIn:
    rng = np.random.default_rng(7)
    n_users, n_items, k = 6, 9, 4
    pairs = [(u, i) for u in range(n_users) for i in range(n_items) if rng.random() < 0.6]
    users, items = (np.array(v, dtype=np.int64) for v in zip(*pairs, strict=True))
    ratings = rng.integers(1, 6, len(users)).astype(np.float32)
    bias = BiasParams(3.5, rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items))
    mf = MFParams(
        3.4,
        rng.normal(0, 0.2, n_users),
        rng.normal(0, 0.2, n_items),
        rng.normal(0, 0.5, (n_users, k)),
        rng.normal(0, 0.5, (n_items, k)),
    )
    return RatingFoldIn(TrainingRatings(users, items, ratings), bias, mf, REG_USER, REG_ITEM, MF_REG)


def _user_refit(fold: RatingFoldIn, user: int, without: set[int]) -> np.ndarray:
    """[b_u, mf b_u, p_u] refitted on the user's ratings of items not in ``without``: the docstring's formulas."""
    t, b, m = fold.training, fold.bias, fold.mf
    mine = [e for e in range(len(t.users)) if t.users[e] == user and t.items[e] not in without]
    items, r = t.items[mine], t.ratings[mine].astype(np.float64)
    bias = (r - b.mu - b.item[items]).sum() / (REG_USER + len(mine))
    x = np.hstack([np.ones((len(mine), 1)), m.item_factors[items]])
    gram = x.T @ x + MF_REG * max(len(mine), 1) * np.eye(x.shape[1])
    return np.concatenate([[bias], np.linalg.solve(gram, x.T @ (r - m.mu - m.item_bias[items]))])


def _expected(fold: RatingFoldIn, user: int, item: int, without: set[int]) -> tuple[float, float]:
    """The pair's bias and MF predictions with the user's ratings of ``without`` removed (the item's own
    parameters stay: the user never rated it)."""
    b, m = fold.bias, fold.mf
    trained = np.concatenate([[b.user[user], m.user_bias[user]], m.user_factors[user]])
    if set(fold.rated_items(user).tolist()) <= without:  # nothing left: a stranger to these parts
        after = np.zeros_like(trained)
    else:
        after = trained + _user_refit(fold, user, without) - _user_refit(fold, user, set())
    return (
        b.mu + after[0] + b.item[item],
        m.mu + after[1] + m.item_bias[item] + float(after[2:] @ m.item_factors[item]),
    )


def test_each_removal_is_the_closed_form_refit_and_a_batch_equals_each_alone(fold: RatingFoldIn) -> None:
    user = 2
    rated = [int(i) for i in fold.rated_items(user)]
    item = min(set(range(len(fold.mf.item_factors))) - set(rated))
    assert len(rated) >= 3
    cases = [[], rated[:1], rated[1:3], rated]  # nothing, one rating, two, every one
    removals = [(np.full(len(c), user, dtype=np.int64), np.array(c, dtype=np.int64)) for c in cases]
    bias, mf = fold.parts(user, item, removals)
    for n, case in enumerate(cases):
        assert (bias[n], mf[n]) == pytest.approx(_expected(fold, user, item, set(case)), abs=1e-9), case
        alone = fold.parts(user, item, [removals[n]])
        assert (alone[0][0], alone[1][0]) == pytest.approx((bias[n], mf[n]), abs=1e-12), case
    assert len(set(np.round(mf, 6))) == len(cases)  # each removal moves the prediction its own way
