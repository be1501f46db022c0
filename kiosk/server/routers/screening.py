"""One photo in: quality check, screening, one stored row, the result out."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Form, Query, Request

from facescreen.edge.photo import load_photo

from ..deps import resolve_language, get_engine, get_settings, get_store, photo_bytes, require_token
from ..errors import ApiError
from ..present import png_base64, quality_out, result_text
from ..schemas import ErrorBody, QualityOut, ScreenResponse
from ..settings import Settings

router = APIRouter(prefix="/v1", tags=["screening"], dependencies=[Depends(require_token)])

ERRORS = {400: {"model": ErrorBody, "description": "not a readable image, or an empty upload"},
          401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
          413: {"model": ErrorBody, "description": "too many bytes or too many pixels"},
          415: {"model": ErrorBody, "description": "the upload is not declared as an image"},
          422: {"model": ErrorBody, "description": "no face, a quality check failed, or a malformed request"}}


@router.post("/screen", response_model=ScreenResponse, responses=ERRORS,
             summary="Screen one frontal face photo (quality-checked first); stores one row, the photo only with consent")
def screen(request: Request, data: bytes = Depends(photo_bytes),
           operator_id: Optional[str] = Form(None, max_length=64),
           consent: bool = Form(False, description="the operator recorded consent to keep this photo"),
           include_cam: bool = Form(True, description="return the attention map over the aligned face"),
           lang: Optional[str] = Query(None, description="en or zh-Hans"),
           engine=Depends(get_engine), store=Depends(get_store), settings: Settings = Depends(get_settings)) -> dict:
    lang = resolve_language(lang, settings)
    rgb = load_photo(data, request.app.state.limits)
    analysis = engine.analyse(rgb)
    if settings.require_quality and not analysis.passed:
        q = quality_out(analysis.report, lang)
        raise ApiError(422, "quality_failed", f"the photo failed a quality check: {q['text']}", quality=q)
    result = engine.screen(rgb, analysis)  # the face the quality check judged: detected once
    rec = store.add(result, analysis.report.summary(), kiosk_id=settings.kiosk_id, source="api",
                    operator_id=operator_id, consent=consent, photo=rgb if consent else None)
    return {"id": rec.id, "created_at": rec.created_at, "result": result.to_dict(),
            "text": result_text(result, lang, engine.is_demo), "quality": quality_out(analysis.report, lang),
            "consent_recorded": bool(consent),
            "cam_png": png_base64(engine.cam_overlay(rgb, result)) if include_cam else None}


@router.post("/quality", response_model=QualityOut, responses=ERRORS,
             summary="Measure one frame: every capture-quality measure and the one instruction to give")
def quality(request: Request, data: bytes = Depends(photo_bytes),
            lang: Optional[str] = Query(None, description="en or zh-Hans"),
            engine=Depends(get_engine), settings: Settings = Depends(get_settings)) -> dict:
    rgb = load_photo(data, request.app.state.limits)
    return quality_out(engine.analyse(rgb).report, resolve_language(lang, settings))
