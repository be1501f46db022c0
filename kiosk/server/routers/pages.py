"""The capture page for phone and tablet browsers."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from facescreen.kiosk.banner import with_banner
from facescreen.kiosk.isolation import ISOLATION_HEADERS

SERVER_DIR = Path(__file__).resolve().parent.parent
# the page's scripts and stylesheet, served as they are at /static
STATIC_DIR = SERVER_DIR / "static"
# the page itself, outside that folder: it has one address (/), answered with the headers below
PAGE = SERVER_DIR / "page" / "capture.html"

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def capture_page() -> HTMLResponse:
    return HTMLResponse(
        with_banner(PAGE.read_text(encoding="utf-8")),
        headers={"Cache-Control": "no-store", **ISOLATION_HEADERS},  # no-referrer: the gate, on every answer
    )
