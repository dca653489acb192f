"""Only supporting paths are reasons: a planted path that works against the item goes under ``despite``, an
item no path supports says so plainly, sizing words follow the threshold, and nameless items read "item X".

Pure: a stand-in ranker with planted weights (``tests.test_explain_ranking.WeightedRanker``) and an explainer
whose candidate paths are given, so no Neo4j is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pandas as pd
import pytest

from core.kinds import PathKind
from explain import (
    CatalogueCounts,
    ExplainedPath,
    ExplainedRecommendation,
    Explainer,
    PathNode,
    PathRel,
    PathScorer,
    RankingScorer,
    ReportData,
    render_html,
    render_markdown,
    sentence,
    summarise,
)
from explain.sentences import STRONG_SHARE, no_support_note, strength_of
from kg import GraphStore
from rank import Interactions
from tests.test_explain_ranking import WeightedRanker, path


class GivenPaths(Explainer):
    """An explainer whose candidates are the given paths (what the graph would have returned)."""

    def __init__(self, paths: Sequence[ExplainedPath], scorer: PathScorer) -> None:
        super().__init__(cast(GraphStore, None), scorer, max_per_kind=None)
        self.given = paths

    def candidates(self, user: str, item: str) -> list[ExplainedPath]:
        return [p.model_copy(deep=True) for p in self.given]


def planted_ranker() -> WeightedRanker:
    """The user took a, b and c. For the target t, a weighs +0.3, b +0.05 and c -0.2 (t scores 0.15); x, the
    user's first item, scores 0.9 and y 0: the spread of the user's list is 0.9."""
    frame = pd.DataFrame({"user": ["u"] * 3, "item": ["a", "b", "c"], "rating": 5.0, "ts": 0})
    data = Interactions.build(frame, item_keys=["a", "b", "c", "t", "x", "y"])
    weights = {("a", "t"): 0.3, ("b", "t"): 0.05, ("c", "t"): -0.2, ("a", "x"): 0.9}
    return WeightedRanker(data, weights)


def test_a_path_against_the_item_is_never_a_reason() -> None:
    scorer = RankingScorer(planted_ranker())
    explainer = GivenPaths([path("u", "a", "t"), path("u", "b", "t"), path("u", "c", "t")], scorer)
    e = explainer.explain("u", "t", top=3)
    assert [p.nodes[1].key for p in e.paths] == ["a", "b"]
    assert [p.score for p in e.paths] == pytest.approx([0.3, 0.05])
    assert [p.nodes[1].key for p in e.despite] == ["c"] and e.despite[0].score == pytest.approx(-0.2)
    assert e.despite[0].strength == "against"
    assert e.despite[0].sentence.startswith("Counts against it: you rated item c 5★")
    assert all(p.score > 0 for p in e.paths) and e.supported and e.note == ""
    assert e.spread == pytest.approx(0.9)  # x 0.9 first, y 0 last of the user's list


def test_an_item_no_path_supports_says_so_and_the_report_counts_it() -> None:
    scorer = RankingScorer(planted_ranker())
    e = GivenPaths([path("u", "c", "t"), path("u", "c", "t", "category")], scorer).explain("u", "t")
    assert e.paths == [] and not e.supported and len(e.despite) == 2
    assert e.note == (
        "None of the 2 links found between you and item t raises its place in your list: it is "
        "recommended on your history as a whole, not on one link."
    )
    data = ReportData(
        title="T",
        slice="All recommendations",
        generated="2026-11-30",
        recommendations=[ExplainedRecommendation(user="u", item="t", rank=1, name="t", explanation=e)],
        catalogue=CatalogueCounts(items=6, brands=1, categories=0),
    )
    s = summarise(data)
    assert (s.explained, s.unsupported, s.despite) == (0.0, 1, 2)
    page = render_html(data)
    assert "<b>1</b>without a supporting path" in page and "2 paths would rank their item higher" in page
    assert "Counts against it" in page and "None of the 2 links found" in page
    md = render_markdown(data)
    assert "## Despite: paths that work against a recommendation" in md and "**1** without one" in md
    assert "- Counts against it" not in md.split("## Without a supporting path")[0]  # not under "why"


def test_sizing_words_follow_the_threshold() -> None:
    scorer = RankingScorer(planted_ranker())
    e = GivenPaths([path("u", "a", "t"), path("u", "b", "t")], scorer).explain("u", "t")
    # 0.3 >= 0.25 * 0.9 is strong; 0.05 is not
    assert [p.strength for p in e.paths] == ["strong", "marginal"]
    assert e.paths[0].sentence.startswith("Strong reason: you rated item a 5★; item t is also made by B")
    assert e.paths[1].sentence.startswith("Minor reason: you rated item b 5★")
    spread = 0.8
    edge = STRONG_SHARE * spread
    assert strength_of(edge, spread) == "strong" and strength_of(edge - 1e-9, spread) == "marginal"
    assert strength_of(1e-6, spread) == "marginal" and strength_of(0.0, spread) == ""
    assert strength_of(-1e-6, spread) == "against" and strength_of(0.5, None) == ""
    assert strength_of(0.5, 0.0) == "" and strength_of(0.3, 1.0, strong_share=0.5) == "marginal"


def nameless(kind: str) -> ExplainedPath:
    """A path of ``kind`` whose items have no name of their own (the name is the key)."""
    item = PathNode(label="Item", key="71", name="71")
    target = PathNode(label="Item", key="530", name="530")
    user = PathNode(label="User", key="u1", name="u1")
    rated = PathRel(type="RATED", start=0, end=1, properties={"rating": 4.0})
    middle: dict[str, tuple[list[PathNode], list[str]]] = {
        PathKind.BRAND: ([PathNode(label="Brand", key="B", name="B")], ["MADE_BY", "MADE_BY"]),
        PathKind.CATEGORY: ([PathNode(label="Category", key="Drama", name="Drama")], ["IN_CATEGORY"] * 2),
        PathKind.ENTITY: ([PathNode(label="Genre", key="g", name="Noir")], ["HAS_GENRE", "HAS_GENRE"]),
        PathKind.ALSO_BOUGHT: ([], ["ALSO_BOUGHT"]),
        PathKind.SIMILAR_USERS: ([PathNode(label="User", key="561", name="561")], ["RATED", "RATED"]),
    }
    nodes, types = middle[kind]
    rels = [rated] + [
        PathRel(type=t, start=k + 1, end=k + 2, properties={"rating": 5.0}) for k, t in enumerate(types)
    ]
    return ExplainedPath(
        kind=kind, nodes=[user, item, *nodes, target], rels=rels, support={"fans": 134, "both": 2}
    )


@pytest.mark.parametrize(
    "kind",
    [PathKind.BRAND, PathKind.CATEGORY, PathKind.ENTITY, PathKind.ALSO_BOUGHT, PathKind.SIMILAR_USERS],
)
@pytest.mark.parametrize("strength", ["", "strong", "marginal", "against"])
def test_sentences_without_names_say_item_x(kind: str, strength: str) -> None:
    p = nameless(kind)
    p.strength = strength
    text = sentence(p)
    assert "item 530" in text and "item 71" in text
    assert "*530*" not in text and "*71*" not in text
    assert "%" not in text


def test_counts_not_percentages() -> None:
    text = sentence(nameless(PathKind.CATEGORY))
    assert text.endswith("and 2 of the 134 customers who rated item 71 highly also rated it highly.")
    assert no_support_note("item 530", 0, "ranking").startswith("No link in the graph leads from you to")
    assert "predicted rating" in no_support_note("*Mug*", 1, "counterfactual")


def test_a_second_interaction_is_given_before_the_same_one_told_twice() -> None:
    scorer = RankingScorer(planted_ranker())
    given = [path("u", "a", "t"), path("u", "a", "t", "category"), path("u", "b", "t")]
    e = GivenPaths(given, scorer).explain("u", "t", top=2)
    # a's two paths score 0.3 each, b's 0.05: b comes before a second path through a
    assert [(p.nodes[1].key, p.kind) for p in e.paths] == [("a", "brand"), ("b", "brand")]
    e = GivenPaths(given, scorer).explain("u", "t", top=3)
    assert [p.score for p in e.paths] == pytest.approx([0.3, 0.3, 0.05])  # then filled, best first


def test_a_sentence_is_told_once() -> None:
    scorer = RankingScorer(planted_ranker())
    twice = [path("u", "a", "t"), path("u", "a", "t")]  # parallel links read the same
    e = GivenPaths(twice, scorer).explain("u", "t", top=3)
    assert len(e.paths) == 1 and e.paths[0].score == pytest.approx(0.3)
