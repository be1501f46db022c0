"""Every error is JSON ``{"error": {"code", "message", ...}}`` with a 4xx status when the request
was at fault; a bad upload never produces a 5xx."""
from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from facescreen.edge.errors import FaceScreenError

from ..store import NotFound, StoreError

log = logging.getLogger(__name__)

# edge.errors codes -> HTTP status
STATUS_BY_CODE = {
    "bad_image": 400,
    "image_too_large": 413,
    "image_too_small": 422,
    "bad_aspect_ratio": 422,
    "no_face": 422,
    "facescreen_error": 400,
    "bad_bundle": 503,            # the server's own model is broken: not the client's fault
    "backend_unavailable": 503,
    "asset_missing": 503,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers, extra


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


async def send_error(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    """Answer from an ASGI middleware, before the app (and before the request body is read). The
    connection is closed: an unread body cannot be skipped on a keep-alive connection."""
    body = json.dumps(error_body(code, message)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close"), (b"cache-control", b"no-store")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers)

    @app.exception_handler(FaceScreenError)
    async def _edge(request: Request, exc: FaceScreenError) -> JSONResponse:
        status = STATUS_BY_CODE.get(exc.code, 400)
        if status >= 500:
            log.error("server-side model problem: %s", exc)
        return JSONResponse(error_body(exc.code, str(exc)), status)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(exc)), 404)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.error("results store: %s", exc)
        return JSONResponse(error_body(exc.code, str(exc)), 503)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
                   for e in exc.errors()]  # never echo the input back (it may be a photo)
        what = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details)
        return JSONResponse(error_body("invalid_request", f"the request is not valid: {what}", details=details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(f"http_{exc.status_code}", str(exc.detail)), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "the server failed; the error is logged"), 500)
