"""The offline tablet app at ``/tablet/``: the static PWA exported into ``BUNDLE/tablet`` by
``facescreen-kiosk tablet-export`` (which refuses a browser runtime that fails parity), served only
while it is the app of the model this kiosk runs (``app_model_mismatch``): a tablet that installed the
app of a model replaced since would screen with it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, RedirectResponse

from facescreen.edge.bundle import ModelCard
from facescreen.kiosk.isolation import ISOLATION_HEADERS, MEDIA_TYPES
from facescreen.kiosk.tablet.export import APP_DIR_IN_BUNDLE, app_model_mismatch, is_tablet_app

from ..deps import get_engine, get_settings
from ..errors import ApiError

router = APIRouter(include_in_schema=False)


def app_dir(settings) -> Path:
    return Path(settings.bundle) / APP_DIR_IN_BUNDLE


def stale_app(settings, card: ModelCard) -> str | None:
    """Why the exported app is not served with this kiosk's model (``card``), with the remedy; None
    when it is this model's. The route refuses every file of a stale app (a tablet keeps the copy it
    has rather than installing the old model again), and the start-up announcement says it."""
    root = app_dir(settings)
    why = app_model_mismatch(root, card)
    if why is None:
        return None
    return (
        f"the tablet app in {root} is not this kiosk's model's: {why}; export it again with "
        f"`facescreen-kiosk tablet-export --bundle {settings.bundle}`"
    )


@router.get("/tablet")
def tablet_root() -> RedirectResponse:
    return RedirectResponse("/tablet/", status_code=308)


@router.get("/tablet/{path:path}")
def tablet_file(path: str, settings=Depends(get_settings), engine=Depends(get_engine)) -> FileResponse:
    root = app_dir(settings).resolve()
    if not is_tablet_app(root):
        raise ApiError(
            404,
            "tablet_app_not_exported",
            f"no tablet app in {root}: export it with `facescreen-kiosk tablet-export --bundle {settings.bundle}` "
            "(it checks the browser runtime against the Python edge path first)",
        )
    stale = stale_app(settings, engine.screener.card)
    if stale is not None:
        raise ApiError(409, "tablet_app_stale", stale)
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
