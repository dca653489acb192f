"""What the benchmark scripts share: where the data is, a measured block (time and peak memory), the
load-then-export step through a Neo4j workspace, the magazine k-core, percentiles, progress lines, and the
results file each script writes (``docs/benchmarks/<script>.md``: the command, the date, the machine, the
figures).

Imported by the scripts in this folder as ``import common`` (a script's folder is first on ``sys.path``);
no script here is named like a kgrec package, so none shadows one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.settings import Settings
from gnn import RatingSplit, TrainConfig, Trainer, TrainResult, split_ratings
from kg import GraphExport, GraphStore, ManagedNeo4j
from loaders import Dataset, read_amazon2018

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
HIN = DATA / "amazon-hin"
MAGAZINE = DATA / "amazon2018-magazine"
MIB = 2**20
RESULTS = ROOT / "docs" / "benchmarks"
_CLEAR_REFS = Path("/proc/self/clear_refs")


def say(message: str, done: int = 0, total: int = 0) -> None:
    """A progress line on stderr (stdout carries the figures and the JSON line); a ``core.Progress``."""
    print(message, file=sys.stderr, flush=True)


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 and p99 of ``seconds``, in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


# -- measuring ---------------------------------------------------------------------------------------
def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0); False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _peak_mib() -> float:
    """``ru_maxrss`` in MiB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mib() -> float | None:
    """Resident set size now, in MiB, or None off Linux."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * resource.getpagesize() / MIB


@dataclass
class Measure:
    """Wall seconds and memory of one block: RSS before it and the peak RSS while it ran (MiB)."""

    seconds: float = 0.0
    rss_before_mib: float | None = None
    peak_mib: float = 0.0
    peak_reset: bool = False


_ACTIVE: list[Measure] = []


def _note_peak() -> None:
    """Fold the peak so far into every block still running (before a nested block resets the mark)."""
    peak = _peak_mib()
    for m in _ACTIVE:
        m.peak_mib = max(m.peak_mib, peak)


@contextmanager
def measured() -> Iterator[Measure]:
    """Measure a block; blocks nest (an outer block's peak includes its inner blocks')."""
    _note_peak()
    m = Measure(rss_before_mib=_rss_mib(), peak_reset=reset_peak())
    _ACTIVE.append(m)
    started = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - started
        _note_peak()
        _ACTIVE.remove(m)


# -- data ---------------------------------------------------------------------------------------------
def k_core(ratings: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ratings whose user and item both have at least ``k`` of them, filtered until nothing changes."""
    while True:
        keep = (ratings["user"].map(ratings["user"].value_counts()) >= k) & (
            ratings["item"].map(ratings["item"].value_counts()) >= k
        )
        if keep.all():
            return ratings.reset_index(drop=True)
        ratings = ratings[keep]


def magazine_dataset(folder: Path, min_ratings: int) -> Dataset:
    """Amazon 2018 Magazine Subscriptions: metadata plus the ratings CSV, ratings cut to the k-core."""
    dataset = read_amazon2018(
        folder / "meta_Magazine_Subscriptions.json.gz", ratings=folder / "Magazine_Subscriptions.ratings.csv"
    )
    dataset.ratings = k_core(dataset.ratings, min_ratings)
    return dataset


@dataclass
class GraphInfo:
    """How the export was obtained: workspace, whether the graph was (re)loaded, seconds per step."""

    workspace: str
    ratings: int
    loaded: bool
    load_s: float | None
    export_s: float


def graph_export(
    workspace: str, dataset: Dataset, *, reload: bool, keep_server: bool
) -> tuple[GraphExport, GraphInfo]:
    """Load ``dataset`` into the workspace's graph (unless it already holds as many ratings) and export it.

    A managed server that this call started is stopped afterwards unless ``keep_server``: training needs
    only the export, and the machine is shared.
    """
    settings = Settings(workspace=workspace)
    server = None if settings.neo4j.uri else ManagedNeo4j(settings)
    was_running = server is not None and server.status().answers
    try:
        with GraphStore.connect(settings, progress=say) as store:
            held = store.stats().relationships.get("RATED", 0)
            load_s = None
            if reload or held != len(dataset.ratings):
                say(f"  loading {len(dataset.ratings):,} ratings into workspace {workspace}")
                started = time.perf_counter()
                store.reset()
                store.write(dataset)
                load_s = time.perf_counter() - started
            started = time.perf_counter()
            export = store.export()
            export_s = time.perf_counter() - started
    finally:
        if server is not None and not was_running and not keep_server:
            server.stop()
    rated = len(export.edges["RATED"])
    return export, GraphInfo(workspace, rated, load_s is not None, load_s, export_s)


# -- training -----------------------------------------------------------------------------------------
FRACTIONS = (0.8, 0.1, 0.1)
"""The random split every accuracy figure uses: train / validation / test."""


def split_of(export: GraphExport, seed: int) -> RatingSplit:
    """The seed's random 80/10/10 split of the exported ratings, sorted first so that it does not depend on
    the order in which Neo4j returned them."""
    rated = export.edges["RATED"].sort_values(["user", "item"], kind="stable").reset_index(drop=True)
    return split_ratings(rated, "random", seed, FRACTIONS)


def fit_kgrec(
    export: GraphExport, split: RatingSplit, config: TrainConfig
) -> tuple[TrainResult, Measure, list[float]]:
    """Train kgrec; also returns the seconds each GNN epoch took (from one epoch's end to the next's)."""
    stamps: list[float] = []  # the end of the last step before the GNN, then the end of each GNN epoch

    def progress(stage: str, step: int, total: int) -> None:
        now = time.perf_counter()
        if stage == "gnn":
            stamps.append(now)
            if step % 25 == 0 or step == 1:
                say(f"    kgrec gnn epoch {step}/{total} ({now - started:.0f}s)")
        else:
            if len(stamps) <= 1:  # no GNN epoch yet
                stamps[:] = [now]
            if step == total:
                say(f"    kgrec {stage} done ({now - started:.0f}s)")

    started = time.perf_counter()
    with measured() as m:
        result = Trainer(config).fit(export, split, progress=progress)
    return result, m, np.diff(stamps).tolist()


# -- results ------------------------------------------------------------------------------------------
def machine() -> str:
    """CPU model, cores this process may use, memory, the GPU torch sees (if torch is loaded), Python."""
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(
            line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [f"{platform.node()}: {cpu}", f"{cores} cores"]
    try:
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        parts.append(f"{kib / 2**20:.0f} GiB RAM")
    except (OSError, StopIteration, ValueError):
        pass
    torch = sys.modules.get("torch")  # only when a script already imported it: this asks, never loads
    if torch is not None and torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    else:
        parts.append("no GPU used")
    if hasattr(os, "getloadavg"):  # the machine may be shared: how busy it was when the figures were written
        parts.append(f"load average {os.getloadavg()[0]:.1f} at the end")
    return (
        ", ".join(parts) + f"; {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def write_results(
    script: str,
    title: str,
    about: str,
    body: str | Mapping[str, Any],
    *,
    argv: Sequence[str] | None = None,
    name: str | None = None,
) -> Path:
    """Write ``docs/benchmarks/<name>.md`` (``name`` defaults to ``script``): ``title``, the command that
    ran (``argv``, default this process's arguments), the date and the machine, ``about`` (what the
    figures are), then ``body``: markdown as is, or a result mapping rendered by :func:`markdown`.
    Returns the path written.

    Only figures measured in this run go in. A script of several parts (datasets) calls it after each, so
    that a later part that does not finish leaves the figures of the earlier ones.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    lines = [
        f"# {title}",
        "",
        f"Written by `bench/{script}.py` (do not edit by hand; run the command again to refresh it).",
        "",
        f"- command: `{shlex.join(['.venv/bin/python', f'bench/{script}.py', *args])}`",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        "",
        about.strip(),
        "",
    ]
    text = body if isinstance(body, str) else "\n".join(markdown(body))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name or script}.md"
    page = "\n".join(lines) + "\n" + text.strip()
    path.write_text(re.sub(r"\n{3,}", "\n\n", page) + "\n", encoding="utf-8")
    say(f"wrote {path.relative_to(ROOT)}")
    return path


def cell(value: Any) -> str:
    """One figure as text: thousands separated, at most four significant digits below 1,000."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 100 else f"{v:.4g}"
    if isinstance(value, list | tuple) and all(not isinstance(v, Mapping | list | tuple) for v in value):
        return ", ".join(cell(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _flat(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any] | None:
    """``value`` with nested mappings as dotted keys, or None when it holds a list of mappings."""
    out: dict[str, Any] = {}
    for key, v in value.items():
        name = f"{prefix}{key}"
        if isinstance(v, Mapping):
            inner = _flat(v, f"{name}.")
            if inner is None:
                return None
            out |= inner
        elif isinstance(v, list | tuple) and any(isinstance(x, Mapping | list | tuple) for x in v):
            return None
        else:
            out[name] = v
    return out


def _table(rows: Mapping[Any, Any], corner: str) -> list[str] | None:
    """A table of ``rows`` (each flattened), turned so that the longer side runs down; None if one is not
    flat."""
    flat = {str(k): _flat(v) for k, v in rows.items()}
    if not flat or any(v is None for v in flat.values()):
        return None
    columns = list(dict.fromkeys(c for v in flat.values() for c in v))  # type: ignore[union-attr]
    grid = {r: {c: v.get(c) for c in columns} for r, v in flat.items()}  # type: ignore[union-attr]
    if len(columns) > 8 and len(columns) > len(grid):
        grid = {c: {r: grid[r][c] for r in grid} for c in columns}
        columns, corner = list(flat), ""
    lines = [f"| {corner} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {r} | " + " | ".join(cell(v[c]) for c in columns) + " |" for r, v in grid.items()]
    return lines


def markdown(value: Mapping[str, Any], level: int = 2) -> list[str]:
    """A result mapping as markdown: its plain figures as a list, a mapping (or list) of flat records as
    a table, anything else under a heading of its own, one level down."""
    lines = [f"- {k}: {cell(v)}" for k, v in value.items() if _plain(v)]
    for key, v in value.items():
        if _plain(v):
            continue
        records = dict(enumerate(v, 1)) if isinstance(v, list | tuple) else v
        table = _table(records, "") if all(isinstance(r, Mapping) for r in records.values()) else None
        lines += ["", f"{'#' * min(level, 6)} {key}", ""]
        if table is not None:
            lines += table
        elif isinstance(v, Mapping) and level < 6:
            lines += markdown(v, level + 1)
        else:
            lines += ["```json", json.dumps(v, indent=1, default=str), "```"]
    return lines


def _plain(value: Any) -> bool:
    """A figure that fits in one cell: a scalar, or a list of scalars."""
    if isinstance(value, Mapping):
        return not value
    if isinstance(value, list | tuple):
        return all(not isinstance(v, Mapping | list | tuple) for v in value)
    return True
