"""Search as the facade serves it: the query read through the graph (:func:`rank.search_candidates.gather`),
ranked by the learned search ranker (:class:`rank.search.SearchRanker`), each hit saying what matched and
carrying the user's fused score. A user's navigational query (its words name one category or one brand,
nothing left over: :func:`rank.search_intent.navigation`) is answered by that entity's page, the fused
ranking :meth:`kgrec.Recommender.recommend` gives with the category or brand the search found, as a shop
answers it (unless the user has taken all the page holds); ``score`` is then the page's fused score.

A user's items are handled as :meth:`kgrec.Recommender.recommend` handles them: their training items and
whatever else the graph says they rated are left out; a user the ranker was not trained on is placed from
what the graph says they rated, and one the graph does not hold is a :class:`NotFoundError`. A query that
matches nothing is a :class:`NotFoundError` that suggests the closest entity names (and, in a catalogue
without titles or descriptions, says that only entity names and item keys can match).

Example:
    >>> hits = search_hits(FusedServing(ranker, store), search_ranker, "inkwell pens", "U00001", 5, rels)  # doctest: +SKIP
    >>> hits[0].matched                                                                 # doctest: +SKIP
    ['title', 'Brand: Inkwell']
"""

from __future__ import annotations

import numpy as np

from core.errors import NotFoundError
from gnn import serving_threads
from kg import GraphStore
from kgrec.results import SearchHit
from rank import Ranker
from rank.search import SearchRanker
from rank.search_candidates import Candidates, gather
from rank.search_intent import Navigation, navigation
from rank.serving import FusedServing, ServedItem

__all__ = ["nothing_found", "search_hits", "taken_by"]


def taken_by(store: GraphStore, ranker: Ranker, user: str) -> list[str]:
    """What places ``user``: their training items, or for a user the ranker does not know, what the graph
    says they rated (a :class:`NotFoundError` when the graph does not hold them)."""
    data = ranker.trained_data()
    row = int(data.user_rows([user])[0])
    if row >= 0:
        cols = data.matrix.indices[data.matrix.indptr[row] : data.matrix.indptr[row + 1]]
        return [str(data.item_keys[c]) for c in cols]
    rated = store.rated_items(user)
    if rated.empty and not store.has_user(user):
        raise NotFoundError(f"user {user!r} is not in the graph")
    return [str(i) for i in rated["item"]]


def nothing_found(store: GraphStore, query: str, words: list[str]) -> NotFoundError:
    """The error of a query that matches nothing: what it was, the closest entity names, and whether items
    have any text to match."""
    close = store.closest_entity_names(words)
    hint = f"; closest names: {', '.join(close)}" if close else ""
    if not store.has_item_text():
        hint += "; the items have no titles or descriptions here: only entity names and item keys can match"
    return NotFoundError(f"nothing matches {query!r}{hint}")


def search_hits(
    serving: FusedServing, search: SearchRanker, query: str, user: str | None, k: int, rels: list[str]
) -> list[SearchHit]:
    """The top ``k`` of ``query`` for ``user`` (anonymous when ``None``), best first; ``rels`` are the
    relationships from items to linked entities (:func:`rank.search_candidates.link_rels`), and the hits'
    titles come from the serving object's card cache."""
    store, ranker = serving.store, serving.ranker
    taken = taken_by(store, ranker, user) if user is not None else []
    found = gather(store, query, rels, exclude=set(taken), user=user)
    if not found.items:
        raise nothing_found(store, query, found.words)
    page = navigation(query, found.linked) if user is not None else None
    shown = _page_hits(serving, found, user, k, page) if user is not None and page is not None else []
    if shown:  # a page the user has taken all of is no answer: the search ranker's candidates are
        return shown
    with serving_threads():
        scores, fused = search.score(ranker, found, user, taken)
        order = np.lexsort((np.arange(len(scores)), -scores))[:k]
        chosen = [found.items[n] for n in order]
        stars = np.full(len(chosen), np.nan)
        if user is not None and ranker.rating is not None:
            known = ranker.trained_data().item_rows(chosen) >= 0
            if known.any():
                keys = np.asarray(chosen, dtype=str)[known]
                stars[known] = ranker.rating([user], keys)[0]
    cards = serving.cards.get(chosen)
    text = np.nan_to_num(found.features[:, 0]) + np.nan_to_num(found.features[:, 2])  # title + description
    return [
        SearchHit(
            item=found.items[n],
            score=float(scores[n]),
            text_score=float(np.nan_to_num(text[n])),
            title=cards[found.items[n]]["title"] if found.items[n] in cards else None,
            predicted=None if np.isnan(s) else float(s),
            personal_score=None if np.isnan(fused[n]) else float(fused[n]),
            matched=found.matched[n],
        )
        for n, s in zip(order, stars, strict=True)
    ]


def _page_hits(
    serving: FusedServing, found: Candidates, user: str, k: int, page: Navigation
) -> list[SearchHit]:
    """The page a navigational query names; a hit among the query's candidates says what matched as they
    do (the entity, and any text), one beyond them (a large entity's less rated items) the entity."""
    served: list[ServedItem] = serving.recommend([user], k, True, page.brand, page.category)[user]
    at = {item: n for n, item in enumerate(found.items)}
    text = np.nan_to_num(found.features[:, 0]) + np.nan_to_num(found.features[:, 2])
    return [
        SearchHit(
            item=s.item,
            score=s.score,
            text_score=float(text[at[s.item]]) if s.item in at else 0.0,
            title=s.card["title"],
            predicted=s.predicted_rating,
            personal_score=s.score,
            matched=found.matched[at[s.item]] if s.item in at else [page.entity],
        )
        for s in served
    ]
