"""Tablet fixtures: a bundle with the artifacts the browser runtimes run (onnx-int8 + mtcnn-onnx for
onnxruntime-web, tflite-int8 + mtcnn-tflite for LiteRT.js), one app
exported through the real parity gate, and a headless Chromium.

The bundle is the demo bundle when `make demo` has converted it (.cache/demo-bundle with those
artifacts), else a small model trained here on a SYNTHETIC cohort with a strong signal
(so its probabilities are spread out and flag agreement means something) and converted by the
converters, gate included. Browser tests skip only where Chromium is absent and CI does not demand
it (FACESCREEN_REQUIRE_BROWSER=1 in .ci/run turns a missing browser into a failure).
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facescreen.kiosk.tools.browser import browser_skip_reason

REPO = Path(__file__).resolve().parents[3]
DEMO_BUNDLE = REPO / ".cache" / "demo-bundle"
PARITY_SUBJECTS_PER_CLASS = 10  # of the held-out parity cohort (seed 1); the full 50 run in `tablet-export --parity`


def _has_browser_artifacts(bundle: Path) -> bool:
    try:
        card = json.loads((bundle / "modelcard.json").read_text())
        det = json.loads((bundle / "detector" / "mtcnn.json").read_text())
    except (OSError, ValueError):
        return False
    return {"onnx-int8", "tflite-int8"} <= set(card.get("artifacts", {})) and {"onnx", "tflite"} <= set(
        det.get("formats", {})
    )


def _train_small_bundle(root: Path) -> Path:
    """A ResNet-18 at 64 px trained for a few epochs on a strong-signal synthetic cohort, converted."""
    from factories import train_fixture_screener

    from facescreen.converters.calibration import load_folder
    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.targets import resolve_targets
    from facescreen.edge import create_detector
    from facescreen.edge.bundle import InputSpec, ModelCard
    from facescreen.edge.synthetic import CohortConfig, make_cohort
    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig
    from facescreen.training.thresholds import widest_gap_threshold

    make_cohort(
        root / "cohort",
        CohortConfig(n_per_class=70, image_size=256, eye_widen=(0.35, 0.03), mouth_widen=(0.4, 0.04), seed=11),
    )
    probe = ModelCard("probe", ("control", "syndromic"), ("syndromic",), 0.5, "resnet18", input=InputSpec(size=64))
    faces = load_folder(root / "cohort", probe, create_detector("mtcnn"))
    cfg = ModelConfig(backbone="resnet18", input_size=64, head_filters=(64,))
    x = faces.batch()
    model = train_fixture_screener(cfg, x, faces.labels)
    p = np.asarray(model(x, training=False)["probs"])[:, 1]
    bundle = save_bundle(
        model,
        cfg,
        root / "bundle",
        model_id="test-tablet-resnet18-64",
        threshold=widest_gap_threshold(p),
        training_data={"kind": "synthetic"},
    )
    calib, held = faces.split(0.25, seed=0)
    # every browser runtime's artifacts: the one offered and the one the gate refuses (LiteRT.js)
    results = convert_bundle(
        bundle,
        resolve_targets("tflite-int8,onnx-int8,mtcnn-tflite,mtcnn-onnx"),
        held,
        calib,
        ConvertOptions(detector_timing_repeats=0),
        progress=lambda s: None,
    )
    assert all(r.status == "written" for r in results), [r.message for r in results]
    return Path(bundle)


@pytest.fixture(scope="session")
def tablet_bundle(tmp_path_factory) -> Path:
    import tf_free

    if tf_free.TF_FREE:  # the app is exported (converted, parity-gated) by the TensorFlow side, as on a workstation
        pytest.skip(tf_free.REASON)
    if _has_browser_artifacts(DEMO_BUNDLE):
        return DEMO_BUNDLE
    return _train_small_bundle(tmp_path_factory.mktemp("tablet-bundle"))


@pytest.fixture(scope="session")
def parity_photos(tmp_path_factory) -> dict[str, np.ndarray]:
    """The converters' detector verification photos + the first subjects of the held-out parity cohort."""
    from facescreen.edge.synthetic import CohortConfig, make_cohort
    from facescreen.kiosk.tablet.parity import verification_set

    out = tmp_path_factory.mktemp("parity-cohort")
    make_cohort(out, CohortConfig(n_per_class=PARITY_SUBJECTS_PER_CLASS, seed=1))
    return verification_set(out)


@pytest.fixture(scope="session")
def tablet_app(tablet_bundle, parity_photos, tmp_path_factory) -> Path:
    """The app exported through the real gate (export_app + verify_app in headless Chromium)."""
    if browser_skip_reason():
        pytest.skip(browser_skip_reason())
    from facescreen.kiosk.tablet.export import export_app
    from facescreen.kiosk.tablet.parity import verify_app

    out = tmp_path_factory.mktemp("tablet") / "app"
    verify = functools.partial(verify_app, bundle_dir=tablet_bundle, photos=parity_photos)
    return export_app(tablet_bundle, out, verify=verify, progress=lambda s: None)


@pytest.fixture(scope="session")
def served_bundle(tablet_bundle, tablet_app, tmp_path_factory) -> Path:
    """A bundle folder whose tablet/ is the exported app (what `serve` reads), the model files linked."""
    root = tmp_path_factory.mktemp("served") / "bundle"
    root.mkdir()
    for f in tablet_bundle.iterdir():
        if f.name != "tablet":
            (root / f.name).symlink_to(f)
    shutil.copytree(tablet_app, root / "tablet")
    return root


@pytest.fixture(scope="session")
def served_engine(tablet_bundle, mtcnn_detector, landmarker):
    """The kiosk engine of the served bundle: a kiosk screens with the model whose app it serves, and
    its sync route accepts only results made with that model (``routers.sync.check_model``)."""
    from facescreen.edge import create_screener
    from facescreen.kiosk.engine import KioskEngine

    return KioskEngine(create_screener(tablet_bundle, detector=mtcnn_detector), landmarker)


@pytest.fixture(scope="module")
def harness_page():
    """Headless Chromium on the app's harness page, served from the sources (kiosk/tablet/web): the
    ports' modules, no model. Tests of one module's arithmetic call it through page_modules."""
    if browser_skip_reason():
        pytest.skip(browser_skip_reason())
    from facescreen.kiosk.tablet.export import WEB_DIR
    from facescreen.kiosk.tablet.parity import static_server
    from facescreen.kiosk.tools.browser import Chrome

    with static_server(WEB_DIR) as url, Chrome() as chrome:
        chrome.get(url + "harness.html")
        yield chrome
