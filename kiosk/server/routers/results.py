"""The operator's view of the results store: list, one record, CSV export (never cached)."""

from __future__ import annotations

import io
import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AfterValidator

from ...store import since_time
from ..deps import get_settings, get_store, require_token
from ..schemas import ResultRecord, ResultsPage
from .responses import PROTECTED, errors

router = APIRouter(prefix="/v1", tags=["results"], dependencies=[Depends(require_token)])

MAX_OFFSET = 2**53  # far beyond any store; SQLite's OFFSET is a signed 64-bit integer

# checked as a parameter (422 saying what a time looks like), not first in the store's query
Since = Annotated[
    str | None,
    Query(max_length=64, description="ISO 8601 date or time (UTC unless it has an offset): screenings at or after it"),
    AfterValidator(lambda v: None if v is None else since_time(v)),
]
CHILD_REF = Query(None, max_length=200, description="only this child's screenings (the reference exactly)")


@router.get(
    "/results", response_model=ResultsPage, responses=errors(*PROTECTED), summary="Stored screenings, newest first"
)
def list_results(
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    since: Since = None,
    child_ref: str | None = CHILD_REF,
    store=Depends(get_store),
) -> dict:
    """``total`` counts the screenings the filters select, so a child's page count is right."""
    return {"total": store.count(since, child_ref), "items": store.list(limit, offset, since, child_ref)}


def attachment(filename: str) -> str:
    """A Content-Disposition naming ``filename`` whatever its characters (RFC 6266: a plain-ASCII
    ``filename`` for old clients, the name itself as ``filename*`` in UTF-8). A header is Latin-1, so a
    kiosk id in Cyrillic, Arabic or Chinese was Starlette's UnicodeEncodeError, a 500, and a '"' in it
    ended the quoted name early."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\/' else "_" for c in filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"


@router.get(
    "/results.csv",
    summary="Export every stored screening as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **errors(*PROTECTED)},
)
def export_results(
    since: Since = None,
    child_ref: str | None = CHILD_REF,
    store=Depends(get_store),
    settings=Depends(get_settings),
) -> Response:
    buf = io.StringIO()
    store.export_csv(buf, since, child_ref)
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(f"facescreen-{settings.kiosk_id}.csv")},
    )


@router.get(
    "/results/{screening_id}",
    response_model=ResultRecord,
    responses=errors(*PROTECTED, 404),
    summary="One stored screening",
)
def get_result(screening_id: str, store=Depends(get_store)) -> dict:
    return store.get(screening_id)
