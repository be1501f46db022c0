"""The demo bundle builder (`make demo`, `facescreen-train demo-bundle`), run end to end on a small
SYNTHETIC cohort and a small model so it takes seconds: the same code path, smaller inputs. Before
this test only `make demo` exercised it, and a refactor broke it unnoticed."""

from __future__ import annotations

import pytest
import tf_free

from facescreen.edge.synthetic import CohortConfig

pytestmark = tf_free.requires_tensorflow


def test_build_demo_bundle_trains_labels_and_reuses(tmp_path):
    from facescreen.edge import create_screener
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.errors import BundleError
    from facescreen.edge.synthetic import source_photo
    from facescreen.kiosk.engine import is_demo_card
    from facescreen.training.demo import build_demo_bundle
    from facescreen.training.model import ModelConfig

    small = dict(
        epochs=1,
        cohort=CohortConfig(n_per_class=8, seed=0),
        model_config=ModelConfig(backbone="resnet18", input_size=48, head_filters=(16,)),
    )
    out = build_demo_bundle(tmp_path, **small)
    assert out == tmp_path / "demo-bundle"
    card = load_bundle(out).card  # validates the bundle and its hashes
    assert is_demo_card(card) and card.model_id == "facescreen-demo-resnet18-synthetic"
    assert "Not for clinical use" in card.intended_use
    assert card.training_data["kind"] == "synthetic" and card.training_data["n_subjects"] == 16
    assert card.metrics["data"] == "SYNTHETIC" and card.metrics["n_validation"] >= 2
    assert 0.0 < card.threshold < 1.0
    assert card.input.size == 48

    result = create_screener(out, detector="mtcnn").screen(source_photo("grace_hopper"))
    assert 0.0 <= result.probability <= 1.0

    stamp = (out / "modelcard.json").stat().st_mtime_ns
    assert build_demo_bundle(tmp_path, **small) == out  # built once: the second call reuses it
    assert (out / "modelcard.json").stat().st_mtime_ns == stamp
    (out / "modelcard.json").write_text("{")
    with pytest.raises(BundleError):  # a broken bundle is an error, never silently rebuilt over
        build_demo_bundle(tmp_path, **small)
