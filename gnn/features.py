"""Node input features: behaviour from training ratings only, item attributes, standardised.

Per user and per item (``[N, 6]``): ``log_count``, ``mean`` and ``std`` of ratings (shrunk towards the
global values by a pseudo-count), ``recency`` (log days between the node's last rating and the last
training rating), ``span`` (log days between its first and last rating) and ``popularity`` (for an item, the
mean log-activity of its raters; for a user, the mean log-popularity of what they rated: how mainstream).
Items add ``log_price``, ``price_missing`` and ``category_depth`` (deepest category, 0 when none).
Categories carry their ``depth``. Every column is standardised with a :class:`FeatureScaler` fitted here and
saved with the model, so features recomputed later are on the same scale.

Example:
    >>> import numpy as np
    >>> stats = behaviour_features(
    ...     np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([5.0, 3.0, 4.0]), np.zeros(3, dtype=np.int64),
    ...     num_users=2, num_items=2, shrinkage=0.0)
    >>> stats["user"][:, 1].tolist()  # mean rating per user
    [4.0, 4.0]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

__all__ = [
    "BEHAVIOUR_COLUMNS",
    "ITEM_COLUMNS",
    "FeatureScaler",
    "behaviour_features",
    "build_node_features",
]

BEHAVIOUR_COLUMNS = ("log_count", "mean", "std", "recency", "span", "popularity")
ITEM_COLUMNS = ("log_price", "price_missing", "category_depth")
_DAY = 86_400.0


def behaviour_features(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    ts: np.ndarray,
    *,
    num_users: int,
    num_items: int,
    shrinkage: float,
) -> dict[str, np.ndarray]:
    """Raw (unscaled) behavioural features from the training ratings given as parallel arrays ``[E]``.

    Returns ``{"user": [num_users, 6], "item": [num_items, 6]}`` in :data:`BEHAVIOUR_COLUMNS` order. A node
    without training ratings gets count 0, the global mean and spread, and zero recency and span.
    """
    ratings = ratings.astype(np.float64)
    mu = float(ratings.mean()) if len(ratings) else 0.0
    var = float(ratings.var()) if len(ratings) else 0.0
    has_time = bool(len(ts)) and bool((ts > 0).any())
    t_end = float(ts.max()) if has_time else 0.0
    out: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for name, rows, n in (("user", users, num_users), ("item", items, num_items)):
        count = np.bincount(rows, minlength=n).astype(np.float64)
        total = np.bincount(rows, weights=ratings, minlength=n)
        mean = (total + shrinkage * mu) / np.maximum(count + shrinkage, 1e-9)
        raw_mean = total / np.maximum(count, 1)
        dev = np.bincount(rows, weights=(ratings - raw_mean[rows]) ** 2, minlength=n)
        std = np.sqrt((dev + shrinkage * var) / np.maximum(count + shrinkage, 1e-9))
        mean[count == 0], std[count == 0] = mu, np.sqrt(var)
        recency, span = np.zeros(n), np.zeros(n)
        if has_time:
            last = np.full(n, -np.inf)
            first = np.full(n, np.inf)
            np.maximum.at(last, rows, ts.astype(np.float64))
            np.minimum.at(first, rows, ts.astype(np.float64))
            seen = count > 0
            recency[seen] = np.log1p(np.maximum(t_end - last[seen], 0) / _DAY)
            span[seen] = np.log1p(np.maximum(last[seen] - first[seen], 0) / _DAY)
        counts[name] = count
        out[name] = np.stack([np.log1p(count), mean, std, recency, span, np.zeros(n)], axis=1)
    # popularity needs both sides' counts: mean log-degree of the counterpart over the node's ratings
    for name, rows, other, other_rows in (
        ("user", users, "item", items),
        ("item", items, "user", users),
    ):
        n = len(counts[name])
        acc = np.bincount(rows, weights=np.log1p(counts[other][other_rows]), minlength=n)
        out[name][:, 5] = acc / np.maximum(counts[name], 1)
    return out


def item_attributes(full: HeteroData) -> np.ndarray:
    """``[num_items, 3]``: log price (0 when missing), a missing-price flag, deepest category depth."""
    n = int(full["item"].num_nodes)
    price = full["item"].price.numpy().astype(np.float64) if "price" in full["item"] else np.full(n, np.nan)
    missing = ~np.isfinite(price) | (price < 0)
    log_price = np.where(missing, 0.0, np.log1p(np.where(missing, 0.0, price)))
    depth = np.zeros(n)
    edge = ("item", "in_category", "category")
    if edge in full.edge_types and "depth" in full["category"]:
        item_rows, cat_rows = full[edge].edge_index.numpy()
        cat_depth = np.nan_to_num(full["category"].depth.numpy().astype(np.float64), nan=0.0)
        np.maximum.at(depth, item_rows, cat_depth[cat_rows])
    return np.stack([log_price, missing.astype(np.float64), depth], axis=1)


@dataclass(frozen=True)
class FeatureScaler:
    """Per node type, column names and the mean and standard deviation used to standardise them."""

    columns: dict[str, tuple[str, ...]]
    mean: dict[str, tuple[float, ...]]
    std: dict[str, tuple[float, ...]]

    @classmethod
    def fit(cls, raw: dict[str, np.ndarray], columns: dict[str, tuple[str, ...]]) -> FeatureScaler:
        mean = {t: tuple(float(v) for v in x.mean(axis=0)) for t, x in raw.items()}
        # a constant column (e.g. every category at depth 0) is left centred, not blown up
        std = {t: tuple(float(v) if v > 1e-8 else 1.0 for v in x.std(axis=0)) for t, x in raw.items()}
        return cls(columns, mean, std)

    def transform(self, node_type: str, raw: np.ndarray) -> Tensor:
        mean = np.asarray(self.mean[node_type])
        std = np.asarray(self.std[node_type])
        return torch.from_numpy(((raw - mean) / std).astype(np.float32))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"columns": self.columns, "mean": self.mean, "std": self.std}))

    @classmethod
    def load(cls, path: Path) -> FeatureScaler:
        raw = json.loads(path.read_text())
        return cls(
            {t: tuple(c) for t, c in raw["columns"].items()},
            {t: tuple(v) for t, v in raw["mean"].items()},
            {t: tuple(v) for t, v in raw["std"].items()},
        )


def build_node_features(
    full: HeteroData,
    train_users: np.ndarray,
    train_items: np.ndarray,
    train_ratings: np.ndarray,
    train_ts: np.ndarray,
    *,
    shrinkage: float,
) -> tuple[dict[str, Tensor], FeatureScaler]:
    """Standardised features ``{node_type: [N, F]}`` for user, item and (when it has depth) category.

    Only the training ratings passed in are read, so no statistic leaks from validation or test.
    """
    behaviour = behaviour_features(
        train_users,
        train_items,
        train_ratings,
        train_ts,
        num_users=int(full["user"].num_nodes),
        num_items=int(full["item"].num_nodes),
        shrinkage=shrinkage,
    )
    raw = {"user": behaviour["user"], "item": np.concatenate([behaviour["item"], item_attributes(full)], 1)}
    columns = {"user": BEHAVIOUR_COLUMNS, "item": BEHAVIOUR_COLUMNS + ITEM_COLUMNS}
    if "category" in full.node_types and "depth" in full["category"] and full["category"].num_nodes:
        raw["category"] = np.nan_to_num(full["category"].depth.numpy().astype(np.float64), nan=0.0)[:, None]
        columns["category"] = ("depth",)
    scaler = FeatureScaler.fit(raw, columns)
    return {t: scaler.transform(t, x) for t, x in raw.items()}, scaler
