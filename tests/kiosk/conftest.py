"""Kiosk fixtures: one engine (screener + detector + dense landmarks) for the whole session, and
kiosk-like frames made from the real sample photos (kiosk.scenes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO / ".cache" / "demo-bundle"


@pytest.fixture(scope="session")
def kiosk_bundle(tmp_path_factory) -> Path:
    """The trained demo bundle when it has been built (make demo), else a tiny untrained one:
    the kiosk's behaviour under test does not depend on what the model answers."""
    from facescreen.edge import BundleError, load_bundle

    import tf_free

    if tf_free.TF_FREE:   # the converted bundle (LiteRT, ONNX Runtime, converted MTCNN)
        return tf_free.bundle()
    try:
        load_bundle(DEMO_BUNDLE)
        return DEMO_BUNDLE
    except BundleError:
        pass
    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig, build_screener

    cfg = ModelConfig(backbone="resnet18", input_size=64, head_filters=(16,))
    return save_bundle(build_screener(cfg), cfg, tmp_path_factory.mktemp("bundle"), model_id="tiny-untrained-demo",
                       threshold=0.5, training_data={"kind": "synthetic"})


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
def live_server():
    """uvicorn on 127.0.0.1 in a thread: ``with live_server(app) as srv: ... srv.url``."""
    from facescreen.kiosk.server.run import BackgroundServer

    return BackgroundServer
