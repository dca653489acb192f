"""The service's response cache: answered again only while the stamp is the same, for at most its seconds;
bounded; off at 0 seconds; every lookup counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from core.settings import Settings
from kgrec.service.cache import ResponseCache, events_stamp
from kgrec.service.settings import ServiceSettings
from kgrec.service.state import ServiceState


class _Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _cache(
    seconds: float = 60.0, size: int = 10, clock: _Clock | None = None
) -> tuple[ResponseCache[str], CollectorRegistry]:
    registry = CollectorRegistry()
    counter = Counter("lookups", "lookups", ["cache", "result"], registry=registry)
    return ResponseCache("lists", seconds, size, counter, clock or _Clock()), registry


def _count(registry: CollectorRegistry, result: str) -> float:
    return registry.get_sample_value("lookups_total", {"cache": "lists", "result": result}) or 0.0


def test_an_answer_is_reused_only_with_the_same_stamp_and_counted() -> None:
    cache, registry = _cache()
    viewed = events_stamp([{"item": "I1", "type": "VIEWED", "rating": None, "count": 1, "recorded": 5.0}])
    assert cache.get("U1", ()) is None
    cache.put("U1", (), "first")
    assert cache.get("U1", ()) == "first"
    assert cache.get("U1", viewed) is None  # the user did something since
    assert cache.get("U2", ()) is None
    assert (_count(registry, "hit"), _count(registry, "miss")) == (1, 3)


def test_the_stamp_sees_every_change_an_event_makes() -> None:
    base = {"item": "I1", "type": "VIEWED", "rating": None, "count": 1, "recorded": 5.0}
    stamp = events_stamp([base])
    assert events_stamp([dict(base)]) == stamp  # type: ignore[list-item]
    for change in ({"count": 2}, {"recorded": 6.0}, {"type": "PURCHASED"}, {"item": "I2"}):
        assert events_stamp([base | change]) != stamp  # type: ignore[list-item,operator]
    other = {"item": "I0", "type": "RATED", "rating": 4.0, "count": None, "recorded": 1.0}
    assert events_stamp([base, other]) == events_stamp([other, base])  # type: ignore[list-item]


def test_entries_expire_and_the_least_recent_go_first() -> None:
    clock = _Clock()
    cache, _ = _cache(seconds=10.0, size=2, clock=clock)
    cache.put("a", (), "A")
    cache.put("b", (), "B")
    assert cache.get("a", ()) == "A"  # a is now more recent than b
    cache.put("c", (), "C")
    assert cache.get("b", ()) is None and cache.get("a", ()) == "A" and cache.get("c", ()) == "C"
    clock.now += 9.9
    assert cache.get("a", ()) == "A"
    clock.now += 0.1
    assert cache.get("a", ()) is None


def test_zero_seconds_keeps_nothing() -> None:
    cache, registry = _cache(seconds=0.0)
    cache.put("a", (), "A")
    assert cache.get("a", ()) is None
    assert _count(registry, "miss") == 1


def test_the_environment_sizes_the_services_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KGREC_CACHE_SECONDS", "0")
    monkeypatch.setenv("KGREC_CACHE_ENTRIES", "7")
    state = ServiceState(Settings(home=tmp_path), ServiceSettings())
    assert (state.lists.seconds, state.lists.size) == (0.0, 7)
    assert (state.explanations.seconds, state.explanations.size) == (0.0, 7)
    monkeypatch.delenv("KGREC_CACHE_SECONDS")
    assert ServiceState(Settings(home=tmp_path), ServiceSettings()).lists.seconds == 60.0
