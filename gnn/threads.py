"""Thread control: how many intra-op threads torch uses for a stretch of work, restored afterwards.

Small tensor operations lose more to thread start-up and barriers than they gain from parallelism, and on a
loaded machine a thread descheduled for the Neo4j server (or anything else) stalls every operation that
waits for it. The SGD steps of the factor models and the ranking of a few thousand items run on one thread;
a ranking big enough to pay for threads takes all cores but one.

Example:
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["ranking_threads", "torch_threads"]

_RANKING = threading.Lock()
"""The thread count is the process's: one ranking at a time sets and restores it."""

_PARALLEL_FROM = 1 << 26
"""Multiply-adds from which a ranking uses several threads (below, a few milliseconds of work)."""


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch with ``count`` intra-op threads inside the block; the previous count comes back after."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def ranking_threads(multiply_adds: int) -> Iterator[None]:
    """Intra-op threads for ranking: one for a few milliseconds of work, else all cores but one.

    A parallel operation waits for its slowest thread: on 2 cores, two threads gave a 2,753-item ranking
    three times the p99 of one, and a 100,000-item ranking a p99 of 37-48 ms (outliers to 96 ms) against
    27-31 ms with one.
    """
    with _RANKING:
        before = torch.get_num_threads()
        small = multiply_adds < _PARALLEL_FROM
        with torch_threads(1 if small else max(1, min(before, (os.cpu_count() or 1) - 1))):
            yield
