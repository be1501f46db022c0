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


def test_a_screening_edited_on_the_shared_store_is_left_out_saying_why(
    day, model_bundle, fhir_server, tmp_path, capsys
):
    """Others write to the programme's store: an Observation edited there (an element removed, its
    result withdrawn, its date given as a day, its model's Device not found) was a KeyError traceback
    for the whole report, or silently missing; now each is counted or left out with its reason."""
    from facescreen.kiosk.fhir.pull import pull

    base, token = fhir_server
    tf = tmp_path / "token"
    tf.write_text(token)
    tf.chmod(0o600)
    push = ["push", "--data-dir", str(day.data_dir), "--bundle", str(model_bundle), "--fhir-url", base]
    assert main([*push, "--token-file", str(tf)]) == 0
    edits = {
        day.ids[0]: lambda o: o.pop("performer"),
        day.ids[1]: lambda o: o.update(status="entered-in-error"),
        day.ids[2]: lambda o: o.update(effectiveDateTime="2099-01-05"),  # a day: FHIR allows it
        day.ids[3]: lambda o: o.update(component=o["component"][:1]),  # the flag removed
        day.ids[4]: lambda o: o.update(device={"reference": "Device/no-such-model"}),
    }
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        for rid, edit in edits.items():
            found = client.get(f"{base}/Observation", params={"identifier": f"{codes.RESULT_ID_SYSTEM}|{rid}"})
            obs = found.json()["entry"][0]["resource"]
            edit(obs)
            r = client.put(f"{base}/Observation/{obs['id']}", json=obs)
            assert r.status_code == 200, r.text

    rows, _, left_out = pull(base, token)
    mine = [r for r in rows if r["id"] in day.ids]
    assert [(r["id"], r["created_at"]) for r in mine] == [(day.ids[2], "2099-01-05T00:00:00.000+00:00")]
    why = {rid: [w for w in left_out if f"(result {rid})" in w] for rid in day.ids}
    assert why[day.ids[0]][0].endswith("no performer names its kiosk (identifier system " + codes.KIOSK_ID_SYSTEM + ")")
    assert why[day.ids[1]][0].endswith("its status is entered-in-error (counted: final, amended, corrected)")
    assert why[day.ids[2]] == []
    assert why[day.ids[3]][0].endswith("it has no referral-flag component")
    assert why[day.ids[4]][0].endswith("its model Device/no-such-model is not on the server")

    args = ["field-report", "--fhir-url", base, "--token-file", str(tf), "--bundle", str(model_bundle)]
    assert main([*args, "--out", str(tmp_path / "report")]) == 0
    err = capsys.readouterr().err.splitlines()
    told = [line for line in err if "field-report: screening on the server not used: Observation/" in line]
    for rid in (day.ids[0], day.ids[1], day.ids[3], day.ids[4]):
        assert any(f"(result {rid}): " in line for line in told), err
