"""Every code and identifier system the FHIR output uses, in one place.

Standard codes are used only where a standard defines the concept (the AI security label, the
provenance roles, the media type, the positive/negative interpretation). Where none exists the code
comes from facescreen's own CodeSystem (``CODE_SYSTEM_URL``), which travels as a CodeSystem resource
in every Bundle we write: no LOINC or SNOMED CT code is invented or borrowed for a concept it does not
name. The canonical URL is an identifier; it must never change, whether or not it resolves.
"""

from __future__ import annotations

from dataclasses import dataclass

CANONICAL_BASE = "https://facescreen.org/fhir"
CODE_SYSTEM_URL = f"{CANONICAL_BASE}/CodeSystem/facescreen"
CODE_SYSTEM_VERSION = "1"

# Identifier systems (Identifier.system) of what facescreen itself numbers. The result id is the key
# of every conditional create: a retried push finds what the first one stored.
RESULT_ID_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/screening-result"
REFERRAL_ID_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/referral"
PHOTO_ID_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/photo"
PROVENANCE_ID_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/provenance"
MODEL_ID_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/model-bundle-sha256"
KIOSK_ID_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/kiosk"
# The child's programme reference (issue 25's ``child_ref``) belongs to the programme's register, so
# its system is the programme's to name (--child-id-system); this default says only "a reference typed
# or scanned at a facescreen kiosk".
DEFAULT_CHILD_ID_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/child-ref"
# A screening without a child reference still has a subject (ServiceRequest.subject is 1..1): the
# child screened in that session, known to the record only by the result id.
SCREENED_CHILD_SYSTEM = f"{CANONICAL_BASE}/NamingSystem/screened-child"

# HL7 "AI Transparency on FHIR" (hl7.fhir.uv.aitransparency, ValueSet ProvenanceVS): the security label
# AIAST "Artificial Intelligence asserted" from v3-ObservationValue goes into .meta.security of every
# resource the model asserted; the Provenance (profile AI-Provenance) names the model Device as author.
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
AIAST = ("AIAST", "Artificial Intelligence asserted")
PROVENANCE_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
V3_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
# Observation.interpretation: the screen is positive (refer) or negative (no referral flag).
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
POSITIVE, NEGATIVE = ("POS", "Positive"), ("NEG", "Negative")
MEDIA_TYPE = "http://terminology.hl7.org/CodeSystem/media-type"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class Concept:
    code: str
    display: str
    definition: str


# facescreen's own concepts: the registry the CodeSystem resource is built from, so a code used in a
# resource cannot be missing from the published CodeSystem (tests/kiosk/fhir holds every use to it).
CONCEPTS = {
    c.code: c
    for c in (
        Concept(
            "facial-gestalt-screen",
            "Facial gestalt screen for genetic syndromes (AI)",
            "A machine-learning model's screening probability that a child's frontal face photo shows the "
            "facial gestalt of a genetic syndrome, with the referral flag it implies at the model's threshold. "
            "A screening flag for referral, never a diagnosis.",
        ),
        Concept(
            "screening-probability",
            "Screening probability",
            "The model's summed probability of its positive (syndromic) classes, in [0, 1].",
        ),
        Concept(
            "decision-threshold",
            "Decision threshold",
            "The probability at or above which the model flags a child for referral (from its model card).",
        ),
        Concept(
            "referral-flag",
            "Referral flag",
            "True when the screening probability is at or above the decision threshold.",
        ),
        Concept(
            "genetic-evaluation-referral",
            "Refer for genetic evaluation",
            "A proposal, made by the screening model, that the child be evaluated by a clinical genetics service.",
        ),
        Concept(
            "ai-screening-model",
            "AI screening model",
            "A versioned machine-learning model bundle (model card and artifacts) that produces screening results.",
        ),
        Concept(
            "screening-kiosk",
            "Screening kiosk or tablet",
            "The device that captured the photo and ran the screening model.",
        ),
        Concept(
            "face-photo",
            "Frontal face photo",
            "The photo the screening model saw, kept only with the family's recorded consent.",
        ),
        Concept(
            "outcome-confirmed-syndrome",
            "Genetic evaluation: syndrome confirmed",
            "The genetics service evaluated the child after a screening and confirmed a genetic syndrome.",
        ),
        Concept(
            "outcome-no-syndrome",
            "Genetic evaluation: no syndrome",
            "The genetics service evaluated the child after a screening and found no genetic syndrome.",
        ),
        Concept(
            "outcome-lost-to-follow-up",
            "Referral lost to follow-up",
            "The child referred after a screening was not seen by the genetics service.",
        ),
        Concept("not-for-clinical-use", "Not for clinical use", "The model's card says it is not for clinical use."),
    )
}


def coding(code: str) -> dict:
    """A Coding from our CodeSystem; an unknown code is a programming error, not a silent new code."""
    c = CONCEPTS[code]
    return {"system": CODE_SYSTEM_URL, "version": CODE_SYSTEM_VERSION, "code": c.code, "display": c.display}


def concept(code: str) -> dict:
    return {"coding": [coding(code)], "text": CONCEPTS[code].display}


def ai_security_label() -> dict:
    return {"system": V3_OBSERVATION_VALUE, "code": AIAST[0], "display": AIAST[1]}


def code_system_resource() -> dict:
    """Our CodeSystem as a resource (R4), sent in every Bundle so the codes are defined where they land."""
    return {
        "resourceType": "CodeSystem",
        "url": CODE_SYSTEM_URL,
        "version": CODE_SYSTEM_VERSION,
        "name": "FacescreenCodes",
        "title": "facescreen screening codes",
        "status": "active",
        "experimental": False,
        "publisher": "facescreen",
        "description": "Concepts of the facescreen facial-gestalt screening tool for which no standard code exists.",
        "caseSensitive": True,
        "content": "complete",
        "count": len(CONCEPTS),
        "concept": [{"code": c.code, "display": c.display, "definition": c.definition} for c in CONCEPTS.values()],
    }
