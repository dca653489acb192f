"""A generated shop with the shape of real e-commerce data, for ``bench/scale.py``: power-law item popularity
and user activity, a three-level category tree (department > line > leaf) with brands per line, users whose
tastes lean to one to three lines, three years of timestamps, and each (user, item) pair one interaction of
one kind: a rating (1-5 stars) or a view, cart or purchase.

Sizes scale with the interactions asked for: a user per 10 interactions and an item per 50 (10M: 1M users,
200k items). Every array operation is vectorised, so that 10M pairs generate in seconds, not minutes.

Example (from ``bench/``):
    >>> s = shop(5_000, seed=1)
    >>> len(s.dataset.ratings) + len(s.events), sorted(s.events["kind"].unique())
    (5000, ['cart', 'purchase', 'view'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loaders import Dataset, LoadReport
from rank import Knowledge
from rank.interactions import with_events

KINDS = {"rating": 0.40, "view": 0.42, "cart": 0.10, "purchase": 0.08}
"""The share of each kind among the pairs."""
EVENT_RELS = {"view": "VIEWED", "cart": "CARTED", "purchase": "PURCHASED"}
"""The graph's relationship type of each event kind."""
EXPLORE = 0.15
"""The share of a user's interactions drawn from the whole catalogue by popularity, outside their tastes."""
START = 1_640_995_200  # 2022-01-01
SPAN_DAYS = 3 * 365  # long enough for the ranker's time features (two years at least)

_DEPARTMENTS = [
    "Outdoor", "Kitchen", "Books", "Fashion", "Beauty", "Toys", "Garden", "Sports",
    "Electronics", "Home", "Pets", "Music", "Office", "Automotive", "Baby", "Grocery",
]  # fmt: skip
_LINES = ["Essentials", "Premium", "Classics", "Travel", "Kids", "Accessories"]
_NOUNS = ["Set", "Kit", "Pack", "Bundle", "Collection"]
_SYLLABLES = ["ka", "lo", "mi", "ren", "to", "va", "zu", "bel", "cor", "den", "fa", "gri", "hal", "nor", "pe"]


@dataclass(frozen=True)
class Shop:
    """The generated data: ``dataset`` (ratings, items, brands, categories: what a load takes) and
    ``events`` (``user``, ``item``, ``kind``, ``ts``: views, carts and purchases, one per pair), and the
    planted ``tastes`` (per user row, the three line rows they lean to)."""

    dataset: Dataset
    events: pd.DataFrame
    tastes: np.ndarray

    @property
    def interactions(self) -> int:
        return len(self.dataset.ratings) + len(self.events)


def _names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct invented brand names (three syllables, four where three do not make enough)."""
    out: dict[str, None] = {}
    syllables = 3 if n <= len(_SYLLABLES) ** 3 // 2 else 4
    while len(out) < n:
        parts = rng.choice(_SYLLABLES, size=(n, syllables))
        for row in parts:
            out.setdefault("".join(row).capitalize(), None)
    return list(out)[:n]


def _pick(cum: np.ndarray, low: np.ndarray, high: np.ndarray, start: np.ndarray, end: np.ndarray,
          u: np.ndarray) -> np.ndarray:  # fmt: skip
    """Positions drawn by weight within ``[start, end)`` of the cumulative weights ``cum``."""
    pos = np.searchsorted(cum, low + u * (high - low), side="right")
    return np.clip(pos, start, end - 1)


def shop(interactions: int, seed: int = 0) -> Shop:
    """Generate a shop of ``interactions`` distinct (user, item) pairs (see the module)."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(50, interactions // 10), max(500, interactions // 50)
    # the tree: departments > lines > leaves; a line is the unit of taste
    n_roots = int(np.clip(n_items // 2000, 4, len(_DEPARTMENTS)))
    lines = [(d, line) for d in _DEPARTMENTS[:n_roots] for line in _LINES]
    leaves = [(d, line, f"{line} {noun}") for d, line in lines for noun in _NOUNS]
    leaf_line = np.repeat(np.arange(len(lines)), len(_NOUNS))
    leaf_weight = rng.lognormal(0, 0.8, len(leaves))
    item_leaf = rng.choice(len(leaves), n_items, p=leaf_weight / leaf_weight.sum())
    item_line = leaf_line[item_leaf]
    # brands: each line has some, of power-law sizes
    n_brands = max(len(lines), n_items // 40)
    brand_names = np.array(_names(rng, n_brands))
    brand_line = np.concatenate([np.arange(len(lines)), rng.integers(0, len(lines), n_brands - len(lines))])
    brand_weight = 1.0 / (rng.permutation(n_brands) + 1.0) ** 0.8
    item_brand = np.empty(n_items, np.int64)
    for line in range(len(lines)):
        mine, own = np.flatnonzero(item_line == line), np.flatnonzero(brand_line == line)
        p = brand_weight[own] / brand_weight[own].sum()
        item_brand[mine] = rng.choice(own, len(mine), p=p)
    # popularity: Zipf over a random order of the items; quality moves the stars
    weight = 1.0 / (rng.permutation(n_items) + 1.0) ** 0.9
    quality = rng.normal(0, 0.5, n_items)

    # users: log-normal activity (at least 3), tastes over three lines drawn by line popularity
    raw = rng.lognormal(0, 1.1, n_users)
    line_pop = np.bincount(item_line, weights=weight, minlength=len(lines))
    tastes = rng.choice(len(lines), (n_users, 3), p=line_pop / line_pop.sum())
    taste_w = np.cumsum(rng.dirichlet([1.0, 0.6, 0.3], n_users), axis=1)
    # items grouped by line, cumulative weights within the whole order: one searchsorted draws them all
    order = np.argsort(item_line, kind="stable")
    cum = np.cumsum(weight[order])
    bounds = np.searchsorted(item_line[order], np.arange(len(lines) + 1))
    surplus = 1.3  # popular pairs repeat; draw more, keep each pair once, trim to the size asked for
    while True:
        activity = np.maximum(3, np.round(raw / raw.sum() * interactions * surplus)).astype(np.int64)
        user = np.repeat(np.arange(n_users), np.minimum(activity, n_items // 4))
        n = len(user)
        slot = (rng.random(n)[:, None] > taste_w[user][:, :2]).sum(axis=1)
        start, end = bounds[tastes[user, slot]], bounds[tastes[user, slot] + 1]
        low, high = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0), cum[end - 1]
        explore = rng.random(n) < EXPLORE
        start, end = np.where(explore, 0, start), np.where(explore, n_items, end)
        low, high = np.where(explore, 0.0, low), np.where(explore, cum[-1], high)
        item = order[_pick(cum, low, high, start, end, rng.random(n))]
        _, first = np.unique(user * n_items + item, return_index=True)
        if len(first) >= interactions or surplus > 20:
            break
        surplus *= 1.05 * interactions / len(first)
    if len(first) > interactions:
        first = np.sort(rng.choice(first, interactions, replace=False))
    user, item = user[first], item[first]
    n = len(user)
    began = START + rng.random(n_users) * SPAN_DAYS * 0.8 * 86_400
    stay = np.minimum(rng.exponential(240, n_users), SPAN_DAYS * 0.2 + 60) * 86_400
    ts = (began[user] + rng.random(n) * stay[user]).astype(np.int64)
    kind = rng.choice(list(KINDS), n, p=list(KINDS.values()))

    liked = (tastes[user] == item_line[item][:, None]).any(axis=1)
    stars = np.where(liked, 4.1, 3.0) + quality[item] + rng.normal(0, 0.4, n_users)[user]
    stars = np.clip(np.rint(stars + rng.normal(0, 0.7, n)), 1, 5)

    user_ids = np.array([f"U{u:07d}" for u in range(n_users)])
    item_ids = np.array([f"I{i:06d}" for i in range(n_items)])
    rated = kind == "rating"
    ratings = pd.DataFrame(
        {
            "user": user_ids[user[rated]],
            "item": item_ids[item[rated]],
            "rating": stars[rated],
            "ts": ts[rated],
        }
    )
    events = pd.DataFrame(
        {
            "user": user_ids[user[~rated]],
            "item": item_ids[item[~rated]],
            "kind": kind[~rated],
            "ts": ts[~rated],
        }
    )
    leaf_noun = np.array([leaf[2] for leaf in leaves])[item_leaf]
    brand = brand_names[item_brand]
    titles = [f"{b} {noun} {i % 97 + 1}" for i, (b, noun) in enumerate(zip(brand, leaf_noun, strict=True))]
    descriptions = [
        f"{noun} from {b}, in our {lines[line][0].lower()} department."
        for b, noun, line in zip(brand, leaf_noun, item_line, strict=True)
    ]
    dataset = Dataset(
        report=LoadReport(source="generated shop", rows_read=len(ratings), rows_accepted=len(ratings)),
        ratings=ratings,
        items=pd.DataFrame(
            {
                "id": item_ids,
                "title": titles,
                "description": descriptions,
                "price": np.round(rng.lognormal(3.2, 0.9, n_items), 2),
            }
        ),
        brands=pd.DataFrame({"item": item_ids, "brand": brand}),
        categories=pd.DataFrame({"item": item_ids, "path": [leaves[leaf] for leaf in item_leaf]}),
    )
    return Shop(dataset, events, tastes)


def held_out(data: Shop, users: int, seed: int) -> pd.DataFrame:
    """Each of up to ``users`` sampled users' latest rating (users with two or more): a test slice."""
    r = data.dataset.ratings
    counts = r["user"].value_counts()
    eligible = np.sort(counts[counts >= 2].index.to_numpy())
    chosen = np.random.default_rng(seed).choice(eligible, min(users, len(eligible)), replace=False)
    mine = r[r["user"].isin(chosen)].sort_values(["user", "ts", "item"])
    return mine.groupby("user").tail(1).reset_index(drop=True)


def training_interactions(data: Shop, test: pd.DataFrame) -> pd.DataFrame:
    """The ranker's training interactions without the ``test`` pairs: the ratings, then each event pair
    (``rank.interactions.with_events``)."""
    ratings = data.dataset.ratings
    held = pd.MultiIndex.from_frame(test[["user", "item"]])
    keep = ~pd.MultiIndex.from_frame(ratings[["user", "item"]]).isin(held)
    events = {rel: data.events[data.events["kind"] == kind] for kind, rel in EVENT_RELS.items()}
    return with_events(ratings[keep], events, leave_out=test)


def knowledge_of(data: Shop, items: np.ndarray) -> Knowledge:
    """Brands and leaf categories as the ranker's item x node incidences (what ``Knowledge.from_export``
    gives for a loaded graph, without the category tree's parents)."""
    index = pd.Index(items)
    relations = {}
    for rel, frame, column in (
        ("MADE_BY", data.dataset.brands, "brand"),
        ("IN_CATEGORY", data.dataset.categories, "path"),
    ):
        rows = index.get_indexer(frame["item"])
        codes, uniques = pd.factorize(frame[column].astype(str))
        ones = np.ones(len(rows), np.float32)
        relations[rel] = sp.csr_matrix((ones, (rows, codes)), shape=(len(items), len(uniques)))
    empty = np.zeros(0, dtype=np.int64)
    return Knowledge(relations, (empty, empty))


@dataclass
class RankerInputs:
    """What a bench that trains the ranker alone on a shop needs: the shop, its held-out slice, the training
    interactions, the catalogue's keys and the side information."""

    data: Shop
    test: pd.DataFrame
    frame: pd.DataFrame
    items: np.ndarray
    knowledge: Knowledge

    @classmethod
    def of(cls, interactions: int, test_users: int, seed: int) -> RankerInputs:
        data = shop(interactions, seed)
        test = held_out(data, test_users, seed)
        items = data.dataset.items["id"].astype(str).to_numpy()
        return cls(data, test, training_interactions(data, test), items, knowledge_of(data, items))

    def figures(self) -> dict[str, Any]:
        """The shop's sizes, for a results file."""
        return {
            "interactions": self.data.interactions,
            "training_interactions": len(self.frame),
            "items": len(self.items),
            "test_users": len(self.test),
        }
