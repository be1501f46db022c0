"""The five console scripts behave alike: --version, -v before or after a sub-command, one line and
the documented exit status for each user's mistake (edge.clikit), quiet native logs unless -v."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from factories import make_card

from facescreen.converters.cli import main as convert_main
from facescreen.edge.backends.base import usable_cores
from facescreen.edge.bench.cli import main as bench_main
from facescreen.edge.bundle import SCHEMA_VERSION
from facescreen.edge.cli import main as screen_main
from facescreen.edge.clikit import EXIT_USAGE, NATIVE_NOISE
from facescreen.kiosk.cli import main as kiosk_main
from facescreen.training.cli import main as train_main

REPO = Path(__file__).resolve().parents[1]
MAINS = {
    "facescreen-screen": screen_main,
    "facescreen-bench": bench_main,
    "facescreen-train": train_main,
    "facescreen-convert": convert_main,
    "facescreen-kiosk": kiosk_main,
}


def call(main, argv, capsys) -> tuple[int, str, list[str]]:
    """(exit status, stdout, stderr lines) of ``main(argv)``, whether it returns or exits."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize("prog", sorted(MAINS))
def test_version_names_package_and_model_card_schema(prog, capsys):
    import facescreen

    rc, out, _ = call(MAINS[prog], ["--version"], capsys)
    assert rc == 0
    assert out.strip() == f"{prog} {facescreen.__version__} (model card schema {SCHEMA_VERSION})"


@pytest.fixture
def paths(tmp_path) -> dict:
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a folder")
    empty = tmp_path / "empty"
    (empty / "control").mkdir(parents=True)  # sub-folders, but no photo anywhere
    not_bench = tmp_path / "not-bench.json"
    not_bench.write_text(json.dumps({"rows": []}))
    return {
        "file": a_file,
        "empty": empty,
        "not_bench": not_bench,
        "folder": tmp_path,
        "no_bundle": tmp_path / "no-bundle",
        "photo": tmp_path / "photo.jpg",
    }


# (command, argv built from the paths above, the one line's expected text); every one exits 2.
MISTAKES = [
    (
        "facescreen-screen",
        lambda p: [p["no_bundle"], p["photo"], "--detector", "retina"],
        "argument --detector: unknown detector 'retina'; expected one of: auto, mtcnn, mtcnn-lite",
    ),
    (
        "facescreen-screen",
        lambda p: [p["no_bundle"], p["photo"], "--threads", "0"],
        "argument --threads: expected a whole number >= 1, got 0",
    ),
    # more threads than cores only contend; 99999 was a traceback, then a segmentation fault
    (
        "facescreen-screen",
        lambda p: [p["no_bundle"], p["photo"], "--threads", "99999"],
        "argument --threads: expected a whole number of threads from 1 to {cores} (the cores this process may use)",
    ),
    ("facescreen-bench", lambda p: [p["no_bundle"], "--threads", "99999"], "from 1 to {cores} (the cores"),
    # checked before the model loads: the bundle named does not even exist
    (
        "facescreen-screen",
        lambda p: [p["no_bundle"], p["photo"], "--csv", p["file"] / "scores.csv"],
        "argument --csv: cannot write",
    ),
    (
        "facescreen-screen",
        lambda p: [p["no_bundle"], p["photo"], "--csv", p["folder"]],
        "is a folder; give a file name",
    ),
    ("facescreen-screen", lambda p: [p["no_bundle"], p["empty"]], "no photos (.jpg, .jpeg"),
    ("facescreen-screen", lambda p: [p["no_bundle"], p["photo"]], "no bundle directory at"),
    ("facescreen-bench", lambda p: ["--compare", p["not_bench"], p["not_bench"]], "is not a bench record"),
    # output folders that are files: checked before the work whose results they would lose (the
    # benchmark ran its minutes, then ended in FileExistsError's traceback)
    ("facescreen-bench", lambda p: [p["no_bundle"], "--out", p["file"]], "argument --out: {file} is a file"),
    (
        "facescreen-bench",
        lambda p: [p["no_bundle"], "--warmup", "-3"],
        "argument --warmup: expected a whole number >= 0",
    ),
    ("facescreen-bench", lambda p: [p["no_bundle"], "--min-seconds", "nan"], "expected a number of seconds >= 0"),
    ("facescreen-bench", lambda p: [p["no_bundle"], "--max-variation", "nan"], "argument --max-variation: expected a"),
    (
        "facescreen-screen",
        lambda p: [p["no_bundle"], p["photo"], "--cam-dir", p["file"]],
        "argument --cam-dir: {file} is a file; give a folder",
    ),
    ("facescreen-bench", lambda p: ["--compare", p["file"], p["not_bench"]], "is not a bench record"),
    (
        "facescreen-bench",
        lambda p: [p["no_bundle"], "--threads", "0", "--photos", p["folder"]],
        "argument --threads: expected a whole number >= 1, got 0",
    ),
    # the photos are first read after the bundle has loaded; a mistyped folder was "no photos under" it
    (
        "facescreen-bench",
        lambda p: [p["no_bundle"], "--photos", p["folder"] / "gone"],
        "argument --photos: no folder at",
    ),
    ("facescreen-bench", lambda p: [p["no_bundle"], "--photos", p["file"]], "{file} is a file, not a folder"),
    ("facescreen-bench", lambda p: [p["no_bundle"], "--photos", p["empty"]], "argument --photos: no photos (.jpg"),
    (
        "facescreen-kiosk",
        lambda p: ["serve", "--landmarks", p["folder"]],
        "argument --landmarks: " + "{folder} is a folder; give a file",
    ),
    ("facescreen-kiosk", lambda p: ["run", "--detector", "retina"], "unknown detector 'retina'"),
    # was pydantic's three lines (run) or FileExistsError's traceback (--save-frames)
    ("facescreen-kiosk", lambda p: ["run", "--lang", "xx"], "argument --lang: no messages for language 'xx'"),
    ("facescreen-kiosk", lambda p: ["demo", "--lang", "klingon"], "no messages for language 'klingon'; available: en"),
    ("facescreen-kiosk", lambda p: ["run", "--save-frames", p["file"]], "argument --save-frames: {file} is a file"),
    ("facescreen-kiosk", lambda p: ["run", "--font", p["folder"] / "gone.ttf"], "argument --font: no file at"),
    ("facescreen-kiosk", lambda p: ["run", "--result-timeout", "nan"], "expected a number of seconds > 0, got 'nan'"),
    ("facescreen-kiosk", lambda p: ["run", "--camera-timeout", "-1"], "expected a number of seconds >= 0, got '-1'"),
    ("facescreen-kiosk", lambda p: ["run", "--width", "-640"], "argument --width: expected a whole number >= 1"),
    (  # a bound the options do not know, from the settings: one line, before the model loads
        "facescreen-kiosk",
        lambda p: [
            "run",
            "--headless",
            "--no-store",
            "--source",
            p["empty"],
            "--bundle",
            p["no_bundle"],
            "--frames",
            "500",
        ],
        "facescreen-kiosk run: error: consecutive_frames: Input should be less than or equal to 100",
    ),
    (
        "facescreen-kiosk",
        lambda p: ["serve", "--bundle", p["no_bundle"], "--data-dir", p["empty"], "--log-level", "verbose"],
        "argument --log-level: unknown log level 'verbose'; expected one of: critical, error, warning, info",
    ),
    (
        "facescreen-kiosk",
        lambda p: ["expotr"],
        "invalid choice: 'expotr' (choose from {kiosk_commands})",
    ),
    ("facescreen-kiosk", lambda p: ["-v", "expotr"], "invalid choice: 'expotr'"),
    # a number of bytes or pixels: nan was "cannot convert float NaN to integer", inf a traceback
    (
        "facescreen-kiosk",
        lambda p: ["serve", "--max-upload-mb", "nan"],
        "argument --max-upload-mb: expected a number > 0",
    ),
    (
        "facescreen-kiosk",
        lambda p: ["serve", "--max-megapixels", "inf"],
        "argument --max-megapixels: expected a number",
    ),
    ("facescreen-kiosk", lambda p: ["serve", "--decode-budget-mp", "nan"], "expected a number > 0, got 'nan'"),
    ("facescreen-kiosk", lambda p: ["serve", "--body-timeout-s", "nan"], "expected a number of seconds > 0, got 'nan'"),
    ("facescreen-kiosk", lambda p: ["export", "--since", "yesterday"], "argument --since: 'yesterday' is not an ISO"),
    ("facescreen-kiosk", lambda p: ["export", "--out", p["file"] / "x.csv"], "argument --out: cannot write"),
    (  # went into every subject's identifier; a FHIR server then refused the whole push
        "facescreen-kiosk",
        lambda p: ["push", "--fhir-url", "https://fhir.example.org/fhir", "--child-id-system", "child register"],
        "argument --child-id-system: 'child register' is not an absolute URI, which an Identifier.system must be",
    ),
    ("facescreen-kiosk", lambda p: ["export", "--fhir", "--child-id-system", "REG"], "'REG' is not an absolute URI"),
    (
        "facescreen-convert",
        lambda p: [p["no_bundle"], "--to", "tflite-int8", "--detector", "retina"],
        "unknown detector 'retina'",
    ),
    # the faces a conversion reads and writes: checked before minutes of detection
    (
        "facescreen-convert",
        lambda p: [p["no_bundle"], "--to", "tflite-int8", "--calib", p["folder"] / "gone"],
        "argument --calib: no file or folder at {folder}/gone",
    ),
    (
        "facescreen-convert",
        lambda p: [p["no_bundle"], "--to", "tflite-int8", "--parity", p["file"]],
        "argument --parity: {file} is neither a .npz of aligned faces nor a folder of photos",
    ),
    (
        "facescreen-convert",
        lambda p: [p["no_bundle"], "--to", "tflite-int8", "--save-faces", p["folder"] / "faces"],
        "argument --save-faces: {folder}/faces: give a file name ending in .npz",
    ),
    (  # was said after the calibration photos had been detected and aligned
        "facescreen-convert",
        lambda p: [p["no_bundle"], "--to", "tflite-int8", "--calib", p["folder"], "--holdout-fraction", "1.5"],
        "argument --holdout-fraction: held-out fraction must be in (0, 1), got 1.5",
    ),
    (
        "facescreen-convert",
        lambda p: [p["no_bundle"], "--to", "tflite-int8", "--holdout-fraction", "quarter"],
        "held-out fraction must be a number in (0, 1), got 'quarter'",
    ),
    (
        "facescreen-convert",
        lambda p: [p["no_bundle"], "--export-edge", p["folder"] / "slim", "--artifacts", "tflite-int8"],
        "no bundle directory at",
    ),
    ("facescreen-train", lambda p: ["fit"], "invalid choice: 'fit' (choose from {train_commands})"),
    (  # was argparse's "invalid _ints value", naming a private function
        "facescreen-train",
        lambda p: ["cv", "--head-filters", "512,5l2"],
        "argument --head-filters: expected whole numbers separated by commas, got '512,5l2'",
    ),
    ("facescreen-train", lambda p: ["cv", "--zoom", "0.9,x"], "argument --zoom: expected numbers separated by commas"),
]


@pytest.mark.parametrize("prog, argv, message", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_a_mistake_is_one_line_and_exit_2(prog, argv, message, paths, capsys):
    rc, _, err = call(MAINS[prog], argv(paths), capsys)
    assert rc == EXIT_USAGE
    assert len(err) == 1, err  # no usage block, no traceback
    assert err[0].startswith(prog) and ": error: " in err[0]
    cores = usable_cores()
    assert message.format(folder=paths["folder"], file=paths["file"], cores=cores, **command_lists()) in err[0]


def command_lists() -> dict[str, str]:
    """The commands each CLI offers, as argparse lists them, taken from its own parser: a new command
    joins the expected message by being added to the CLI, not to this test."""
    from facescreen.kiosk.cli import build_parser as kiosk_parser
    from facescreen.training.cli import build_parser as train_parser

    def listed(parser: argparse.ArgumentParser) -> str:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return ", ".join(repr(c) for c in sub.choices)

    return {"kiosk_commands": listed(kiosk_parser()), "train_commands": listed(train_parser()[0])}


@pytest.mark.parametrize(
    "prog, argv",
    [
        ("facescreen-kiosk", ["-v", "export", "--data-dir", "{tmp}"]),
        ("facescreen-kiosk", ["export", "-v", "--data-dir", "{tmp}"]),
        ("facescreen-kiosk", ["export", "--data-dir", "{tmp}", "--verbose"]),
        ("facescreen-train", ["-v", "config", "--epochs", "3"]),
        ("facescreen-train", ["config", "--epochs", "3", "-v"]),
    ],
)
def test_verbose_before_or_after_the_command(prog, argv, tmp_path, capsys):
    from facescreen.kiosk.store import ResultsStore

    ResultsStore(tmp_path).close()  # export reads a results store; it never makes one
    rc, out, _ = call(MAINS[prog], [a.format(tmp=tmp_path) for a in argv], capsys)
    assert rc == 0, out


def test_verbose_reaches_the_command_from_either_side():
    from facescreen.kiosk.cli import build_parser

    p = build_parser()
    assert p.parse_args(["-v", "export"]).verbose and p.parse_args(["export", "-v"]).verbose
    assert not p.parse_args(["export"]).verbose


def test_kiosk_run_stays_the_default_command():
    from facescreen.kiosk.cli import with_default_command

    assert with_default_command(["--camera", "0"]) == ["run", "--camera", "0"]
    assert with_default_command(["-v", "--camera", "0"]) == ["-v", "run", "--camera", "0"]
    assert with_default_command(["-v", "export"]) == ["-v", "export"]
    assert with_default_command([]) == ["run"]
    assert with_default_command(["expotr"]) == ["expotr"]  # a word must be a command: argparse lists them


# --- quiet native logs ------------------------------------------------------------------------------

NOISY = textwrap.dedent("""
    import os, sys
    from facescreen.edge.clikit import quiet_native_logs
    quiet_native_logs(verbose=sys.argv[1] == "-v")
    os.write(2, b"I0000 00:00:1795929381.249746   20104 port.cc:153] oneDNN custom operations are on.\\n")
    from ai_edge_litert.interpreter import Interpreter   # the XNNPACK delegate announces itself
    Interpreter(model_path=sys.argv[2]).allocate_tensors()
    print("a message of our own", file=sys.stderr)
    os.write(2, b"E0000 00:00:1.5 1 real.cc:1] an error line is kept\\n")
""")


def test_native_banners_are_dropped_unless_verbose():
    model = REPO / ".cache" / "assets" / "face_landmark.tflite"
    if not model.is_file():
        pytest.skip("needs `make assets`")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet, loud = (
        subprocess.run(
            [sys.executable, "-c", NOISY, flag, str(model)], capture_output=True, text=True, env=env, timeout=120
        )
        for flag in ("-q", "-v")
    )
    assert quiet.returncode == 0 and loud.returncode == 0, quiet.stderr + loud.stderr
    assert "XNNPACK" in loud.stderr and "oneDNN" in loud.stderr  # what the filter takes out
    assert "XNNPACK" not in quiet.stderr and "oneDNN" not in quiet.stderr
    assert "a message of our own" in quiet.stderr and "an error line is kept" in quiet.stderr
    assert not any(NATIVE_NOISE.match(line) for line in quiet.stderr.splitlines())


def test_what_cannot_run_here_is_exit_3_and_what_was_mistyped_exit_2(tmp_path, capsys):
    """A bundle that has no artifact for the backend asked for: status 3, never another backend; one
    line each."""
    from dataclasses import replace

    from facescreen.edge import artifact_entry, save_card
    from facescreen.edge.clikit import EXIT_UNAVAILABLE

    (tmp_path / "model.onnx").write_bytes(b"not run in this test")
    card = make_card(model_id="m")
    save_card(tmp_path, replace(card, artifacts={"onnx": artifact_entry(tmp_path, "model.onnx", "onnx", "fp32")}))
    rc, _, err = call(screen_main, [tmp_path, tmp_path / "photo.jpg", "--backend", "tensorrt"], capsys)
    assert rc == EXIT_UNAVAILABLE and len(err) == 1, err
    assert err[0].startswith("facescreen-screen: error: ") and "tensorrt" in err[0]
    # what the user typed wrong is status 2, as the help says: a misspelt --artifact, or one --backend cannot run
    rc, _, err = call(screen_main, [tmp_path, tmp_path / "photo.jpg", "--artifact", "onnx-int9"], capsys)
    assert rc == EXIT_USAGE and len(err) == 1, err
    assert err[0].endswith("has no artifact 'onnx-int9'; it has: onnx")
    rc, _, err = call(
        screen_main, [tmp_path, tmp_path / "photo.jpg", "--artifact", "onnx", "--backend", "litert"], capsys
    )
    assert rc == EXIT_USAGE and len(err) == 1, err
    assert "'litert' runs tflite artifacts; 'onnx' is onnx" in err[0]
