"""A size's stages of ``bench/scale.py``, each timed and measured: wall seconds, peak memory of this process
and of the workspace's Neo4j, the store's size; a stage that fails is recorded and the run goes on."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import measured, say

from core.settings import Settings
from kg import ManagedNeo4j


def _status_mib(pid: int, field: str) -> int | None:
    """A ``kB`` field of a process's /proc status, in MiB."""
    with contextlib.suppress(OSError, ValueError, IndexError):  # a process gone, or a field unlike "N kB"
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024)
    return None


def _dir_mib(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file gone meanwhile
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total / 2**20


class Run:
    """One size's stages: each timed and measured, its figures or its error recorded."""

    def __init__(self, settings: Settings, interactions: int, save: Callable[[], None]) -> None:
        self.settings, self.interactions, self.save = settings, interactions, save
        self.stages: dict[str, dict[str, Any]] = {}
        self.failed: set[str] = set()

    def neo4j(self) -> dict[str, float | int | None]:
        pid = ManagedNeo4j(self.settings).status().pid  # read from /proc only: never signalled here
        data = self.settings.workspace_dir / "neo4j" / "data"
        return {
            "neo4j_peak_mib": _status_mib(pid, "VmHWM") if pid else None,
            "neo4j_rss_mib": _status_mib(pid, "VmRSS") if pid else None,
            "store_mib": round(_dir_mib(data), 1) if data.exists() else None,
        }

    def stage(self, name: str, work: Callable[[], Any], needs: tuple[str, ...] = ()) -> Any:
        missing = [n for n in needs if n in self.failed]
        if missing:
            self.stages[name] = {"failed": f"not run: needs {', '.join(missing)}"}
            self.failed.add(name)
            say(f"  {name}: not run (needs {', '.join(missing)})")
            self.save()
            return None
        say(f"  {name} ...")
        value, error = None, None
        with measured() as m:
            try:
                value = work()
            except Exception as e:  # recorded, not raised: the benchmark reports what could not run
                error = f"{type(e).__name__}: {e}"[:300]
        figures: dict[str, Any] = {"seconds": round(m.seconds, 1), "process_peak_mib": round(m.peak_mib)}
        if m.rss_before_mib is not None:  # what the process held before the stage: the shop, earlier stages
            figures["process_before_mib"] = round(m.rss_before_mib)
        figures |= self.neo4j()
        figures["s_per_m"] = round(m.seconds / (self.interactions / 1e6), 1)
        if error:
            figures["failed"] = error
            self.failed.add(name)
        self.stages[name] = figures
        say(f"  {name}: {figures}")
        self.save()
        return value
