"""The whole edge path where TensorFlow cannot be imported (a tablet or kiosk install): the converted
MTCNN finds the face, the photo is aligned, and LiteRT and ONNX Runtime screen it, giving the same
flags as the Keras reference does on the same faces."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tf_free

# the edge runtime alone: no TensorFlow, Keras or mtcnn package, and nothing above edge
EDGE_ONLY = tf_free.blocking_prelude(packages=("facescreen.training", "facescreen.converters"))


@pytest.fixture(scope="module")
def edge_bundle(converted, detector_dir, tmp_path_factory):
    """The converted tiny bundle plus the session's converted detector, and three synthetic photos."""
    from PIL import Image

    from facescreen.edge.synthetic import CohortConfig, make_subject

    bundle_dir, _, _ = converted
    root = tmp_path_factory.mktemp("edge-path")
    bundle = shutil.copytree(bundle_dir, root / "bundle")
    # the detector's networks do not depend on the screener: the one conversion (tests/conftest.py) serves
    shutil.copytree(detector_dir, bundle / "detector", dirs_exist_ok=True)
    rng = np.random.default_rng(7)
    photos = []
    for i, (src, syn) in enumerate([("astronaut", False), ("grace_hopper", True), ("grace_hopper", False)]):
        path = root / f"photo{i}.jpg"
        Image.fromarray(make_subject(rng, src, syn, CohortConfig(image_size=480))).save(path, quality=92)
        photos.append(str(path))
    return bundle, photos


def test_detect_align_screen_without_tensorflow(edge_bundle):
    from facescreen.edge import create_screener

    bundle, photos = edge_bundle
    code = EDGE_ONLY + textwrap.dedent(f"""
        import json, sys
        from facescreen.edge import create_screener
        out = {{}}
        for backend in ("litert", "onnxruntime"):
            s = create_screener({str(bundle)!r}, backend=backend)
            assert s.detector.name == "mtcnn-lite", s.detector.name
            rs = [s.screen(p) for p in {photos!r}]
            out[backend] = [[r.flag, r.probability, r.backend, r.cam.shape[0]] for r in rs]
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    reference = create_screener(bundle, backend="keras", detector="mtcnn-lite")
    ref = [reference.screen(p) for p in photos]
    for backend, rows in got.items():
        assert [row[2].split(":")[0] for row in rows] == [backend] * len(photos)
        assert [row[0] for row in rows] == [r.flag for r in ref], (backend, rows, [r.probability for r in ref])
        assert max(abs(row[1] - r.probability) for row, r in zip(rows, ref)) < 0.1
        assert all(row[3] == reference.card.input.size for row in rows)


# --- a slim bundle for a tablet: facescreen-convert BUNDLE --export-edge OUT --artifacts ... ---------


def test_export_edge_writes_a_slim_bundle_the_edge_runtime_opens(edge_bundle, tmp_path, capsys):
    from facescreen.converters.cli import main
    from facescreen.edge import create_screener, load_bundle
    from facescreen.edge.bundle import MODELCARD, sha256_file

    bundle, photos = edge_bundle
    out = tmp_path / "tablet"
    assert main([str(bundle), "--export-edge", str(out), "--artifacts", "tflite-int8,mtcnn-tflite"]) == 0
    assert f"edge bundle: {out}" in capsys.readouterr().out
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files == [
        "MODEL_CARD.md",
        "detector/mtcnn.json",
        "detector/onet.tflite",
        "detector/pnet.tflite",
        "detector/rnet.tflite",
        "modelcard.json",
        "tflite-int8.tflite",
    ]  # the card, readable too
    slim, full = load_bundle(out), load_bundle(bundle)
    assert list(slim.card.artifacts) == ["tflite-int8"]
    assert slim.card.artifacts["tflite-int8"] == full.card.artifacts["tflite-int8"]  # parity figures travel
    origin = slim.card.derived_from
    assert origin["model_id"] == full.card.model_id and origin["version"] == full.card.version
    assert origin["modelcard_sha256"] == sha256_file(bundle / MODELCARD)
    assert origin["reference_sha256"] == full.card.artifacts["keras"]["sha256"]
    assert origin["artifacts"] == ["tflite-int8", "mtcnn-tflite"]
    # the slim bundle screens exactly as the full one does with the same artifact and detector
    code = EDGE_ONLY + textwrap.dedent(f"""
        import json, sys
        from facescreen.edge import create_screener
        s = create_screener({str(out)!r})
        print(json.dumps([s.backend_label, s.detector.name, [s.screen(p).probability for p in {photos!r}]]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    label, detector, probs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (label, detector) == ("litert:tflite-int8", "mtcnn-lite")
    same = create_screener(bundle, artifact="tflite-int8", detector="mtcnn-lite")
    assert probs == [same.screen(p).probability for p in photos]


def _unverified_copy(bundle, root):
    """A copy whose tflite-int8 entry lost its parity figures (as if written by hand)."""
    copy = shutil.copytree(bundle, root / "unverified")
    card = json.loads((copy / "modelcard.json").read_text())
    del card["artifacts"]["tflite-int8"]["parity"]
    (copy / "modelcard.json").write_text(json.dumps(card))
    return copy


@pytest.mark.parametrize(
    "case, message",
    [
        ("absent", "has no artifact 'onnx-int8' to export; it has: "),
        # was "convert it first: ... --to tflite-int9", a target that does not exist
        ("misspelt", "('tflite-int9' is no conversion target either; `facescreen-convert --list` shows them)"),
        ("keras", "'keras' is the Keras reference model"),
        ("unverified", "carries no parity figures in the model card, so it was not verified"),
        ("no-detector", "no mtcnn.json in"),
        ("detector-only", "an edge bundle needs a screener artifact"),
        ("out-exists", "already exists; --export-edge writes a new folder"),
    ],
)
def test_export_edge_refuses_what_is_not_there_or_not_verified(edge_bundle, converted, tmp_path, capsys, case, message):
    from facescreen.converters.cli import main

    bundle, _ = edge_bundle
    out = tmp_path / "tablet"
    source, names = bundle, "tflite-int8,mtcnn-tflite"
    if case == "absent":
        source = shutil.copytree(bundle, tmp_path / "fewer")
        card = json.loads((source / "modelcard.json").read_text())
        card["artifacts"].pop("onnx-int8")
        (source / "modelcard.json").write_text(json.dumps(card))
        names = "onnx-int8"
    elif case == "misspelt":
        names = "tflite-int9"
    elif case == "keras":
        names = "keras"
    elif case == "unverified":
        source = _unverified_copy(bundle, tmp_path)
    elif case == "no-detector":
        source = converted[0]  # converted screeners, no detector
    elif case == "detector-only":
        names = "mtcnn-tflite"
    elif case == "out-exists":
        out.mkdir()
        (out / "something").write_text("keep me")
    rc = main([str(source), "--export-edge", str(out), "--artifacts", names])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0], err
    if case == "out-exists":
        assert [p.name for p in out.iterdir()] == ["something"]
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tablet")]  # no staging left behind
