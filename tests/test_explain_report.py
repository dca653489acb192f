"""Report rendering: pure functions from report data to HTML and Markdown; no Neo4j, no browser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from explain import (
    CatalogueCounts,
    ExplainedPath,
    ExplainedRecommendation,
    Explanation,
    PathNode,
    PathRel,
    ReportData,
    gini,
    path_svg,
    render_html,
    render_markdown,
    summarise,
)
from explain.report import path_text, sentence_html


def brand_path(user: str, anchor: str, brand: str, target: str, score: float) -> ExplainedPath:
    return ExplainedPath(
        kind="brand",
        nodes=[
            PathNode(label="User", key=user, name=user),
            PathNode(label="Item", key=f"K-{anchor}", name=anchor),
            PathNode(label="Brand", key=brand, name=brand),
            PathNode(label="Item", key=f"K-{target}", name=target),
        ],
        rels=[
            PathRel(type="RATED", start=0, end=1, properties={"rating": 5.0}),
            PathRel(type="MADE_BY", start=1, end=2),
            PathRel(type="MADE_BY", start=3, end=2),
        ],
        score=score,
        sentence=f"You rated *{anchor}* 5★; *{target}* is also made by {brand}.",
    )


def sample_data(samples: int = 6) -> ReportData:
    recs = []
    for u in range(3):
        for rank, (item, brand) in enumerate([("Grinder <2>", "Crema & Co"), ("Kettle", "Bean Theory")], 1):
            path = brand_path(f"U{u}", "Grinder 1", brand, item, 0.5 / rank)
            explanation = Explanation(
                user=f"U{u}", item=f"K-{item}", item_name=item, scoring="shape", paths=[path]
            )
            recs.append(
                ExplainedRecommendation(
                    user=f"U{u}",
                    item=f"K-{item}",
                    rank=rank,
                    name=item,
                    brands=[brand],
                    categories=["Coffee"],
                    predicted=4.5,
                    explanation=explanation,
                )
            )
    recs.append(ExplainedRecommendation(user="U9", item="K-Mug", rank=1, name="Mug", brands=["Oven Bird"]))
    return ReportData(
        title="Coffee <report>",
        slice="Category: Coffee",
        generated="2026-11-28",
        recommendations=recs,
        catalogue=CatalogueCounts(items=20, brands=4, categories=6),
        samples=samples,
    )


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_gini() -> None:
    assert gini([]) == 0.0
    assert gini([3, 3, 3]) == 0.0
    assert gini([0, 0, 0, 4]) == 0.75
    assert gini([4], population=4) == 0.75
    assert 0 < gini([1, 2, 3, 10]) < 1


def test_summary_figures() -> None:
    s = summarise(sample_data())
    assert (s.users, s.recommendations, s.distinct_items) == (4, 7, 3)
    assert s.explained == round(6 / 7, 4)
    assert s.top_kinds == {"brand": 6} and s.path_kinds == {"brand": 6}
    assert s.brands == {"Crema & Co": 3, "Bean Theory": 3, "Oven Bird": 1}
    assert (s.brand_coverage, s.category_coverage, s.item_coverage) == (0.75, round(1 / 6, 4), 0.15)
    assert s.gini == gini([3, 3, 1], population=20)
    assert s.top_items[0] == ("K-Grinder <2>", "Grinder <2>", 3)
    assert (s.unsupported, s.despite) == (1, 0)


def test_html_is_self_contained_escaped_and_has_the_pictures() -> None:
    page = render_html(sample_data(samples=2))
    parser = Collect()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    assert "<title>Coffee &lt;report&gt;</title>" in page
    assert "Grinder &lt;2&gt;" in page and "Grinder <2>" not in page
    assert "Crema &amp; Co" in page
    assert tags.count("svg") == 2  # one picture per sample
    assert not {"script", "img", "link", "iframe", "object"} & set(tags)
    for _, attrs in parser.tags:
        for name, value in attrs.items():
            assert not (name in ("src", "href") and value and not value.startswith("#")), (name, value)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)  # the SVG namespace is no fetch
    assert "@import" not in page and "url(http" not in page
    marker_ids = re.findall(r'<marker id="([^"]+)"', page)
    assert len(marker_ids) == len(set(marker_ids)) == 2
    assert "<em>Grinder 1</em>" in page


def test_html_with_nothing_explained_says_so() -> None:
    data = sample_data()
    data.recommendations = data.recommendations[-1:]
    assert "No recommendation in this slice has an explaining path." in render_html(data)


def test_markdown_report() -> None:
    md = render_markdown(sample_data(samples=1))
    assert md.startswith("# Coffee \\<report\\>\n")
    assert "| Same brand | 6 | 6 |" in md
    assert (
        "U0 -\\[RATED 5★\\]-\\> Grinder 1 -\\[MADE\\_BY\\]-\\> Crema &amp; Co \\<-\\[MADE\\_BY\\]- Grinder \\<2\\>"
        in md
    )
    assert md.count("### ") == 1
    assert "| Brands | 3 | 4 | 75% |" in md


def test_markdown_report_carries_no_markup_from_the_data() -> None:
    hostile = "<script>alert(1)</script> [click](http://x) *b* | `x`"
    user = "U1<img src=x>"
    path = brand_path(user, hostile, hostile, hostile, 0.4)
    explanation = Explanation(user=user, item="K", item_name=hostile, scoring="shape", paths=[path])
    rec = ExplainedRecommendation(
        user=user,
        item="K",
        rank=1,
        name=hostile,
        brands=[hostile],
        categories=[hostile],
        explanation=explanation,
    )
    data = ReportData(
        title=hostile,
        slice=hostile,
        generated="2026-11-30",
        recommendations=[rec],
        catalogue=CatalogueCounts(items=2, brands=1, categories=1),
        samples=1,
    )
    md = render_markdown(data)
    # Every tag, link and code character of the data reaches the page escaped; the report's own Markdown
    # uses none of them.
    assert not re.search(r"(?<!\\)[<>\[\]`]", md), md
    assert "&lt;" not in md.replace("\\<", "")  # no double escaping either
    assert all(
        line.count("|") - line.count("\\|") == 7 for line in md.splitlines() if line.startswith("| U1")
    )


def test_svg_draws_every_node_and_relationship() -> None:
    svg = path_svg(brand_path("U1", "A" * 40, "B", "T", 1.0), uid="m1")
    assert svg.count('<g class="node"') == 4 and svg.count('<g class="rel"') == 3
    assert "RATED 5★" in svg and 'marker-end="url(#m1)"' in svg
    assert "A" * 21 + "…" in svg  # long names are shortened, the full name stays in the tooltip
    assert "A" * 40 in svg


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("You rated *A<b>* 5★", "You rated <em>A&lt;b&gt;</em> 5★"),
        ("*5\\*Star* x", "<em>5*Star</em> x"),
        ("no emphasis & more", "no emphasis &amp; more"),
    ],
)
def test_sentence_html(text: str, html: str) -> None:
    assert sentence_html(text) == html


def test_path_text_follows_directions() -> None:
    assert path_text(brand_path("U", "A", "B", "T", 0)) == "U -[RATED 5★]-> A -[MADE_BY]-> B <-[MADE_BY]- T"
