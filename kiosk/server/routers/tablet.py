"""The offline tablet app at ``/tablet/``: the static PWA exported into ``BUNDLE/tablet`` by
``facescreen-kiosk tablet-export`` (which refuses a browser runtime that fails parity)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, RedirectResponse

from facescreen.kiosk.isolation import ISOLATION_HEADERS, MEDIA_TYPES
from facescreen.kiosk.tablet.export import APP_DIR_IN_BUNDLE, is_tablet_app

from ..deps import get_settings
from ..errors import ApiError

router = APIRouter(include_in_schema=False)


def app_dir(settings) -> Path:
    return Path(settings.bundle) / APP_DIR_IN_BUNDLE


@router.get("/tablet")
def tablet_root() -> RedirectResponse:
    return RedirectResponse("/tablet/", status_code=308)


@router.get("/tablet/{path:path}")
def tablet_file(path: str, settings=Depends(get_settings)) -> FileResponse:
    root = app_dir(settings).resolve()
    if not is_tablet_app(root):
        raise ApiError(
            404,
            "tablet_app_not_exported",
            f"no tablet app in {root}: export it with `facescreen-kiosk tablet-export --bundle {settings.bundle}` "
            "(it checks the browser runtime against the Python edge path first)",
        )
    target = (root / (path or "index.html")).resolve()
    if target.is_dir():
        target = target / "index.html"
    if root not in target.parents or not target.is_file():
        raise ApiError(404, "not_found", f"no file {path!r} in the tablet app")
    # the service worker keeps the offline copy; the browser's HTTP cache must not pin an old one.
    # Isolation on every file, not only the page: the runtime's worker scripts need it too.
    return FileResponse(
        target,
        media_type=MEDIA_TYPES.get(target.suffix),
        headers={"Cache-Control": "no-cache", **ISOLATION_HEADERS},
    )
