"""Shared checks as dependencies: settings, the loaded engine, the store, the bearer token, the upload."""
from __future__ import annotations

import hmac
from typing import Optional

from fastapi import Depends, File, Request, UploadFile

from ..engine import KioskEngine
from ..messages import language
from ..store import ResultsStore
from .errors import ApiError
from .sessions import SessionManager
from .settings import Settings

ACCEPTED_CONTENT_TYPES = ("image/", "application/octet-stream")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _loaded(request: Request, attr: str):
    value = getattr(request.app.state, attr, None)
    if value is None:
        raise ApiError(503, "model_not_loaded", "the model is still loading or failed to load; see the server log")
    return value


def get_engine(request: Request) -> KioskEngine:
    return _loaded(request, "engine")


def get_store(request: Request) -> ResultsStore:
    return request.app.state.store


def get_sessions(request: Request) -> SessionManager:
    return _loaded(request, "sessions")


def resolve_language(lang: Optional[str], settings: Settings) -> str:
    try:
        return language(lang or settings.language)
    except ValueError as exc:
        raise ApiError(422, "unknown_language", str(exc)) from None


def require_token(request: Request, settings: Settings = Depends(get_settings)) -> None:
    """With a token configured, every API call must carry ``Authorization: Bearer <token>``."""
    if not settings.token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), settings.token.encode()):
        raise ApiError(401, "unauthorized", "this server needs 'Authorization: Bearer <token>' (ask the operator)",
                       headers={"WWW-Authenticate": "Bearer"})


async def photo_bytes(file: UploadFile = File(..., description="the photo: JPEG, PNG, WebP, BMP or TIFF")) -> bytes:
    """The uploaded photo's bytes, refused early when it is plainly not an image."""
    ctype = (file.content_type or "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(ACCEPTED_CONTENT_TYPES):
        raise ApiError(415, "unsupported_media_type",
                       f"the upload is declared as {ctype!r}; send a photo (image/jpeg, image/png, ...)")
    data = await file.read()
    if not data:
        raise ApiError(400, "empty_upload", "the uploaded file is empty (0 bytes)")
    return data
