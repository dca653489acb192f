"""Thread control: how many intra-op threads torch (and BLAS) use for a stretch of work, restored afterwards.

Small tensor operations lose more to thread start-up and barriers than they gain from parallelism, and on a
loaded machine a thread descheduled for the Neo4j server (or anything else) stalls every operation that
waits for it. The SGD steps of the factor models and the ranking of a few thousand items run on one thread;
a ranking big enough to pay for threads takes all cores but one. A serving call (a served list, an
explanation) runs all of it on one thread, :func:`serving_threads`.

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
from typing import Any

import torch
from threadpoolctl import ThreadpoolController

__all__ = ["ranking_threads", "serving_threads", "torch_threads"]

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


_serving_lock = threading.Lock()
_serving_calls = 0
_controller: ThreadpoolController | None = None
_blas_limit: Any = None  # threadpoolctl's limiter of the calls inside, restored by the last one out
_torch_before = 0


@contextmanager
def serving_threads() -> Iterator[None]:
    """Hold torch and BLAS to one thread while serving calls run; the last call out gives the pools back.

    A served list makes a few small products (ALS factors, affinities in numpy; the rating model's stars in
    torch). A pool of two threads on two cores waits for its slower thread whenever the Neo4j server (or the
    next request) holds the other core: with torch on two threads outside :func:`ranking_threads`, one
    ``recommend`` in fifty took 20 ms more on amazon-hin; OpenBLAS threads spin between products on the cores
    LightGBM and Neo4j need. Calls may nest (an explanation ranks a list) and overlap (the service's request
    threads): they are counted, the first in sets the limits and the last out restores what was there, so a
    training later in the process gets its threads back.

    Example:
        >>> with serving_threads():
        ...     torch.get_num_threads()
        1
    """
    global _serving_calls, _controller, _blas_limit, _torch_before
    with _serving_lock:
        if _serving_calls == 0:
            # made at the first call, when every library a serving call uses has been loaded
            _controller = _controller or ThreadpoolController()
            _blas_limit = _controller.limit(limits=1, user_api="blas")
            _torch_before = torch.get_num_threads()
            torch.set_num_threads(1)
        _serving_calls += 1
    try:
        yield
    finally:
        with _serving_lock:
            _serving_calls -= 1
            if _serving_calls == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None
                torch.set_num_threads(_torch_before)
