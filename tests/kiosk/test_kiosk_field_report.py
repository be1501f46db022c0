"""field-report on a synthetic field data set: a screener that behaves in the field as in validation
raises no alarm; the same screener after a planted drift (a new camera makes the healthy children's
scores higher) raises both the PPV alarm and the drift alarm, at the top of the report.

The synthetic screener: scores Beta(5, 2) for syndromic and Beta(2, 5) for healthy children, threshold
0.5, so sensitivity = specificity = P(Beta(5, 2) > 0.5) = 0.891 (scipy.stats.beta.sf(0.5, 5, 2)); at a
field prevalence of 8% validation predicts a PPV of 0.415. The drift turns the healthy children's
scores into Beta(3, 3): half of them flagged, field PPV 0.13. Over 30 seeds (measured once, not
asserted) the no-drift field raised no alarm and the drifted one raised both every time; with a
milder drift, Beta(2.6, 3.4), the PPV alarm still always fired but PSI stayed under 0.25 in 6 of 30,
because the flag-rate estimate of the prevalence absorbs part of the shift."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from facescreen.edge.metrics import population_stability_index, score_histogram
from facescreen.kiosk.cli import main
from facescreen.kiosk.fieldreport.render import build_report, markdown
from facescreen.kiosk.fieldreport.stats import ppv, rogan_gladen
from facescreen.kiosk.store import ResultsStore

HEALTHY, SYNDROMIC, DRIFTED = (2, 5), (5, 2), (3, 3)
KEY = ("m-field", "1")


def _cohort(rng, n, prevalence, healthy=HEALTHY):
    y = rng.random(n) < prevalence
    return y, np.where(y, rng.beta(*SYNDROMIC, n), rng.beta(*healthy, n))


def _card(rng) -> dict:
    y, s = _cohort(rng, 600, 0.5)
    f = s >= 0.5
    return {
        "validation": {
            "tp": int((y & f).sum()),
            "fn": int((y & ~f).sum()),
            "tn": int((~y & ~f).sum()),
            "fp": int((~y & f).sum()),
        },
        "validation_score_histogram": score_histogram(s, y),
    }


def _field(rng, healthy, n=3000, prevalence=0.08):
    """Rows as the store gives them, and each referral's outcome: 85% of flagged children are seen
    (the evaluation finds the truth), 15% lost; 5% of the others are evaluated on other grounds."""
    y, s = _cohort(rng, n, prevalence, healthy)
    rows, outcomes = [], {}
    for i in range(n):
        rid = f"r{i}"
        flag = bool(s[i] >= 0.5)
        rows.append(
            {
                "id": rid,
                "created_at": "2099-01-01T00:00:00.000+00:00",
                "kiosk_id": ("clinic-a", "clinic-b")[i % 2],
                "model_id": KEY[0],
                "model_version": KEY[1],
                "probability": float(s[i]),
                "threshold": 0.5,
                "flag": flag,
                "status": "completed",
            }
        )
        if (flag and rng.random() < 0.85) or (not flag and rng.random() < 0.05):
            outcomes[rid] = "confirmed_syndrome" if y[i] else "no_syndrome"
        elif flag:
            outcomes[rid] = "lost_to_follow_up"
    return rows, outcomes


def test_the_synthetic_screener_is_what_the_docstring_says():
    sens = stats.beta.sf(0.5, *SYNDROMIC)
    assert sens == pytest.approx(0.891, abs=1e-3) and stats.beta.cdf(0.5, *HEALTHY) == pytest.approx(sens)
    assert ppv(sens, sens, 0.08) == pytest.approx(0.415, abs=1e-3)
    flag_rate = sens * 0.08 + (1 - sens) * 0.92
    assert rogan_gladen(flag_rate, sens, sens) == pytest.approx(0.08)


def test_psi_is_the_symmetric_kullback_leibler_divergence():
    """PSI = KL(field || reference) + KL(reference || field), scipy.stats.entropy as the reference."""
    ref, fld = np.array([30, 50, 15, 5]), np.array([20, 40, 25, 15])
    r, f = ref / ref.sum(), fld / fld.sum()
    assert population_stability_index(ref, fld) == pytest.approx(stats.entropy(f, r) + stats.entropy(r, f))


def test_no_alarm_when_the_field_behaves_as_validation():
    rng = np.random.default_rng(7)
    card = _card(rng)
    rows, outcomes = _field(rng, HEALTHY)
    report = build_report(rows, outcomes, {KEY: card})
    assert report["alarms"] == []
    overall = report["groups"][0]
    # the field PPV's interval meets the predicted range
    assert overall["ppv"][1] <= overall["predicted_ppv"][2] and overall["ppv"][2] >= overall["predicted_ppv"][1]
    assert overall["psi"] < 0.1
    assert [g["name"] for g in report["groups"]] == [
        "all results",
        "site clinic-a (model m-field v1)",
        "site clinic-b (model m-field v1)",
    ]
    assert markdown(report).splitlines()[2].startswith("No alarm")


def test_a_planted_drift_raises_the_ppv_and_drift_alarms_at_the_top():
    rng = np.random.default_rng(7)
    card = _card(rng)
    rows, outcomes = _field(rng, DRIFTED)
    report = build_report(rows, outcomes, {KEY: card})
    overall = report["groups"][0]
    assert overall["ppv"][2] < overall["predicted_ppv"][1]  # the field PPV's whole interval lies below
    assert overall["psi"] >= report["psi_alarm_level"]
    assert any(a.startswith("all results: field PPV") for a in report["alarms"])
    assert any(a.startswith("all results: the screening probabilities have drifted") for a in report["alarms"])
    md = markdown(report).splitlines()
    assert md[2] == "## ALARM" and "field PPV" in md[4]


def test_a_small_site_without_drift_raises_no_drift_alarm():
    """Sampling alone moves a small site's histogram far: sites of 30 screenings without any drift had
    PSI >= 0.25, the drift alarm, 174 times in 200. The alarm needs PSI above what samples of that size
    drawn from validation's own distribution reach 1 time in 100, and the report says why it could not
    tell."""
    rng = np.random.default_rng(7)
    card = _card(rng)
    rows, outcomes = _field(rng, HEALTHY, n=60)  # two sites of 30
    report = build_report(rows, outcomes, {KEY: card})
    sites = report["groups"][1:]
    assert all(g["psi"] >= report["psi_alarm_level"] for g in sites)  # what raised the alarm before
    assert all(g["psi"] <= g["psi_by_chance"] for g in sites)
    assert not [a for a in report["alarms"] if "drifted" in a]
    assert all(any("too few to tell drift from chance" in n for n in g["not_assessed"]) for g in sites)
    assert "| 0." in markdown(report)  # the table shows PSI and its chance level side by side


def test_psi_by_chance_is_what_samples_from_the_reference_stay_under():
    """99 in 100 draws stay under it (checked on draws of another seed), and it shrinks as samples grow:
    at the planted-drift test's 3000 screenings it is far below the 0.25 alarm level."""
    from facescreen.edge.metrics import psi_by_chance

    ref = np.array([30, 50, 15, 5, 0, 10, 40, 20, 5, 25], float)
    bar = psi_by_chance(ref, 40)
    rng = np.random.default_rng(123)
    above = [population_stability_index(ref, c) > bar for c in rng.multinomial(40, ref / ref.sum(), size=4000)]
    assert 0.005 <= np.mean(above) <= 0.02
    bars = [psi_by_chance(ref, n) for n in (10, 40, 200, 3000)]
    assert bars == sorted(bars, reverse=True) and bars[-1] < 0.05
    assert psi_by_chance(ref, 40) == bar  # a fixed seed: the same report every time


def test_given_prevalence_is_used_and_said(tmp_path):
    rng = np.random.default_rng(3)
    card = _card(rng)
    rows, outcomes = _field(rng, HEALTHY, n=1000)
    g = build_report(rows, outcomes, {KEY: card}, prevalence=0.08)["groups"][0]
    assert g["prevalence"] == 0.08 and g["prevalence_source"] == "given (--prevalence)"


def test_the_command_writes_markdown_json_and_plots_and_says_what_it_could_not_assess(tmp_path, capsys):
    from factories import make_card, make_result

    from facescreen.edge.bundle import save_card

    save_card(tmp_path / "bundle", make_card(model_id="m", version="1", backbone="vgg16"))
    store = ResultsStore(tmp_path / "data")
    for p in (0.9, 0.7, 0.2, 0.1):
        r = make_result(p, model_id="m", model_version="1", backend="b", intended_use="r")
        store.add(r, {}, kiosk_id="k", source="api" if p > 0.5 else "kiosk")
    store.add_refusal(
        {"brightness": {"passed": False}}, "more_light", model_id="m", model_version="1", kiosk_id="k", source="api"
    )
    store.close()
    out = tmp_path / "report"
    rc = main(
        ["field-report", "--data-dir", str(tmp_path / "data"), "--bundle", str(tmp_path / "bundle"), "--out", str(out)]
    )
    assert rc == 0
    report = json.loads((out / "field-report.json").read_text())
    assert report["groups"][0]["n_screened"] == 4 and report["groups"][0]["n_flagged"] == 2
    # the store's refusal is read: 1 refused of 3 single photos (the two sent to the API and it)
    assert (report["groups"][0]["n_refused"], report["groups"][0]["n_single_photos"]) == (1, 3)
    assert report["groups"][0]["refusal_reasons"] == {"more_light": 1}
    notes = report["groups"][0]["not_assessed"]
    assert any("no validation confusion counts" in n for n in notes)
    assert any("no validation_score_histogram" in n for n in notes)
    assert "## Not assessed" in (out / "field-report.md").read_text()


# --- quality refusals -----------------------------------------------------------------------------
END = np.datetime64("2099-06-30T12:00:00.000")


def _single_photos(rng, rise: float | None, n_per_site=1500, days=120, base=0.06):
    """Photos sent to POST /v1/screen at two sites over ``days``: each refused for its quality with
    probability ``base``; with ``rise``, clinic-b's photos of the last RECENT_DAYS are refused with
    probability ``rise`` (a camera that failed, a room that went dark). Rows and refusals shaped as
    the store gives them."""
    from facescreen.kiosk.fieldreport.stats import RECENT_DAYS

    rows, refusals = [], []
    for site in ("clinic-a", "clinic-b"):
        ago = rng.uniform(0, days, n_per_site)
        for i, a in enumerate(ago):
            when = str(END - np.timedelta64(int(a * 86_400_000), "ms")) + "+00:00"
            p = rise if rise is not None and site == "clinic-b" and a < RECENT_DAYS else base
            common = {"id": f"{site}-{i}", "created_at": when, "kiosk_id": site, "source": "api"}
            common.update(model_id=KEY[0], model_version=KEY[1])
            if rng.random() < p:
                refusals.append({**common, "instruction": rng.choice(["more_light", "face_camera"])})
            else:
                rows.append({**common, "probability": float(rng.beta(*HEALTHY)), "threshold": 0.5, "flag": False})
    for r in rows:
        r.update(status="completed", flag=r["probability"] >= 0.5)
    return rows, refusals


def test_quality_refusal_rates_per_site_and_no_alarm_without_a_rise():
    """Over seeds 0-199 (measured once, not asserted) 2 raised a quality alarm without the rise (5, 77:
    the recent weeks' rate came out 0.09 against 0.06, by chance); with it, all 200 raised clinic-b's
    alarm and none clinic-a's."""
    rows, refusals = _single_photos(np.random.default_rng(7), rise=None)
    report = build_report(rows, {}, {}, refusals=refusals)
    assert not [a for a in report["alarms"] if "quality refusals" in a]
    groups = {g["name"]: g for g in report["groups"]}
    b = groups["site clinic-b (model m-field v1)"]
    mine = [r for r in refusals if r["kiosk_id"] == "clinic-b"]
    assert (b["n_single_photos"], b["n_refused"]) == (1500, len(mine))
    assert (
        b["refusal_rate"][0] == pytest.approx(len(mine) / 1500) and b["refusal_rate"][1] < 0.06 < b["refusal_rate"][2]
    )
    assert sum(b["refusal_reasons"].values()) == len(mine) and set(b["refusal_reasons"]) <= {
        "more_light",
        "face_camera",
    }
    assert groups["all results"]["n_single_photos"] == 3000
    # the card records no validation reference, and the report says so rather than inventing one
    assert "records no quality-refusal rate at validation" in report["quality_refusals"]["reference"]
    assert "records no quality-refusal rate at validation" in markdown(report)


def test_a_planted_rise_in_quality_refusals_at_one_site_raises_the_alarm():
    rows, refusals = _single_photos(np.random.default_rng(7), rise=0.25)
    report = build_report(rows, {}, {}, refusals=refusals)
    quality = [a for a in report["alarms"] if "quality refusals" in a]
    assert any(a.startswith("site clinic-b (model m-field v1): quality refusals rose") for a in quality), quality
    assert not any(a.startswith("site clinic-a") for a in quality)
    b = next(g for g in report["groups"] if g["name"] == "site clinic-b (model m-field v1)")
    assert b["refusal_recent"][1] > b["refusal_before"][2]  # the stated alarm level: intervals apart
    md = markdown(report).splitlines()
    assert md[2] == "## ALARM" and any("clinic-b" in line and "quality refusals rose" in line for line in md[4:8])


def test_refusals_not_recorded_where_the_results_were_read_are_said_so():
    rows, _ = _single_photos(np.random.default_rng(7), rise=None, n_per_site=50)
    g = build_report(rows, {}, {}, refusals=None)["groups"][0]
    assert g["refusal_rate"] is None and any(n.startswith("quality refusals: not recorded") for n in g["not_assessed"])
