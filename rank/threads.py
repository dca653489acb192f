"""BLAS on one thread while a serving call runs.

A served list makes a few small numpy products (ALS factors, affinities); OpenBLAS runs each on every core
and its threads then spin, waiting for more work, on the cores the next step (the rating model in torch,
LightGBM, the Neo4j server) needs: on two cores that gave in-process ``recommend`` a long tail.

Calls may nest (an explanation ranks a list) and overlap: they are counted, the first one in sets the
limit and the last one out restores what was there, so a training later in the process gets its threads
back. ``kgrec serve`` holds BLAS to one thread for its whole life anyway (its start-up sets it).

Example:
    >>> with serial_blas():
    ...     pass
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController

__all__ = ["serial_blas"]

_lock = threading.Lock()
_inside = 0
_controller: ThreadpoolController | None = None
_limit: Any = None  # threadpoolctl's limiter of the calls inside, restored by the last one out


@contextmanager
def serial_blas() -> Iterator[None]:
    """Hold BLAS to one thread inside the block (see the module docstring)."""
    global _inside, _controller, _limit
    with _lock:
        if _inside == 0:
            # made at the first call, when every library a serving call uses has been loaded
            _controller = _controller or ThreadpoolController()
            _limit = _controller.limit(limits=1, user_api="blas")
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _limit is not None:
                _limit.restore_original_limits()
                _limit = None
