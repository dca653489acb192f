"""The records an explanation is made of; pydantic, so they validate at the boundary and serialise to JSON.

Example:
    >>> node = PathNode(label="Brand", key="Crema Co", name="Crema Co")
    >>> node.model_dump_json()
    '{"label":"Brand","key":"Crema Co","name":"Crema Co"}'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import PathRecordError
from kg.records import PathRecord

__all__ = ["ExplainedPath", "Explanation", "PathNode", "PathRel", "from_record"]


class PathNode(BaseModel):
    """A node as Neo4j holds it: label, business key (``id`` or ``name``) and display name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    key: str
    name: str


class PathRel(BaseModel):
    """A relationship with its real direction: ``start`` and ``end`` index the path's nodes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    properties: dict[str, float | int | str | None] = Field(default_factory=dict)


class ExplainedPath(BaseModel):
    """One path from the user to the item, how much the model relied on it, and a sentence saying it.

    ``score`` depends on the explanation's ``scoring``:

    - ``"ranking"`` (:class:`explain.RankingScorer`): how much the path moves the fusion score that ranked
      the item, ``fused(user's interactions) - fused(the same without the path's anchor items)``; positive:
      the path supports the item's place in the ranking; 0 when the ranker did not train on the anchor. The
      unit is the fusion model's score (LambdaRank: comparable within one user's list, not a probability).
    - ``"counterfactual"``: the drop in predicted rating when the path's edges are removed from the rating
      model's input (positive: the path pushed the rating up).
    - ``"shape"`` (no model): a shape score in ``[0, 1]``.

    ``support``: figures the sentence quotes (``fans``/``both`` of the anchor item, ``agree`` for similar
    users); under ``"ranking"`` with the rating model beside it, also ``rating_drop``, the path's drop in
    predicted rating (the ``"counterfactual"`` score).

    ``strength``: how the sentence sizes the effect (see :func:`explain.sentences.strength_of`):
    ``"strong"`` or ``"marginal"`` for a path that supports the item, ``"against"`` for one that works
    against it (listed under :attr:`Explanation.despite`), ``""`` when the scorer gives no spread to size by.
    """

    model_config = ConfigDict(extra="forbid")

    kind: str
    nodes: list[PathNode]
    rels: list[PathRel]
    support: dict[str, float | int] = Field(default_factory=dict)
    score: float = 0.0
    strength: str = ""
    sentence: str = ""


class Explanation(BaseModel):
    """Why ``item`` is recommended to ``user``: the paths that support it, best first, and apart from them
    the paths that work against it.

    ``paths`` holds only paths with a positive score (removing the path lowers the score that ranked the
    item); ``despite`` the paths with a negative score, most negative first: the item is recommended in spite
    of them, and they are never offered as a reason. A path that moves nothing (score 0) is in neither. When
    no path supports the item, ``paths`` is empty and ``note`` says so plainly.

    ``scoring`` names how paths were scored (``"ranking"``, ``"counterfactual"`` or ``"shape"``, see
    :class:`ExplainedPath`); ``predicted`` is the rating model's predicted rating for the pair when a model
    scored the paths; ``spread`` the score difference the sizing words are relative to (see
    :func:`explain.sentences.strength_of`), ``None`` when the scorer gives none.
    """

    model_config = ConfigDict(extra="forbid")

    user: str
    item: str
    item_name: str
    scoring: str
    predicted: float | None = None
    paths: list[ExplainedPath]
    despite: list[ExplainedPath] = Field(default_factory=list)
    note: str = ""
    spread: float | None = None
    candidates: int = Field(0, ge=0, description="candidate paths found before keeping the top ones")

    @property
    def supported(self) -> bool:
        """Whether at least one path supports the item."""
        return bool(self.paths)


def from_record(record: PathRecord) -> ExplainedPath:
    """An :class:`ExplainedPath` (not yet scored) from a :class:`kg.paths.PathRecord`."""
    try:
        return ExplainedPath.model_validate(record)
    except ValidationError as e:
        raise PathRecordError(f"a path record does not validate: {e}", e.errors()) from e
