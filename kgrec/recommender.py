"""``Recommender``: the one object that composes the graph (``kg``), the model (``gnn``) and explanations.

Example:
    >>> from kgrec import Recommender
    >>> rec = Recommender.connect()                       # doctest: +SKIP
    >>> rec.fit().ranking.at(10).ndcg                     # doctest: +SKIP
    >>> [r.item for r in rec.recommend("U00001", k=3)]    # doctest: +SKIP
    ['I00013', 'I00037', 'I00001']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError, ModelError, NotFoundError
from core.progress import Progress
from core.settings import Settings
from explain import (
    Explainer,
    Explanation,
    LocalCounterfactualScorer,
    PathScorer,
    RankingScorer,
    ReportData,
    collect_report,
)
from gnn import RatingModel, TrainConfig, mae, rmse, serving_threads
from gnn.split import SplitKind
from kg import GraphStore
from kgrec.models import TrainedModels
from kgrec.parallel_training import train_stack_in_processes
from kgrec.profiles import user_profile
from kgrec.results import Evaluation, FitResult, Prediction, Profile, Recommendation, SearchHit, SimilarItem
from kgrec.searching import search_hits
from loaders import Dataset
from rank import KS, RankConfig, Ranker, evaluate_ranking, train_stack
from rank.search_candidates import link_rels
from rank.search_training import fit_search
from rank.serving import FusedServing, ServedItem

__all__ = ["MAX_K", "Recommender"]

#: The one bound on ``k`` of every list: library, CLI and service (``KGREC_MAX_K`` may only lower it).
MAX_K = 100


def _bounded(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise InputError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


class Recommender:
    """Load data, train, save and serve recommendations from one kgrec graph.

    Two trained models serve: the rating model (:mod:`gnn`: predicted stars) and the ranker (:mod:`rank`:
    candidate models fused by LambdaRank, with the rating model as one of its features), which orders every
    recommendation. Both are saved in the model folder, the ranker in its ``ranker/`` subfolder.

    Attributes:
        store: the graph in Neo4j.
        settings: where the workspace lives (model directory, Neo4j).
    """

    def __init__(
        self,
        store: GraphStore,
        settings: Settings | None = None,
        model: RatingModel | None = None,
        ranker: Ranker | None = None,
    ):
        self.store = store
        self.settings = settings or Settings()
        self._models = TrainedModels(self.settings.model_path, model, ranker, graph=store.fingerprint)
        self._explainers: dict[bool, Explainer] = {}
        self._fused: FusedServing | None = None
        self._search_rels: list[str] | None = None

    @classmethod
    def connect(cls, settings: Settings | None = None, progress: Progress | None = None) -> Recommender:
        """Open the workspace's graph (managed Neo4j, or ``NEO4J_URI``); its saved model loads on first use."""
        settings = settings or Settings()
        return cls(GraphStore.connect(settings, progress), settings)

    @property
    def model(self) -> RatingModel | None:
        """The trained rating model: after :meth:`fit` or :meth:`load`, else the workspace's saved one, if any.

        Loaded when first asked for, so that commands that do not serve (load, stats, a retrain) work in a
        workspace whose saved model cannot be read.
        """
        return self._models.model

    @property
    def ranker(self) -> Ranker | None:
        """The trained ranker, saved and loaded with the model (``ranker/`` in the model folder); ``None``
        when the model folder has none (one saved by a kgrec from before the ranker)."""
        return self._models.ranker

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

    def fit(
        self,
        config: TrainConfig | None = None,
        rank_config: RankConfig | None = None,
        split: SplitKind | None = None,
        holdout: float = 0.2,
        progress: Progress | None = None,
        test_ratings: pd.DataFrame | None = None,
        search_pairs: int = 400,
        nproc: int = 1,
    ) -> FitResult:
        """Train the rating model and the ranker on the graph now in Neo4j (:func:`rank.train_stack`: one
        per-user split by ``split``, else ``config.split``: ``holdout`` of each user's ratings held out, at
        random or the latest), measure both on the held-out part, save them and write embeddings back.

        The search ranker (:func:`rank.search_training.fit_search`) trains on queries generated from
        ``search_pairs`` of the ranker's training interactions (0: none, search is text-only).

        With ``nproc`` above 1 the stack trains in that many processes, data-parallel for the rating model's
        GNN and the LightGCN (:mod:`kgrec.parallel_training`), from this one export.

        The served models are the ones measured: trained on the training part of the split. With
        ``test_ratings`` (``user, item, rating[, ts]``) they train on all loaded ratings but a validation slice.

        Example:
            >>> result = rec.fit(TrainConfig(seed=1), split="temporal")    # doctest: +SKIP
            >>> result.rating.test["blend"].rmse, result.ranking.at(10).ndcg   # doctest: +SKIP
        """
        config = config or TrainConfig()
        split = config.split if split is None else split
        export = self.store.export(progress)
        if export.edges["RATED"].empty:
            raise ModelError("the graph holds no ratings to train on; load a dataset first")
        rank_config = rank_config or RankConfig(seed=config.seed, device=config.device)
        if nproc != 1:  # below 1 is refused there, in one line
            stack = train_stack_in_processes(
                nproc, export, split, holdout, config.seed, config, rank_config, test_ratings
            )
        else:
            stack = train_stack(
                export, split, holdout, config.seed, config, rank_config, progress, test_ratings
            )
        search = None
        if search_pairs:
            search = fit_search(self.store, stack.ranker, search_pairs, config.seed, progress)[0]
        self._models = TrainedModels(
            self.settings.model_path, stack.model, stack.ranker, export.read_at, search
        )
        self._explainers = {}
        self.save(self.settings.model_path)
        for node_type, label in (("item", "Item"), ("user", "User")):
            self.store.write_embeddings(
                label, list(stack.model.id_map.keys(node_type)), stack.model.embeddings(node_type)
            )
        return FitResult(
            rating=stack.rating,
            ranking=stack.ranking,
            parts=stack.parts,
            fusion=stack.fusion,
            split=split,
            holdout=0.0 if test_ratings is not None else holdout,
            seed=config.seed,
            given_test=test_ratings is not None,
            test_overlap=stack.test_overlap,
        )

    def save(self, directory: Path | str) -> Path:
        """Write the rating model to ``directory`` and the ranker, when there is one, to its ``ranker/``."""
        return self._models.save(directory)

    def load(self, directory: Path | str) -> Recommender:
        """Serve the models saved in ``directory`` (the rating model read now, the others when first needed;
        a :class:`ModelError` when they were trained on another graph)."""
        self._models = TrainedModels(Path(directory), graph=self.store.fingerprint)
        self._models.trained_model()
        self._explainers = {}
        return self

    def trained_model(self) -> RatingModel:
        """The trained rating model (see :attr:`model`); raises :class:`ModelError` when there is none.

        Example:
            >>> rec.trained_model().id_map.num_nodes("item")   # doctest: +SKIP
            240
        """
        return self._models.trained_model()

    def trained_ranker(self) -> Ranker:
        """The trained ranker (see :attr:`ranker`); raises :class:`ModelError` when there is none."""
        return self._models.trained_ranker()

    def evaluate(self, ratings: pd.DataFrame) -> Evaluation:
        """Both models on a ``user, item, rating`` frame (unseen users and items allowed): the rating
        model's RMSE/MAE, and the fused ranking's top-K metrics with the frame's pairs as what each user
        took (:func:`rank.evaluate_ranking`: the catalogue ranked, training items left out)."""
        pairs = ratings[["user", "item"]]
        predicted = self.predict_pairs(pairs)
        truth = ratings["rating"].to_numpy(dtype=float)
        ranking, _ = evaluate_ranking(self.trained_ranker(), pairs.astype(str), KS)
        return Evaluation(
            ratings=len(ratings),
            rmse=rmse(predicted, truth),
            mae=mae(predicted, truth),
            cold_start=self.trained_model().cold_start(pairs),
            ranking=ranking,
        )

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
        """Top ``k`` items of the fused ranking for a user, optionally only of a brand and/or category (and
        its subcategories). ``category`` is a name, standing for every category of that name ("Women" under
        "Fashion & Style" and under "Health"), or a path from the root, ``"Magazine Subscriptions > Fashion & Style > Women"``.

        The user's training items are always left out; with ``exclude_seen`` also whatever else the graph
        says they rated. A user in the graph whom the ranker was not trained on is ranked from the items
        the graph says they rated; one not in the graph is a :class:`NotFoundError`.
        """
        return self.recommend_many([user], k, exclude_seen, brand, category)[user]

    def recommend_many(
        self,
        users: Sequence[str],
        k: int = 10,
        exclude_seen: bool = True,
        brand: str | None = None,
        category: str | None = None,
    ) -> dict[str, list[Recommendation]]:
        """Batched :meth:`recommend`: the ranker scores the users a batch at a time; each list is the same
        as :meth:`recommend` gives for that user."""
        k = _bounded(k)
        ranked = self._serving().recommend(users, k, exclude_seen, brand, category)
        return {user: [_recommendation(r) for r in rows] for user, rows in ranked.items()}

    def recommend_for_new_user(
        self,
        ratings: dict[str, float] | None = None,
        brands: Sequence[str] = (),
        categories: Sequence[str] = (),
        k: int = 10,
    ) -> list[Recommendation]:
        """Cold start: the fused ranking for someone the models have not seen.

        The items of ``ratings`` are what the newcomer took (each candidate model places them from those
        items, :meth:`rank.Ranker.rank_new`) and are left out. Stated brands and categories restrict the
        catalogue (any of the brands, and any of the categories); with nothing given, the list is what the
        models rank without any interaction (mostly popularity).
        """
        k = _bounded(k)
        ranked = self._serving().recommend_for_new_user(ratings, brands, categories, k)
        return [_recommendation(r) for r in ranked]

    def _serving(self) -> FusedServing:
        """One serving object per trained ranker, so that its card cache outlives a call."""
        ranker = self.trained_ranker()
        if self._fused is None or self._fused.ranker is not ranker:
            self._fused = FusedServing(ranker, self.store)
        return self._fused

    def similar_items(self, item: str, k: int = 10) -> list[SimilarItem]:
        """Items nearest to ``item`` by the model's embeddings, through Neo4j's vector index."""
        k = _bounded(k)
        if not self.store.has_item(item):
            raise NotFoundError(f"item {item!r} is not in the graph")
        return [
            SimilarItem(item=r["item"], score=float(r["score"]), title=r["title"])
            for r in self.store.similar_items(item, k)
        ]

    def search(
        self, query: str, user: str | None = None, k: int = 10, lucene: bool = False
    ) -> list[SearchHit]:
        """Items for a query read through the graph, ranked by the search ranker, personal with a ``user``
        (:mod:`kgrec.searching`). ``lucene``: Lucene's syntax on titles and descriptions, text only, as is
        every query when the models have no search ranker (a folder saved before it; then ``user`` is a
        :class:`ModelError`)."""
        k = _bounded(k)
        search = None if lucene else self._models.search
        if search is not None:
            if self._search_rels is None:  # the schema's entity types change only with a load
                self._search_rels = link_rels(self.store.schema())
            return search_hits(self._serving(), search, query, user, k, self._search_rels)
        if user is not None:
            raise ModelError("this workspace's models have no search ranker; train again (`kgrec train`)")
        hits = self.store.search(query, limit=k, lucene=lucene)
        return [SearchHit(item=h["item"], text_score=float(h["score"]), title=h["title"]) for h in hits]

    def explainer(self, rating_drop: bool = True) -> Explainer:
        """The path explainer: each path scored by how much it moves the fusion score that ranked the item
        (:class:`explain.RankingScorer`), with the rating model's counterfactual drop in predicted stars
        beside it unless ``rating_drop`` is off (that drop costs most of an explanation's time); a model
        folder without a ranker scores paths on the predicted rating alone."""
        if rating_drop not in self._explainers:
            schema = self.store.schema()
            rating: PathScorer = LocalCounterfactualScorer(self.trained_model(), schema)
            scorer = (
                rating if self.ranker is None else RankingScorer(self.ranker, rating if rating_drop else None)
            )
            self._explainers[rating_drop] = Explainer(self.store, scorer, schema=schema)
        return self._explainers[rating_drop]

    def explain(self, user: str, item: str, top: int = 3, rating_drop: bool = True) -> Explanation:
        """The graph paths that support ``item`` for ``user``, with sentences (see :class:`explain.Explanation`);
        ``rating_drop`` off leaves out each path's drop in predicted stars (``support["rating_drop"]``).

        Example:
            >>> for path in rec.explain("U00002", "I00014").paths:   # doctest: +SKIP
            ...     print(f"{path.score:+.2f}  {path.sentence}")
        """
        with serving_threads():  # the ranking scorer ranks as serving does; NotFoundError for either missing
            return self.explainer(rating_drop).explain(user, item, top=top)

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
        rows = self.trained_ranker().trained_data().user_rows(chosen)
        known = [u for u, r in zip(chosen, rows, strict=True) if r >= 0][:sample]
        recs = self.recommend_many(known, k, brand=brand, category=category)
        frame = pd.DataFrame(
            [(u, r.item, r.score) for u, rows in recs.items() for r in rows],
            columns=["user", "item", "score"],
        )
        return collect_report(
            self.store, self.explainer(), frame, brand=brand, category=category, sample=sample
        )

    def profile(self, user: str, limit: int = 10) -> Profile:
        """The brands, categories and other entities a user leans to, from the graph and the model
        (:func:`kgrec.profiles.user_profile`).

        Example:
            >>> [(b.name, round(b.weight, 2)) for b in rec.profile("U00001").leanings["Brand"]]  # doctest: +SKIP
            [('Crema Co', 0.71), ('Inkwell', 0.29)]
        """
        try:
            model = self.model
        except ModelError:  # profile works from the graph alone when the saved model cannot be read
            model = None
        return user_profile(self.store, model, user, limit)


def _recommendation(ranked: ServedItem) -> Recommendation:
    card = ranked.card
    return Recommendation(
        item=ranked.item,
        score=ranked.score,
        predicted_rating=ranked.predicted_rating,
        title=card.get("title"),
        brand=card.get("brand"),
        categories=card.get("categories") or [],
    )
