"""Lists ranked together (kgrec/service/batching.py): requests that arrive while a batch is ranked go into
the next one, each gets its own list, and one bad user fails only their own request. The recommender is a
stand-in (what is tested is the batching; the lists' equality with ``recommend`` is test_rank_serving's)."""

from __future__ import annotations

import threading
import time
from typing import cast

import pytest
from prometheus_client import CollectorRegistry, Histogram

from core.errors import NotFoundError
from kgrec import Recommender
from kgrec.results import Recommendation
from kgrec.service.batching import ListBatches


class _Ranks:
    """``recommend_many`` of a recommender: records each call's users; the first call waits for ``go``."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.go = threading.Event()

    def recommend_many(
        self, users: list[str], k: int, exclude_seen: bool, brand: str | None, category: str | None
    ) -> dict[str, list[Recommendation]]:
        self.calls.append(list(users))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.go.wait(30)
        if "ghost" in users:
            raise NotFoundError("user 'ghost' is not in the graph")
        return {u: [_item(f"{u}-{brand}-{n}") for n in range(k)] for u in users}


def _item(key: str) -> Recommendation:
    return Recommendation(item=key, title=key, score=1.0, predicted_rating=None, brand=None, categories=[])


def _in_threads(
    batches: ListBatches, rec: _Ranks, asks: list[tuple[str, str | None]]
) -> tuple[dict[str, object], list[threading.Thread]]:
    """Each (user, brand) asked on a thread of its own; the answers (a list's items or the error) fill in."""
    answers: dict[str, object] = {}

    def ask(user: str, brand: str | None) -> None:
        try:
            answers[user] = [r.item for r in batches.recommend(cast(Recommender, rec), user, 2, brand=brand)]
        except NotFoundError as e:
            answers[user] = e

    threads = [threading.Thread(target=ask, args=a) for a in asks]
    for t in threads:
        t.start()
    return answers, threads


def test_requests_that_arrive_during_a_batch_are_ranked_together_in_the_next() -> None:
    rec = _Ranks()
    sizes = Histogram("sizes", "sizes", buckets=(1, 2, 4, 8), registry=CollectorRegistry())
    batches = ListBatches(sizes)
    first, leader = _in_threads(batches, rec, [("u1", None)])
    assert rec.entered.wait(30)  # u1's batch is being ranked
    rest, waiting = _in_threads(batches, rec, [("u2", None), ("u3", None), ("u4", "Acme"), ("u2", None)])
    time.sleep(0.5)  # they queue behind it
    rec.go.set()
    for t in leader + waiting:
        t.join(30)
    # u1 alone (it came first), then everyone who waited: one call per set of options
    assert rec.calls[0] == ["u1"]
    assert sorted(map(sorted, rec.calls[1:])) == [["u2", "u3"], ["u4"]]
    assert first == {"u1": ["u1-None-0", "u1-None-1"]}
    assert rest == {
        "u2": ["u2-None-0", "u2-None-1"],
        "u3": ["u3-None-0", "u3-None-1"],
        "u4": ["u4-Acme-0", "u4-Acme-1"],
    }
    observed = {s.name: s.value for s in sizes.collect()[0].samples if not s.labels}
    assert (observed["sizes_count"], observed["sizes_sum"]) == (3, 4)  # batches of 1, 2 and 1 users


def test_a_user_the_graph_lacks_fails_only_their_own_request() -> None:
    rec = _Ranks()
    batches = ListBatches()
    _, leader = _in_threads(batches, rec, [("u1", None)])
    assert rec.entered.wait(30)
    rest, waiting = _in_threads(batches, rec, [("ghost", None), ("u2", None)])
    time.sleep(0.5)
    rec.go.set()
    for t in leader + waiting:
        t.join(30)
    assert isinstance(rest["ghost"], NotFoundError) and rest["u2"] == ["u2-None-0", "u2-None-1"]
    # the failed batch of both, then each alone
    assert sorted(rec.calls[1]) == ["ghost", "u2"] and sorted(map(tuple, rec.calls[2:])) == [
        ("ghost",),
        ("u2",),
    ]
    with pytest.raises(NotFoundError):
        batches.recommend(cast(Recommender, rec), "ghost")
