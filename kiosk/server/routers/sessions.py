"""Phone and tablet capture: the page streams camera frames; the server runs the guidance loop.
A session belongs to the device (client address) that started it."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Body, Depends, Request, Response

from ..deps import (
    child_ref_form,
    client_id,
    get_engine,
    get_sessions,
    get_settings,
    get_store,
    photo_rgb,
    require_token,
    resolve_language,
)
from ..errors import ApiError
from ..present import event_out
from ..schemas import ConsentOut, FrameEvent, SessionCreate, SessionOut
from ..settings import Settings
from ..uploads import InMemoryUploads
from .responses import PHOTO, PROTECTED, STORES, errors

router = APIRouter(
    prefix="/v1/sessions",
    tags=["capture sessions"],
    dependencies=[Depends(require_token)],
    route_class=InMemoryUploads,
)


@router.post(
    "",
    response_model=SessionOut,
    status_code=201,
    responses=errors(*PROTECTED, 400, 408, 413, 503),
    summary="Start a guided capture session",
)
def create(
    request: Request,
    body: SessionCreate | None = Body(None),
    sessions=Depends(get_sessions),
    settings: Settings = Depends(get_settings),
) -> dict:
    body = body or SessionCreate()
    s = sessions.create(body.operator_id, resolve_language(body.language, settings), client=client_id(request))
    return {"session_id": s.id, "needed": s.loop.config.consecutive_frames, "language": s.loop.config.language}


@router.post(
    "/{session_id}/frames",
    response_model=FrameEvent,
    responses=errors(*PHOTO, 404),
    summary="Send one camera frame; get the one instruction, or the result once the photo is taken",
)
def frame(
    session_id: str,
    request: Request,
    rgb: np.ndarray = Depends(photo_rgb),
    child_ref: str | None = Depends(child_ref_form),
    sessions=Depends(get_sessions),
    engine=Depends(get_engine),
    store=Depends(get_store),
    settings: Settings = Depends(get_settings),
) -> dict:
    """``child_ref`` goes with every frame: the one that completes the capture is stored with it, so a
    reference typed or scanned while the child is being guided belongs to that child's result."""
    s = sessions.get(session_id, client_id(request))
    with s.lock:
        ev = s.loop.step(rgb)
        if ev.kind == "result":  # the result is answered even where the store cannot keep it (record.not_saved)
            ev.keep(store, kiosk_id=settings.kiosk_id, source="session", operator_id=s.operator_id, child_ref=child_ref)
            ev.record["child_ref"] = child_ref
    return event_out(ev, s.loop.config.language, engine.is_demo)


@router.post(
    "/{session_id}/retake",
    response_model=FrameEvent,
    responses=errors(*PROTECTED, *STORES, 404, 503),
    summary="Discard the result shown and capture again",
)
def retake(
    session_id: str,
    request: Request,
    sessions=Depends(get_sessions),
    store=Depends(get_store),
    engine=Depends(get_engine),
) -> dict:
    s = sessions.get(session_id, client_id(request), touch=False)  # only a frame keeps a session alive
    with s.lock:
        last = s.loop.last_result
        if last is not None and last.record.get("id"):
            store.set_status(last.record["id"], "retaken")
        ev = s.loop.retake()
    return event_out(ev, s.loop.config.language, engine.is_demo)


@router.post(
    "/{session_id}/consent",
    response_model=ConsentOut,
    responses=errors(*PROTECTED, *STORES, 404, 409, 503),
    summary="The operator recorded consent: keep the photo of the result shown",
)
def consent(session_id: str, request: Request, sessions=Depends(get_sessions), store=Depends(get_store)) -> dict:
    s = sessions.get(session_id, client_id(request))
    with s.lock:
        last = s.loop.last_result
        if last is None or last.capture is None or not last.record.get("id"):
            raise ApiError(409, "no_result", "there is no result on screen in this session to keep a photo of")
        photo_file = store.record_consent(last.record["id"], last.capture)
    return {"id": last.record["id"], "consent_recorded": True, "photo_file": photo_file}


@router.delete(
    "/{session_id}",
    status_code=204,
    responses=errors(*PROTECTED, 404, 503),
    summary="End the session (its frames are dropped)",
)
def end(session_id: str, request: Request, sessions=Depends(get_sessions)) -> Response:
    sessions.close(session_id, client_id(request))
    return Response(status_code=204)
