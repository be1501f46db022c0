"""The heart of the tablet app: in real headless Chromium, the browser's detections and screening
probabilities equal the Python edge path's on the same artifact files (the export's own gate,
recorded in app.json), and a planted preprocessing bug is refused by that gate."""

from __future__ import annotations

import json
import re

import pytest

from facescreen.kiosk.tools.browser import browser_skip_reason

needs_browser = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))


@pytest.fixture(scope="module")
def app_json(tablet_app) -> dict:
    return json.loads((tablet_app / "app.json").read_text())


@needs_browser
def test_export_gate_recorded_parity(app_json, parity_photos, capsys):
    rec = app_json["parity"]
    assert rec["passed"], rec["verdict"]
    assert rec["n_photos"] == len(parity_photos) >= 24
    assert rec["flag_agreement"] >= rec["min_agreement"] == 0.99  # the converters' gate (edge.metrics)
    assert "int8_step" not in rec  # no figure of its own: the artifact's gate
    for p in rec["photos"]:
        assert p["faces"]["n_reference"] == p["faces"]["n_converted"], p["name"]
        assert p["faces"]["max_landmark_px"] <= rec["detector_tolerance"]["max_landmark_px"], p["name"]
        assert (p["p_python"] is None) == (p["p_browser"] is None), p["name"]
    assert rec["n_screened"] >= len(parity_photos) - 2  # the synthetic faces are all found
    # issue 23 §1: per stage, browser and Python, from this one run on the same photos
    assert set(rec["stages_median_ms"]) == {"detect", "align", "infer"}
    assert all(v["browser"] > 0 and v["python"] > 0 for v in rec["stages_median_ms"].values())
    with capsys.disabled():  # the README's figures come from runs like this one
        print("\ntablet parity:", json.dumps({k: v for k, v in rec.items() if k != "photos"}))


def _outcome(name, p_py, p_br, faces=(1, 1, 1.0, 0.0)):
    from facescreen.kiosk.tablet.parity import PhotoOutcome

    n_ref, n_conv, iou, px = faces
    cmp = {"n_reference": n_ref, "n_converted": n_conv, "min_iou": iou, "max_landmark_px": px}
    probs = lambda p: None if p is None else (1 - p, p)  # noqa: E731
    return PhotoOutcome(name, cmp, probs(p_py), probs(p_br), p_py, p_br, 1.0, 2.0)


@pytest.fixture(scope="module")
def card():
    from facescreen.edge.bundle import ModelCard

    return ModelCard("t", ("control", "syndromic"), ("syndromic",), 0.5, "resnet18")


@pytest.mark.parametrize(
    "outcomes,passed,why",
    [
        ([_outcome(f"p{i}", 0.1 * i, 0.1 * i + 0.003) for i in range(1, 10)], True, "parity ok"),
        # one flag of 100 changes: 99 % is the converters' min_agreement, so it passes
        ([_outcome(f"p{i}", 0.2, 0.2) for i in range(99)] + [_outcome("edge", 0.499, 0.501)], True, "parity ok"),
        (
            [_outcome(f"p{i}", 0.2, 0.2) for i in range(9)] + [_outcome("edge", 0.499, 0.501)],
            False,
            "flag agreement 90.0%",
        ),
        (
            [_outcome("a", 0.2, 0.2), _outcome("b", 0.7, 0.7, faces=(1, 2, 0.95, 0.5))],
            False,
            "different faces found on",
        ),
        ([_outcome("a", 0.2, 0.2), _outcome("b", 0.7, 0.7, faces=(1, 1, 0.95, 2.5))], False, "landmarks within 2.0 px"),
        ([_outcome("a", 0.2, 0.2), _outcome("b", 0.7, None)], False, "screened on one side only"),
    ],
)
def test_verdict_is_the_converters_gate(card, outcomes, passed, why):
    """No browser needed: the tablet's verdict is edge.metrics.gate_problems with the converters'
    ParityThresholds and the detector's DetectorTolerance, not figures of its own."""
    from facescreen.kiosk.tablet.parity import verdict

    rec = verdict(outcomes, card, "onnxruntime-web")
    assert rec["passed"] is passed and why in rec["verdict"], rec["verdict"]


@pytest.mark.parametrize(
    "shift,passed",
    [(0.0004, True), (0.03, False)],  # rounding between two runtimes of one artifact; a preprocessing slip
)
def test_verdict_bounds_probabilities_when_flags_agree(card, shift, passed):
    """Every flag agrees (all far from the threshold), yet a probability further from Python's than the
    recorded bound is refused (kiosk.tablet.parity.recorded_screening_bound)."""
    from facescreen.kiosk.tablet.parity import verdict

    outcomes = [_outcome(f"p{i}", 0.05 + 0.01 * i, 0.05 + 0.01 * i + shift) for i in range(10)]
    rec = verdict(outcomes, card, "onnxruntime-web", max_screening_diff=0.0053)
    assert rec["flag_agreement"] == 1.0 and rec["max_screening_diff_gate"] == 0.0053
    assert rec["passed"] is passed and (passed or "max |screening probability difference| 0.0300" in rec["verdict"])


def test_recorded_screening_bound_is_twice_the_artifacts_gate_figure_plus_one_rounding_step():
    from types import SimpleNamespace

    from facescreen.kiosk.tablet.parity import FLOAT32_SLACK, INT8_ROUNDING_SLACK, recorded_screening_bound

    def card(parity, precision="int8"):  # the one field the bound reads (a ModelCard validates its files)
        return SimpleNamespace(artifacts={"a": {"precision": precision, "parity": parity}})

    bound = recorded_screening_bound
    assert bound(card({"max_abs_screening_diff": 0.0026}), "a") == pytest.approx(0.0052 + INT8_ROUNDING_SLACK)
    assert bound(card({"max_abs_screening_diff": 0.0}, "fp32"), "a") == FLOAT32_SLACK
    assert bound(card({"flag_agreement": 1.0}), "a") is None
    assert bound(card({"max_abs_screening_diff": float("nan")}), "a") is None


@needs_browser
def test_app_is_self_contained(tablet_app, app_json):
    from facescreen.edge.bundle import sha256_file

    assert app_json["runtime"] == "onnxruntime-web" and app_json["screener"]["artifact"] == "onnx-int8"
    for rel, digest in app_json["files"].items():
        assert sha256_file(tablet_app / rel) == digest, rel
    # the runtime's files are served by the app itself: no page or module of ours names another host
    # (a bare "https://" in a sentence, telling a health worker how an address starts, names none)
    ours = [
        p
        for p in app_json["files"]
        if not p.startswith("vendor/") and p.endswith((".html", ".js", ".json", ".webmanifest"))
    ]
    for rel in ours:
        text = (tablet_app / rel).read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!127\.0\.0\.1)[\w\[]", text.replace("http://www.w3.org/2000/svg", "")), rel
    assert any(p.endswith(".wasm") for p in app_json["files"])
    messages = json.loads((tablet_app / "messages.json").read_text(encoding="utf-8"))
    from facescreen.kiosk.messages import MESSAGES

    assert messages == MESSAGES


@needs_browser
def test_a_planted_preprocessing_bug_is_refused(tablet_bundle, parity_photos, tmp_path):
    """Feed the screener pixels scaled to [0, 1] (a double normalisation): the gate refuses the app
    and writes nothing. Refused by the probability bound: every flag may well agree (faces far from
    the threshold; on the tablet fixture all 8 do), the probabilities move by about 0.35."""
    from facescreen.kiosk.tablet.export import TabletExportError, export_app
    from facescreen.kiosk.tablet.parity import verify_app

    photos = dict(list(parity_photos.items())[:8])

    def planted(staging, app):
        f = staging / "core" / "screen.js"
        src = f.read_text()
        assert "const x = Float32Array.from(crop);" in src
        f.write_text(
            src.replace("const x = Float32Array.from(crop);", "const x = Float32Array.from(crop, (v) => v / 255);")
        )
        return verify_app(staging, app, bundle_dir=tablet_bundle, photos=photos)

    out = tmp_path / "app"
    with pytest.raises(TabletExportError, match=r"failed browser parity.*max \|screening probability difference\|"):
        export_app(tablet_bundle, out, verify=planted, progress=lambda s: None)
    assert not out.exists()
    assert not list(tmp_path.glob(".tablet-*"))  # the staging folder is gone too


@needs_browser
def test_unknown_runtime_lists_the_valid_ones(tablet_bundle):
    from facescreen.kiosk.tablet.export import export_app

    with pytest.raises(ValueError, match="litert-js, onnxruntime-web"):
        export_app(tablet_bundle, verify=lambda *a: {"passed": True}, runtime="tfjs")


@needs_browser
def test_litert_js_cannot_run_the_verified_artifacts_and_is_not_offered(tablet_bundle, parity_photos, tmp_path):
    """The measured reason for onnxruntime-web (README): LiteRT.js refuses the int8-I/O screener."""
    from facescreen.kiosk.tablet.export import TabletExportError, export_app
    from facescreen.kiosk.tablet.parity import verify_app

    photos = dict(list(parity_photos.items())[:2])
    out = tmp_path / "app"
    refused = "litert-js could not open the bundle's artifacts in Chromium: .+"
    with pytest.raises(TabletExportError, match=refused) as err:
        export_app(
            tablet_bundle,
            out,
            runtime="litert-js",
            progress=lambda s: None,
            verify=lambda staging, app: verify_app(staging, app, bundle_dir=tablet_bundle, photos=photos),
        )
    assert not out.exists()
    assert "Session info" not in str(err.value) and "/session/" not in str(err.value)  # the page's words only


def test_a_script_that_throws_in_the_page_raises_its_own_message(harness_page):
    """kiosk/tools/browser.py: a page's exception reaches Python as PageError with the page's message,
    without WebDriver's prefix and session lines (what the gate and the matrix say when they refuse)."""
    from facescreen.kiosk.tablet.parity import browser_call
    from facescreen.kiosk.tools.browser import PageError

    with pytest.raises(PageError) as err:
        browser_call(harness_page, "throw new Error('the artifact is int8, which this runtime refuses');")
    assert str(err.value) == "the artifact is int8, which this runtime refuses"
    assert err.value.value["error"] == "javascript error"


def test_tablet_export_imports_no_benchmark_server_or_converters():
    """tablet-export checks, it does not time (no kiosk.bench, which imports the server whose router
    imports the export: the old lazy cycle), and kiosk stands on edge, never on converters. Every
    import is read, those inside functions too."""
    import ast

    from facescreen.kiosk.tablet import export, parity

    for module in (export, parity):
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())
        names = [("." * n.level) + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + [
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        ]
        ours = [m for m in names if m.startswith((".", "facescreen"))]
        bad = [m for m in ours if any(part in m.split(".") for part in ("bench", "server", "converters"))]
        assert not bad, f"{module.__name__} imports {bad}"


def test_a_missing_app_file_is_named_with_its_http_status(harness_page):
    """The app's files are fetched through core/runtime.js fetchOk: a file the server does not have
    (here app.json: the sources are not an exported app) fails with its address and status, not as
    the runtime's "protobuf parsing failed" on an error page."""
    from facescreen.kiosk.tablet.parity import module_call
    from facescreen.kiosk.tools.browser import PageError

    with pytest.raises(PageError, match=r"app\.json: HTTP 404"):
        module_call(harness_page, "core/screen.js", "loadApp", harness_page.script("return location.href;"))


def test_an_out_folder_of_other_files_or_a_file_is_refused_and_kept(tablet_bundle, tmp_path):
    """The app is moved into place by replacing its folder whole: `--out ~/Documents` deleted the
    folder and everything in it, and `--out notes.txt` the file. Refused before anything is built."""
    from facescreen.kiosk.tablet.export import export_app

    mine = tmp_path / "Documents"
    mine.mkdir()
    (mine / "referrals.xlsx").write_bytes(b"the clinic's own file")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("kept")
    built = []
    for out, told in ((mine, "holds files that are not a tablet app"), (a_file, "is a file; give a folder")):
        with pytest.raises(ValueError, match=told):
            export_app(tablet_bundle, out, verify=lambda *a: built.append(a) or {"passed": True})
    assert (mine / "referrals.xlsx").read_bytes() == b"the clinic's own file" and a_file.read_text() == "kept"
    assert not built and not list(tmp_path.glob(".tablet-*"))


def test_the_out_folder_is_checked_when_the_command_is_parsed(tmp_path, capsys):
    from facescreen.kiosk.cli import main

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "photo.jpg").write_bytes(b"kept")
    with pytest.raises(SystemExit) as stop:
        main(["tablet-export", "--bundle", str(tmp_path / "no-bundle"), "--out", str(tmp_path / "mine")])
    assert stop.value.code == 2 and "argument --out: " in capsys.readouterr().err
    assert (tmp_path / "mine" / "photo.jpg").read_bytes() == b"kept"


@pytest.mark.parametrize(
    "parity, told",
    [
        ("gone", "argument --parity: no folder at {tmp}/gone"),  # was [Errno 2] ... gone/cohort.csv
        ("a-file", "argument --parity: {tmp}/a-file is a file, not a folder"),
        ("empty", "argument --parity: {tmp}/empty holds neither cohort.csv nor photos (.jpg"),
    ],
)
def test_the_parity_folder_is_checked_when_the_command_is_parsed(tmp_path, capsys, parity, told):
    from facescreen.kiosk.cli import main

    (tmp_path / "a-file").write_text("x")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(SystemExit) as stop:
        main(["tablet-export", "--bundle", str(tmp_path / "no-bundle"), "--parity", str(tmp_path / parity)])
    assert stop.value.code == 2 and told.format(tmp=tmp_path) in capsys.readouterr().err


def test_a_parity_folder_is_its_cohort_csv_or_else_its_photos(tmp_path):
    """A plain folder of photos (what the converters' --parity takes) was "[Errno 2] ... cohort.csv"."""
    from facescreen.kiosk.tablet.parity import cohort_photos

    (tmp_path / "b").mkdir()
    for name in ("b/2.jpg", "1.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert cohort_photos(tmp_path) == {"1.png": tmp_path / "1.png", "b/2.jpg": tmp_path / "b" / "2.jpg"}
    (tmp_path / "cohort.csv").write_text("path,label\nb/2.jpg,control\n")  # its list, in its order
    assert cohort_photos(tmp_path) == {"b/2.jpg": tmp_path / "b" / "2.jpg"}


@needs_browser
def test_an_earlier_export_or_an_empty_folder_is_replaced(tablet_bundle, tmp_path):
    from facescreen.kiosk.tablet.export import APP_JSON, export_app

    earlier, empty = tmp_path / "earlier", tmp_path / "empty"
    earlier.mkdir()
    (earlier / APP_JSON).write_text("{}")
    (earlier / "stale.js").write_text("// from an older version")
    empty.mkdir()
    for out in (earlier, empty):
        export_app(tablet_bundle, out, verify=lambda *a: {"passed": True, "verdict": "stub"}, progress=lambda s: None)
        assert json.loads((out / APP_JSON).read_text())["parity"]["verdict"] == "stub"
    assert not (earlier / "stale.js").exists()
