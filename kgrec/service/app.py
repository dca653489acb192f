"""The FastAPI app of ``kgrec serve``: a thin layer over :class:`kgrec.Recommender`.

Every route but ``/healthz`` and ``/readyz`` needs the API key (``X-API-Key: <key>`` or
``Authorization: Bearer <key>``). The API's description is open: ``/docs`` (and ``/redoc``) and
``/openapi.json`` hold no data, only what the README already says, and a browser opening ``/docs`` could not
send the key; the schema names the key for every route that needs it, so the page's "Authorize" button takes
it for "Try it out".

Each route's work (Neo4j reads, the models) runs on the thread pool in one hop (:func:`_work`), so a slow
Neo4j read holds one thread, not the event loop; the key check and the answer's validation stay on the event
loop. (Plain ``def`` routes and dependencies would take a pool thread each for the check, the work and the
validation: three turns in the pool's queue per request under load.)

Example:
    >>> app = create_app(Settings(workspace="shop"))   # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from threadpoolctl import threadpool_limits

from core.settings import Settings
from explain import Explanation
from kgrec.results import Prediction, Profile, Recommendation, SearchHit, SimilarItem
from kgrec.service.errors import error_response, error_responses, install_error_handlers, internal_error
from kgrec.service.events import ingest, require_on_scale
from kgrec.service.metrics import CONTENT_TYPE
from kgrec.service.schemas import (
    ID_PATTERN,
    EventBatch,
    EventReceipt,
    ModelStatus,
    NewUserRequest,
    PredictRequest,
    Readiness,
)
from kgrec.service.settings import ServiceSettings
from kgrec.service.state import ServiceState, model_status

__all__ = ["app_from_environment", "create_app"]

T = TypeVar("T")

UserId = Annotated[
    str, Path(pattern=ID_PATTERN, description="A user id: 1 to 128 characters, no spaces or slashes.")
]
ItemId = Annotated[
    str, Path(pattern=ID_PATTERN, description="An item id: 1 to 128 characters, no spaces or slashes.")
]
K = Annotated[int, Query(ge=1, description="How many items (at most `KGREC_MAX_K`).")]
Brand = Annotated[str | None, Query(min_length=1, max_length=200, description="Only items of this brand.")]
Category = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="Only items in this category or below it: a name, or a path from the root ('Books > History').",
    ),
]
ExcludeSeen = Annotated[
    bool, Query(description="Leave out what the graph says the user rated (training items always are).")
]


def create_app(settings: Settings, service: ServiceSettings | None = None) -> FastAPI:
    """The service for one workspace: Neo4j and the models load in the background once it starts."""
    state = ServiceState(settings, service or ServiceSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = state.service.threads
        # one request, one core: BLAS and OpenMP pools in every request thread would oversubscribe the CPU
        threadpool_limits(1)
        state.start()
        yield
        state.close()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from files of the installed package, not a CDN
    app = FastAPIOffline(
        title="kgrec", summary="Knowledge-graph recommendations over HTTP", lifespan=lifespan
    )
    app.state.kgrec = state
    install_error_handlers(app)
    app.add_middleware(_Measured, state=state)
    app.include_router(_health(state))
    app.include_router(_api(state), dependencies=[Depends(_key_check(state))])
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` (each worker of ``kgrec serve --workers N``): settings from
    ``KGREC_*`` and ``NEO4J_*`` variables."""
    return create_app(Settings())


class _Measured:
    """Bound the body size, answer a bug with a plain 500, and count and time each answer by its route
    template. Plain ASGI rather than ``@app.middleware("http")``, which runs every request through an extra
    task and body stream."""

    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state
        self.limit = state.service.max_body_bytes
        self.too_large = f"request body over {self.limit} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what a request counts as if it ends before an answer starts
        answered = False

        async def watched(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
            await send(message)

        received = 0

        async def bounded() -> Message:
            # a body without a length (chunked) is counted as it arrives; the route reads it before it runs
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, self.too_large)
            return message

        try:
            length = Headers(scope=scope).get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                await error_response(413, self.too_large)(scope, receive, watched)
            else:
                try:
                    await self.app(scope, receive if length is not None else bounded, watched)
                except Exception as e:  # a bug: answered here so that the connection stays open
                    if answered:
                        raise
                    await internal_error(Request(scope), e)(scope, receive, watched)
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.state.metrics.answered(endpoint, scope["method"], status, elapsed)


async def _work(call: Callable[..., T], *args: object) -> T:
    """``call(*args)`` on the thread pool (at most ``KGREC_THREADS`` at once): a route's blocking work."""
    return await anyio.to_thread.run_sync(partial(call, *args))


_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False)
_BEARER = HTTPBearer(auto_error=False)


def _key_check(state: ServiceState) -> Callable[..., Awaitable[None]]:
    # through FastAPI's security schemes (checked here, not by them) so that the schema says which routes
    # need the key and how to send it
    async def check(
        header: Annotated[str | None, Security(_KEY_HEADER)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> None:
        offered = header if header is not None else bearer.credentials.strip() if bearer else None
        if not state.key.matches(offered):
            raise HTTPException(401, "missing or wrong API key", headers={"WWW-Authenticate": "Bearer"})

    return check


def _health(state: ServiceState) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up (no key needed)."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz() -> JSONResponse:
        """Neo4j answers and a model is loaded (no key needed): 200, else 503; with the model version."""
        ready = await _work(state.readiness)
        return JSONResponse(ready.model_dump(mode="json"), status_code=200 if ready.ready else 503)

    return router


def _api(state: ServiceState) -> APIRouter:
    router = APIRouter(responses=error_responses(401, 500, 503))
    asked = error_responses(404, 422)
    posted = error_responses(404, 413, 422)
    max_k = state.service.max_k

    def bounded(k: int) -> int:
        if k > max_k:
            raise HTTPException(422, f"k must be at most {max_k}, got {k}")
        return k

    @router.get("/users/{user}/recommendations", tags=["recommend"], responses=asked)
    async def recommend(
        user: UserId,
        k: K = 10,
        brand: Brand = None,
        category: Category = None,
        exclude_seen: ExcludeSeen = True,
    ) -> list[Recommendation]:
        """Top ``k`` of the fused ranking; a user with events the models do not know is folded in."""
        return await _work(state.recommend, user, bounded(k), exclude_seen, brand, category)

    @router.post("/recommendations/new-user", tags=["recommend"], responses=error_responses(413, 422))
    async def recommend_new_user(body: NewUserRequest) -> list[Recommendation]:
        """Cold start: a newcomer known by ratings and/or stated brands and categories."""
        k = bounded(body.k)

        def work() -> list[Recommendation]:
            require_on_scale(state.graph(), [(f"ratings[{i!r}]", v) for i, v in body.ratings.items()])
            served = state.serving()
            rows = served.rec.recommend_for_new_user(body.ratings, body.brands, body.categories, k)
            state.observe(served, rows)
            return rows

        return await _work(work)

    @router.post("/predictions", tags=["recommend"], responses=posted)
    async def predict(body: PredictRequest) -> list[Prediction]:
        """Predicted stars of items for a user (a user the models have not seen is served as cold start); an
        item the graph does not hold is a 404 whose ``detail.items`` lists them."""
        return await _work(state.predict, body.user, body.items)

    @router.get("/items/{item}/similar", tags=["recommend"], responses=asked)
    async def similar(item: ItemId, k: K = 10) -> list[SimilarItem]:
        """Items nearest by the model's embeddings."""
        k = bounded(k)
        return await _work(lambda: state.serving().rec.similar_items(item, k))

    @router.get("/search", tags=["recommend"], responses=asked)
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=200, description="The words searched for.")],
        user: Annotated[
            str | None, Query(pattern=ID_PATTERN, description="Rank for this user (personal search).")
        ] = None,
        k: K = 10,
    ) -> list[SearchHit]:
        """Items for a query read through the graph (linked categories, brands, entities; title and
        description), ranked by the search ranker, personal for ``user``; each hit says what matched.
        A query that matches nothing is a 404 naming the closest entity names."""
        k = bounded(k)
        return await _work(lambda: state.serving().rec.search(q, user, k))

    @router.get("/users/{user}/profile", tags=["explain"], responses=asked)
    async def profile(user: UserId) -> Profile:
        """The brands, categories and other entities the user leans to."""
        return await _work(lambda: state.serving().rec.profile(user))

    @router.get("/users/{user}/explanations/{item}", tags=["explain"], responses=asked)
    async def explain(
        user: UserId,
        item: ItemId,
        top: Annotated[int, Query(ge=1, le=10, description="How many paths.")] = 3,
        rating_drop: Annotated[
            bool, Query(description="Add each path's drop in predicted stars (several times the cost).")
        ] = False,
    ) -> Explanation:
        """The graph paths from the user to the item that the model relies on most; ``rating_drop=true`` adds
        each path's drop in predicted stars (``support.rating_drop``), at several times the cost."""
        return await _work(state.explain, user, item, top, rating_drop)

    @router.post("/events", tags=["feedback"], responses=error_responses(413, 422))
    async def events(body: EventBatch) -> EventReceipt:
        """Ratings, views, carts and purchases; answered once committed, idempotent by event id."""
        if len(body.events) > state.service.max_events:
            raise HTTPException(422, f"at most {state.service.max_events} events per batch")
        return await _work(lambda: ingest(state.graph(), body, state.metrics))

    @router.get("/model", tags=["health"])
    async def model() -> ModelStatus:
        """The version of the models serving now."""
        return model_status(state.serving())

    @router.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        """Prometheus metrics (see :mod:`kgrec.service.metrics`)."""
        await _work(state.readiness)  # the ready gauge as of this scrape
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)

    return router
