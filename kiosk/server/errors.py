"""Every error is JSON ``{"error": {"code", "message", ...}}`` with a 4xx status when the request
was at fault; a bad upload never produces a 5xx."""

from __future__ import annotations

import functools
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from facescreen.edge.errors import FaceScreenError
from facescreen.edge.photo import release_free_memory

from ..store import NotFound, StoreError, StoreFull

log = logging.getLogger(__name__)

# edge.errors codes -> HTTP status
STATUS_BY_CODE = {
    "bad_image": 400,
    "image_too_large": 413,
    "image_too_small": 422,
    "bad_aspect_ratio": 422,
    "no_face": 422,
    "facescreen_error": 400,
    "bad_bundle": 503,  # the server's own model is broken: not the client's fault
    "backend_unavailable": 503,
    "asset_missing": 503,
}


STORE_FULL_RETRY_S = 300  # the operator must free space first


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers, extra


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def store_error_body(exc: StoreError) -> dict[str, Any]:
    """A store's refusal; with ``unsaved``, the answer a route made before the store refused to keep it
    (POST /v1/screen: the child was screened, and the page shows the result, saying it was not kept)."""
    return error_body(exc.code, str(exc), **({"unsaved": exc.unsaved} if exc.unsaved is not None else {}))


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    keep_alive: bool = False,
) -> None:
    """Answer from an ASGI middleware. Before the request body is read, the connection is closed: an
    unread body cannot be skipped on a keep-alive connection (``keep_alive`` once it has been read)."""
    body = json.dumps(error_body(code, message)).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ] + ([] if keep_alive else [(b"connection", b"close")])
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def release_frames(exc: BaseException) -> None:
    """Drop the local variables of every finished frame the exception (and those chained to it) passed
    through. A traceback keeps its frames, and a frame its locals: the route's decoded photo, the
    request's dependencies. Once a cycle forms through them, only the cyclic garbage collector frees
    them, and a server that allocates few objects may not run a full collection for minutes. On Python
    3.10 (the Jetson's) every error raised in a sync route makes one: anyio's
    ``run_sync_in_worker_thread`` frame keeps the asyncio Future that carried the exception out of the
    worker thread, and the Future keeps the exception. 16 refused 49 MP photos kept 2.5 GB that way,
    past the decode budget that had released them. The frames still running (the
    handler's callers) are left alone; the traceback text stays printable."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        traceback.clear_frames(e.__traceback__)
        todo += [e.__cause__, e.__context__]


async def answer_bug(scope: Scope, exc: Exception, send: Send) -> None:
    """A 500 for an error no handler took (a bug), logged with its traceback. Answered by the request
    gate rather than by Starlette's outermost handler, which re-raises to the server and so resets
    the client's keep-alive connection."""
    try:
        log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
        await send_error(send, 500, "internal_error", "the server failed; the error is logged", keep_alive=True)
    finally:
        release_frames(exc)


Handler = Callable[[Request, Any], Awaitable[JSONResponse]]


def _releasing(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def answer(request: Request, exc: BaseException) -> JSONResponse:
        try:
            return await handler(request, exc)
        finally:
            release_frames(exc)
            # what the frames held (a refused photo's arrays) is freed only now, after the decode budget
            # trimmed the heap on its release: trim again, or the server keeps the refused photos' pages
            release_free_memory()

    return answer


def install(app: FastAPI) -> None:
    """One JSON answer per exception type; every handler releases the frames of what it answered."""

    def handles(kind: type[BaseException]) -> Callable[[Handler], Handler]:
        return lambda handler: app.exception_handler(kind)(_releasing(handler))

    @handles(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers)

    @handles(FaceScreenError)
    async def _edge(request: Request, exc: FaceScreenError) -> JSONResponse:
        status = STATUS_BY_CODE.get(exc.code, 400)
        if status >= 500:
            log.error("server-side model problem: %s", exc)
        return JSONResponse(error_body(exc.code, str(exc)), status)

    @handles(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(exc)), 404)

    @handles(StoreFull)
    async def _full(request: Request, exc: StoreFull) -> JSONResponse:
        log.error("results store: %s", exc)
        return JSONResponse(store_error_body(exc), 507, headers={"Retry-After": str(STORE_FULL_RETRY_S)})

    @handles(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.error("results store: %s", exc)
        return JSONResponse(store_error_body(exc), 503)

    @handles(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]  # never echo the input back (it may be a photo)
        what = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details)
        return JSONResponse(error_body("invalid_request", f"the request is not valid: {what}", details=details), 422)

    @handles(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(f"http_{exc.status_code}", str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @handles(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "the server failed; the error is logged"), 500)
