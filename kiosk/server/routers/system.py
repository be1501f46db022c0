"""Health, model card and the message table."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query, Request

from facescreen.edge.bundle import software_version

from ...childref import child_ref_spec
from ...messages import MESSAGES, language_names
from ..deps import get_engine, get_settings, require_token, resolve_language
from ..schemas import Health, MessagesOut, ModelInfo
from ..settings import Settings
from .responses import errors

router = APIRouter(prefix="/v1", tags=["system"])


@router.get("/health", response_model=Health, summary="Liveness, whether the model is loaded, and the load")
def health(request: Request, settings: Settings = Depends(get_settings)) -> dict:
    state = request.app.state
    return {
        "status": "ok",
        "model_loaded": getattr(state, "engine", None) is not None,
        "kiosk_id": settings.kiosk_id,
        "software_version": software_version(),
        "uptime_s": round(time.monotonic() - state.started, 3),
        "inference": state.queue.snapshot(),
        "decode_budget": {
            "in_flight_mp": round(state.decode_budget.in_flight / 1e6, 3),
            "limit_mp": settings.decode_budget_mp,
        },
        "store": state.store.health(),
        "sessions": {
            "open": len(state.sessions) if state.sessions is not None else 0,
            "limit": settings.max_sessions,
            "per_client": settings.sessions_per_client,
        },
    }


@router.get(
    "/model",
    response_model=ModelInfo,
    dependencies=[Depends(require_token)],
    responses=errors(401, 429, 503),
    summary="The model in use: id, version, threshold, intended use, not-for-clinical-use marking",
)
def model(engine=Depends(get_engine)) -> dict:
    return {
        **engine.model_info(),
        "demo": engine.is_demo,
        "quality_thresholds": engine.quality.model_dump(),
        "child_ref": child_ref_spec(),
    }


@router.get(
    "/messages",
    response_model=MessagesOut,
    responses=errors(422),
    summary="Every sentence the capture page shows, in one language",
)
def messages(
    lang: str | None = Query(None, description="a language of the catalogue: " + ", ".join(MESSAGES)),
    settings: Settings = Depends(get_settings),
) -> dict:
    code = resolve_language(lang, settings)
    return {
        "language": code,
        "languages": list(MESSAGES),
        "language_names": language_names(),
        "messages": MESSAGES[code],
    }
