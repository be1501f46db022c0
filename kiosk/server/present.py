"""Engine outputs -> response bodies (one place, so the kiosk page and the API say the same)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from facescreen.edge.result import REFER, ScreeningResult

from ..guidance import GuidanceEvent
from ..messages import message
from ..quality import QualityReport


def quality_out(report: QualityReport, lang: str) -> dict[str, Any]:
    d = report.to_dict()
    d["text"] = message(report.instruction, lang) if report.instruction else ""
    return d


def result_text(result: ScreeningResult, lang: str, demo: bool) -> dict[str, Any]:
    return {
        "label": message(result.label, lang),
        "advice": message("refer_advice" if result.label == REFER else "no_flag_advice", lang),
        "probability": message("probability", lang, probability=result.probability, threshold=result.threshold),
        "note": message("result_note", lang),
        "not_for_clinical_use": message("not_for_clinical_use", lang) if result.not_for_clinical_use else None,
        "demo_notice": message("demo_notice", lang) if demo else None,
    }


def png_base64(rgb: np.ndarray | None) -> str | None:
    if rgb is None:
        return None
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def event_out(ev: GuidanceEvent, lang: str, demo: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "event": ev.kind,
        "frame": ev.frame_index,
        "message_key": ev.message_key,
        "text": ev.text,
        "streak": ev.streak,
        "needed": ev.needed,
    }
    if ev.report is not None:
        d["quality"] = quality_out(ev.report, lang)
    if ev.result is not None:
        d["result"] = ev.result.to_dict()
        d["result_text"] = result_text(ev.result, lang, demo)
        d["cam_png"] = png_base64(ev.cam_image)
    if ev.record:
        d["record"] = dict(ev.record)
    if ev.error_code:
        d["error"] = {"code": ev.error_code, "message": ev.error}
    return d
