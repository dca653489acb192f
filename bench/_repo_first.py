"""Imported first by a benchmark script that (directly or through ``kgrec``) imports the ``explain`` package.

Run as a script, a benchmark's folder comes first on ``sys.path``, and ``bench/explain.py`` would then shadow
the package it measures: this puts the repository root there instead.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == _HERE:
    sys.path[0] = str(_HERE.parent)
