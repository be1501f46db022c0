"""One screening as FHIR R4 resources, built and checked with ``fhir.resources``.

Why an Observation and not a RiskAssessment (or a DiagnosticReport):
FHIR R4's RiskAssessment is for the likelihood of *future* outcomes (a prediction with a time
frame and mitigation, e.g. a 10-year cardiac risk), and its ``subject`` is required. Our model
states something about the child *now*: the probability that the photo shows a syndromic gestalt,
with the referral flag at the card's threshold. That is a measured finding with a value, which FHIR
models as an Observation (``valueQuantity`` = probability, components = threshold and flag,
``interpretation`` = positive / negative screen, ``device`` = the model). A DiagnosticReport groups
several results with a clinical conclusion for a requester; one AI screen has neither. An
Observation also allows no subject, although we always give one (see ``subject``).

Why ``fhir.resources.R4B``: fhir.resources 8 ships R5 (its default package), R4B and STU3, not R4.
R4B (4.3.0) is R4 with changes only to the medication-definition and evidence resources and the
addition of SubscriptionTopic; Observation, ServiceRequest, Device, Provenance, Media, CodeSystem
and Bundle are unchanged, so R4B's models check R4 content. R5 would be wrong: it drops Media
and reshapes Device and ServiceRequest. The tests check the same resources against a real R4
server's StructureDefinitions (tests/kiosk/fhir).

Every resource the model asserted (Observation, ServiceRequest, Provenance) carries HL7 AI
Transparency's AIAST security label; the Provenance names the model Device as author.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from facescreen.edge.bundle import MODELCARD, load_bundle, sha256_file

from ..store import ServedModelRow
from . import codes


@dataclass(frozen=True)
class ModelInfo:
    """What the Device says about a model bundle: from its model card, hashed as shipped."""

    model_id: str
    version: str
    bundle_sha256: str  # SHA-256 of modelcard.json, which holds every artifact's own SHA-256
    intended_use: str
    not_for_clinical_use: bool

    @classmethod
    def from_bundle(cls, path: str | Path) -> ModelInfo:
        b = load_bundle(path, verify=False)
        return cls(
            b.card.model_id,
            b.card.version,
            sha256_file(b.path / MODELCARD),
            b.card.intended_use,
            b.card.not_for_clinical_use,
        )

    @classmethod
    def from_served(cls, m: ServedModelRow) -> ModelInfo:
        """From the store's record of a model this kiosk served (its card's hash as first loaded): the
        results of a model whose bundle was replaced since can still name its Device."""
        if m.card_sha256 is None:
            raise ValueError(f"{m.model_id} v{m.model_version}: its card's hash was not recorded")
        return cls(m.model_id, m.model_version, m.card_sha256, m.intended_use, bool(m.not_for_clinical_use))

    @property
    def key(self) -> tuple[str, str]:
        return (self.model_id, self.version)


@dataclass(frozen=True)
class FhirOptions:
    """How our results meet a programme's record. ``child_id_system``: the Identifier.system of the
    programme's register, under which a result's ``child_ref`` names the child."""

    child_id_system: str = codes.DEFAULT_CHILD_ID_SYSTEM

    def __post_init__(self) -> None:
        check_identifier_system(self.child_id_system)


def check_identifier_system(system: str) -> str:
    """``system`` if it can be an Identifier.system (FHIR: an absolute URI, no spaces), else ValueError
    saying what one looks like: "child register" went into every subject's identifier, and a FHIR
    server refused the whole push with an answer that named no option."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+", system):
        raise ValueError(
            f"{system!r} is not an absolute URI, which an Identifier.system must be "
            "(e.g. https://registry.example.org/child-id, or urn:oid:2.16.840.1.113883.3.9999)"
        )
    return system


def full_url(system: str, value: str) -> str:
    """A stable urn:uuid for the resource a (system, value) identifier names: the same result gives
    the same Bundle every time (reproducible exports, comparable dry runs)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"


def checked(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate with fhir.resources (R4B models: unknown or misspelt elements, wrong types and
    cardinality are errors) and return the JSON it serialises to."""
    model = get_fhir_model_class(resource["resourceType"])
    return model.model_validate(resource).model_dump(mode="json", exclude_none=True)


def subject(row: dict[str, Any], opts: FhirOptions) -> dict[str, Any]:
    """The child, by the programme's reference when one was given, else as "the child screened in
    this result": a logical reference (no Patient resource, never a name)."""
    child_ref = row.get("child_ref")
    if child_ref:
        return {"type": "Patient", "identifier": {"system": opts.child_id_system, "value": str(child_ref)}}
    return {
        "type": "Patient",
        "identifier": {"system": codes.SCREENED_CHILD_SYSTEM, "value": row["id"]},
        "display": "child screened in this result (no programme reference recorded)",
    }


def _meta(ai: bool, model: ModelInfo) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if ai:
        meta["security"] = [codes.ai_security_label()]
    if model.not_for_clinical_use:
        meta["tag"] = [codes.coding("not-for-clinical-use")]
    return meta


def device(model: ModelInfo) -> dict[str, Any]:
    return checked(
        {
            "resourceType": "Device",
            "identifier": [{"system": codes.MODEL_ID_SYSTEM, "value": model.bundle_sha256}],
            "status": "active",
            "deviceName": [{"name": model.model_id, "type": "model-name"}],
            "modelNumber": model.model_id,
            "type": codes.concept("ai-screening-model"),
            "version": [{"value": model.version}],
            "note": [{"text": f"Intended use: {model.intended_use}"}]
            + ([{"text": "NOT FOR CLINICAL USE (model card)."}] if model.not_for_clinical_use else []),
            **({"meta": _meta(False, model)} if model.not_for_clinical_use else {}),
        }
    )


def observation(
    row: dict[str, Any], model: ModelInfo, device_url: str, media_url: str | None, opts: FhirOptions
) -> dict[str, Any]:
    flag = bool(row["flag"])
    interp = codes.POSITIVE if flag else codes.NEGATIVE

    def quantity(value: float) -> dict[str, Any]:
        return {"value": round(float(value), 6), "unit": "probability", "system": codes.UCUM, "code": "1"}

    notes = [{"text": f"{row['label']}: a screening flag for referral, not a diagnosis."}]
    if model.not_for_clinical_use:
        notes.append({"text": f"NOT FOR CLINICAL USE: {model.intended_use}"})
    return checked(
        {
            "resourceType": "Observation",
            "meta": _meta(True, model),
            "identifier": [{"system": codes.RESULT_ID_SYSTEM, "value": row["id"]}],
            "status": "final",
            "code": codes.concept("facial-gestalt-screen"),
            "subject": subject(row, opts),
            "effectiveDateTime": row["created_at"],
            "issued": row["created_at"],
            "performer": [{"identifier": {"system": codes.KIOSK_ID_SYSTEM, "value": row["kiosk_id"]}}],
            "valueQuantity": quantity(row["probability"]),
            "interpretation": [
                {"coding": [{"system": codes.V3_INTERPRETATION, "code": interp[0], "display": interp[1]}]}
            ],
            "note": notes,
            "device": {"reference": device_url},
            **({"derivedFrom": [{"reference": media_url}]} if media_url else {}),
            "component": [
                {"code": codes.concept("decision-threshold"), "valueQuantity": quantity(row["threshold"])},
                {"code": codes.concept("referral-flag"), "valueBoolean": flag},
            ],
        }
    )


def service_request(
    row: dict[str, Any], model: ModelInfo, device_url: str, obs_url: str, opts: FhirOptions
) -> dict[str, Any]:
    """The flag as a referral *proposal* (intent=proposal): the model suggests, a clinician decides."""
    return checked(
        {
            "resourceType": "ServiceRequest",
            "meta": _meta(True, model),
            "identifier": [{"system": codes.REFERRAL_ID_SYSTEM, "value": row["id"]}],
            "status": "active",
            "intent": "proposal",
            "priority": "routine",
            "code": codes.concept("genetic-evaluation-referral"),
            "subject": subject(row, opts),
            "authoredOn": row["created_at"],
            "requester": {"reference": device_url},
            "reasonReference": [{"reference": obs_url}],
            "supportingInfo": [{"reference": obs_url}],
            "note": [{"text": "Proposed by an AI screening model; a screening flag, not a diagnosis."}],
        }
    )


def media(row: dict[str, Any], photo: bytes, opts: FhirOptions) -> dict[str, Any]:
    """The photo, only for a screening whose family consented (the store keeps none otherwise)."""
    if not row.get("consent"):
        raise ValueError(f"screening {row['id']}: no recorded consent, so its photo is never exported")
    return checked(
        {
            "resourceType": "Media",
            "identifier": [{"system": codes.PHOTO_ID_SYSTEM, "value": row["id"]}],
            "status": "completed",
            "type": {"coding": [{"system": codes.MEDIA_TYPE, "code": "image", "display": "Image"}]},
            "modality": codes.concept("face-photo"),
            "subject": subject(row, opts),
            "createdDateTime": row["created_at"],
            "content": {
                "contentType": "image/jpeg",
                "data": base64.b64encode(photo).decode("ascii"),
                "size": len(photo),
                "hash": base64.b64encode(hashlib.sha1(photo).digest()).decode("ascii"),  # R4: SHA-1, base64
                "title": f"face photo of screening {row['id']} (kept with consent)",
            },
        }
    )


def provenance_id(row: dict[str, Any]) -> str:
    """R4's Provenance has no identifier to create it conditionally on, so it gets an id derived from
    the result's and is written with update-as-create (PUT): a retry rewrites it, never doubles it."""
    return f"facescreen-{row['id']}"[:64]


def provenance(
    row: dict[str, Any], model: ModelInfo, device_url: str, targets: list[str], media_url: str | None
) -> dict[str, Any]:
    """AI Transparency on FHIR's AI-Provenance pattern: the model (a Device) is the author of the
    targets; the kiosk that captured the photo performed the screening; the photo is the source."""
    return checked(
        {
            "resourceType": "Provenance",
            "id": provenance_id(row),
            "meta": _meta(True, model),
            "target": [{"reference": t} for t in targets],
            "occurredDateTime": row["created_at"],
            "recorded": row["created_at"],
            "activity": {"coding": [{"system": codes.V3_DATA_OPERATION, "code": "CREATE", "display": "create"}]},
            "agent": [
                {
                    "type": {"coding": [{"system": codes.PROVENANCE_PARTICIPANT_TYPE, "code": "author"}]},
                    "who": {"reference": device_url},
                },
                {
                    "type": {"coding": [{"system": codes.PROVENANCE_PARTICIPANT_TYPE, "code": "performer"}]},
                    "who": {
                        "identifier": {"system": codes.KIOSK_ID_SYSTEM, "value": row["kiosk_id"]},
                        "display": f"{codes.CONCEPTS['screening-kiosk'].display} {row['kiosk_id']}",
                    },
                },
            ],
            **({"entity": [{"role": "source", "what": {"reference": media_url}}]} if media_url else {}),
        }
    )
