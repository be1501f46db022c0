"""CAM and Grad-CAM. With no head layers the screening logit is linear in the backbone output, so
Grad-CAM has a closed form: ReLU of the CAM evidence minus the classifier's bias difference."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.training.explain import cam_maps, explanation_panel, gradcam_lowres, gradcam_maps, split_at_backbone
from facescreen.training.model import ModelConfig, build_screener


@pytest.fixture(scope="module")
def linear_head_model():
    import keras

    keras.utils.set_random_seed(0)
    return build_screener(ModelConfig(backbone="resnet18", input_size=64, head_filters=()))


def test_split_reproduces_the_model(linear_head_model):
    x = np.random.default_rng(1).uniform(0, 255, (3, 64, 64, 3)).astype("float32")
    features, head = split_at_backbone(linear_head_model)
    logits = np.asarray(head(features(x)))
    probs = np.asarray(linear_head_model(x, training=False)["probs"])
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), probs, atol=1e-5)


def test_gradcam_closed_form_for_a_linear_head(linear_head_model):
    model = linear_head_model
    x = np.random.default_rng(2).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    cam = np.asarray(model(x, training=False)["cam"])  # (N, h, w, 2) class-logit maps
    w, b = model.get_layer("cam").get_weights()
    h, wd = cam.shape[1:3]
    # d(logit_1 - logit_0)/dA_k = (w_k1 - w_k0) / (h w) everywhere, so
    # Grad-CAM = ReLU(sum_k (w_k1 - w_k0) A_k / (h w)) = ReLU(cam_1 - cam_0 - (b_1 - b_0)) / (h w)
    expected = np.maximum(cam[..., 1] - cam[..., 0] - (b[1] - b[0]), 0.0) / (h * wd)
    np.testing.assert_allclose(gradcam_lowres(model, x, [1]), expected, rtol=1e-4, atol=1e-6)


def test_maps_are_scaled_and_panels_are_written(tmp_path, linear_head_model):
    x = np.random.default_rng(3).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    cams = cam_maps(np.asarray(linear_head_model(x.astype("float32"), training=False)["cam"]), [1], 64)
    grads = gradcam_maps(linear_head_model, x, [1], 64)
    for m in (cams, grads):
        assert m.shape == (2, 64, 64) and m.min() >= 0.0 and m.max() <= 1.0
    path = explanation_panel(x, {"CAM": cams, "Grad-CAM": grads}, ["a", "b"], tmp_path / "panel.png", "SYNTHETIC")
    from PIL import Image

    assert Image.open(path).size[0] > 200
