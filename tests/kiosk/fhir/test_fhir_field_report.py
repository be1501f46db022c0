"""The field report read from the programme's shared FHIR store, where two sites' results meet: each
site pushes its own store, the genetics service records outcomes as DiagnosticReports on our
referrals, and `field-report --fhir-url` judges both sites together (real FHIR server, conftest.py)."""

from __future__ import annotations

import json

import httpx
import numpy as np

from facescreen.kiosk.cli import main
from facescreen.kiosk.fhir import codes
from facescreen.kiosk.store import ResultsStore


def _site(tmp_path, kiosk_id, probs, make_result):
    store = ResultsStore(tmp_path / kiosk_id)
    ids = [store.add(make_result(p), {}, kiosk_id=kiosk_id, source="kiosk").id for p in probs]
    store.close()
    return tmp_path / kiosk_id, ids


def _report(result_id: str, code: str) -> dict:
    return {
        "resource": {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "code": {"text": "clinical genetic evaluation"},
            "basedOn": [{"identifier": {"system": codes.REFERRAL_ID_SYSTEM, "value": result_id}}],
            "conclusionCode": [{"coding": [codes.coding(code)]}],
            "effectiveDateTime": "2099-02-01",
        },
        "request": {"method": "POST", "url": "DiagnosticReport"},
    }


def test_field_report_from_the_shared_fhir_store_sees_both_sites(fhir_server, model_bundle, tmp_path, result_of):
    base, token = fhir_server
    tf = tmp_path / "token"
    tf.write_text(token)
    tf.chmod(0o600)
    north, n_ids = _site(tmp_path, "north-kiosk", [0.9, 0.8, 0.7, 0.2], result_of)
    south, s_ids = _site(tmp_path, "south-tablet", [0.95, 0.6, 0.1], result_of)
    for data in (north, south):
        args = [
            "push",
            "--data-dir",
            str(data),
            "--bundle",
            str(model_bundle),
            "--fhir-url",
            base,
            "--token-file",
            str(tf),
        ]
        assert main(args) == 0
    outcomes = [
        _report(n_ids[0], "outcome-confirmed-syndrome"),
        _report(n_ids[1], "outcome-no-syndrome"),
        _report(n_ids[2], "outcome-lost-to-follow-up"),
        _report(s_ids[0], "outcome-confirmed-syndrome"),
    ]
    r = httpx.post(
        base,
        json={"resourceType": "Bundle", "type": "transaction", "entry": outcomes},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text

    out = tmp_path / "report"
    args = [
        "field-report",
        "--fhir-url",
        base,
        "--token-file",
        str(tf),
        "--bundle",
        str(model_bundle),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    groups = {g["name"]: g for g in json.loads((out / "field-report.json").read_text())["groups"]}
    north_g, south_g = groups["site north-kiosk (model m-test v3)"], groups["site south-tablet (model m-test v3)"]
    assert (north_g["n_screened"], north_g["n_flagged"], north_g["n_completed"], north_g["n_lost"]) == (4, 3, 2, 1)
    assert (south_g["n_screened"], south_g["n_flagged"], south_g["n_completed"], south_g["n_lost"]) == (3, 2, 1, 0)
    assert north_g["ppv"][0] == 0.5 and south_g["ppv"][0] == 1.0
    assert np.isclose(north_g["completion"][0], 2 / 3)
    # a FHIR server holds screenings only: the kiosks' quality refusals are said to be elsewhere
    assert north_g["refusal_rate"] is None
    assert any(n.startswith("quality refusals: not recorded") for n in north_g["not_assessed"])
