"""Outcomes imported after the screenings: one answer per row (imported, duplicate, unknown id,
contradiction, invalid), good rows kept beside refused ones, nothing stored ever overwritten."""

from __future__ import annotations

import json

import pytest

from facescreen.edge.result import ScreeningResult
from facescreen.kiosk.cli import main
from facescreen.kiosk.fhir import codes
from facescreen.kiosk.outcomes import OutcomeStore
from facescreen.kiosk.store import ResultsStore


def _result(p):
    return ScreeningResult(p, 0.5, ("control", "syndromic"), (1 - p, p), ("syndromic",), "m", "1", "b", "r", True)


@pytest.fixture
def three(tmp_path):
    store = ResultsStore(tmp_path)
    ids = [store.add(_result(p), {}, kiosk_id="k", source="kiosk").id for p in (0.9, 0.8, 0.2)]
    store.close()
    return tmp_path, ids


def _answers(capsys):
    out = capsys.readouterr()
    return [line.split(": ")[1] for line in out.out.splitlines()]


def test_csv_rows_each_get_their_answer_and_nothing_is_overwritten(three, tmp_path, capsys):
    data, (a, b, c) = three
    f = tmp_path / "outcomes.csv"
    f.write_text(
        "result_id,outcome,date\n"
        f"{a},confirmed_syndrome,2099-01-10\n"  # good
        "nope,no_syndrome,2099-01-10\n"  # unknown id
        f"{a},confirmed_syndrome,2099-01-10\n"  # duplicate of line 2
        f"{a},no_syndrome,2099-01-11\n"  # contradicts line 2
        f"{b},referred,2099-01-03\n"  # good: progress ...
        f"{b},seen,2099-01-09\n"  # ... and more progress
        f"{c},maybe,2099-01-09\n"  # invalid outcome
        f"{c},lost_to_follow_up,2001-01-01\n"  # before the screening
        f"{c},lost_to_follow_up,10/01/2099\n"  # not an ISO date
    )
    assert main(["outcomes", "import", str(f), "--data-dir", str(data)]) == 1
    assert _answers(capsys) == [
        "imported",
        "unknown_id",
        "duplicate",
        "contradiction",
        "imported",
        "imported",
        "invalid",
        "contradiction",
        "invalid",
    ]
    store = OutcomeStore(data)
    assert store.latest() == {a: "confirmed_syndrome", b: "seen"}
    store.close()
    # a second file that disagrees with what is stored changes nothing
    g = tmp_path / "again.csv"
    g.write_text(f"result_id,outcome,date\n{a},no_syndrome,2099-02-01\n{b},no_syndrome,2099-02-01\n")
    assert main(["outcomes", "import", str(g), "--data-dir", str(data)]) == 1
    assert _answers(capsys) == ["contradiction", "imported"]
    store = OutcomeStore(data)
    assert store.latest() == {a: "confirmed_syndrome", b: "no_syndrome"}
    assert store.all()[a] == {"confirmed_syndrome": "2099-01-10"}
    store.close()


def test_a_date_is_read_whole_and_a_date_time_gives_its_own_day(three, tmp_path, capsys):
    """Only a date's first ten characters were read: "2099-01-10junk" (a cell run into the next one)
    was imported as 2099-01-10."""
    data, (a, b, c) = three
    f = tmp_path / "outcomes.csv"
    f.write_text(
        "result_id,outcome,date\n"
        f"{a},referred,2099-01-10junk\n"  # not a date
        f"{a},referred,2099-01-11T09:30:00Z\n"  # a date-time (Z, which Python 3.10 does not parse)
        f"{b},referred,2099-01-10T23:30:00-05:00\n"  # the day where it happened, as written
    )
    assert main(["outcomes", "import", str(f), "--data-dir", str(data)]) == 1
    assert _answers(capsys) == ["invalid", "imported", "imported"]
    store = OutcomeStore(data)
    assert store.all() == {a: {"referred": "2099-01-11"}, b: {"referred": "2099-01-10"}}
    store.close()


@pytest.mark.parametrize(
    "content, told",
    [
        (b'{"resourceType": "Bundle", "entry": [', "is not JSON: Expecting value"),  # a download cut short
        (b"[1, 2]", "is not a FHIR Bundle or resource: a JSON object is expected, not list"),  # was a traceback
        (b'{"resourceType": "Bundle", "entry": []}\xff', "is not UTF-8 text (byte 0xff on line 1)"),
        # an object that is no FHIR (was "0 rows imported", exit 0), a Bundle whose entry is no list
        (b"{}", "is not a FHIR Bundle or resource: it has no resourceType"),
        (b'{"resourceType": "Bundle", "entry": {}}', "is a Bundle whose entry is not a list but dict"),
        # resources, but no outcome among them (our own export, say): was "0 rows imported", exit 0
        (
            b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation"}},'
            b' {"resource": {"resourceType": "Observation"}}, {"resource": {"resourceType": "Device"}}]}',
            "holds no DiagnosticReport or Condition (what outcomes come as; docs/fhir.md), "
            "only 1 Device, 2 Observation",
        ),
    ],
)
def test_a_fhir_file_that_is_not_a_json_object_is_one_line_naming_it(three, tmp_path, capsys, content, told):
    data, _ = three
    f = tmp_path / "outcomes.json"
    f.write_bytes(content)
    assert main(["outcomes", "import", str(f), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{f} {told}" in err[0], err


def test_a_fhir_file_saved_with_a_byte_order_mark_is_read(three, tmp_path, capsys):
    data, _ = three
    f = tmp_path / "outcomes.json"
    f.write_bytes(b'\xef\xbb\xbf{"resourceType": "Bundle", "entry": []}')  # was "Unexpected UTF-8 BOM"
    assert main(["outcomes", "import", str(f), "--data-dir", str(data)]) == 0


def test_a_csv_not_in_utf8_is_one_line_saying_how_to_save_it(three, tmp_path, capsys):
    data, (a, _, _) = three
    f = tmp_path / "outcomes.csv"
    f.write_bytes(f"result_id,outcome,date,note\n{a},referred,2099-01-03,envoy\u00e9\n".encode("cp1252"))
    assert main(["outcomes", "import", str(f), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f'{f} is not UTF-8 text (byte 0xe9 on line 2); save it from the spreadsheet as "CSV UTF-8"')


def test_fhir_outcomes_reference_our_referrals_and_results(three, tmp_path, capsys):
    data, (a, b, c) = three
    obs_url = "urn:uuid:0b0c6f2e-0000-4000-8000-000000000001"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {  # a genetics report on our referral, by its identifier (logical reference)
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "code": {"text": "genetic evaluation"},
                    "basedOn": [{"identifier": {"system": codes.REFERRAL_ID_SYSTEM, "value": a}}],
                    "conclusionCode": [{"coding": [codes.coding("outcome-confirmed-syndrome")]}],
                    "effectiveDateTime": "2099-03-01",
                }
            },
            {
                "fullUrl": obs_url,
                "resource": {
                    "resourceType": "Observation",
                    "identifier": [{"system": codes.RESULT_ID_SYSTEM, "value": b}],
                },
            },
            {  # a refuted Condition whose evidence is our Observation, in the same Bundle
                "resource": {
                    "resourceType": "Condition",
                    "verificationStatus": {"coding": [{"code": "refuted"}]},
                    "code": {"text": "Williams syndrome"},
                    "subject": {"display": "child"},
                    "evidence": [{"detail": [{"reference": obs_url}]}],
                    "recordedDate": "2099-03-02",
                }
            },
            {  # a Condition that names nothing of ours
                "resource": {
                    "resourceType": "Condition",
                    "verificationStatus": {"coding": [{"code": "confirmed"}]},
                    "subject": {"display": "child"},
                    "recordedDate": "2099-03-02",
                }
            },
        ],
    }
    f = tmp_path / "outcomes.json"
    f.write_text(json.dumps(bundle))
    assert main(["outcomes", "import", str(f), "--data-dir", str(data)]) == 1
    assert _answers(capsys) == ["imported", "imported", "invalid"]
    store = OutcomeStore(data)
    assert store.latest() == {a: "confirmed_syndrome", b: "no_syndrome"}
    store.close()


def test_an_entry_whose_shapes_are_not_fhirs_is_that_entrys_answer(three, tmp_path, capsys):
    """A string where FHIR has a list, a number for a date, an entry that is no object: each was an
    AttributeError traceback that imported nothing; now each is its entry's answer, beside the good."""
    data, (a, b, c) = three
    good = {
        "resourceType": "DiagnosticReport",
        "basedOn": [{"identifier": {"system": codes.REFERRAL_ID_SYSTEM, "value": a}}],
        "conclusionCode": [{"coding": [codes.coding("outcome-no-syndrome")]}],
        "effectiveDateTime": "2099-03-01",
    }
    bad = [
        1,
        {"resource": {**good, "basedOn": "x"}},
        {"resource": {**good, "conclusionCode": [{"coding": [1]}]}},
        {"resource": {**good, "effectiveDateTime": 5}},
        {"resource": {"resourceType": "Condition", "evidence": [{"detail": "x"}]}},
        {"resource": {"resourceType": "Condition", "verificationStatus": []}},
        {"resource": {"resourceType": "Condition", "identifier": {"value": "x"}}},  # no list: still an outcome
    ]
    f = tmp_path / "outcomes.json"
    f.write_text(json.dumps({"resourceType": "Bundle", "entry": [{"resource": good}, *bad]}))
    alone = tmp_path / "alone.json"  # a malformed outcome beside other resources is still an outcome's answer
    alone.write_text(
        json.dumps({"resourceType": "Bundle", "entry": [bad[-1], {"resource": {"resourceType": "Device"}}]})
    )
    assert main(["outcomes", "import", str(alone), "--data-dir", str(data)]) == 1
    assert "invalid" in capsys.readouterr().out
    assert main(["outcomes", "import", str(f), "--data-dir", str(data)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 2)[1] for line in out] == ["imported"] + ["invalid"] * len(bad)
    assert [line.split(": ", 3)[3] for line in out[1:]] == [
        "not a Bundle entry: a JSON object is expected",
        "DiagnosticReport.basedOn: Input should be a valid list",
        "DiagnosticReport.conclusionCode.0.coding.0: a JSON object is expected",
        "DiagnosticReport.effectiveDateTime: Input should be a valid string",
        "Condition.evidence.0.detail: Input should be a valid list",
        "Condition.verificationStatus: a JSON object is expected",
        "Condition.identifier: Input should be a valid list",
    ]
    store = OutcomeStore(data)
    assert store.latest() == {a: "no_syndrome"}
    store.close()
