"""The merchandiser report: pure functions from already-computed recommendations and explanations to one
self-contained HTML page (inline CSS and SVG, no scripts, fonts, images or links to fetch); the Markdown
rendering of the same data is :func:`explain.markdown.render_markdown`.

Only paths that support an item are shown as its reasons ("why"); paths that work against it appear apart,
under "despite"; recommendations with no supporting path are counted and listed with the note that says so.

Example:
    >>> data = ReportData(title="Coffee", slice="Category: Coffee", generated="2026-11-28",
    ...                   recommendations=[], catalogue=CatalogueCounts(items=10, brands=2, categories=3))
    >>> "<title>Coffee</title>" in render_html(data)
    True
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from html import escape

from pydantic import BaseModel, ConfigDict, Field

from explain.models import ExplainedPath, Explanation
from explain.sentences import display_name, kind_title
from explain.svg import LABEL_COLOURS, path_svg

__all__ = [
    "CatalogueCounts",
    "ExplainedRecommendation",
    "ReportData",
    "ReportSummary",
    "gini",
    "path_text",
    "display",
    "render_html",
    "sentence_html",
    "summarise",
    "why",
]


class CatalogueCounts(BaseModel):
    """The denominators of coverage: what the catalogue holds."""

    model_config = ConfigDict(extra="forbid")

    items: int = Field(ge=0)
    brands: int = Field(ge=0)
    categories: int = Field(ge=0)


class ExplainedRecommendation(BaseModel):
    """One recommended item for one user, with the facts the report shows and its explanation."""

    model_config = ConfigDict(extra="forbid")

    user: str
    item: str
    rank: int = Field(ge=1)
    name: str
    brands: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    predicted: float | None = None
    explanation: Explanation | None = None


class ReportData(BaseModel):
    """Everything a report shows. ``slice`` says which recommendations these are ("Brand: Crema Co");
    ``samples`` is how many recommendations get a drawn picture of their top path."""

    model_config = ConfigDict(extra="forbid")

    title: str
    slice: str
    generated: str
    recommendations: list[ExplainedRecommendation]
    catalogue: CatalogueCounts
    samples: int = Field(6, ge=0)


class ReportSummary(BaseModel):
    """The figures of a report.

    ``explained``: share of recommendations with at least one supporting path; ``unsupported``: how many
    have none; ``despite``: paths shown as working against their item.
    ``path_kinds``: every supporting path shown, per kind; ``top_kinds``: the kind of each recommendation's
    best path.
    ``*_coverage``: share of the catalogue's items/brands/categories that appear in the recommendations.
    ``gini``: concentration of recommendations over catalogue items (0 even, 1 all on one item).
    """

    users: int
    recommendations: int
    explained: float
    unsupported: int
    despite: int
    path_kinds: dict[str, int]
    top_kinds: dict[str, int]
    brands: dict[str, int]
    categories: dict[str, int]
    distinct_items: int
    item_coverage: float
    brand_coverage: float
    category_coverage: float
    gini: float
    top_items: list[tuple[str, str, int]]


def gini(counts: Sequence[int | float], population: int | None = None) -> float:
    """Gini coefficient of ``counts``, padded with zeros up to ``population`` entries.

    ``G = 2 * sum(k * x_k) / (n * sum(x)) - (n + 1) / n`` over ``x`` sorted ascending, ``k = 1..n``;
    0 when all are equal or there is nothing.

    Example:
        >>> gini([1, 1, 1, 1]), gini([0, 0, 0, 4])
        (0.0, 0.75)
    """
    values = sorted(float(c) for c in counts)
    if population is not None and population > len(values):
        values = [0.0] * (population - len(values)) + values
    n, total = len(values), sum(values)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum(k * x for k, x in enumerate(values, start=1))
    return round(2 * weighted / (n * total) - (n + 1) / n, 6)


def summarise(data: ReportData) -> ReportSummary:
    """The report's figures, computed from its recommendations."""
    recs = data.recommendations
    kinds: Counter[str] = Counter()
    top: Counter[str] = Counter()
    items: Counter[str] = Counter()
    names: dict[str, str] = {}
    brands: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    explained = despite = 0
    for r in recs:
        items[r.item] += 1
        names[r.item] = r.name
        brands.update(r.brands)
        categories.update(r.categories)
        paths = r.explanation.paths if r.explanation else []
        kinds.update(p.kind for p in paths)
        despite += len(r.explanation.despite) if r.explanation else 0
        if paths:
            explained += 1
            top[paths[0].kind] += 1
    cat = data.catalogue

    def share(n: int, total: int) -> float:
        return round(n / total, 4) if total else 0.0

    return ReportSummary(
        users=len({r.user for r in recs}),
        recommendations=len(recs),
        explained=share(explained, len(recs)),
        unsupported=len(recs) - explained,
        despite=despite,
        path_kinds=dict(kinds.most_common()),
        top_kinds=dict(top.most_common()),
        brands=dict(brands.most_common()),
        categories=dict(categories.most_common()),
        distinct_items=len(items),
        item_coverage=share(len(items), cat.items),
        brand_coverage=share(len(brands), cat.brands),
        category_coverage=share(len(categories), cat.categories),
        gini=gini(list(items.values()), max(cat.items, len(items))),
        top_items=[
            (i, display(names[i], i), n)
            for i, n in sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        ],
    )


# -- text helpers ------------------------------------------------------------------------------------------

_EMPHASIS = re.compile(r"\*((?:\\.|[^*\\])+)\*")


def sentence_html(sentence: str) -> str:
    """A sentence with ``*emphasis*`` (escaped asterisks allowed inside) as escaped HTML with ``<em>``."""
    out, last = [], 0
    for m in _EMPHASIS.finditer(sentence):
        out.append(escape(sentence[last : m.start()]))
        out.append("<em>" + escape(re.sub(r"\\(.)", r"\1", m.group(1))) + "</em>")
        last = m.end()
    out.append(escape(sentence[last:]))
    return "".join(out)


def path_text(path: ExplainedPath) -> str:
    """The path in one line: ``u1 -[RATED 5★]-> Mug -[MADE_BY]-> Crema Co <-[MADE_BY]- Grinder``."""
    parts = [path.nodes[0].name]
    for k, rel in enumerate(path.rels):
        rating = rel.properties.get("rating")
        text = rel.type + (f" {rating:g}★" if isinstance(rating, int | float) else "")
        forward = rel.start <= rel.end
        parts.append(f"-[{text}]->" if forward else f"<-[{text}]-")
        parts.append(path.nodes[k + 1].name)
    return " ".join(parts)


def display(name: str, key: str) -> str:
    """An item's name for tables and headings: its name, or "item 530" when it has none of its own."""
    return display_name(name, key)


def why(r: ExplainedRecommendation) -> str:
    """The recommendation's best reason, or the note saying that no path supports it."""
    e = r.explanation
    if e is None:
        return ""
    return e.paths[0].sentence if e.paths else e.note


def _named(name: str, key: str) -> str:
    """An item's name, with its key in small print when it has a name of its own."""
    return escape(display(name, key)) + (f" <small>({escape(key)})</small>" if name and key != name else "")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


# -- HTML ----------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem}.meta{color:#666;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:8px;padding:.8rem 1rem;
min-width:150px}.card b{display:block;font-size:1.6rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border-bottom:1px solid #eee;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#f6f6f6}
.bar{display:inline-block;height:.8rem;background:#4e79a7;border-radius:2px}
.sample{border:1px solid #ddd;border-radius:8px;padding:.6rem 1rem;margin:1rem 0;overflow-x:auto}
.legend span{display:inline-block;padding:.1rem .5rem;border-radius:4px;color:#fff;margin-right:.4rem}
.score{color:#666;font-size:.85rem}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bar_rows(counts: dict[str, int], title: bool = False, limit: int = 15) -> list[list[str]]:
    top = max(counts.values(), default=1) or 1
    return [
        [
            escape(kind_title(k) if title else k),
            str(n),
            f'<span class="bar" style="width:{int(160 * n / top)}px"></span>',
        ]
        for k, n in list(counts.items())[:limit]
    ]


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document (a string). Opens with no network access."""
    s = summarise(data)
    h = escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{h(data.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{h(data.title)}</h1>",
        f'<p class="meta">{h(data.slice)} · generated {h(data.generated)}</p>',
        '<section class="cards">',
        f'<div class="card"><b>{s.users}</b>users</div>',
        f'<div class="card"><b>{s.recommendations}</b>recommendations</div>',
        f'<div class="card"><b>{_pct(s.explained)}</b>supported by a graph path</div>',
        f'<div class="card"><b>{s.unsupported}</b>without a supporting path</div>',
        f'<div class="card"><b>{s.gini:.2f}</b>popularity concentration (Gini)</div>',
        "</section>",
        "<h2>What drives the recommendations</h2>",
        "<p>The kind of the strongest path behind each recommendation:</p>",
        _table(["Path kind", "Recommendations", ""], _bar_rows(s.top_kinds, title=True)),
        "<p>All paths shown in this report, by kind:</p>",
        _table(["Path kind", "Paths", ""], _bar_rows(s.path_kinds, title=True)),
        "<h2>Coverage</h2>",
        _table(
            ["", "Recommended", "In catalogue", "Coverage"],
            [
                ["Items", str(s.distinct_items), str(data.catalogue.items), _pct(s.item_coverage)],
                ["Brands", str(len(s.brands)), str(data.catalogue.brands), _pct(s.brand_coverage)],
                [
                    "Categories",
                    str(len(s.categories)),
                    str(data.catalogue.categories),
                    _pct(s.category_coverage),
                ],
            ],
        ),
        "<h3>Brands recommended</h3>",
        _table(["Brand", "Recommendations", ""], _bar_rows(s.brands)),
        "<h3>Categories recommended</h3>",
        _table(["Category", "Recommendations", ""], _bar_rows(s.categories)),
        "<h2>Popularity concentration</h2>",
        f"<p>Gini coefficient of recommendations over the {data.catalogue.items} catalogue items: "
        f"<b>{s.gini:.2f}</b> (0: spread evenly, 1: everything on one item). Most recommended:</p>",
        _table(["Item", "Recommendations"], [[_named(name, i), str(n)] for i, name, n in s.top_items]),
        "<h2>Why: sample recommendations</h2>",
        '<p class="legend">'
        + "".join(f'<span style="background:{c}">{h(label)}</span>' for label, c in LABEL_COLOURS.items())
        + "</p>",
    ]
    samples = [r for r in data.recommendations if r.explanation and r.explanation.paths][: data.samples]
    for k, r in enumerate(samples):
        assert r.explanation is not None
        parts.append(
            f'<div class="sample"><h3>{h(display(r.name, r.item))} for user {h(r.user)}</h3>'
            f"{path_svg(r.explanation.paths[0], uid=f'arrow{k}')}"
            f"<ul>{_path_items(r.explanation.paths)}</ul>"
            + (
                f"<p>Despite:</p><ul>{_path_items(r.explanation.despite)}</ul>"
                if r.explanation.despite
                else ""
            )
            + "</div>"
        )
    if not samples:
        parts.append("<p>No recommendation in this slice has an explaining path.</p>")
    parts += _apart_html(data.recommendations, s)
    parts.append("<h2>Recommendations by user</h2>")
    rows = []
    for r in sorted(data.recommendations, key=lambda r: (r.user, r.rank)):
        predicted = f"{r.predicted:.2f}" if r.predicted is not None else ""
        rows.append(
            [
                h(r.user),
                str(r.rank),
                _named(r.name, r.item),
                h(", ".join(r.brands)),
                predicted,
                sentence_html(why(r)),
            ]
        )
    parts.append(_table(["User", "#", "Item", "Brand", "Predicted", "Why"], rows))
    parts.append("</body></html>")
    return "\n".join(parts)


def _path_items(paths: Sequence[ExplainedPath]) -> str:
    return "".join(
        f'<li>{sentence_html(p.sentence)} <span class="score">({escape(kind_title(p.kind))}, '
        f"score {p.score:+.3f})</span></li>"
        for p in paths
    )


def _apart_html(recs: Sequence[ExplainedRecommendation], s: ReportSummary) -> list[str]:
    """The sections for what is not a reason: recommendations no path supports, paths against an item."""
    parts = [
        "<h2>Without a supporting path</h2>",
        f"<p>{s.unsupported} of {s.recommendations} recommendations have no path that raises their score: "
        "they come from the user's history as a whole.</p>",
    ]
    bare = [r for r in recs if r.explanation is not None and not r.explanation.paths]
    if bare:
        parts.append(
            _table(
                ["User", "Item", "Note"],
                [[escape(r.user), _named(r.name, r.item), sentence_html(why(r))] for r in bare],
            )
        )
    parts += [
        "<h2>Despite: paths that work against a recommendation</h2>",
        f"<p>{s.despite} paths would rank their item higher if they were not there; none is given as a "
        "reason.</p>",
    ]
    against = [(r, p) for r in recs if r.explanation is not None for p in r.explanation.despite]
    if against:
        parts.append(
            _table(
                ["User", "Item", "Path", "Score"],
                [
                    [escape(r.user), _named(r.name, r.item), sentence_html(p.sentence), f"{p.score:+.3f}"]
                    for r, p in against
                ],
            )
        )
    return parts
