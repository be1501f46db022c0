"""The bundle round trip and every way a bundle can be broken."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from factories import make_card

from facescreen.edge import BundleError, artifact_entry, load_bundle, save_card
from facescreen.edge.bundle import HASH_SIDECAR, MODELCARD


def make_bundle(tmp_path, **card_kw):
    (tmp_path / "model.bin").write_bytes(b"weights" * 100)
    card = make_card(model_id="m", threshold=0.4, backbone="vgg16", **card_kw)
    card = replace(card, artifacts={"onnx": artifact_entry(tmp_path, "model.bin", "onnx", "fp32")})
    save_card(tmp_path, card)
    return card


def test_round_trip(tmp_path):
    card = make_bundle(tmp_path, metrics={"auc": 0.9})
    b = load_bundle(tmp_path)
    assert b.card == card
    assert b.artifact_path("onnx") == tmp_path / "model.bin"
    assert b.card.not_for_clinical_use is True and "Not" in b.card.intended_use
    raw = json.loads((tmp_path / MODELCARD).read_text())
    for key in (
        "schema_version",
        "classes",
        "positive_classes",
        "threshold",
        "input",
        "alignment",
        "backbone",
        "initial_weights",
        "training_data",
        "metrics",
        "created_at",
        "software_version",
        "intended_use",
        "not_for_clinical_use",
        "artifacts",
    ):
        assert key in raw, key


def test_missing_directory(tmp_path):
    with pytest.raises(BundleError, match="no bundle directory"):
        load_bundle(tmp_path / "absent")


def test_missing_card(tmp_path):
    with pytest.raises(BundleError, match="modelcard.json is missing"):
        load_bundle(tmp_path)


def test_missing_artifact_file(tmp_path):
    make_bundle(tmp_path)
    (tmp_path / "model.bin").unlink()
    with pytest.raises(BundleError, match="model.bin named in the model card is missing"):
        load_bundle(tmp_path)


def test_changed_artifact_file(tmp_path):
    make_bundle(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"Weights" * 100)  # same size, other content
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(tmp_path)


def test_truncated_artifact_file(tmp_path):
    make_bundle(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"w")
    with pytest.raises(BundleError, match="bytes"):
        load_bundle(tmp_path)


def test_unknown_artifact_name(tmp_path):
    make_bundle(tmp_path)
    with pytest.raises(BundleError, match="no artifact 'tflite-int8'.*onnx"):
        load_bundle(tmp_path).artifact_path("tflite-int8")


def test_invalid_json(tmp_path):
    (tmp_path / MODELCARD).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path)
    (tmp_path / MODELCARD).write_bytes(b"\xff\xfe{")  # was a bare codec error naming no file
    with pytest.raises(BundleError, match=r"modelcard\.json is not valid JSON: 'utf-8' codec"):
        load_bundle(tmp_path)
    (tmp_path / MODELCARD).write_text("[1]")  # was "missing field(s): model_id, ..."
    with pytest.raises(BundleError, match=r"modelcard\.json is not a model card: a JSON object is expected, not list"):
        load_bundle(tmp_path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("classes"), "missing field"),
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (lambda d: d.update(threshold=1.5), "threshold"),
        (lambda d: d.update(positive_classes=["other"]), "subset"),
        (lambda d: d.update(positive_classes=["control", "syndromic"]), "negative"),
        (lambda d: d.update(classes=["a"]), "classes"),
        (lambda d: d["artifacts"]["onnx"].update(format="pickle"), "format"),
        (lambda d: d["input"].update(size=8), "input size"),
    ],
)
def test_malformed_cards(tmp_path, edit, message):
    make_bundle(tmp_path)
    raw = json.loads((tmp_path / MODELCARD).read_text())
    edit(raw)
    (tmp_path / MODELCARD).write_text(json.dumps(raw))
    with pytest.raises(BundleError, match=message):
        load_bundle(tmp_path)


# --- file hashes are remembered by stat key, not recomputed on every start ---------------------------


@pytest.fixture
def hash_calls(monkeypatch, tmp_path):
    """Counts the real hash computations; each test starts with an empty in-process memory and a
    user cache folder of its own."""
    from facescreen.edge import bundle as bundle_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.setattr(bundle_module, "_hash_memory", {})
    calls: list[str] = []
    real = bundle_module.sha256_file

    def counting(path):
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(bundle_module, "sha256_file", counting)
    return calls


def _folder(path):
    path.mkdir()
    return path


def _new_process():
    from facescreen.edge import bundle as bundle_module

    bundle_module._hash_memory.clear()  # what a new process starts with


def test_an_unchanged_file_is_hashed_once(tmp_path, hash_calls):
    make_bundle(_folder(tmp_path / "b"))
    hash_calls.clear()
    load_bundle(tmp_path / "b")
    assert hash_calls == ["model.bin"]
    _new_process()
    load_bundle(tmp_path / "b")  # the sidecar remembers it
    assert hash_calls == ["model.bin"]
    assert (tmp_path / "b" / HASH_SIDECAR).is_file()


def test_a_file_rewritten_with_its_old_size_and_mtime_is_still_caught(tmp_path, hash_calls):
    import os

    make_bundle(_folder(tmp_path / "b"))
    load_bundle(tmp_path / "b")
    f = tmp_path / "b" / "model.bin"
    st = f.stat()
    f.write_bytes(b"WEIGHTS" * 100)  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back; ctime cannot be
    _new_process()
    with pytest.raises(BundleError, match="does not match the SHA-256"):
        load_bundle(tmp_path / "b")


def test_a_read_only_bundle_remembers_in_the_user_cache(tmp_path, hash_calls):
    make_bundle(_folder(tmp_path / "b"))
    (tmp_path / "b" / HASH_SIDECAR).mkdir()  # the sidecar cannot be written (as a read-only bundle)
    hash_calls.clear()
    _new_process()
    load_bundle(tmp_path / "b")
    _new_process()
    load_bundle(tmp_path / "b")
    assert hash_calls == ["model.bin"]
    assert len(list((tmp_path / "user-cache" / "facescreen" / "file-hashes").iterdir())) == 1


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda i: i.update(dtype="uint8"), r"input.dtype 'uint8' cannot be honoured"),
        (lambda i: i.update(value_range=[0.0, 1.0]), r"input.value_range \[0.0, 1.0\] cannot be honoured"),
        (lambda i: i["normalisation"].update(in_graph=False), "no runtime normalises outside the graph"),
        (lambda i: i.update(normalisation={}), "no runtime normalises outside the graph"),
        (lambda i: i["normalisation"].update(mean=[0.5, 0.5, 0.5]), r"key\(s\) \['mean'\] that no runtime reads"),
        (lambda i: i["normalisation"].update(scale=[1.0, 1.0]), "three finite numbers"),
    ],
)
def test_input_fields_no_runtime_honours_are_refused_on_load(tmp_path, edit, message):
    make_bundle(tmp_path)
    raw = json.loads((tmp_path / MODELCARD).read_text())
    edit(raw["input"])
    (tmp_path / MODELCARD).write_text(json.dumps(raw))
    with pytest.raises(BundleError, match=message):
        load_bundle(tmp_path)


def test_the_input_the_card_describes_is_what_the_runtime_feeds(tmp_path):
    """The card's dtype and value range are honoured: an aligned uint8 crop reaches the backend as
    float32 pixels with the same 0..255 values (no scaling outside the graph)."""
    import numpy as np

    from facescreen.edge.bundle import RUNTIME_DTYPE, RUNTIME_VALUE_RANGE, InputSpec
    from facescreen.edge.screener import Screener

    card = make_bundle(tmp_path, input=InputSpec(size=32))
    assert (card.input.dtype, card.input.value_range) == (RUNTIME_DTYPE, RUNTIME_VALUE_RANGE)
    assert card.input.normalisation["in_graph"] is True
    seen = []

    class Spy:
        name, artifact, runtime = "spy", "onnx", "spy"

        def run(self, x):
            seen.append(x)
            return np.array([[0.5, 0.5]], np.float32), np.zeros((1, 2, 2, 2), np.float32)

    face = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Screener(load_bundle(tmp_path), Spy()).screen_aligned(face, with_cam=False)
    (x,) = seen
    assert x.dtype == np.dtype(RUNTIME_DTYPE) and x.shape == (1, 32, 32, 3)
    assert np.array_equal(x[0], face.astype(np.float32)) and x.max() > 1.0


def test_the_conversion_record_is_read_in_one_place(tmp_path):
    """None before any conversion; each target's row; a file that is not the converters' record is
    refused with its path (the doctor and the tablet export report it, neither crashes)."""
    import re

    from facescreen.edge.bundle import CONVERSION_RECORD, conversion_record

    assert conversion_record(tmp_path) is None
    record = tmp_path / CONVERSION_RECORD
    record.write_text(json.dumps({"artifacts": {"onnx": {"status": "written", "message": ""}}}))
    assert conversion_record(tmp_path) == {"onnx": {"status": "written", "message": ""}}
    for text in ("{", "[1, 2]", '{"artifacts": {"onnx": "written"}}', '{"artifacts": []}'):
        record.write_text(text)
        with pytest.raises(BundleError, match=re.escape(str(record))):
            conversion_record(tmp_path)
    record.write_bytes(b'{"artifacts": {"\xe9": {}}}')
    with pytest.raises(BundleError, match="is not valid JSON"):
        conversion_record(tmp_path)
