"""Every failure as a JSON body ``{"error": message}`` (with ``"detail"`` where there is more to say: the
fields a 422 refused, the items a 404 did not find) and the status that says what went wrong, never a stack
trace; :class:`ErrorBody` is that body in the OpenAPI description (:func:`error_responses`).

=========================================  ======
the key is missing or wrong                401
an unknown user or item (``NotFoundError``)  404
malformed JSON, a bad id, ``k`` out of range 422
a body over ``max_body_bytes``             413
no model loaded yet, Neo4j unreachable     503
anything else (logged with its traceback)  500
=========================================  ======

Example:
    >>> from core.errors import NotFoundError
    >>> status_of(NotFoundError("user 'x' is not in the graph"))
    404
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from core.errors import ConfigError, KGRecError, Neo4jError, NotFoundError, NotReadyError

__all__ = [
    "ErrorBody",
    "UnknownItems",
    "error_response",
    "error_responses",
    "install_error_handlers",
    "internal_error",
    "status_of",
]

log = logging.getLogger("kgrec.service")


class ErrorBody(BaseModel):
    """What every failed request answers."""

    error: str = Field(
        description="What went wrong, in one line.", examples=["user 'nobody' is not in the graph"]
    )
    detail: Any = Field(
        default=None,
        description="More, where there is: each refused field of a 422 (`loc`, `msg`, `type`), the items a "
        "404 did not find.",
    )


_MEANINGS = {
    401: "The API key is missing or wrong.",
    404: "An unknown user or item.",
    413: "The body is over the service's limit (`KGREC_MAX_BODY_BYTES`).",
    422: "Malformed JSON, a bad id, a value out of its range (`k` over `KGREC_MAX_K`, a rating off the scale).",
    500: "A bug, logged with its traceback.",
    503: "No model loaded yet, or Neo4j does not answer.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route or router: each status with :class:`ErrorBody` and what it means (a
    declared 422 also keeps FastAPI from describing its own validation body, which the service never sends)."""
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}


class UnknownItems(NotFoundError):
    """Items asked for that the graph does not hold: a 404 whose ``detail`` lists them."""

    def __init__(self, items: list[str]) -> None:
        named = ", ".join(repr(i) for i in items)
        super().__init__(
            f"item {named} is not in the graph" if len(items) == 1 else f"items {named} are not in the graph"
        )
        self.items = items


def status_of(error: KGRecError) -> int:
    """The HTTP status of one of kgrec's own errors."""
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, NotReadyError | Neo4jError):
        return 503
    if isinstance(error, ConfigError):
        return 500
    return 422  # the rest (a model, schema or load error) come from what the request asked for


def error_response(
    status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def internal_error(request: Request, error: Exception) -> JSONResponse:
    """A bug's answer: logged with its traceback here, a plain 500 to the client. Answered by the service's
    own middleware rather than Starlette's last-resort handler, which re-raises, and uvicorn then drops the
    client's keep-alive connection."""
    log.error("unhandled error on %s", request.url.path, exc_info=error)
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KGRecError)
    async def kgrec_error(request: Request, error: KGRecError) -> JSONResponse:
        status = status_of(error)
        if status >= 500:  # the operator's side of a 503: what failed, without the client's data
            log.warning("%s on %s: %s", status, request.url.path, error)
        detail = {"items": error.items} if isinstance(error, UnknownItems) else None
        return error_response(status, str(error), detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        detail = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in error.errors()]
        return error_response(422, "invalid request", jsonable_encoder(detail))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        headers = dict(error.headers) if error.headers else None
        return error_response(error.status_code, str(error.detail), headers=headers)
