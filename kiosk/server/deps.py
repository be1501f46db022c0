"""Shared checks as dependencies: settings, the loaded engine, the store, the bearer token, the upload.

The token and the inference queue are also enforced by :class:`kiosk.server.gate.RequestGate` before
the request body is read; the gate finds which routes need them from these dependencies
(``require_token``, ``require_configured_token``, ``photo_decoder``), so a route declares what it
needs in one place. Never check the token or decode a photo inside a route's body, where the gate
cannot see it (tests/kiosk/test_kiosk_server_routes.py holds every route to this)."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from facescreen.edge.photo import DecodeBudget, PhotoLimits, open_photo

from ..childref import CHILD_REF_PATTERN, CHILD_REF_RULE, check_child_ref
from ..engine import KioskEngine
from ..messages import language
from ..store import MAX_KEPT_PIXELS, ResultsStore
from .errors import ApiError
from .sessions import SessionManager
from .settings import Settings

ACCEPTED_CONTENT_TYPES = ("image/", "application/octet-stream")
UNAUTHORIZED = ("unauthorized", "this server needs 'Authorization: Bearer <token>' (ask the operator)")
NO_TOKEN = (
    "sync_needs_token",
    "this kiosk has no access token, so it accepts no synced results: start it with --token-file (or FACESCREEN_TOKEN)",
)

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="the token given to `facescreen-kiosk serve` (--token-file or FACESCREEN_TOKEN)",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _loaded(request: Request, attr: str):
    value = getattr(request.app.state, attr, None)
    if value is None:
        raise ApiError(
            503,
            "model_not_loaded",
            "the model is still loading or failed to load; see the server log",
            headers={"Retry-After": "5"},
        )
    return value


def get_engine(request: Request) -> KioskEngine:
    return _loaded(request, "engine")


def get_store(request: Request) -> ResultsStore:
    return request.app.state.store


def get_sessions(request: Request) -> SessionManager:
    return _loaded(request, "sessions")


def client_id(request: Request) -> str:
    """Who is asking: the client's address (capture sessions are capped and owned per client)."""
    return request.client.host if request.client else "unknown"


def resolve_language(lang: str | None, settings: Settings) -> str:
    try:
        return language(lang or settings.language)
    except ValueError as exc:
        raise ApiError(422, "unknown_language", str(exc)) from None


def child_ref_form(
    child_ref: str | None = Form(
        None, description=CHILD_REF_RULE, max_length=200, json_schema_extra={"pattern": CHILD_REF_PATTERN}
    ),
) -> str | None:
    """The child's programme reference sent with a photo, checked against kiosk.childref's format."""
    try:
        return check_child_ref(child_ref)
    except ValueError as exc:
        raise ApiError(422, "bad_child_ref", str(exc)) from None


def token_ok(authorization: str, token: str | None) -> bool:
    """Constant-time check of an ``Authorization`` header value; True when no token is configured."""
    if not token:
        return True
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def require_token(
    request: Request,
    settings: Settings = Depends(get_settings),
    _: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> None:
    """With a token configured, every API call must carry ``Authorization: Bearer <token>``."""
    if not token_ok(request.headers.get("authorization", ""), settings.token):
        raise ApiError(401, *UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def require_configured_token(settings: Settings = Depends(get_settings)) -> None:
    """A route that must never be open, not even on a kiosk started without a token (loopback only):
    it is refused (403) until the operator gives the server a token."""
    if not settings.token:
        raise ApiError(403, *NO_TOKEN)


class PhotoDecoder:
    """The one way a route decodes a photo, whatever carried it (a multipart upload, base64 in JSON):
    the header is checked against the server's limits (size, shape) first, then the pixels are
    reserved in the one decode budget for as long as the caller holds the decoded array. A route that
    depends on :func:`photo_decoder` is behind the inference queue (the gate admits it once its body
    has arrived)."""

    def __init__(self, limits: PhotoLimits, budget: DecodeBudget) -> None:
        self.limits, self.budget = limits, budget

    @contextmanager
    def decoded(self, data: bytes, *, to_keep: bool = False) -> Iterator[np.ndarray]:
        """The photo's pixels for the ``with`` block, inside their reservation. ``to_keep``: the caller
        only stores the photo (a synced result), so it is decoded at the store's size (at most
        ``MAX_KEPT_PIXELS``, 12 MP), area-averaged before it becomes an RGB array: a 49 MP photo is never
        141 MiB of RGB beside its re-encoding (the sync route's peak exceeded /v1/quality's by that).

        The caller must not keep the array past the block: the reservation ends with it, and pixels
        still referenced then are memory the budget no longer counts."""
        opened = open_photo(data, self.limits)
        with self.budget.reserve(opened.pixels):  # the full size: the codec's own image is that large
            rgb = opened.decode(MAX_KEPT_PIXELS if to_keep else None)
            try:
                yield rgb
            finally:
                del rgb  # ours gone before the reservation ends (and before its heap trim)


def photo_decoder(request: Request) -> PhotoDecoder:
    return PhotoDecoder(request.app.state.limits, request.app.state.decode_budget)


async def photo_bytes(
    file: UploadFile = File(..., description="the photo: JPEG, PNG, HEIC, WebP, BMP or TIFF"),
) -> bytes:
    """The uploaded photo's bytes, refused early when it is plainly not an image."""
    ctype = (file.content_type or "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(ACCEPTED_CONTENT_TYPES):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the upload is declared as {ctype!r}; send a photo (image/jpeg, image/png, ...)",
        )
    data = await file.read()
    if not data:
        raise ApiError(400, "empty_upload", "the uploaded file is empty (0 bytes)")
    return data


def photo_rgb(
    data: bytes = Depends(photo_bytes), decoder: PhotoDecoder = Depends(photo_decoder)
) -> Iterator[np.ndarray]:
    """The upload decoded to RGB, its pixels reserved in the decode budget until the response is
    done (the decode waits its turn when other requests hold the budget)."""
    with decoder.decoded(data) as rgb:
        try:
            yield rgb
        finally:
            del rgb  # freed before the reservation ends, not after it
