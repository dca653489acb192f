"""What the explanation benchmark (``bench/explanations.py``) measures beside the explainer itself: the
deletion curve (removing the anchors of an explanation's supporting paths), random walks from the user as
the baseline paths of the fidelity figure, and a scorer that times its calls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from explain import (
    ExplainedPath,
    Explanation,
    PathNode,
    PathRel,
    PathScorer,
    PathScores,
    anchors,
)
from kg import GraphExport
from rank import Ranker

DELETIONS = (1, 2, 3)


class Curve:
    """The deletion curve: per supported pair, the fusion score and the place in the user's top ``k``
    after removing the anchors of its top 1, 2, 3 supporting paths together, and as many random
    interactions of the user."""

    def __init__(self, ranker: Ranker, k: int) -> None:
        self.ranker, self.k = ranker, k
        self.drops: dict[int, list[float]] = {n: [] for n in DELETIONS}
        self.random: dict[int, list[float]] = {n: [] for n in DELETIONS}
        self.out: dict[int, list[bool]] = {n: [] for n in DELETIONS}
        self.out_all: list[bool] = []
        self.pairs = 0

    def place(
        self, user: str, taken: Sequence[str], item: str, hidden: frozenset[str] = frozenset()
    ) -> tuple[float, bool]:
        """The item's fusion score for the user known by ``taken``, and whether it is in their top ``k``
        (``hidden``: removed interactions, which the user has in fact and so never see in their list)."""
        data = self.ranker.trained_data()
        columns = self.ranker.rank_new(taken, 3 * self.k).items[0]
        keys = [str(data.item_keys[c]) for c in columns if c >= 0]
        listed = [key for key in keys if key != item and key not in hidden]
        scores = self.ranker.fused_scores(user, taken, [item, *listed])
        return float(scores[0]), int((scores[1:] > scores[0]).sum()) < self.k

    def add(self, user: str, item: str, taken: list[str], e: Explanation, rng: np.random.Generator) -> None:
        self.pairs += 1
        full, inside = self.place(user, taken, item)
        removed: set[str] = set()
        for n in DELETIONS:
            if n > len(e.paths):
                break
            removed |= anchors(e.paths[n - 1])
            score, still = self.place(user, [t for t in taken if t not in removed], item, frozenset(removed))
            self.drops[n].append(full - score)
            picked = frozenset(rng.choice(taken, size=min(len(removed), len(taken)), replace=False))
            self.random[n].append(
                full - self.place(user, [t for t in taken if t not in picked], item, picked)[0]
            )
            if inside:
                self.out[n].append(not still)
        if inside:
            self.out_all.append(not still)

    def summary(self) -> dict:
        return {
            "pairs": self.pairs,
            "in_top": len(self.out_all),
            "curve": [
                {
                    "removed": n,
                    "pairs": len(self.drops[n]),
                    "drop": mean(self.drops[n]) or 0.0,
                    "random_drop": mean(self.random[n]) or 0.0,
                    "out_of_top": mean([float(x) for x in self.out[n]]) or 0.0,
                }
                for n in DELETIONS
            ],
            "out_after_all": mean([float(x) for x in self.out_all]) or 0.0,
        }


class TimedScorer:
    """A path scorer that adds up the seconds its calls take (to tell its share of an explanation's time)."""

    def __init__(self, inner: PathScorer) -> None:
        self.inner, self.name, self.seconds = inner, inner.name, 0.0

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> PathScores:
        started = time.perf_counter()
        try:
            return self.inner(user, item, paths)
        finally:
            self.seconds += time.perf_counter() - started


def mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def anchor_items(path: ExplainedPath) -> set[str]:
    return {path.nodes[1].key} if len(path.nodes) > 1 and path.nodes[1].label == "Item" else set()


def first_interaction(walk: ExplainedPath) -> frozenset[str]:
    """The item of the walk's first step from the user (a user->item interaction), as real paths start."""
    first = walk.nodes[1] if len(walk.nodes) > 1 else None
    return frozenset([first.key]) if first is not None and first.label == "Item" else frozenset()


class RandomWalker:
    """Random walks from a user over the exported graph, ignoring direction, as explanation-shaped paths."""

    def __init__(self, export: GraphExport) -> None:
        schema = export.schema
        frames = []
        for rel in schema.rel_types:
            e = export.edges.get(rel.type)
            if e is None or e.empty:
                continue
            rating = e["rating"] if "rating" in e else pd.Series(np.nan, index=e.index)
            base = {"type": rel.type, "rating": rating.to_numpy()}
            start, end = rel.end_columns
            fwd = pd.DataFrame(
                {
                    **base,
                    "a_label": rel.source.label,
                    "a": e[start].astype(str).to_numpy(),
                    "b_label": rel.target.label,
                    "b": e[end].astype(str).to_numpy(),
                    "fwd": True,
                }
            )
            bwd = fwd.rename(columns={"a_label": "b_label", "a": "b", "b_label": "a_label", "b": "a"})
            frames += [fwd, bwd.assign(fwd=False)]
        edges = pd.concat(frames, ignore_index=True)
        self.adjacency = {key: g for key, g in edges.groupby(["a_label", "a"])}

    def walk(self, user: str, length: int, rng: np.random.Generator) -> ExplainedPath | None:
        nodes = [PathNode(label="User", key=user, name=user)]
        rels: list[PathRel] = []
        for step in range(length):
            options = self.adjacency.get((nodes[-1].label, nodes[-1].key))
            if options is None:
                return None
            row = options.iloc[int(rng.integers(len(options)))]
            nodes.append(PathNode(label=row["b_label"], key=row["b"], name=row["b"]))
            start, end = (step, step + 1) if row["fwd"] else (step + 1, step)
            props: dict[str, float | int | str | None] = {}
            if not pd.isna(row["rating"]):
                props["rating"] = float(row["rating"])
            rels.append(PathRel(type=row["type"], start=start, end=end, properties=props))
        return ExplainedPath(kind="random", nodes=nodes, rels=rels)
