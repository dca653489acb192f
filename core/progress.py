"""The one progress callback every long-running step accepts.

A step calls ``progress(stage, done, total)`` as it goes; ``total`` is 0 when the amount of work is not known
(a server starting, a download). The CLI renders these as progress bars; the library never prints.

Example:
    >>> seen = []
    >>> def record(stage: str, done: int, total: int) -> None:
    ...     seen.append((stage, done, total))
    >>> report: Progress = record
    >>> report("ratings", 10, 100)
    >>> seen
    [('ratings', 10, 100)]
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]

Progress = Callable[[str, int, int], None]
