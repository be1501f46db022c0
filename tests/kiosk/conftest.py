"""Kiosk fixtures: one engine (screener + detector + dense landmarks) for the whole session, and
kiosk-like frames made from the real sample photos (kiosk.scenes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kiosk_bundle(tmp_path_factory) -> Path:
    """A tiny untrained bundle built here, always: the kiosk's behaviour under test does not depend on
    what the model answers, and a test must not change with whether `make demo` happened to run. In the
    TensorFlow-free (Jetson) mode: the converted fixture bundle (LiteRT, ONNX Runtime, converted MTCNN)."""
    import tf_free

    if tf_free.TF_FREE:
        return tf_free.bundle()
    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig, build_screener

    cfg = ModelConfig(backbone="resnet18", input_size=64, head_filters=(16,))
    return save_bundle(
        build_screener(cfg),
        cfg,
        tmp_path_factory.mktemp("bundle"),
        model_id="tiny-untrained-demo",
        threshold=0.5,
        training_data={"kind": "synthetic"},
    )


@pytest.fixture(scope="session")
def kiosk_edge_bundle(kiosk_bundle, tmp_path_factory) -> Path:
    """``kiosk_bundle`` as a kiosk deploys it: ONNX screener + converted MTCNN in a slim bundle without
    model.keras, so a server started on it never loads TensorFlow (its memory is the kiosk's own)."""
    import tf_free

    if tf_free.TF_FREE:  # already converted, and converting needs TensorFlow
        return tf_free.bundle()
    import shutil

    from facescreen.converters.calibration import FaceSet
    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.export_edge import export_edge
    from facescreen.converters.targets import resolve_targets

    root = tmp_path_factory.mktemp("kiosk-edge")
    full = shutil.copytree(kiosk_bundle, root / "full")
    faces = np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    results = convert_bundle(
        full,
        resolve_targets("onnx,mtcnn-onnx"),
        FaceSet(faces, source="noise"),
        options=ConvertOptions(detector_timing_repeats=0),
        progress=lambda s: None,
    )
    assert all(r.status == "written" for r in results), [r.message for r in results]
    return export_edge(full, root / "edge", ["onnx", "mtcnn-onnx"])


@pytest.fixture(scope="session")
def landmarker():
    from facescreen.edge.assets import asset_path
    from facescreen.kiosk.landmarks import MODEL_FILE, DenseLandmarker

    return DenseLandmarker(asset_path(MODEL_FILE, REPO / ".cache" / "assets"))


@pytest.fixture(scope="session")
def engine(kiosk_bundle, mtcnn_detector, landmarker):
    from facescreen.edge import create_screener
    from facescreen.kiosk.engine import KioskEngine

    return KioskEngine(create_screener(kiosk_bundle, detector=mtcnn_detector), landmarker)


@pytest.fixture(scope="session")
def scene_frames() -> dict[str, np.ndarray]:
    """name -> RGB frame, for every failing and good scene (see kiosk.scenes)."""
    from facescreen.edge.synthetic import source_photo
    from facescreen.kiosk.scenes import FAILING_SCENES, GOOD_SCENES, compose

    photos = {"grace_hopper": source_photo("grace_hopper")}
    return {s.name: compose(s, photo=photos.get(s.source)) for s in FAILING_SCENES + GOOD_SCENES}


@pytest.fixture
def bundle_with_app(tmp_path):
    """``make(bundle, screener_sha256=None, **card) -> folder``: ``bundle``'s files (linked) in a new folder
    whose tablet/ holds a stand-in app recorded as exported from it (app.json's screener entry and copy
    of the model card, an index.html; no runtime), which is what `serve` checks before it serves
    /tablet/. ``card``: fields of the app's copy of the card that differ from the bundle's; a
    ``screener_sha256`` that differs from the card's."""
    import json

    def make(bundle: Path, screener_sha256: str | None = None, **card) -> Path:
        root = tmp_path / f"bundle-with-app-{len(list(tmp_path.glob('bundle-with-app-*')))}"
        root.mkdir()
        for f in Path(bundle).iterdir():
            if f.name != "tablet":
                (root / f.name).symlink_to(f.resolve())  # a relative bundle path (TF-free mode) too
        ours = json.loads((Path(bundle) / "modelcard.json").read_text())
        theirs = {**ours, **card}
        artifact, entry = next(iter(ours["artifacts"].items()))
        app = root / "tablet"
        (app / "model").mkdir(parents=True)
        (app / "model" / "modelcard.json").write_text(json.dumps(theirs))
        (app / "index.html").write_text("<!doctype html><title>t</title>")
        screener = {"artifact": artifact, "sha256": screener_sha256 or entry["sha256"]}
        record = {"kind": "facescreen-tablet-app", "card": "model/modelcard.json", "screener": screener}
        (app / "app.json").write_text(json.dumps(record))
        return root

    return make


@pytest.fixture
def live_server():
    """uvicorn on 127.0.0.1 in a thread: ``with live_server(app) as srv: ... srv.url``."""
    from facescreen.kiosk.server.run import BackgroundServer

    return BackgroundServer


@pytest.fixture
def record(engine):
    """A result as the tablet syncs it (POST /v1/sync/results), made with this kiosk's model (its card's
    id, threshold and not-for-clinical-use marking): ``record(photo=rgb, **changes)``; a photo comes
    with consent, as base64 JPEG."""
    import base64
    import io
    import uuid

    from PIL import Image

    card = engine.model_info()

    def make(photo=None, **over) -> dict:
        b64 = None
        if photo is not None:
            buf = io.BytesIO()
            Image.fromarray(photo).save(buf, "JPEG", quality=90)
            b64 = base64.b64encode(buf.getvalue()).decode()
        r = {
            "id": uuid.uuid4().hex,
            "created_at": "2026-11-29T05:00:00.000Z",
            "tablet_id": "tablet-7",
            "model_id": card["model_id"],
            "model_version": card["version"],
            "backend": "onnxruntime-web:onnx-int8",
            "probability": 1.0,
            "threshold": card["threshold"],
            "flag": True,
            "label": "refer for genetic evaluation",
            "not_for_clinical_use": card["not_for_clinical_use"],
            "intended_use": "research",
            "quality": {},
            "consent": photo is not None,
            "photo_jpeg_b64": b64,
        }
        return {**r, **over}

    return make
