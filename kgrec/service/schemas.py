"""The request and response bodies of the HTTP API that :mod:`kgrec.results` does not already give.

Ids are 1 to 128 printable characters without spaces or slashes; unknown fields are refused (422).

Example:
    >>> EventIn(id="e1", user="U1", item="I1", kind="rating", value=4.0).value
    4.0
    >>> EventIn(id="e1", user="U1", item="I1", kind="rating")
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for EventIn
    ...
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from core.kinds import EventKind

__all__ = [
    "ID_PATTERN",
    "EventBatch",
    "EventIn",
    "EventReceipt",
    "Id",
    "ModelStatus",
    "Name",
    "NewUserRequest",
    "PredictRequest",
    "Readiness",
    "Rejected",
]

ID_PATTERN = r"^[^\s/]{1,128}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A brand or category name."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventIn(_Body):
    """One shopper event: a ``rating`` (with ``value``), or a ``view``, ``cart`` or ``purchase``.

    ``id`` is the client's id of the event: sending it again (a retried batch) changes nothing. ``ts`` is
    when it happened, in epoch seconds, stored as sent (0 too); without it, when the service receives it.
    A rating's ``value`` is a finite number, and on the graph's rating scale (checked against the graph when
    the batch is taken: :func:`kgrec.service.events.require_on_scale`).
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "e-2", "user": "U00001", "item": "I00007", "kind": "view"}]}
    )

    id: Id = Field(description="The client's id of the event: sent again, it changes nothing.")
    user: Id = Field(description="Who: a user of the graph, or a newcomer (created by the event).")
    item: Id = Field(description="Which item: one the graph does not hold is rejected.")
    kind: EventKind = Field(description="`rating` (with `value`), `view`, `cart` or `purchase`.")
    value: float | None = Field(
        default=None, allow_inf_nan=False, description="A rating's stars, on the graph's rating scale."
    )
    ts: int | None = Field(
        default=None, ge=0, le=10**11, description="When it happened, in epoch seconds (default: now)."
    )

    @model_validator(mode="after")
    def _value_with_ratings(self) -> EventIn:
        if (self.kind is EventKind.RATING) != (self.value is not None):
            raise ValueError("a rating needs a value, and only a rating has one")
        return self


class EventBatch(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {"id": "e-1", "user": "U00001", "item": "I00013", "kind": "purchase"},
                        {"id": "e-2", "user": "newcomer", "item": "I00007", "kind": "rating", "value": 5},
                    ]
                }
            ]
        }
    )

    events: list[EventIn] = Field(
        min_length=1, description="The events, committed together (at most `KGREC_MAX_EVENTS`)."
    )


class Rejected(_Body):
    id: str
    reason: str


class EventReceipt(_Body):
    """Sent only after the batch is committed: ids written now, ids already stored (a retry), and events
    refused (an item the graph does not hold); a repeated id within the batch counts as a duplicate."""

    accepted: list[str]
    duplicates: list[str]
    rejected: list[Rejected]


class NewUserRequest(_Body):
    """A newcomer known by ratings (item to value: a finite number on the graph's rating scale, as an event's)
    and/or stated brands and categories."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ratings": {"I00007": 5, "I00013": 4}, "brands": ["Inkwell"], "k": 5}]
        }
    )

    ratings: dict[Id, Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=dict, max_length=1000, description="Item to stars: what the newcomer rated."
    )
    brands: list[Name] = Field(
        default_factory=list, max_length=100, description="Only items of any of these brands."
    )
    categories: list[Name] = Field(
        default_factory=list, max_length=100, description="Only items in any of these categories (or below)."
    )
    k: int = Field(default=10, ge=1, description="How many items (at most `KGREC_MAX_K`).")


class PredictRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user": "U00001", "items": ["I00007", "I00013"]}]}
    )

    user: Id = Field(description="The user; one the models have not seen is served as cold start.")
    items: list[Id] = Field(
        min_length=1, max_length=1000, description="Items of the graph: one it does not hold is a 404."
    )


class ModelStatus(_Body):
    """The serving models: ``version`` (a hash of the files describing them) and when they were written."""

    version: str
    trained_at: datetime = Field(description="When the models were written, ISO 8601 in UTC.")
    age_seconds: float


class Readiness(_Body):
    ready: bool
    neo4j: bool
    model: ModelStatus | None
