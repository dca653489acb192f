"""One plain-language sentence per path, with names from the data (titles, brand names; ids as fallback).

Names are set in ``*emphasis*`` (Markdown); :func:`explain.report.render_html` turns that into ``<em>``.
Pure functions: a path in, a sentence out.

Example:
    >>> from explain.models import ExplainedPath, PathNode, PathRel
    >>> p = ExplainedPath(kind="category", nodes=[
    ...     PathNode(label="User", key="u1", name="u1"), PathNode(label="Item", key="1", name="Reason"),
    ...     PathNode(label="Category", key="Political Magazines", name="Political Magazines"),
    ...     PathNode(label="Item", key="2", name="The Atlantic")],
    ...     rels=[PathRel(type="RATED", start=0, end=1, properties={"rating": 5.0}),
    ...           PathRel(type="IN_CATEGORY", start=1, end=2), PathRel(type="IN_CATEGORY", start=3, end=2)],
    ...     support={"fans": 50, "both": 31})
    >>> sentence(p, audience="readers")
    'You rated *Reason* 5★; *The Atlantic* is in the same category, Political Magazines, and 62% of the 50 readers who rated *Reason* highly also rated it highly.'
"""

from __future__ import annotations

from core.kinds import PathKind
from explain.models import ExplainedPath

__all__ = ["KIND_TITLES", "emphasis", "kind_title", "sentence", "stars"]

KIND_TITLES: dict[str, str] = {
    PathKind.BRAND: "Same brand",
    PathKind.CATEGORY: "Same category",
    PathKind.PARENT_CATEGORY: "Related category",
    PathKind.ALSO_BOUGHT: "Bought together",
    PathKind.ALSO_VIEWED: "Viewed together",
    PathKind.SIMILAR_USERS: "Similar customers",
    PathKind.ENTITY: "Shared attribute",
}
"""A short title per path kind, for tables and legends; other item links are titled from their type."""


def emphasis(name: str) -> str:
    """``*name*``, with asterisks inside the name escaped so the emphasis stays well formed."""
    return "*" + name.replace("\\", "\\\\").replace("*", "\\*") + "*"


def stars(rating: float | int | str | None) -> str:
    """``5★``, ``4.5★``; ``?★`` when unknown."""
    if not isinstance(rating, int | float):
        return "?★"
    return f"{rating:g}★"


def kind_title(kind: str) -> str:
    """The title of a path kind, for tables and legends; a dataset's own item link in words.

    Example:
        >>> kind_title("similar_users"), kind_title("same_author")
        ('Similar customers', 'Same author')
    """
    return KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())


def sentence(path: ExplainedPath, audience: str = "customers") -> str:
    """The sentence for ``path``; ``audience`` names the people behind ratings ("readers", "customers")."""
    n, r = path.nodes, path.rels
    target = emphasis(n[-1].name)
    if path.kind == PathKind.SIMILAR_USERS:
        anchor, other = emphasis(n[1].name), n[2].name
        agree = path.support.get("agree")
        alike = (
            f" (you rated {int(agree)} items alike)" if isinstance(agree, int | float) and agree > 1 else ""
        )
        theirs, yours = r[1].properties.get("rating"), r[0].properties.get("rating")
        like_you = "as you did" if theirs == yours else f"close to your {stars(yours)}"
        return (
            f"{_singular(audience).capitalize()} {other} rated {anchor} {stars(theirs)} {like_you}{alike}, "
            f"and rated {target} {stars(r[2].properties.get('rating'))}."
        )
    anchor = emphasis(n[1].name)
    opening = f"You rated {anchor} {stars(r[0].properties.get('rating'))}"
    if path.kind == PathKind.BRAND:
        middle = f"{target} is also made by {n[2].name}"
    elif path.kind == PathKind.CATEGORY:
        middle = f"{target} is in the same category, {n[2].name}"
    elif path.kind == PathKind.PARENT_CATEGORY:
        middle = f"{target} is in {n[4].name}, next to {n[2].name} under {n[3].name}"
    elif path.kind == PathKind.ENTITY:
        middle = f"{target} shares its {n[2].label.lower()}, {n[2].name}"
    elif path.kind == PathKind.ALSO_BOUGHT:
        middle = f"{audience} often buy it together with {target}"
    elif path.kind == PathKind.ALSO_VIEWED:
        middle = f"{audience} who look at it also look at {target}"
    else:
        link = r[-1].type.lower().replace("_", " ")
        middle = f"it is linked to {target} ({link})"
    return f"{opening}; {middle}{_support(path, anchor, audience)}."


def _support(path: ExplainedPath, anchor: str, audience: str) -> str:
    fans, both = path.support.get("fans"), path.support.get("both")
    if not fans or both is None:
        return ""
    if not both:
        # "0% of ... also rated it highly" reads as a reason against; say plainly that none did (yet)
        return (
            f", though none of the {int(fans)} {audience} who rated {anchor} highly has rated it highly yet"
        )
    share = round(100 * both / fans)
    # below one in a hundred a percentage rounds to a misleading 0%: give the count
    part = f"{share}%" if share >= 1 else f"{int(both)}"
    return f", and {part} of the {int(fans)} {audience} who rated {anchor} highly also rated it highly"


def _singular(audience: str) -> str:
    return audience[:-1] if audience.endswith("s") else audience
