"""The resources one screening becomes: what each carries, what it must never carry, and the codes
it may use (standard ones only where a standard defines the concept; the rest from our CodeSystem)."""

from __future__ import annotations

import hashlib
import json

import pytest

from facescreen.kiosk.fhir import codes
from facescreen.kiosk.fhir.bundle import MissingModel, transaction_bundle
from facescreen.kiosk.fhir.resources import FhirOptions, ModelInfo
from facescreen.kiosk.store import ResultsStore


def _rows(day):
    store = ResultsStore(day.data_dir)
    try:
        return store.list(limit=100)[::-1]
    finally:
        store.close()


def _by_type(bundle):
    out = {}
    for e in bundle["entry"]:
        out.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    return out


def _codings(obj):
    if isinstance(obj, dict):
        if "system" in obj and "code" in obj:
            yield obj
        for v in obj.values():
            yield from _codings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _codings(v)


def test_one_observation_per_result_a_referral_per_flag_a_photo_only_with_consent(day, model_bundle):
    rows = [r for r in _rows(day) if r["status"] == "completed"]
    res = _by_type(transaction_bundle(rows, [ModelInfo.from_bundle(model_bundle)], day.data_dir))
    ident = lambda r: r["identifier"][0]["value"]  # noqa: E731
    assert sorted(map(ident, res["Observation"])) == sorted(day.ids)
    assert sorted(map(ident, res["ServiceRequest"])) == sorted(day.flagged)
    assert [ident(m) for m in res["Media"]] == [day.consented]
    assert len(res["Provenance"]) == len(day.ids) and len(res["Device"]) == 1 and len(res["CodeSystem"]) == 1
    flags = {ident(o): o["component"][1]["valueBoolean"] for o in res["Observation"]}
    assert {k for k, v in flags.items() if v} == set(day.flagged)


def test_ai_asserted_resources_carry_the_aiast_label_and_the_model_is_their_author(day, model_bundle):
    rows = [r for r in _rows(day) if r["status"] == "completed"]
    b = transaction_bundle(rows, [ModelInfo.from_bundle(model_bundle)], day.data_dir)
    device_url = next(e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == "Device")
    # HL7 AI Transparency on FHIR, ValueSet ProvenanceVS: v3-ObservationValue#AIAST in meta.security
    aiast = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST"}
    for e in b["entry"]:
        r = e["resource"]
        labelled = any(aiast.items() <= s.items() for s in r.get("meta", {}).get("security", []))
        assert labelled == (r["resourceType"] in ("Observation", "ServiceRequest", "Provenance")), r["resourceType"]
    for prov in _by_type(b)["Provenance"]:
        author = next(a for a in prov["agent"] if a["type"]["coding"][0]["code"] == "author")
        assert author["who"] == {"reference": device_url}


def test_device_names_the_model_its_version_intended_use_and_bundle_hash(model_bundle, day):
    m = ModelInfo.from_bundle(model_bundle)
    assert m.bundle_sha256 == hashlib.sha256((model_bundle / "modelcard.json").read_bytes()).hexdigest()
    b = transaction_bundle([r for r in _rows(day) if r["status"] == "completed"], [m], day.data_dir)
    dev = _by_type(b)["Device"][0]
    assert dev["identifier"] == [{"system": codes.MODEL_ID_SYSTEM, "value": m.bundle_sha256}]
    assert dev["deviceName"][0]["name"] == "m-test" and dev["version"] == [{"value": "3"}]
    assert "Intended use: research only" in [n["text"] for n in dev["note"]]


def test_every_code_is_standard_or_defined_in_our_codesystem(day, model_bundle):
    b = transaction_bundle(
        [r for r in _rows(day) if r["status"] == "completed"], [ModelInfo.from_bundle(model_bundle)], day.data_dir
    )
    ours = {c["code"] for c in codes.code_system_resource()["concept"]}
    standard = {
        codes.V3_OBSERVATION_VALUE,
        codes.V3_INTERPRETATION,
        codes.PROVENANCE_PARTICIPANT_TYPE,
        codes.V3_DATA_OPERATION,
        codes.MEDIA_TYPE,
        codes.UCUM,
    }
    used = list(_codings(b))
    assert used
    for c in used:
        if c["system"] == codes.CODE_SYSTEM_URL:
            assert c["code"] in ours
        elif c["system"].startswith(codes.CANONICAL_BASE):  # an identifier system, not a code
            continue
        else:
            assert c["system"] in standard, c
    text = json.dumps(b)
    assert "loinc.org" not in text and "snomed.info" not in text  # no invented LOINC or SNOMED CT codes


@pytest.mark.parametrize("child_ref, system", [("REG-0042", "urn:oid:2.16.840.1.113883.3.9999"), (None, None)])
def test_subject_is_the_childs_programme_reference_under_the_configured_system(day, model_bundle, child_ref, system):
    row = dict(next(r for r in _rows(day) if r["id"] == day.flagged[1]), child_ref=child_ref)
    opts = FhirOptions(child_id_system=system) if system else FhirOptions()
    res = _by_type(transaction_bundle([row], [ModelInfo.from_bundle(model_bundle)], day.data_dir, opts))
    for r in res["Observation"] + res["ServiceRequest"]:
        if child_ref:
            assert r["subject"]["identifier"] == {"system": system, "value": child_ref}
        else:  # no reference recorded: the child screened in this result, never a name
            assert r["subject"]["identifier"] == {"system": codes.SCREENED_CHILD_SYSTEM, "value": row["id"]}


def test_rows_of_a_model_without_its_bundle_are_refused_with_the_remedy(day, model_bundle):
    rows = [dict(r, model_version="2") for r in _rows(day)]
    with pytest.raises(MissingModel, match=r"m-test v2 need that model's bundle \(--bundle DIR"):
        transaction_bundle(rows, [ModelInfo.from_bundle(model_bundle)], day.data_dir)


@pytest.mark.parametrize("system", ["child register", "REG", "", "https://registry.example.org/child id"])
def test_a_child_id_system_that_is_no_absolute_uri_is_refused_before_any_bundle(system):
    """Identifier.system is an absolute URI: "child register" went into every subject's identifier, and
    the FHIR server refused the whole push with an answer that named no option."""
    with pytest.raises(ValueError, match="is not an absolute URI, which an Identifier.system must be"):
        FhirOptions(child_id_system=system)
    assert FhirOptions(child_id_system="urn:oid:2.16.840.1.113883.3.9999")
