"""BLAS held to one thread while serving calls run, and given back when the last one ends.

Run in a fresh interpreter, so that no other test's thread limits are in play.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

NESTED_CALLS = """
import json
import numpy, scipy.linalg
from threadpoolctl import threadpool_info
from rank.threads import serial_blas

def blas():
    return sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})

seen = {"before": blas()}
with serial_blas():
    seen["inside"] = blas()
    with serial_blas():  # a serving call inside another (an explanation ranking a list)
        seen["nested"] = blas()
    seen["after the nested one left"] = blas()
seen["after"] = blas()
print(json.dumps(seen))
"""


def test_one_thread_inside_and_the_pool_back_after_the_last_call_leaves() -> None:
    env = {"PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", NESTED_CALLS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if not seen["before"]:
        pytest.skip("no BLAS library in this interpreter")
    assert seen == {
        "before": [2],  # as the environment asks
        "inside": [1],
        "nested": [1],
        "after the nested one left": [1],  # the outer call still runs
        "after": [2],  # the last one out gave the pool back
    }
