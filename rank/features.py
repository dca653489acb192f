"""The fusion ranker's features, listed once: what each (user, candidate item) row carries.

Per candidate model (``RankConfig.parts``, in that order): its score and the item's position in that model's list for the user (the
list's length plus one when the model did not propose it). Then the rating model's predicted stars, the
item's training popularity (log) and age (days since its first interaction, up to the latest one in the
training data; missing without timestamps), the user's activity (log of their training interactions), how
the item's activity over time meets the user's (:data:`rank.timing.TIME_FEATURES`), and per knowledge
relation the user's affinity to the item along it (see :class:`rank.knowledge.Knowledge`).

Example:
    >>> feature_names(["popularity", "ease"], ["MADE_BY", "IN_CATEGORY"])[:4]
    ['popularity_score', 'popularity_rank', 'ease_score', 'ease_rank']
    >>> feature_names(["ease"], ["MADE_BY"])[-3:]
    ['gap_median_days', 'user_span_days', 'affinity_made_by']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rank.timing import TIME_FEATURES

__all__ = ["CandidateTable", "concat_tables", "feature_names", "monotone_directions"]


def feature_names(parts: Sequence[str], relations: Sequence[str]) -> list[str]:
    """Column names of the feature matrix, for candidate models ``parts`` and knowledge relations
    ``relations`` (relationship types)."""
    names = [f"{part}_{what}" for part in parts for what in ("score", "rank")]
    names += ["predicted_rating", "item_popularity", "item_age_days", "user_activity", *TIME_FEATURES]
    names += [f"affinity_{rel.lower()}" for rel in relations]
    return names


def monotone_directions(names: Sequence[str], parts: Sequence[str]) -> list[int]:
    """Per feature, the direction the fusion score must follow (LightGBM's ``monotone_constraints``): up with
    a candidate model's score, the predicted rating and an affinity, down with a model's rank (1 is its
    best), free for the rest. A prior, not a finding: on a few hundred validation users a tree otherwise
    learns that a better score means a worse item in some region of noise.

    >>> names = ["ease_score", "ease_rank", "predicted_rating", "item_popularity", "affinity_made_by"]
    >>> monotone_directions(names, ["ease"])
    [1, -1, 1, 0, 1]
    """
    known = {f"{p}_score": 1 for p in parts} | {f"{p}_rank": -1 for p in parts} | {"predicted_rating": 1}
    return [known.get(n, 1 if n.startswith("affinity_") else 0) for n in names]


@dataclass(frozen=True)
class CandidateTable:
    """Candidates of a batch of users, one row each: ``user`` (position in the batch), ``item`` (catalogue
    column) and ``features`` (``[rows, len(feature_names)]``, float32, NaN where unknown). Rows of one user
    are contiguous; ``groups`` gives how many each user has, in batch order."""

    user: np.ndarray
    item: np.ndarray
    features: np.ndarray
    groups: np.ndarray


def candidate_table(
    part_scores: dict[str, np.ndarray],
    part_lists: dict[str, np.ndarray],
    predicted: np.ndarray | None,
    item_popularity: np.ndarray,
    item_age_days: np.ndarray,
    user_activity: np.ndarray,
    affinity: dict[str, np.ndarray],
    timing: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]],
    only: np.ndarray | None = None,
    listed: np.ndarray | None = None,
) -> CandidateTable:
    """Build the rows of a batch: the union of every part's list per user (``part_lists[p]`` is
    ``[users, n]`` catalogue columns, best first, ``-1`` padded) with their features, or the columns
    ``only`` for every user when given; with ``only``, the users ``listed`` marks (bool ``[users]``) have
    the union of their lists as well (sorted, ``only`` among it). Scores, predicted ratings and affinities
    are ``[users, items]``; popularity and age ``[items]``; activity ``[users]``; ``timing(user, item)``
    gives the columns of :data:`rank.timing.TIME_FEATURES` for rows (batch position, catalogue column).
    The parts' columns follow the order of ``part_scores``."""
    n_users = len(user_activity)
    users, items = [], []
    for u in range(n_users):
        proposed = [part_lists[p][u] for p in part_scores]
        if only is None:
            union = np.unique(np.concatenate(proposed))
        elif listed is not None and listed[u]:
            union = np.unique(np.concatenate([*proposed, np.asarray(only)]))
        else:
            union = np.asarray(only)
        union = union[union >= 0]
        users.append(np.full(len(union), u))
        items.append(union)
    user = np.concatenate(users) if users else np.zeros(0, np.int64)
    item = np.concatenate(items) if items else np.zeros(0, np.int64)
    columns = []
    for part in part_scores:
        columns.append(part_scores[part][user, item])
        lists = part_lists[part]
        rank = np.full((n_users, part_scores[part].shape[1]), lists.shape[1] + 1, dtype=np.float32)
        rows = np.repeat(np.arange(n_users), lists.shape[1])
        flat = lists.ravel()
        ok = flat >= 0
        rank[rows[ok], flat[ok]] = np.tile(np.arange(1, lists.shape[1] + 1), n_users)[ok]
        columns.append(rank[user, item])
    columns.append(predicted[user, item] if predicted is not None else np.full(len(user), np.nan))
    columns.append(np.log1p(item_popularity[item]))
    columns.append(item_age_days[item])
    columns.append(np.log1p(user_activity[user]))
    over_time = timing(user, item)
    columns += [over_time[name] for name in TIME_FEATURES]
    columns += [matrix[user, item] for matrix in affinity.values()]
    features = (
        np.column_stack(columns).astype(np.float32) if len(user) else np.zeros((0, len(columns)), np.float32)
    )
    return CandidateTable(user, item, features, np.array([len(i) for i in items], dtype=np.int64))


def concat_tables(tables: Sequence[CandidateTable]) -> CandidateTable:
    """Tables one after the other, as one (user positions as they are: each table numbers its own)."""
    return CandidateTable(
        np.concatenate([t.user for t in tables]),
        np.concatenate([t.item for t in tables]),
        np.vstack([t.features for t in tables]),
        np.concatenate([t.groups for t in tables]),
    )
