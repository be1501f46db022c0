"""The capture page for phone and tablet browsers."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from facescreen.kiosk.isolation import ISOLATION_HEADERS

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def capture_page() -> HTMLResponse:
    return HTMLResponse(
        (STATIC_DIR / "capture.html").read_text(encoding="utf-8"),
        headers={"Cache-Control": "no-store", **ISOLATION_HEADERS},  # no-referrer: the gate, on every answer
    )
