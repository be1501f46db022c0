"""One photo in: quality check (a refused photo is recorded as a refusal, never kept), screening, one stored
row, the result out."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, Form, Query

from ...store import StoreError
from ..deps import child_ref_form, get_engine, get_settings, get_store, photo_rgb, require_token, resolve_language
from ..errors import ApiError
from ..present import png_base64, quality_out, result_text
from ..schemas import QualityOut, ScreenResponse
from ..settings import Settings
from ..uploads import InMemoryUploads
from .responses import PHOTO, STORES, errors

router = APIRouter(prefix="/v1", tags=["screening"], dependencies=[Depends(require_token)], route_class=InMemoryUploads)


@router.post(
    "/screen",
    response_model=ScreenResponse,
    responses=errors(*PHOTO, *STORES),
    summary="Screen one frontal face photo (quality-checked first); stores one row, the photo only with consent",
)
def screen(
    rgb: np.ndarray = Depends(photo_rgb),
    operator_id: str | None = Form(None, max_length=64),
    consent: bool = Form(False, description="the operator recorded consent to keep this photo"),
    include_cam: bool = Form(True, description="return the attention map over the aligned face"),
    child_ref: str | None = Depends(child_ref_form),
    lang: str | None = Query(
        None, description="a language of the message catalogue (kiosk/locale), e.g. en, zh-Hans, es, ar"
    ),
    engine=Depends(get_engine),
    store=Depends(get_store),
    settings: Settings = Depends(get_settings),
) -> dict:
    lang = resolve_language(lang, settings)
    analysis = engine.analyse(rgb)
    if settings.require_quality and not analysis.passed:
        q = quality_out(analysis.report, lang)
        card = engine.screener.card
        # recorded for the field report's quality-failure rate (kiosk/fieldreport), never the photo
        store.add_refusal(
            analysis.report.summary(),
            analysis.report.instruction,
            model_id=card.model_id,
            model_version=card.version,
            kiosk_id=settings.kiosk_id,
            source="api",
            operator_id=operator_id,
        )
        raise ApiError(422, "quality_failed", f"the photo failed a quality check: {q['text']}", quality=q)
    result = engine.screen(rgb, analysis)  # the face the quality check judged: detected once
    answer = {
        "result": result.to_dict(),
        "text": result_text(result, lang, engine.is_demo),
        "quality": quality_out(analysis.report, lang),
        "consent_recorded": bool(consent),
        "child_ref": child_ref,
        "cam_png": png_base64(engine.cam_overlay(rgb, result)) if include_cam else None,
    }
    # the photo (with consent) is written and fsynced before its row commits: a consented answer
    # always has its photo on disk
    try:
        rec = store.add(
            result,
            analysis.report.summary(),
            kiosk_id=settings.kiosk_id,
            source="api",
            operator_id=operator_id,
            consent=consent,
            photo=rgb if consent else None,
            child_ref=child_ref,
        )
    except StoreError as exc:  # nothing was kept (507, 503), but the child was screened: the answer goes too
        exc.unsaved = {**answer, "consent_recorded": False}
        raise
    return {"id": rec.id, "created_at": rec.created_at, **answer}


@router.post(
    "/quality",
    response_model=QualityOut,
    responses=errors(*PHOTO),
    summary="Measure one frame: every capture-quality measure and the one instruction to give",
)
def quality(
    rgb: np.ndarray = Depends(photo_rgb),
    lang: str | None = Query(
        None, description="a language of the message catalogue (kiosk/locale), e.g. en, zh-Hans, es, ar"
    ),
    engine=Depends(get_engine),
    settings: Settings = Depends(get_settings),
) -> dict:
    return quality_out(engine.analyse(rgb).report, resolve_language(lang, settings))
