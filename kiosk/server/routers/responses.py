"""The error statuses each endpoint can answer, documented in OpenAPI from one table."""

from __future__ import annotations

from typing import Any

from ..schemas import ErrorBody

_WHY = {
    400: "not a readable image, an empty upload, or a malformed request body",
    401: "missing or wrong bearer token (checked before the body is read)",
    403: "this kiosk was started without a token, so it accepts no synced results",
    404: "no such screening or capture session (a session belongs to the device that started it)",
    408: "the request body did not arrive in time",
    409: "there is no result on screen in this session to keep a photo of",
    413: "too many bytes, or too many pixels (refused from the image header, before decoding)",
    415: "the upload is not declared as an image",
    422: "no face, a quality check failed, an image too small or of an impossible shape, or invalid parameters",
    429: "too many wrong tokens from this device, or too many capture sessions open; see Retry-After",
    503: "the server is busy (the inference queue is full) or the model is not loaded; see Retry-After",
    507: (
        "the kiosk's disk is full: nothing was stored (the operator must free space); see Retry-After. "
        "A photo that was screened has its answer in error.unsaved"
    ),
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorBody, "description": _WHY[s]} for s in statuses}


PROTECTED = (401, 422, 429)  # every endpoint behind the token (422: bad query parameters)
PHOTO = (*PROTECTED, 400, 408, 413, 415, 503)  # every endpoint that takes a photo
STORES = (507,)  # every endpoint that writes to the results store
