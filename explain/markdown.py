"""The merchandiser report as Markdown: the same data and figures as :func:`explain.render_html`, with the path
pictures as one-line path texts.

Data is never markup: every text that carries names, ids or brands (sentences and path texts included) is
escaped for Markdown and HTML, so a sentence's ``*Name*`` shows its asterisks rather than risk a name's own
markup, a link or a tag, taking effect.

Example:
    >>> from explain.report import CatalogueCounts, ReportData
    >>> data = ReportData(title="Coffee", slice="Category: Coffee", generated="2026-11-28",
    ...                   recommendations=[], catalogue=CatalogueCounts(items=10, brands=2, categories=3))
    >>> render_markdown(data).splitlines()[0]
    '# Coffee'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from explain.models import ExplainedPath
from explain.report import ReportData, display, path_text, summarise, why
from explain.sentences import kind_title

__all__ = ["render_markdown"]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


# Characters that Markdown (or the HTML it may carry) would act on inside a line of text.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>#|~!])")


def _text(text: str) -> str:
    """Data (a name, an id, a brand) as literal Markdown: markup and HTML characters escaped.

    Example:
        >>> _text("<b>Mugs</b> & *more*")
        '\\\\<b\\\\>Mugs\\\\</b\\\\> &amp; \\\\*more\\\\*'
    """
    return _MARKDOWN.sub(r"\\\1", text.replace("&", "&amp;"))


def _cell(text: str) -> str:
    return re.sub(r"(?<!\\)\|", r"\\|", text).replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def render_markdown(data: ReportData) -> str:
    """The same report as Markdown; path pictures become one-line path texts."""
    s = summarise(data)
    out = [
        f"# {_text(data.title)}",
        "",
        f"{_text(data.slice)} · generated {data.generated}",
        "",
        f"- **{s.users}** users, **{s.recommendations}** recommendations",
        f"- **{_pct(s.explained)}** supported by at least one graph path; **{s.unsupported}** without one",
        f"- popularity concentration (Gini over {data.catalogue.items} items): **{s.gini:.2f}**",
        "",
        "## What drives the recommendations",
        "",
    ]
    out += _md_table(
        ["Path kind", "Top path of", "All paths"],
        [[kind_title(k), str(s.top_kinds.get(k, 0)), str(n)] for k, n in s.path_kinds.items()],
    )
    out += ["## Coverage", ""]
    out += _md_table(
        ["", "Recommended", "In catalogue", "Coverage"],
        [
            ["Items", str(s.distinct_items), str(data.catalogue.items), _pct(s.item_coverage)],
            ["Brands", str(len(s.brands)), str(data.catalogue.brands), _pct(s.brand_coverage)],
            ["Categories", str(len(s.categories)), str(data.catalogue.categories), _pct(s.category_coverage)],
        ],
    )
    out += _md_table(
        ["Brand", "Recommendations"], [[_text(b), str(n)] for b, n in list(s.brands.items())[:15]]
    )
    out += _md_table(
        ["Category", "Recommendations"], [[_text(c), str(n)] for c, n in list(s.categories.items())[:15]]
    )
    out += ["## Most recommended items", ""]
    out += _md_table(["Item", "Recommendations"], [[_named(name, i), str(n)] for i, name, n in s.top_items])
    out += ["## Why: sample recommendations", ""]
    samples = [r for r in data.recommendations if r.explanation and r.explanation.paths][: data.samples]
    for r in samples:
        assert r.explanation is not None
        out += [f"### {_text(display(r.name, r.item))} for user {_text(r.user)}", ""]
        out += [_text(path_text(r.explanation.paths[0])), ""]
        out += _items(r.explanation.paths)
        if r.explanation.despite:
            out += ["", "Despite:", ""] + _items(r.explanation.despite)
        out.append("")
    bare = [r for r in data.recommendations if r.explanation is not None and not r.explanation.paths]
    out += ["## Without a supporting path", ""]
    out += [
        f"{s.unsupported} of {s.recommendations} recommendations have no path that raises their score.",
        "",
    ]
    if bare:
        out += _md_table(
            ["User", "Item", "Note"], [[_text(r.user), _named(r.name, r.item), _text(why(r))] for r in bare]
        )
    against = [
        (r, p) for r in data.recommendations if r.explanation is not None for p in r.explanation.despite
    ]
    out += ["## Despite: paths that work against a recommendation", ""]
    out += [f"{s.despite} paths would rank their item higher if they were not there; none is a reason.", ""]
    if against:
        out += _md_table(
            ["User", "Item", "Path", "Score"],
            [
                [_text(r.user), _named(r.name, r.item), _text(p.sentence), f"{p.score:+.3f}"]
                for r, p in against
            ],
        )
    out += ["## Recommendations by user", ""]
    out += _md_table(
        ["User", "#", "Item", "Brand", "Predicted", "Why"],
        [
            [
                _text(r.user),
                str(r.rank),
                _named(r.name, r.item),
                _text(", ".join(r.brands)),
                f"{r.predicted:.2f}" if r.predicted is not None else "",
                _text(why(r)),
            ]
            for r in sorted(data.recommendations, key=lambda r: (r.user, r.rank))
        ],
    )
    return "\n".join(out)


def _named(name: str, key: str) -> str:
    """``The Atlantic (B00005N7P0)``, or ``item 530`` when the item has no name of its own."""
    shown = display(name, key)
    return _text(f"{shown} ({key})" if shown == name else shown)


def _items(paths: Sequence[ExplainedPath]) -> list[str]:
    return [f"- {_text(p.sentence)} ({kind_title(p.kind)}, score {p.score:+.3f})" for p in paths]
