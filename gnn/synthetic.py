"""Generated graphs with a planted answer, for contract tests and scale benchmarks.

Every user loves one brand: ratings of that brand's items are high, others low, plus user and item offsets
and noise. Biases alone cannot explain it (it is an interaction), and the brand is visible in the graph, so
a model that learns from the graph recovers each user's brand. Items also link to a dataset-specific
entity type (``Genre`` by default) and to categories, to exercise schema-driven training.

Example:
    >>> export, truth = planted_export(num_users=30, seed=0)
    >>> sorted(export.edges)[:3]
    ['ALSO_BOUGHT', 'ALSO_VIEWED', 'HAS_GENRE']
    >>> truth.favourite_brand["u0"] in truth.item_brand.values()
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.schema import Schema
from kg.export import GraphExport

__all__ = ["PlantedTruth", "planted_export"]


@dataclass(frozen=True)
class PlantedTruth:
    """What the generator planted: each user's favourite brand, each item's brand, the rating effect."""

    favourite_brand: dict[str, str]
    item_brand: dict[str, str]
    effect: float


def planted_export(
    *,
    num_users: int = 120,
    num_brands: int = 4,
    items_per_brand: int = 10,
    ratings_per_user: int = 16,
    cold_items_per_brand: int = 0,
    effect: float = 1.5,
    noise: float = 0.4,
    affinity: float = 2.0,
    extra_entity: str | None = "Genre",
    text: bool = False,
    seed: int = 0,
) -> tuple[GraphExport, PlantedTruth]:
    """A small graph whose ratings follow ``3.2 + b_u + b_i + effect * (+1 if favourite brand else -0.6)``.

    A user picks items of the favourite brand ``1 + affinity`` times as often as others.
    ``cold_items_per_brand`` extra items per brand have a brand and category but no ratings. Ratings are
    rounded to the 1..5 stars; timestamps increase per user. ``text`` gives items a title naming the brand.
    """
    rng = np.random.default_rng(seed)
    schema = Schema.core().with_entity(extra_entity) if extra_entity else Schema.core()
    brands = [f"brand{b}" for b in range(num_brands)]
    rated_items = [f"i{b}_{k}" for b in range(num_brands) for k in range(items_per_brand)]
    cold_items = [f"c{b}_{k}" for b in range(num_brands) for k in range(cold_items_per_brand)]
    items = rated_items + cold_items
    item_brand = {i: f"brand{i[1:].split('_')[0]}" for i in items}
    users = [f"u{u}" for u in range(num_users)]
    favourite = {u: brands[k % num_brands] for k, u in enumerate(users)}
    user_off = dict(zip(users, rng.normal(0, 0.6, num_users), strict=True))
    item_off = dict(zip(items, rng.normal(0, 0.6, len(items)), strict=True))

    rows = []
    for u in users:
        # fans pick their brand more often, as on real sites: who-rated-what carries the taste too
        weight = np.array([1.0 + affinity * (item_brand[i] == favourite[u]) for i in rated_items])
        size = min(ratings_per_user, len(rated_items))
        picks = rng.choice(len(rated_items), size=size, replace=False, p=weight / weight.sum())
        for step, p in enumerate(picks):
            i = rated_items[p]
            liked = item_brand[i] == favourite[u]
            value = 3.2 + user_off[u] + item_off[i] + effect * (1.0 if liked else -0.6) + rng.normal(0, noise)
            rows.append((u, i, float(np.clip(np.rint(value), 1, 5)), 1_600_000_000 + 86_400 * step))
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "ts"])

    categories = ["root", "left", "right"]
    item_frame = pd.DataFrame({"key": items, "price": rng.uniform(5, 50, len(items)).round(2)})
    item_frame["price"] = item_frame["price"].where(rng.random(len(items)) > 0.2)  # some prices missing
    item_frame["title"] = [f"{item_brand[i]} product {i}" for i in items] if text else None
    item_frame["description"] = None
    nodes = {
        "User": pd.DataFrame({"key": users}),
        "Item": item_frame,
        "Brand": pd.DataFrame({"key": brands}),
        "Category": pd.DataFrame({"key": categories, "depth": [0, 1, 1]}),
    }
    edges = {r.type: pd.DataFrame({c: pd.Series(dtype=str) for c in r.end_columns}) for r in schema.rel_types}
    edges["RATED"] = ratings
    edges["MADE_BY"] = pd.DataFrame({"source": items, "target": [item_brand[i] for i in items]})
    edges["IN_CATEGORY"] = pd.DataFrame(
        {"source": items, "target": [categories[1 + int(item_brand[i][5:]) % 2] for i in items]}
    )
    edges["SUBCATEGORY_OF"] = pd.DataFrame({"source": ["left", "right"], "target": ["root", "root"]})
    if extra_entity:
        entity = schema.entity(extra_entity)
        keys = [f"{extra_entity.lower()}{g}" for g in range(3)]
        nodes[extra_entity] = pd.DataFrame({"key": keys})
        edges[entity.relationship] = pd.DataFrame(
            {"source": items, "target": [keys[k % 3] for k in range(len(items))]}
        )
    return GraphExport(schema, nodes, edges), PlantedTruth(favourite, item_brand, effect)
