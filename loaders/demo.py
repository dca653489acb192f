"""A generated catalogue with named brands and categories and a planted taste structure.

Users belong to taste groups; each group loves the brands of one category branch and dislikes the rest, so
a test knows which items a user should be recommended and why. Used by the demo, the tests and benchmarks.

Example:
    >>> ds, truth = demo_dataset(n_users=40, n_items=60, seed=1)
    >>> sorted(ds.ratings.columns)
    ['item', 'rating', 'ts', 'user']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from loaders.records import Dataset, LoadReport, category_key

__all__ = ["DEMO_TREE", "DemoTruth", "demo_dataset", "write_demo_files"]

# Root -> branch -> brands. Brand names are invented; category names read like a real shop's.
DEMO_TREE: dict[str, dict[str, list[str]]] = {
    "Outdoor": {"Camping": ["Ridgeway", "Pine & Pole"], "Cycling": ["Velocita", "Spokeworks"]},
    "Kitchen": {"Coffee": ["Crema Co", "Bean Theory"], "Baking": ["Flourish", "Oven Bird"]},
    "Reading": {"Magazines": ["Longform Press", "The Quarterly"], "Comics": ["Inkwell", "Panel House"]},
}
_NOUNS = {
    "Camping": ["Tent", "Sleeping Bag", "Lantern", "Camp Stove"],
    "Cycling": ["Helmet", "Bike Light", "Saddle", "Pump"],
    "Coffee": ["Grinder", "Espresso Blend", "Pour-Over Kettle", "Filter Papers"],
    "Baking": ["Stand Mixer", "Loaf Tin", "Rolling Pin", "Sourdough Starter"],
    "Magazines": ["Annual Subscription", "Travel Issue", "Science Digest", "Politics Weekly"],
    "Comics": ["Graphic Novel", "Collector Box", "Starter Pack", "Anthology"],
}


@dataclass(frozen=True)
class DemoTruth:
    """The planted answer: each user's loved branch, and each item's branch and brand."""

    user_branch: dict[str, str]
    item_branch: dict[str, str]
    item_brand: dict[str, str]


def demo_dataset(
    n_users: int = 300, n_items: int = 240, ratings_per_user: int = 24, seed: int = 0
) -> tuple[Dataset, DemoTruth]:
    """Generate users, items, brands, a two-level category tree and ratings with a planted taste."""
    rng = np.random.default_rng(seed)
    branches = [(root, branch) for root, sub in DEMO_TREE.items() for branch in sub]
    items, brands, cats = [], [], []
    item_branch, item_brand = {}, {}
    for n in range(n_items):
        root, branch = branches[n % len(branches)]
        brand = DEMO_TREE[root][branch][(n // len(branches)) % 2]
        noun = _NOUNS[branch][(n // (2 * len(branches))) % len(_NOUNS[branch])]
        item = f"I{n:05d}"
        title = f"{brand} {noun} {n // (8 * len(branches)) + 1}"
        desc = f"A {noun.lower()} from {brand}, in our {branch.lower()} range."
        items.append((item, title, desc, round(float(rng.uniform(5, 120)), 2)))
        brands.append((item, brand))
        cats.append((item, (root, branch)))
        item_branch[item], item_brand[item] = branch, brand
    item_ids = np.array([i[0] for i in items])
    branch_of = np.array([item_branch[i] for i in item_ids])
    # each branch's items and the rest, split once: per user this was a pass over the whole catalogue
    split = {b: (item_ids[branch_of == b], item_ids[branch_of != b]) for _, b in branches}
    user_branch: dict[str, str] = {}
    rows = []
    for u in range(n_users):
        user = f"U{u:05d}"
        loved = branches[u % len(branches)][1]
        user_branch[user] = loved
        own, other = split[loved]
        k_own = min(len(own), ratings_per_user // 2)
        picks = list(rng.choice(own, k_own, replace=False)) + list(
            rng.choice(other, min(len(other), ratings_per_user - k_own), replace=False)
        )
        for item in picks:
            base = 4.6 if item_branch[item] == loved else 1.8
            rating = float(np.clip(np.rint(base + rng.normal(0, 0.5)), 1, 5))
            rows.append((user, item, rating, int(1_600_000_000 + rng.integers(0, 90 * 86400))))
    report = LoadReport(source="demo", rows_read=len(rows), rows_accepted=len(rows))
    dataset = Dataset(
        report=report,
        ratings=pd.DataFrame(rows, columns=["user", "item", "rating", "ts"]),
        items=pd.DataFrame(items, columns=["id", "title", "description", "price"]),
        brands=pd.DataFrame(brands, columns=["item", "brand"]),
        categories=pd.DataFrame(cats, columns=["item", "path"]),
    )
    return dataset, DemoTruth(user_branch, item_branch, item_brand)


def write_demo_files(directory: Path, **kwargs: int) -> dict[str, Path]:
    """Write the demo catalogue as plain tables that ``kgrec load table`` reads back (categories as paths,
    ``Kitchen > Coffee``, so the tree survives the round trip)."""
    directory.mkdir(parents=True, exist_ok=True)
    dataset, _ = demo_dataset(**kwargs)
    paths = {name: directory / f"{name}.csv" for name in ("ratings", "brand", "category", "items")}
    dataset.ratings.to_csv(paths["ratings"], index=False)
    dataset.brands.to_csv(paths["brand"], index=False, header=False)
    dataset.categories.assign(path=[category_key(p) for p in dataset.categories["path"]]).to_csv(
        paths["category"], index=False, header=False
    )
    dataset.items.to_csv(paths["items"], index=False)
    return paths
