"""One plain-language sentence per path, with names from the data (titles, brand names), sized to the effect.

Names are set in ``*emphasis*`` (Markdown); :func:`explain.report.render_html` turns that into ``<em>``. An
item without a name of its own reads "item 530", never a bare key. Figures are counts people can check
("31 of the 50 readers who ..."), never percentages of small groups.

**Sizing.** A path's score is sized against the spread of the scorer (``PathScores.spread``; the fusion score
of the user's first item minus their tenth's under :class:`explain.RankingScorer`, one star under the
counterfactual scorers): a supporting path whose score is at least :data:`STRONG_SHARE` (a quarter) of the
spread is a *strong* reason, one below it a *minor* one, and a path with a negative score works *against* the
item (:func:`strength_of`). The sentence opens with that size ("Strong reason: ...", "Minor reason: ...",
"Counts against it: ..."); without a spread (the shape scorer) it opens with the fact alone.

Pure functions: a path in, a sentence out.

Example:
    >>> from explain.models import ExplainedPath, PathNode, PathRel
    >>> p = ExplainedPath(kind="category", nodes=[
    ...     PathNode(label="User", key="u1", name="u1"), PathNode(label="Item", key="1", name="Reason"),
    ...     PathNode(label="Category", key="Political Magazines", name="Political Magazines"),
    ...     PathNode(label="Item", key="2", name="The Atlantic")],
    ...     rels=[PathRel(type="RATED", start=0, end=1, properties={"rating": 5.0}),
    ...           PathRel(type="IN_CATEGORY", start=1, end=2), PathRel(type="IN_CATEGORY", start=3, end=2)],
    ...     support={"fans": 50, "both": 31}, score=0.3, strength=strength_of(0.3, spread=0.8))
    >>> sentence(p, audience="readers")
    'Strong reason: you rated *Reason* 5★; *The Atlantic* is in the same category, Political Magazines, and 31 of the 50 readers who rated *Reason* highly also rated it highly.'
"""

from __future__ import annotations

import re

from core.kinds import PathKind
from core.schema import ITEM
from explain.models import ExplainedPath, PathNode

__all__ = [
    "KIND_TITLES",
    "OPENINGS",
    "STRONG_SHARE",
    "display_name",
    "emphasis",
    "kind_title",
    "named",
    "no_support_note",
    "sentence",
    "stars",
    "strength_of",
]

STRONG_SHARE = 0.25
"""A supporting path is a strong reason when its score is at least this share of the spread."""

OPENINGS: dict[str, str] = {
    "strong": "Strong reason",
    "marginal": "Minor reason",
    "against": "Counts against it",
}
"""How a sentence opens for each strength (:func:`strength_of`); none without a strength."""

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


def display_name(name: str, key: str, label: str = ITEM.label) -> str:
    """How a node is named in text: its name, or "item 530" (the label in lower case, then the key) when
    the data gives it no name of its own (the name is the key or empty).

    Example:
        >>> display_name("The Atlantic", "B00005N7P0"), display_name("530", "530")
        ('The Atlantic', 'item 530')
    """
    if name and name != key:
        return name
    return f"{label.lower()} {key}"


def named(name: str, key: str, label: str = ITEM.label) -> str:
    """A node in a sentence: its name in emphasis, or "item 530" plainly when it has no name of its own.

    Example:
        >>> named("The Atlantic", "B00005N7P0"), named("530", "530")
        ('*The Atlantic*', 'item 530')
    """
    if name and name != key:
        return emphasis(name)
    return display_name(name, key, label)


def _named(node: PathNode) -> str:
    return named(node.name, node.key, node.label)


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


def strength_of(score: float, spread: float | None, strong_share: float = STRONG_SHARE) -> str:
    """``"strong"`` when ``score >= strong_share * spread``, ``"marginal"`` when it is positive but below
    that, ``"against"`` when negative; ``""`` for a score of 0 or when there is no (positive) spread to size
    a supporting score by.

    Example:
        >>> [strength_of(s, spread=0.4) for s in (0.2, 0.1, 0.01, 0.0, -0.05)]
        ['strong', 'strong', 'marginal', '', 'against']
        >>> strength_of(0.7, spread=None)
        ''
    """
    if score < 0:
        return "against"
    if score == 0 or spread is None or spread <= 0:
        return ""
    return "strong" if score >= strong_share * spread else "marginal"


def sentence(path: ExplainedPath, audience: str = "customers") -> str:
    """The sentence for ``path``, opened by its ``strength`` (:data:`OPENINGS`); ``audience`` names the
    people behind ratings ("readers", "customers")."""
    fact = _fact(path, audience)
    opening = OPENINGS.get(path.strength)
    return f"{opening}: {fact[0].lower()}{fact[1:]}" if opening else fact


def no_support_note(item: str, candidates: int, scoring: str) -> str:
    """What an explanation says when no path supports ``item`` (as :func:`named` gives it): plainly, with the count of
    paths found; ``scoring`` names what a supporting path would have raised.

    Example:
        >>> no_support_note("item 530", 7, "ranking")
        'None of the 7 links found between you and item 530 raises its place in your list: it is recommended on your history as a whole, not on one link.'
    """
    if candidates == 0:
        return f"No link in the graph leads from you to {item}: it is recommended on your history as a whole."
    raises = "its place in your list" if scoring == "ranking" else "its predicted rating"
    if candidates == 1:
        found = f"The one link found between you and {item} does not raise {raises}"
    else:
        found = f"None of the {candidates} links found between you and {item} raises {raises}"
    return f"{found}: it is recommended on your history as a whole, not on one link."


def _fact(path: ExplainedPath, audience: str) -> str:
    n, r = path.nodes, path.rels
    target = _named(n[-1])
    if path.kind == PathKind.SIMILAR_USERS:
        anchor, other = _named(n[1]), n[2].name
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
    if path.kind == PathKind.USER_LINK:  # (you)-[FRIEND or another user link]-(them)-[RATED]->(target)
        who, link = display_name(n[1].name, n[1].key, n[1].label), r[0].type.lower().replace("_", " ")
        them = f"Your friend {who}" if link == "friend" else f"{who} ({link}, linked to you)"
        return f"{them[:1].upper()}{them[1:]} rated {target} {stars(r[1].properties.get('rating'))}."
    if path.kind == PathKind.USER_ENTITY:  # (you)-[HAS_X]->(x)<-[HAS_X]-(them)-[RATED]->(target)
        who, what = display_name(n[2].name, n[2].key, n[2].label), re.sub(r"(?<!^)(?=[A-Z])", " ", n[1].label)
        peers = path.support.get("peers")
        also = f" ({int(peers)} {audience} who share it did)" if isinstance(peers, int) and peers > 1 else ""
        return (
            f"{who[:1].upper()}{who[1:]}, who shares your {what.lower()}, {n[1].name}, rated {target} "
            f"{stars(r[2].properties.get('rating'))}{also}."
        )
    anchor = _named(n[1])
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
    """The anchor's fans who also rated the target well, as a count of a count (never a percentage)."""
    fans, both = path.support.get("fans"), path.support.get("both")
    if not fans or both is None:
        return ""
    if not both:
        # "0 of ... also rated it highly" reads as a reason against; say plainly that none did (yet)
        return (
            f", though none of the {int(fans)} {audience} who rated {anchor} highly has rated it highly yet"
        )
    return f", and {int(both)} of the {int(fans)} {audience} who rated {anchor} highly also rated it highly"


def _singular(audience: str) -> str:
    return audience[:-1] if audience.endswith("s") else audience
