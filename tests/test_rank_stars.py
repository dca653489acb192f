"""The rating model's stars are asked for only where the candidate table reads them, and are the same there."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rank.stars import stars_where_needed

ITEMS = np.array([f"i{n}" for n in range(40)])


class Stars:
    """A rating lookup that remembers how many items it was asked about."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, users: Sequence[str], items: np.ndarray) -> np.ndarray:
        self.asked.append(len(items))
        return np.array([[len(u) + int(i[1:]) / 10 for i in items] for u in users])


def test_a_few_users_lists_ask_only_for_their_columns() -> None:
    stars = Stars()
    lists = {"a": np.array([[3, 7, -1], [7, 1, 2]]), "b": np.array([[5, -1, -1], [3, 0, -1]])}
    out = stars_where_needed(stars, ["u", "vv"], ITEMS, lists, None)
    assert stars.asked == [6]  # columns 0, 1, 2, 3, 5, 7
    whole = Stars()(["u", "vv"], ITEMS)
    cols = [0, 1, 2, 3, 5, 7]
    np.testing.assert_allclose(out[:, cols], whole[:, cols])
    assert np.isnan(np.delete(out, cols, axis=1)).all()


def test_a_table_of_given_columns_asks_for_those_alone() -> None:
    """A page's or an explanation's table holds the columns ``only`` and reads its stars there alone."""
    stars = Stars()
    lists = {"a": np.array([[3, 7, -1], [7, 1, 2]]), "b": np.array([[5, -1, -1], [3, 0, -1]])}
    out = stars_where_needed(stars, ["u", "vv"], ITEMS, lists, np.array([9, 7]))
    assert stars.asked == [2]
    np.testing.assert_allclose(out[:, [7, 9]], Stars()(["u", "vv"], ITEMS)[:, [7, 9]])
    assert np.isnan(np.delete(out, [7, 9], axis=1)).all()


def test_many_columns_are_one_pass_over_the_catalogue() -> None:
    stars = Stars()
    lists = {"a": np.arange(12).reshape(1, 12)}
    out = stars_where_needed(stars, ["u"], ITEMS, lists, None)
    assert stars.asked == [40]
    np.testing.assert_allclose(out, Stars()(["u"], ITEMS))
    assert stars_where_needed(None, ["u"], ITEMS, lists, None) is None
