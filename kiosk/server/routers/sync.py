"""Results made on a tablet (kiosk/tablet), sent to this kiosk's store when it is reachable.

Idempotent by the id the tablet gave each result: the first copy is kept, a repeat is
acknowledged and left alone, so a sync cut off halfway is finished by the next one. A request is
one transaction: every result in it is stored, or none (a bad photo in the second refuses the
first too). Accepted only with this kiosk's bearer token (a kiosk started without one refuses every
sync, before reading the body) and only for results made with a model this kiosk serves or has served
(its id, version, threshold and not-for-clinical-use marking, from the model card: a tablet's results
made before a model update are still taken, and kept with the model that made them). A photo comes
only with the family's recorded consent, is decoded within the server's limits and decode budget like
any upload (the route is behind the inference queue), and is re-encoded (no EXIF, no GPS) like any
kept photo.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from facescreen.edge.postprocess import flagged
from facescreen.edge.result import NO_FLAG, REFER

from ...childref import CHILD_REF_PATTERN, CHILD_REF_RULE, check_child_ref
from ...store import COLUMNS, Batch, ScreeningRow, store_time, utc_now
from ..deps import PhotoDecoder, get_engine, get_store, photo_decoder, require_configured_token, require_token
from ..errors import ApiError
from .responses import errors

SOURCE = "tablet"
MAX_PER_REQUEST = 100
# A tablet's clock may run a little ahead; a result from further in the future would sort first for
# ever and escape `purge --older-than-days`. Nothing was screened before this software existed.
MAX_CLOCK_AHEAD = dt.timedelta(days=1)
EARLIEST = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
# The quality record a tablet sends is a per-measure summary (2 levels deep, well under 4 KiB); a
# stored row must never be able to break the operator's listing or make it huge.
MAX_QUALITY_DEPTH = 6
MAX_QUALITY_BYTES = 32 * 1024
# the tablet app may be served from another origin (a static export): a token, never a cookie,
# authorises the call, so any origin may make it
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "authorization, content-type",
    "Access-Control-Max-Age": "600",
}


class CorsRoute(APIRoute):
    """Every answer of these routes, the request gate's refusals (401, 403, 413) included, carries CORS
    headers: a browser hides the answer from the tablet app otherwise."""

    answer_headers = CORS


def json_depth(value: Any, stop_after: int = MAX_QUALITY_DEPTH) -> int:
    """Nesting depth of a JSON value (a scalar: 0, ``{}``: 1), level by level without recursion;
    counting stops one past ``stop_after``."""
    depth, level = 0, [value]
    while depth <= stop_after:
        level = [v for v in level if isinstance(v, (dict, list))]
        if not level:
            break
        depth += 1
        level = [c for v in level for c in (v.values() if isinstance(v, dict) else v)]
    return depth


class SyncedResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="made on the tablet; the key that makes a sync idempotent")
    created_at: dt.datetime = Field(
        description=f"with a time zone; from {EARLIEST.date()} to {MAX_CLOCK_AHEAD} ahead of the kiosk's clock"
    )
    tablet_id: str = Field(min_length=1, max_length=64)
    model_id: str = Field(
        min_length=1, max_length=200, description="a model this kiosk serves (GET /v1/model) or has served"
    )
    model_version: str = Field(min_length=1, max_length=50)
    backend: str = Field(min_length=1, max_length=200)
    probability: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(ge=0.0, le=1.0, description="the threshold of the model that made the result")
    flag: bool
    label: Literal["refer for genetic evaluation", "no referral flag"]
    not_for_clinical_use: bool
    intended_use: str = Field(max_length=2000)
    quality: dict[str, Any] = Field(
        default_factory=dict,
        description=f"the quality record: at most {MAX_QUALITY_DEPTH} levels deep and {MAX_QUALITY_BYTES} bytes",
    )
    consent: bool = False
    photo_jpeg_b64: str | None = Field(None, description="only with consent")
    child_ref: str | None = Field(None, description=CHILD_REF_RULE, json_schema_extra={"pattern": CHILD_REF_PATTERN})

    _child_ref = field_validator("child_ref")(check_child_ref)

    @field_validator("created_at")
    @classmethod
    def _when(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("created_at needs a time zone (ISO 8601 with Z or an offset)")
        try:
            utc = v.astimezone(dt.timezone.utc)
        except OverflowError:  # 9999-12-31T23:59:59-23:59 is past the calendar's end in UTC
            raise ValueError(f"created_at {v.isoformat()} is outside the calendar in UTC") from None
        latest = utc_now() + MAX_CLOCK_AHEAD
        if not EARLIEST <= utc <= latest:
            raise ValueError(
                f"created_at {utc.isoformat()} is not between {EARLIEST.date()} and "
                f"{latest.isoformat(timespec='minutes')} "
                "(this kiosk's clock plus a day): check the tablet's clock"
            )
        return utc

    @field_validator("quality")
    @classmethod
    def _bounded(cls, v: dict[str, Any]) -> dict[str, Any]:
        depth = json_depth(v)
        if depth > MAX_QUALITY_DEPTH:
            raise ValueError(f"quality is nested {depth} levels deep or more; at most {MAX_QUALITY_DEPTH} are kept")
        size = len(json.dumps(v))
        if size > MAX_QUALITY_BYTES:
            raise ValueError(f"quality is {size} bytes as JSON; at most {MAX_QUALITY_BYTES} are kept")
        return v

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
        return self

    def row(self) -> ScreeningRow:
        """The store's row: every field the two share by name, and those that differ."""
        differ = {
            "created_at": store_time(self.created_at),
            "kiosk_id": self.tablet_id,
            "source": SOURCE,
            "flag": int(self.flag),
            "not_for_clinical_use": int(self.not_for_clinical_use),
            "quality_json": json.dumps(self.quality, sort_keys=True),
            "consent": int(self.photo_jpeg_b64 is not None),
            # the tablet sends the result's fields above, not a kiosk ScreeningResult (no crop, no CAM)
            "result_json": None,
        }
        same = {k: getattr(self, k) for k in COLUMNS if k in type(self).model_fields and k not in differ}
        return ScreeningRow(**same, **differ)


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    results: list[SyncedResult] = Field(min_length=1, max_length=MAX_PER_REQUEST)


class SyncResponse(BaseModel):
    accepted: list[str] = Field(description="every id now in this kiosk's store (new or already there)")
    new: list[str]
    duplicates: list[str]


def check_model(r: SyncedResult, served: set[tuple[str, str, float, int]], card: dict[str, Any]) -> None:
    """``r`` was made with a model this kiosk has served (``served``: their ``ServedModelRow.key``): the
    current one, or one it served before an update, whose results a tablet may still be carrying."""
    made_with = (r.model_id, r.model_version, r.threshold, int(r.not_for_clinical_use))
    if made_with not in served:
        raise ApiError(
            422,
            "model_mismatch",
            f"result {r.id}: made with {r.model_id} v{r.model_version} (threshold {r.threshold}, "
            f"not_for_clinical_use {r.not_for_clinical_use}), which this kiosk has never served; it serves "
            f"{card['model_id']} v{card['version']} (threshold {card['threshold']}, not_for_clinical_use "
            f"{card['not_for_clinical_use']}, GET /v1/model): sync the tablet to the kiosk whose model made it",
        )


def photo_bytes(r: SyncedResult) -> bytes:
    try:
        return base64.b64decode(r.photo_jpeg_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_photo", f"result {r.id}: photo_jpeg_b64 is not base64") from None


def keep_photo(batch: Batch, r: SyncedResult, decoder: PhotoDecoder) -> None:
    """Decode ``r``'s photo within the server's limits, errors and decode budget, and write it. A
    function of its own so that no name outlives the reservation: in the route's loop the array stayed
    bound through the batch's commit (an fsync), while the next request's 49 MP decode had the budget."""
    with decoder.decoded(photo_bytes(r), to_keep=True) as rgb:
        batch.add(r.row(), rgb)


router = APIRouter(prefix="/v1/sync", tags=["sync"], route_class=CorsRoute)


@router.options("/results", include_in_schema=False)
def preflight() -> Response:
    return Response(status_code=204)


@router.post(
    "/results",
    response_model=SyncResponse,
    dependencies=[Depends(require_configured_token), Depends(require_token)],
    responses=errors(400, 401, 403, 408, 413, 422, 429, 503, 507),
    summary="Store screenings made on a tablet (idempotent by id; all or none per request)",
)
def sync_results(
    body: SyncRequest,
    store=Depends(get_store),
    engine=Depends(get_engine),
    decoder: PhotoDecoder = Depends(photo_decoder),
) -> dict:
    card, served = engine.model_info(), {m.key for m in store.served_models()}
    for r in body.results:
        check_model(r, served, card)
    known = store.known({r.id for r in body.results})
    with store.batch() as batch:
        for r in body.results:
            if r.id in known:  # a repeat: acknowledged, its photo not even decoded
                continue
            if r.photo_jpeg_b64 is None:
                batch.add(r.row())
            else:
                keep_photo(batch, r, decoder)
    fresh, new, dup = set(batch.new), [], []
    for r in body.results:  # an id sent twice in one request is new once
        (new if r.id in fresh and r.id not in new else dup).append(r.id)
    return {"accepted": [r.id for r in body.results], "new": new, "duplicates": dup}
