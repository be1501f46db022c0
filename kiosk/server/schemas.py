"""Request and response models (they document the API in OpenAPI). Requests forbid unknown fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

from facescreen.edge.result import NO_FLAG, REFER

from ..childref import CHILD_REF_RULE
from ..guidance import EventKind
from ..quality import MeasureResult
from ..store import STATUSES


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Out):
    code: str = Field(description="stable machine-readable code, e.g. bad_image, image_too_large, no_face")
    message: str = Field(description="what was wrong and what to do, for people")
    model_config = ConfigDict(extra="allow")


class ErrorBody(_Out):
    error: ErrorDetail


class InferenceLoad(_Out):
    admitted: int = Field(description="photo requests admitted now (being served or queued)")
    queue_depth: int = Field(description="admitted requests waiting for an engine")
    queue_limit: int = Field(description="waiting requests allowed before 503 + Retry-After")
    engines: int
    refused_total: int = Field(description="requests answered 503 (queue full) since start")


class DecodeLoad(_Out):
    in_flight_mp: float = Field(description="decoded megapixels held by requests now")
    limit_mp: float


class StoreHealth(_Out):
    writable: bool = Field(description="false once a write failed for want of space, until one succeeds")
    free_mb: float = Field(description="free space on the disk holding the results store")
    error: str | None = Field(description="why the last write failed, for the operator")


class SessionLoad(_Out):
    open: int
    limit: int
    per_client: int


class Health(_Out):
    status: Literal["ok"]
    model_loaded: bool
    kiosk_id: str
    software_version: str
    uptime_s: float
    inference: InferenceLoad
    decode_budget: DecodeLoad
    store: StoreHealth
    sessions: SessionLoad


class MessagesOut(_Out):
    language: str
    languages: list[str]
    language_names: dict[str, str]  # each language in its own name, for the menu
    messages: dict[str, str]


class ModelInfo(_Out):
    model_id: str
    version: str
    backend: str
    backbone: str
    input_size: int
    classes: list[str]
    positive_classes: list[str]
    threshold: float
    card_sha256: str = Field(description="SHA-256 of the bundle's modelcard.json as loaded (the FHIR Device's id)")
    intended_use: str
    not_for_clinical_use: bool
    training_data: str
    detector: str
    landmarks_model: str | None
    demo: bool = Field(description="trained on SYNTHETIC data: every result is labelled as a demo")
    quality_thresholds: dict[str, Any]
    child_ref: dict[str, Any] = Field(description="the child reference's format (pattern, max_length, rule)")


# every field is always sent, those with a default too
@dataclass(frozen=True, config=ConfigDict(**_Out.model_config, json_schema_serialization_defaults_required=True))
class MeasureOut(MeasureResult):
    """kiosk.quality.MeasureResult.to_dict(): its fields, so the documented answer cannot drift from it."""


class QualityOut(_Out):
    passed: bool
    instruction: str | None = Field(description="message key of the one instruction to give (None: all passed)")
    text: str = Field("", description="that instruction in the requested language")
    measures: list[MeasureOut]
    timings_ms: dict[str, float]


class ModelRef(_Out):
    id: str
    version: str
    backend: str


class ResultOut(_Out):
    """edge.result.ScreeningResult.to_dict(), unchanged."""

    flag: bool
    label: Literal[REFER, NO_FLAG]
    probability: float
    threshold: float
    class_probabilities: dict[str, float]
    positive_classes: list[str]
    model: ModelRef
    intended_use: str
    not_for_clinical_use: bool
    n_faces: int
    detection: dict[str, Any] | None
    timings_ms: dict[str, float]


class ResultText(_Out):
    label: str
    advice: str
    probability: str
    note: str
    not_for_clinical_use: str | None
    demo_notice: str | None


class ScreenResponse(_Out):
    id: str = Field(description="the screening's id in the results store")
    created_at: str
    result: ResultOut
    text: ResultText
    quality: QualityOut
    consent_recorded: bool
    child_ref: str | None = Field(description=CHILD_REF_RULE)
    cam_png: str | None = Field(None, description="base64 PNG: the model's attention over its aligned crop")


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator_id: str | None = Field(None, max_length=64)
    language: str | None = Field(
        None, description="a language of the message catalogue, e.g. en, zh-Hans, es, ar (default: the server's)"
    )


class SessionOut(_Out):
    session_id: str
    needed: int = Field(description="consecutive passing frames before the photo is taken")
    language: str


class FrameEvent(_Out):
    event: EventKind
    frame: int
    message_key: str | None
    text: str
    streak: int
    needed: int
    quality: QualityOut | None = None
    result: ResultOut | None = None
    result_text: ResultText | None = None
    record: dict[str, Any] | None = None
    cam_png: str | None = None
    error: ErrorDetail | None = None


class ConsentOut(_Out):
    id: str
    consent_recorded: bool
    photo_file: str


class ResultRecord(_Out):
    id: str
    created_at: str
    kiosk_id: str
    operator_id: str | None
    source: str
    model_id: str
    model_version: str
    backend: str
    probability: float
    threshold: float
    flag: bool
    label: Literal[REFER, NO_FLAG]
    not_for_clinical_use: bool
    intended_use: str
    quality: dict[str, Any]
    consent: bool
    photo_file: str | None
    status: Literal[STATUSES]
    result: ResultOut | None = Field(
        description="the whole result as screened (None for rows stored before the store kept it)"
    )
    child_ref: str | None = Field(description=CHILD_REF_RULE)


class ResultsPage(_Out):
    total: int
    items: list[ResultRecord]
