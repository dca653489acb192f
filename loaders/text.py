"""Text normalisation for titles, descriptions and names: markup out, entities decoded, spaces collapsed."""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["clean_text"]

_TAG = re.compile(r"<[^>]*>|<[^>]*$")
_SPACE = re.compile(r"\s+")


def clean_text(value: object) -> str | None:
    """Return normalised text, or ``None`` when nothing readable is left.

    Example:
        >>> clean_text('<span class="a-size-medium">The &amp; Atlantic</span>  ')
        'The & Atlantic'
    """
    if value is None:
        return None
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    text = html.unescape(_TAG.sub(" ", str(value)))
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    return text or None
