"""Torch and BLAS held to one thread while serving calls run, and given back when the last one ends.

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
import torch
from threadpoolctl import threadpool_info
from gnn import serving_threads

torch.set_num_threads(2)

def blas():
    return sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})

def threads():
    return {"blas": blas(), "torch": torch.get_num_threads()}

seen = {"before": threads()}
with serving_threads():
    seen["inside"] = threads()
    with serving_threads():  # a serving call inside another (an explanation ranking a list)
        seen["nested"] = threads()
    seen["after the nested one left"] = threads()
seen["after"] = threads()
print(json.dumps(seen))
"""


def test_one_thread_inside_and_the_pool_back_after_the_last_call_leaves() -> None:
    env = {"PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", NESTED_CALLS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if not seen["before"]["blas"]:
        pytest.skip("no BLAS library in this interpreter")
    one, two = {"blas": [1], "torch": 1}, {"blas": [2], "torch": 2}
    assert seen == {
        "before": two,  # as the environment and the script ask
        "inside": one,
        "nested": one,
        "after the nested one left": one,  # the outer call still runs
        "after": two,  # the last one out gave the pools back
    }
