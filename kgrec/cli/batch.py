"""Commands over a file of user ids (``kgrec recommend --users``, ``kgrec report --users``): the ids read from
it, each user's list or the error that names them, and the exit status that tells a script some failed.

A user the graph does not hold fails alone: the command serves the others, prints one error per failed user
and exits with :data:`SOME_FAILED`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import NotFoundError
from kgrec.cli.output import fail

if TYPE_CHECKING:
    from kgrec.recommender import Recommender
    from kgrec.results import Recommendation

__all__ = ["SOME_FAILED", "each_user", "user_lines"]


SOME_FAILED = 4
"""The exit status of a command over ``--users FILE`` when some users could not be served (an id the graph
does not hold): the others are served, each failed user has its error. 1 stays the status of a command that
failed as a whole."""


def user_lines(path: Path | None) -> list[str]:
    """The user ids of ``path``, one a line, in the file's order with a repeated id once; blank lines skipped.
    A missing or empty file is the command's one error (status 1)."""
    if path is None or not path.exists():
        fail(f"{path}: file not found")
    chosen = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not chosen:
        fail(f"{path}: no user ids in it")
    return list(dict.fromkeys(chosen))


def each_user(
    rec: Recommender,
    users: list[str],
    k: int,
    exclude_seen: bool = True,
    brand: str | None = None,
    category: str | None = None,
) -> dict[str, list[Recommendation] | NotFoundError]:
    """Each user's list, or the :class:`NotFoundError` that names them.

    The batch is ranked in one call; one that fails is halved until each failing call is one user (a
    failing call stops before any ranking, at the users the ranker does not know), so the users served are
    still ranked in batches.
    """
    try:
        return dict(rec.recommend_many(users, k, exclude_seen, brand, category))
    except NotFoundError as e:
        if len(users) == 1:
            return {users[0]: e}
    half = len(users) // 2
    return each_user(rec, users[:half], k, exclude_seen, brand, category) | each_user(
        rec, users[half:], k, exclude_seen, brand, category
    )
