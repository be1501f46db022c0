"""Results made on a tablet (kiosk/tablet), sent to this kiosk's store when it is reachable.

Idempotent by the id the tablet gave each result: the first copy is kept, a repeat is
acknowledged and left alone, so a sync cut off halfway is finished by the next one. Accepted only
with this kiosk's bearer token (a kiosk started without one refuses every sync). A photo comes
only with the family's recorded consent, and is re-encoded (no EXIF, no GPS) like any kept photo.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from facescreen.edge.photo import load_photo
from facescreen.edge.postprocess import flagged
from facescreen.edge.result import NO_FLAG, REFER

from ...childref import CHILD_REF_PATTERN, CHILD_REF_RULE, check_child_ref
from ..deps import get_settings, get_store, require_token
from ..errors import ApiError

SOURCE = "tablet"
MAX_PER_REQUEST = 100
# the tablet app may be served from another origin (a static export): a token, never a cookie,
# authorises the call, so any origin may make it
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "authorization, content-type",
    "Access-Control-Max-Age": "600",
}


class SyncedResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="made on the tablet; the key that makes a sync idempotent")
    created_at: dt.datetime
    tablet_id: str = Field(min_length=1, max_length=64)
    model_id: str = Field(min_length=1, max_length=200)
    model_version: str = Field(min_length=1, max_length=50)
    backend: str = Field(min_length=1, max_length=200)
    probability: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(ge=0.0, le=1.0)
    flag: bool
    label: Literal["refer for genetic evaluation", "no referral flag"]
    not_for_clinical_use: bool
    intended_use: str = Field(max_length=2000)
    quality: dict[str, Any] = Field(default_factory=dict)
    consent: bool = False
    photo_jpeg_b64: str | None = Field(None, description="only with consent")
    child_ref: str | None = Field(None, description=CHILD_REF_RULE, json_schema_extra={"pattern": CHILD_REF_PATTERN})

    _child_ref = field_validator("child_ref")(check_child_ref)

    @model_validator(mode="after")
    def _consistent(self) -> SyncedResult:
        if self.flag != flagged(self.probability, self.threshold):
            raise ValueError(
                f"flag {self.flag} does not follow probability {self.probability} vs threshold {self.threshold}"
            )
        if self.label != (REFER if self.flag else NO_FLAG):
            raise ValueError(f"label {self.label!r} does not match flag {self.flag}")
        if self.photo_jpeg_b64 is not None and not self.consent:
            raise ValueError("a photo may be sent only with the family's recorded consent")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at needs a time zone (ISO 8601 with Z or an offset)")
        return self


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    results: list[SyncedResult] = Field(min_length=1, max_length=MAX_PER_REQUEST)


class SyncResponse(BaseModel):
    accepted: list[str] = Field(description="every id now in this kiosk's store (new or already there)")
    new: list[str]
    duplicates: list[str]


def require_sync_token(request: Request, settings=Depends(get_settings)) -> None:
    if not settings.token:
        raise ApiError(
            403,
            "sync_needs_token",
            "this kiosk has no access token, so it accepts no synced results: "
            "start it with --token (or FACESCREEN_TOKEN)",
            headers=CORS,
        )
    try:
        require_token(request, settings)
    except ApiError as exc:
        exc.headers = {**(exc.headers or {}), **CORS}
        raise


router = APIRouter(prefix="/v1/sync", tags=["sync"])


@router.options("/results", include_in_schema=False)
def preflight() -> Response:
    return Response(status_code=204, headers=CORS)


@router.post(
    "/results",
    response_model=SyncResponse,
    dependencies=[Depends(require_sync_token)],
    summary="Store screenings made on a tablet (idempotent by id)",
)
def sync_results(body: SyncRequest, request: Request, response: Response, store=Depends(get_store)) -> dict:
    response.headers.update(CORS)
    new, dup = [], []
    for r in body.results:
        photo = None
        if r.photo_jpeg_b64 is not None:
            try:
                raw = base64.b64decode(r.photo_jpeg_b64, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(422, "bad_photo", f"result {r.id}: photo_jpeg_b64 is not base64", headers=CORS) from None
            photo = load_photo(raw, request.app.state.limits)  # the server's upload limits and errors (400/413)
        row = {
            "id": r.id,
            "created_at": r.created_at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "kiosk_id": r.tablet_id,
            "operator_id": None,
            "source": SOURCE,
            "model_id": r.model_id,
            "model_version": r.model_version,
            "backend": r.backend,
            "probability": r.probability,
            "threshold": r.threshold,
            "flag": int(r.flag),
            "label": r.label,
            "not_for_clinical_use": int(r.not_for_clinical_use),
            "intended_use": r.intended_use,
            "quality_json": json.dumps(r.quality, sort_keys=True),
            "consent": r.consent,
            # the tablet sends the result's fields above, not a kiosk ScreeningResult (no crop, no CAM)
            "result_json": None,
            "child_ref": r.child_ref,
        }
        (new if store.add_synced(row, photo) else dup).append(r.id)
    return {"accepted": [r.id for r in body.results], "new": new, "duplicates": dup}
