"""``Recommender``: the one object that composes the graph (``kg``), the model (``gnn``) and explanations.

Example:
    >>> from kgrec import Recommender
    >>> rec = Recommender.connect()                       # doctest: +SKIP
    >>> rec.fit()                                         # doctest: +SKIP
    >>> [r.item for r in rec.recommend("U00001", k=3)]    # doctest: +SKIP
    ['I00013', 'I00037', 'I00001']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import ModelError, NotFoundError
from core.progress import Progress
from core.schema import EdgeType
from core.settings import Settings
from explain import Explainer, Explanation, LocalCounterfactualScorer, ReportData, collect_report
from gnn import RatingModel, TrainConfig, Trainer, TrainMetrics
from gnn.serving import ItemRanker, RankedItem
from kg import GraphStore
from kgrec.results import Leaning, Prediction, Profile, Recommendation, SearchHit, SimilarItem
from loaders import Dataset

__all__ = ["Recommender"]


class Recommender:
    """Load data, train, save and serve recommendations from one kgrec graph.

    Attributes:
        store: the graph in Neo4j.
        settings: where the workspace lives (model directory, Neo4j).
    """

    def __init__(self, store: GraphStore, settings: Settings | None = None, model: RatingModel | None = None):
        self.store = store
        self.settings = settings or Settings()
        self._model = model
        self._explainer: Explainer | None = None

    @classmethod
    def connect(cls, settings: Settings | None = None, progress: Progress | None = None) -> Recommender:
        """Open the workspace's graph (managed Neo4j, or ``NEO4J_URI``); its saved model loads on first use."""
        settings = settings or Settings()
        return cls(GraphStore.connect(settings, progress), settings)

    @property
    def model(self) -> RatingModel | None:
        """The trained model: after :meth:`fit` or :meth:`load`, else the workspace's saved one, if any.

        Loaded when first asked for, so that commands that do not serve (load, stats, a retrain) work in a
        workspace whose saved model cannot be read.
        """
        path = self.settings.model_path
        if self._model is None and ((path / "config.json").exists() or (path / "model.pt").exists()):
            self.load(path)
        return self._model

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Recommender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- data and training ----------------------------------------------------------------------------
    def load_dataset(self, dataset: Dataset, progress: Progress | None = None) -> dict[str, int]:
        """Write a loaded dataset into the graph (see :mod:`loaders`)."""
        return self.store.write(dataset, progress=progress)

    def fit(self, config: TrainConfig | None = None, progress: Progress | None = None) -> TrainMetrics:
        """Train on the graph now in Neo4j, save the model and write item and user embeddings back.

        Example:
            >>> metrics = rec.fit(TrainConfig(split="temporal", seed=1))   # doctest: +SKIP
            >>> metrics.test["blend"].rmse                                   # doctest: +SKIP
        """
        export = self.store.export(progress)
        if export.edges["RATED"].empty:
            raise ModelError("the graph holds no ratings to train on; load a dataset first")
        result = Trainer(config or TrainConfig()).fit(export, progress=progress)
        self._model = result.model
        self._explainer = None
        self.save(self.settings.model_path)
        for node_type, label in (("item", "Item"), ("user", "User")):
            self.store.write_embeddings(
                label, list(result.model.id_map.keys(node_type)), result.model.embeddings(node_type)
            )
        return result.metrics

    def save(self, directory: Path | str) -> Path:
        return self.trained_model().save(directory)

    def load(self, directory: Path | str) -> Recommender:
        self._model = RatingModel.load(directory)
        self._explainer = None
        return self

    def trained_model(self) -> RatingModel:
        """The trained model (see :attr:`model`); raises :class:`ModelError` when there is none.

        Example:
            >>> rec.trained_model().id_map.num_nodes("item")   # doctest: +SKIP
            240
        """
        model = self.model
        if model is None:
            raise ModelError(
                "no trained model in this workspace; run `kgrec train` (or Recommender.fit) first"
            )
        return model

    # -- serving --------------------------------------------------------------------------------------
    def predict(self, user: str, items: Sequence[str]) -> list[Prediction]:
        """Predicted ratings of ``items`` for ``user``; unseen users and items are served as cold start."""
        pairs = pd.DataFrame({"user": [user] * len(items), "item": list(items)})
        parts = self.trained_model().predict_parts(pairs)
        return [
            Prediction(user=user, item=i, rating=float(r), source=str(s))
            for i, r, s in zip(items, parts["blend"], parts["source"], strict=True)
        ]

    def predict_pairs(self, pairs: pd.DataFrame) -> np.ndarray:
        """Predicted rating per row of a ``user, item`` frame."""
        return self.trained_model().predict(pairs)

    def recommend(
        self,
        user: str,
        k: int = 10,
        exclude_seen: bool = True,
        brand: str | None = None,
        category: str | None = None,
    ) -> list[Recommendation]:
        """Top ``k`` items for a known user, optionally only of a brand and/or category (and subcategories)."""
        return self.recommend_many([user], k, exclude_seen, brand, category)[user]

    def recommend_many(
        self,
        users: Sequence[str],
        k: int = 10,
        exclude_seen: bool = True,
        brand: str | None = None,
        category: str | None = None,
    ) -> dict[str, list[Recommendation]]:
        """Batched :meth:`recommend`: one encoder pass and one scoring matrix for all ``users``."""
        ranked = self._ranker().recommend(users, k, exclude_seen, brand, category)
        return {user: [_recommendation(r) for r in rows] for user, rows in ranked.items()}

    def recommend_for_new_user(
        self,
        ratings: dict[str, float] | None = None,
        brands: Sequence[str] = (),
        categories: Sequence[str] = (),
        k: int = 10,
    ) -> list[Recommendation]:
        """Cold start: rank items for someone the model has not seen, from a few ratings or stated tastes.

        Users who rated the given items alike (within one star) stand in for the newcomer; with no ratings,
        every known user does. Stated brands and categories restrict the candidates.
        """
        ranked = self._ranker().recommend_for_new_user(ratings, brands, categories, k)
        return [_recommendation(r) for r in ranked]

    def _ranker(self) -> ItemRanker:
        return ItemRanker(self.trained_model(), self.store)

    def similar_items(self, item: str, k: int = 10) -> list[SimilarItem]:
        """Items nearest to ``item`` by the model's embeddings, through Neo4j's vector index."""
        if not self.store.has_item(item):
            raise NotFoundError(f"item {item!r} is not in the graph")
        return [
            SimilarItem(item=r["item"], score=float(r["score"]), title=r["title"])
            for r in self.store.similar_items(item, k)
        ]

    def search(self, query: str, user: str | None = None, k: int = 10) -> list[SearchHit]:
        """Full-text search on titles and descriptions; re-ranked by the user's predicted rating if given."""
        hits = self.store.search(query, limit=max(50, k))
        if user is None or not hits:
            return [
                SearchHit(item=h["item"], text_score=float(h["score"]), title=h["title"]) for h in hits[:k]
            ]
        predicted = {p.item: p.rating for p in self.predict(user, [h["item"] for h in hits])}
        ranked = sorted(hits, key=lambda h: -predicted[h["item"]])[:k]
        return [
            SearchHit(
                item=h["item"], text_score=float(h["score"]), title=h["title"], predicted=predicted[h["item"]]
            )
            for h in ranked
        ]

    def explainer(self) -> Explainer:
        """The path explainer, scoring paths counterfactually with the trained model."""
        if self._explainer is None:
            schema = self.store.schema()
            self._explainer = Explainer(
                self.store, LocalCounterfactualScorer(self.trained_model(), schema), schema=schema
            )
        return self._explainer

    def explain(self, user: str, item: str, top: int = 3) -> Explanation:
        """The graph paths from ``user`` to ``item`` that the model relies on most, with sentences.

        Example:
            >>> for path in rec.explain("U00002", "I00014").paths:   # doctest: +SKIP
            ...     print(f"{path.score:+.2f}  {path.sentence}")
        """
        if not self.store.has_user(user):
            raise NotFoundError(f"user {user!r} is not in the graph")
        if not self.store.has_item(item):
            raise NotFoundError(f"item {item!r} is not in the graph")
        return self.explainer().explain(user, item, top=top)

    def report(
        self,
        users: Sequence[str] | None = None,
        brand: str | None = None,
        category: str | None = None,
        sample: int = 20,
        k: int = 5,
    ) -> ReportData:
        """Data of a merchandiser report: who gets the slice's items recommended, and why.

        ``users`` defaults to the ``sample`` users with the most ratings. Render it with
        :func:`explain.render_html` or :func:`explain.render_markdown`.
        """
        chosen = list(users) if users is not None else self.store.top_raters(sample)
        known = [u for u in chosen if self.trained_model().id_map.rows("user", [u])[0] >= 0][:sample]
        recs = self.recommend_many(known, k, brand=brand, category=category)
        frame = pd.DataFrame(
            [(u, r.item, r.score) for u, rows in recs.items() for r in rows],
            columns=["user", "item", "score"],
        )
        return collect_report(
            self.store, self.explainer(), frame, brand=brand, category=category, sample=sample
        )

    def profile(self, user: str, limit: int = 10) -> Profile:
        """The brands, categories and other entities a user leans to, from the graph and the model.

        Per entity label, the ``limit`` most-rated: weighted by their share of the user's rating mass, and
        with the model's mean predicted rating of their items for the user when a trained model knows the
        user (``None`` otherwise, also when the saved model cannot be read).

        Example:
            >>> [(b.name, round(b.weight, 2)) for b in rec.profile("U00001").leanings["Brand"]]  # doctest: +SKIP
            [('Crema Co', 0.71), ('Inkwell', 0.29)]
        """
        rated = self.store.rated_items(user)
        if rated.empty and not self.store.has_user(user):
            raise NotFoundError(f"user {user!r} is not in the graph")
        found = self.store.leanings(user, limit)
        names = {rel.edge_type: [str(r["name"]) for r in rows] for rel, rows in found.items()}
        predicted = self._linked_scores(user, names)
        leanings = {}
        for rel, rows in found.items():
            mass = sum(r["ratings"] * r["mean_rating"] for r in rows) or 1.0
            scores = predicted.get(rel.edge_type) or [None] * len(rows)
            leanings[rel.target.label] = [
                Leaning(
                    name=str(r["name"]),
                    ratings=r["ratings"],
                    mean_rating=r["mean_rating"],
                    weight=r["ratings"] * r["mean_rating"] / mass,
                    predicted=p,
                )
                for r, p in zip(rows, scores, strict=True)
            ]
        return Profile(
            user=user,
            ratings=len(rated),
            mean_rating=float(rated["rating"].mean()) if len(rated) else None,
            leanings=leanings,
        )

    def _linked_scores(
        self, user: str, names: dict[EdgeType, list[str]]
    ) -> dict[EdgeType, list[float | None]]:
        """The model's part of a profile; empty without a usable model (profile works from the graph alone)."""
        try:
            model = self.model
        except ModelError:
            return {}
        if model is None or model.id_map.rows("user", [user])[0] < 0:
            return {}
        return model.linked_scores(user, names)


def _recommendation(ranked: RankedItem) -> Recommendation:
    card = ranked.card
    return Recommendation(
        item=ranked.item,
        score=ranked.score,
        title=card.get("title"),
        brand=card.get("brand"),
        categories=card.get("categories") or [],
    )
