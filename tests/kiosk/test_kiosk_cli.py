"""facescreen-kiosk / python -m facescreen.kiosk: help everywhere, run (headless replay), demo, export, purge,
serve checks."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tf_free
from factories import make_result

from facescreen.edge.clikit import EXIT_UNAVAILABLE
from facescreen.kiosk.cli import COMMANDS, main
from facescreen.kiosk.scenes import DEMO_SCENES, FAILING_SCENES, GOOD_SCENES, write_sequence
from facescreen.kiosk.store import ResultsStore

REPO = Path(__file__).resolve().parents[2]
# the reference package detector; TensorFlow-free: the bundle's converted MTCNN (what a Jetson runs)
DETECTOR = "auto" if tf_free.TF_FREE else "mtcnn"


@pytest.mark.parametrize("argv", [["--help"], *[[c, "--help"] for c in COMMANDS]])
def test_help_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: facescreen-kiosk" in out and len(out) > 300


def test_window_without_a_gui_build_says_so(capsys):
    from facescreen.kiosk.display import gui_support

    ok, why = gui_support()
    if ok:
        pytest.skip("this OpenCV can open a window here")
    assert main(["--camera", "0", "--fullscreen"]) == EXIT_UNAVAILABLE  # `run` is the default command
    err = capsys.readouterr().err
    assert "GUI: NONE" in err and "--headless" in err


def test_serve_refuses_to_open_the_network_without_a_token(capsys, monkeypatch):
    monkeypatch.delenv("FACESCREEN_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--bundle", str(REPO)]) == 2
    assert "bearer token is required" in capsys.readouterr().err


def test_run_headless_replay_logs_json_lines(kiosk_bundle, tmp_path, capsys):
    frames = tmp_path / "frames"
    write_sequence(frames, FAILING_SCENES[2:4] + GOOD_SCENES)
    rc = main(
        [
            "run",
            "--source",
            str(frames),
            "--headless",
            "--bundle",
            str(kiosk_bundle),
            "--detector",
            DETECTOR,
            "--landmarks",
            str(REPO / ".cache/assets/face_landmark.tflite"),
            "--data-dir",
            str(tmp_path / "data"),
            "--kiosk-id",
            "cli-test",
            "--save-frames",
            str(tmp_path / "shown"),
        ]
    )
    assert rc == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [d["message_key"] for d in lines[:2]] == ["move_closer", "move_back"]
    assert lines[-1]["event"] == "result" and lines[-1]["record"]["id"]
    assert ResultsStore(tmp_path / "data").get(lines[-1]["record"]["id"])["kiosk_id"] == "cli-test"
    assert len(list((tmp_path / "shown").iterdir())) == 2 + len(GOOD_SCENES)


@tf_free.requires_tensorflow  # `make demo` builds its demo bundle with the training code
def test_demo_as_make_demo_runs_it(kiosk_bundle, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "demo-bundle").symlink_to(kiosk_bundle)
    env = {**os.environ, "FACESCREEN_ASSETS": str(REPO / ".cache/assets"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "facescreen.kiosk", "demo", "--cache", str(cache), "--detector", DETECTOR],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.count("DEMO MODEL on SYNTHETIC data - not for clinical use") >= 2
    for scene in DEMO_SCENES:
        if scene.expect:
            assert f"{scene.name}.png" in out
    for text in (
        "Move a little closer",
        "Keep the head straight",
        "Too dark",
        "Good. Hold still",
        "captured the sharpest",
        "Screening result:",
        "not a diagnosis",
    ):
        assert text in out, text
    assert (cache / "kiosk-demo" / "data" / "results.sqlite3").is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--out", "-"],
        ["export", "--fhir", "--out", "-"],
        ["push", "--fhir-url", "http://127.0.0.1:9/fhir", "--dry-run"],
        ["outcomes", "import", "OUTCOMES"],
        ["field-report", "--out", "REPORT"],
        ["purge", "--older-than-days", "1"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_a_data_dir_without_a_results_store_is_named_and_left_as_it_was(tmp_path, capsys, argv, folder):
    """A mistyped --data-dir (or the default kiosk-data, read from another working folder): the store
    was created there, empty, and the command answered "exported 0 screenings"."""
    data = tmp_path / "data"
    if folder == "empty":
        data.mkdir()
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("result_id,outcome,date\n")
    argv = [{"OUTCOMES": str(outcomes), "REPORT": str(tmp_path / "report")}.get(a, a) for a in argv]
    assert main([*argv, "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"no results store in {data}" in err[0] and "--data-dir" in err[0], err
    if folder == "empty":
        assert list(data.iterdir()) == []
    else:
        assert not data.exists()
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize(
    "argv, told",
    [
        (["doctor", "--json", "{d}"], "argument --json: {d} is a folder; give a file name"),  # was a traceback
        (["doctor", "--json", "{d}/none/x.json"], "argument --json: cannot write {d}/none/x.json: {d}/none does not"),
        (["field-report", "--out", "{d}/file"], "argument --out: {d}/file is a file; give a folder"),  # was a traceback
        (
            ["field-report", "--out", "{d}/file/r"],
            "argument --out: cannot make the folder {d}/file/r: {d}/file is a file",
        ),
    ],
    ids=["doctor-json-folder", "doctor-json-no-folder", "report-out-file", "report-out-under-file"],
)
def test_an_output_that_cannot_be_written_is_a_usage_error_before_any_work(tmp_path, capsys, argv, told):
    (tmp_path / "file").write_text("kept")
    with pytest.raises(SystemExit) as exit_:
        main([*(a.format(d=tmp_path) for a in argv), "--data-dir", str(tmp_path / "data")])
    assert exit_.value.code == 2 and told.format(d=tmp_path) in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "kept" and not (tmp_path / "data").exists()


def test_export_and_purge(tmp_path, capsys):
    store = ResultsStore(tmp_path)
    r = make_result(0.3)
    ids = [store.add(r, {}, kiosk_id="k", source="kiosk").id for _ in range(3)]
    store.close()
    out = tmp_path / "export.csv"
    assert main(["export", "--data-dir", str(tmp_path), "--out", str(out)]) == 0
    assert [row["id"] for row in csv.DictReader(io.StringIO(out.read_text()))] == ids
    # a name that does not fit what is written: CSV went into results.json (or .xlsx, which a
    # spreadsheet refused to open), the FHIR Bundle into a .csv; nothing is written
    for name, fhir, told in [
        ("results.json", [], "export writes CSV; give a file name ending in .csv, or add --fhir"),
        ("results.xlsx", [], "export writes CSV; give a file name ending in .csv\n"),
        ("day.csv", ["--fhir"], "export writes a FHIR R4 Bundle (JSON); give a file name ending in .json, or leave"),
    ]:
        assert main(["export", "--data-dir", str(tmp_path), "--out", str(tmp_path / name), *fhir]) == 2
        assert told in capsys.readouterr().err and not (tmp_path / name).exists()
    assert main(["export", "--data-dir", str(tmp_path), "--out", str(tmp_path / "UPPER.CSV")]) == 0
    assert main(["purge", "--data-dir", str(tmp_path)]) == 2
    assert main(["purge", "--data-dir", str(tmp_path), "--id", ids[0], "--id", ids[1]]) == 0
    assert "purged 2" in capsys.readouterr().err
    # an id that matches nothing is named, and the status says so (it was "purged 0" and 0)
    assert main(["purge", "--data-dir", str(tmp_path), "--id", ids[0], "--id", "nosuch"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "purged 0 screenings",
        f"facescreen-kiosk purge: no screening has id {ids[0]} (mistyped, or purged before)",
        "facescreen-kiosk purge: no screening has id nosuch (mistyped, or purged before)",
    ]
    assert main(["purge", "--data-dir", str(tmp_path), "--older-than-days", "0"]) == 0
    assert "purged 1" in capsys.readouterr().err
    assert ResultsStore(tmp_path).count() == 0


def test_a_retention_purge_keeps_what_a_fhir_server_has_not_accepted_yet(tmp_path, capsys):
    """`purge --older-than-days` on a kiosk that pushes to the programme's FHIR server deleted screenings
    the server had never received (a push that failed for a week, a server down), and said nothing.
    Now they are kept and counted, per server, with the remedy; a retaken screening (never pushed) is
    not held back; --include-unpushed deletes them; a family's --id is deleted all the same."""
    from facescreen.kiosk.fhir.outbox import Outbox

    store = ResultsStore(tmp_path)
    r = make_result(0.3)
    ids = [store.add(r, {}, kiosk_id="k", source="kiosk").id for _ in range(5)]
    store.set_status(ids[4], "retaken")
    store.close()
    outbox = Outbox(tmp_path)
    outbox.mark_pushed("https://fhir.example/r4", [(ids[0], "Observation/1"), (ids[1], "Observation/2")])
    outbox.mark_pushed("https://backup.example/r4", [(ids[0], "Observation/9")])
    outbox.close()
    assert main(["purge", "--data-dir", str(tmp_path), "--older-than-days", "0", "--id", ids[3]]) == 0
    err = capsys.readouterr().err
    assert "purged 3 screenings" in err  # ids[0], pushed everywhere, the retaken ids[4]; and the family's ids[3]
    assert (
        "kept 2 screenings older than 0 days that a FHIR server has not accepted yet "
        "(https://backup.example/r4: 2, https://fhir.example/r4: 1)"
    ) in err and "--include-unpushed" in err
    assert ResultsStore(tmp_path).ids() == {ids[1], ids[2]}
    assert main(["purge", "--data-dir", str(tmp_path), "--older-than-days", "0", "--include-unpushed"]) == 0
    assert "purged 2 screenings" in capsys.readouterr().err and ResultsStore(tmp_path).count() == 0


def test_find_config_reaches_the_kiosk_and_the_server(kiosk_bundle, tmp_path, monkeypatch, capsys):
    """--find-config (kiosk.tracking.FindConfig as JSON) is what `run` builds its engine with and what
    `serve` loads its engines with; a misspelt key is a one-line error, exit 2."""
    from facescreen.kiosk.engine import KioskEngine
    from facescreen.kiosk.server import run as server_run
    from facescreen.kiosk.tracking import FindConfig

    seen = {}

    class Stop(Exception):
        pass

    def create(*_a, find, **_k):
        seen["run"] = find
        raise Stop

    monkeypatch.setattr(KioskEngine, "create", create)
    monkeypatch.setattr(
        server_run, "serve", lambda settings, log_level, engine, sockets: seen.update(serve=settings.find)
    )
    monkeypatch.setattr(server_run, "listen_sockets", lambda settings: [])
    monkeypatch.setattr("facescreen.kiosk.server.main.load_engines", lambda settings: None)
    cfg = tmp_path / "find.json"
    cfg.write_text(json.dumps({"redetect_every": 0, "work_face_px": None}))
    with pytest.raises(Stop):
        main(["run", "--headless", "--source", str(tmp_path), "--bundle", str(kiosk_bundle), "--find-config", str(cfg)])
    assert (
        main(["serve", "--bundle", str(kiosk_bundle), "--data-dir", str(tmp_path / "d"), "--find-config", str(cfg)])
        == 0
    )
    want = FindConfig(redetect_every=0, work_face_px=None)
    assert seen == {"run": want, "serve": want} and want != FindConfig()

    cfg.write_text(json.dumps({"redetect_evrey": 0}))
    capsys.readouterr()
    assert main(["serve", "--bundle", str(kiosk_bundle), "--find-config", str(cfg)]) == 2
    assert "redetect_evrey" in capsys.readouterr().err
