"""Screenings -> one FHIR R4 transaction Bundle, the unit `export --fhir` writes and `push` sends.

Every entry is a *conditional* write keyed on facescreen's own identifiers, so posting the same
Bundle twice (a retry after a lost answer) leaves one copy of everything:
CodeSystem by url, Device by the bundle's SHA-256, Media / Observation / ServiceRequest by the result
id (POST with ifNoneExist), Provenance by an id derived from the result id (PUT). References between
entries are urn:uuid fullUrls the server resolves, also to what a conditional create found.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import codes
from .resources import (
    FhirOptions,
    ModelInfo,
    checked,
    device,
    full_url,
    media,
    observation,
    provenance,
    provenance_id,
    service_request,
)

EXPORTED_STATUSES = ("completed",)  # a retaken or cancelled screening never reaches the record


class MissingModel(ValueError):
    """Rows of a model version for which no bundle was given: the Device needs its hash."""


def _create(resource: dict[str, Any], url: str, system: str, value: str) -> dict[str, Any]:
    return {
        "fullUrl": url,
        "resource": resource,
        "request": {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={quote(system, safe=':/')}|{quote(value, safe='')}",
        },
    }


def _entries_for(
    row: dict[str, Any],
    model: ModelInfo,
    device_url: str,
    photo: bytes | None,
    opts: FhirOptions,
) -> list[dict[str, Any]]:
    sid = row["id"]
    out = []
    media_url = None
    if photo is not None:
        media_url = full_url(codes.PHOTO_ID_SYSTEM, sid)
        out.append(_create(media(row, photo, opts), media_url, codes.PHOTO_ID_SYSTEM, sid))
    obs_url = full_url(codes.RESULT_ID_SYSTEM, sid)
    out.append(_create(observation(row, model, device_url, media_url, opts), obs_url, codes.RESULT_ID_SYSTEM, sid))
    targets = [obs_url]
    if row["flag"]:
        sr_url = full_url(codes.REFERRAL_ID_SYSTEM, sid)
        out.append(
            _create(service_request(row, model, device_url, obs_url, opts), sr_url, codes.REFERRAL_ID_SYSTEM, sid)
        )
        targets.append(sr_url)
    prov = provenance(row, model, device_url, targets, media_url)
    out.append(
        {
            "fullUrl": full_url(codes.PROVENANCE_ID_SYSTEM, sid),
            "resource": prov,
            "request": {"method": "PUT", "url": f"Provenance/{provenance_id(row)}"},
        }
    )
    return out


def exportable(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("status", "completed") in EXPORTED_STATUSES]


def transaction_bundle(
    rows: list[dict[str, Any]],
    models: Iterable[ModelInfo],
    data_dir: Path | None = None,
    opts: FhirOptions = FhirOptions(),
) -> dict[str, Any]:
    """A transaction Bundle for ``rows`` (store rows). ``models``: the bundles the rows were screened
    with; a row whose (model_id, model_version) is not among them is an error naming what to give.
    ``data_dir``: where consented photos are kept (a photo is included only with consent)."""
    by_key = {m.key: m for m in models}
    missing = sorted({(r["model_id"], r["model_version"]) for r in rows} - set(by_key))
    if missing:
        names = ", ".join(f"{m} v{v}" for m, v in missing)
        raise MissingModel(
            f"results screened with {names} need that model's bundle (--bundle DIR, repeatable) for the "
            "Device's hash (this kiosk's store has no record of serving it); or leave them out with --since"
        )
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": full_url(codes.CODE_SYSTEM_URL, codes.CODE_SYSTEM_VERSION),
            "resource": checked(codes.code_system_resource()),
            "request": {"method": "POST", "url": "CodeSystem", "ifNoneExist": f"url={codes.CODE_SYSTEM_URL}"},
        }
    ]
    device_urls = {}
    for key in sorted({(r["model_id"], r["model_version"]) for r in rows}):
        m = by_key[key]
        device_urls[key] = full_url(codes.MODEL_ID_SYSTEM, m.bundle_sha256)
        entries.append(_create(device(m), device_urls[key], codes.MODEL_ID_SYSTEM, m.bundle_sha256))
    for row in rows:
        key = (row["model_id"], row["model_version"])
        photo = None
        if row.get("consent") and row.get("photo_file") and data_dir is not None:
            photo = (Path(data_dir) / row["photo_file"]).read_bytes()
        entries.extend(_entries_for(row, by_key[key], device_urls[key], photo, opts))
    return checked({"resourceType": "Bundle", "type": "transaction", "entry": entries})
