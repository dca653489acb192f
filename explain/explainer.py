"""``Explainer``: candidate paths from the graph, scored, ranked, and put into words.

Example:
    >>> from explain import Explainer
    >>> explanation = Explainer(store).explain("U00002", "I00014", top=3)  # doctest: +SKIP
    >>> print(explanation.paths[0].sentence)  # doctest: +SKIP
    Strong reason: you rated *Crema Co Grinder 1* 5★; *Crema Co Grinder 2* is also made by Crema Co, and ...
"""

from __future__ import annotations

from collections.abc import Sequence

from core.schema import Schema
from explain.models import ExplainedPath, Explanation, from_record
from explain.ranking_scorer import anchors
from explain.scoring import PathScorer, ShapeScorer
from explain.sentences import named, no_support_note, sentence, strength_of
from kg import GraphStore
from kg.paths import candidate_paths

__all__ = ["Explainer", "preselect"]


class Explainer:
    """Explains (user, item) pairs with paths through the knowledge graph.

    Args:
        store: the graph (:class:`kg.GraphStore`).
        scorer: scores paths; :class:`explain.RankingScorer` with a trained ranker (the effect on the
            fusion score that ranked the item), :class:`explain.LocalCounterfactualScorer` with a rating
            model alone, else the shape fallback :class:`explain.ShapeScorer`.
        per_kind: candidate paths read per pattern (the fan-out bound of each Cypher pattern).
        max_scored: at most this many candidates reach the scorer, picked by shape score across kinds
            (each costs the counterfactual one model pass).
        min_rating: the rating from which the user "rated an item well", and fans count.
        hub_cap: at most this many fans of the target are read for the similar-users paths.
        max_per_kind: at most this many paths of one kind among the top ones, so an explanation gives
            different reasons before repeating one (``None``: no limit, pure score order).
        audience: who stands behind the ratings in sentences ("customers", "readers").
    """

    def __init__(
        self,
        store: GraphStore,
        scorer: PathScorer | None = None,
        *,
        per_kind: int = 5,
        max_scored: int = 12,
        min_rating: float = 4.0,
        hub_cap: int = 200,
        max_per_kind: int | None = 2,
        audience: str = "customers",
        schema: Schema | None = None,
    ) -> None:
        self.store = store
        self.scorer: PathScorer = scorer or ShapeScorer()
        self.per_kind = per_kind
        self.max_scored = max_scored
        self.min_rating = min_rating
        self.hub_cap = hub_cap
        self.max_per_kind = max_per_kind
        self.audience = audience
        self._schema = schema

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            self._schema = self.store.schema()
        return self._schema

    def candidates(self, user: str, item: str) -> list[ExplainedPath]:
        """Every candidate path, unscored, with its sentence."""
        records = candidate_paths(
            self.store,
            user,
            item,
            self.per_kind,
            min_rating=self.min_rating,
            hub_cap=self.hub_cap,
            schema=self.schema,
        )
        paths = [from_record(r) for r in records]
        for p in paths:
            p.sentence = sentence(p, self.audience)
        return paths

    def explain(self, user: str, item: str, top: int = 3) -> Explanation:
        """The ``top`` paths that support ``item`` for ``user``, best score first, and apart from them up to
        ``top`` paths that work against it (``despite``, most negative first).

        A path supports the item when its score is positive: removing it lowers the score that ranked the
        item. Each path's ``strength`` sizes its score against the scorer's spread
        (:func:`explain.sentences.strength_of`) and its sentence says so. When no path supports the item,
        ``paths`` is empty and ``note`` says so plainly.

        Raises:
            NotFoundError: the user or the item is not in the graph.

        Example:
            >>> Explainer(store).explain("U00002", "I00014", top=1).paths[0].kind  # doctest: +SKIP
            'brand'
        """
        paths = self.candidates(user, item)
        chosen = preselect(paths, self.max_scored)
        scores = self.scorer(user, item, chosen)
        for p, s in zip(chosen, scores.values, strict=True):
            p.score = s
            p.strength = strength_of(s, scores.spread)
            p.sentence = sentence(p, self.audience)
        if scores.rating_drops is not None:
            for p, drop in zip(chosen, scores.rating_drops, strict=True):
                p.support["rating_drop"] = drop
        supporting = sorted(
            (p for p in chosen if p.score > 0), key=lambda p: (-p.score, p.kind, [n.key for n in p.nodes])
        )
        against = sorted(
            (p for p in chosen if p.score < 0), key=lambda p: (p.score, p.kind, [n.key for n in p.nodes])
        )
        if paths:
            name = paths[0].nodes[-1].name
        else:
            facts = self.store.item_facts([item])
            name = facts[item]["name"] if item in facts else item
        kept = _diverse(supporting, top, self.max_per_kind)
        return Explanation(
            user=user,
            item=item,
            item_name=name,
            scoring=self.scorer.name,
            predicted=scores.predicted,
            paths=kept,
            despite=_diverse(against, top, self.max_per_kind),
            note="" if kept else no_support_note(named(name, item), len(paths), self.scorer.name),
            spread=scores.spread,
            candidates=len(paths),
        )


def _diverse(ranked: Sequence[ExplainedPath], top: int, per_kind: int | None) -> list[ExplainedPath]:
    """The first ``top`` of ``ranked`` with at most ``per_kind`` of one kind, paths through an interaction
    not yet given taken first (two paths from the same rated item are one reason told twice), in the order
    of ``ranked``; a path whose sentence reads like one already taken (parallel links) is left out."""
    chosen: list[int] = []
    taken: dict[str, int] = {}
    seen: set[frozenset[str]] = set()
    told: set[str] = set()
    for fresh_only in (True, False):
        for k, p in enumerate(ranked):
            if len(chosen) == top:
                break
            if k in chosen or p.sentence in told:
                continue
            if (per_kind is not None and taken.get(p.kind, 0) >= per_kind) or (
                fresh_only and anchors(p) in seen
            ):
                continue
            chosen.append(k)
            taken[p.kind] = taken.get(p.kind, 0) + 1
            seen.add(anchors(p))
            told.add(p.sentence)
    return [ranked[k] for k in sorted(chosen)]


def preselect(paths: Sequence[ExplainedPath], limit: int) -> list[ExplainedPath]:
    """Up to ``limit`` paths, best shape score first within each kind, taken round-robin across kinds so
    every kind found gets a chance before a second path of any kind."""
    shape = ShapeScorer()
    by_kind: dict[str, list[ExplainedPath]] = {}
    for p in sorted(paths, key=lambda p: -shape.score(p)):
        by_kind.setdefault(p.kind, []).append(p)
    out: list[ExplainedPath] = []
    depth = 0
    while len(out) < limit and any(len(v) > depth for v in by_kind.values()):
        for kind in sorted(by_kind):
            if depth < len(by_kind[kind]) and len(out) < limit:
                out.append(by_kind[kind][depth])
        depth += 1
    return out
