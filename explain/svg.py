"""A path drawn as inline SVG: one box per node (coloured by label), one arrow per relationship in its real
direction, labelled with the type (and the rating on ``RATED``). Pure; no external resources.

Example:
    >>> from explain.models import ExplainedPath, PathNode, PathRel
    >>> p = ExplainedPath(kind="brand", nodes=[PathNode(label="User", key="u", name="u"),
    ...     PathNode(label="Item", key="i", name="Mug")], rels=[PathRel(type="RATED", start=0, end=1)])
    >>> path_svg(p).startswith("<svg")
    True
"""

from __future__ import annotations

from html import escape

from explain.models import ExplainedPath

__all__ = ["LABEL_COLOURS", "path_svg"]

LABEL_COLOURS: dict[str, str] = {
    "User": "#4e79a7",
    "Item": "#f28e2b",
    "Brand": "#59a14f",
    "Category": "#b07aa1",
}
_OTHER = "#76b7b2"
_BOX_W, _BOX_H, _GAP, _PAD = 150, 46, 70, 10


def _short(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def path_svg(path: ExplainedPath, uid: str = "arrow") -> str:
    """The SVG element (a string) drawing ``path`` left to right, user first.

    ``uid`` names the arrow-head marker; give each picture in one document its own.
    """
    n = len(path.nodes)
    width = _PAD * 2 + n * _BOX_W + (n - 1) * _GAP
    height = _BOX_H + 60
    y = 34
    label = " → ".join(node.name for node in path.nodes)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="path-svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f'<defs><marker id="{uid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    xs = [_PAD + k * (_BOX_W + _GAP) for k in range(n)]
    for k, node in enumerate(path.nodes):
        colour = LABEL_COLOURS.get(node.label, _OTHER)
        out.append(
            f'<g class="node" data-label="{escape(node.label)}"><title>{escape(node.label)}: '
            f"{escape(node.name)} ({escape(node.key)})</title>"
            f'<rect x="{xs[k]}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="8" fill="{colour}"/>'
            f'<text x="{xs[k] + _BOX_W / 2}" y="{y + 18}" text-anchor="middle" font-size="10" fill="#fff">'
            f"{escape(node.label)}</text>"
            f'<text x="{xs[k] + _BOX_W / 2}" y="{y + 35}" text-anchor="middle" font-size="12" '
            f'font-weight="bold" fill="#fff">{escape(_short(node.name))}</text></g>'
        )
    for rel in path.rels:
        left, right = sorted((rel.start, rel.end))
        x1: float = xs[left] + _BOX_W + 2
        x2: float = xs[right] - 2
        if right - left != 1:  # not neighbours in the walk (no pattern makes one): join the box centres
            x1, x2 = xs[left] + _BOX_W / 2, xs[right] + _BOX_W / 2
        start, end = (x1, x2) if rel.start < rel.end else (x2, x1)
        mid = y + _BOX_H / 2
        text = rel.type
        rating = rel.properties.get("rating")
        if isinstance(rating, int | float):
            text += f" {rating:g}★"
        out.append(
            f'<g class="rel"><line x1="{start}" y1="{mid}" x2="{end}" y2="{mid}" stroke="#555" '
            f'stroke-width="1.5" marker-end="url(#{uid})"/>'
            f'<text x="{(x1 + x2) / 2}" y="{mid - 8}" text-anchor="middle" font-size="9" fill="#333">'
            f"{escape(text)}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)
