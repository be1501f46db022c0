"""The screener for every backbone: output shapes, and the CAM is exact (no gradients needed)."""
from __future__ import annotations

import numpy as np
import pytest

from facescreen.training.backbones import BACKBONES
from facescreen.training.model import ModelConfig, build_screener


@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_outputs_and_exact_cam(backbone):
    classes = ("healthy", "wbs", "other_syndrome")
    cfg = ModelConfig(backbone=backbone, input_size=64, classes=classes, positive_classes=("wbs", "other_syndrome"),
                      head_filters=(32,))
    model = build_screener(cfg)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    out = model(x, training=False)
    probs, cam = np.asarray(out["probs"]), np.asarray(out["cam"])
    assert probs.shape == (2, 3)
    assert cam.ndim == 4 and cam.shape[0] == 2 and cam.shape[-1] == 3 and cam.shape[1] == cam.shape[2] >= 1
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    logits = cam.mean(axis=(1, 2))  # global average pooling of the class maps gives the logits exactly
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(softmax / softmax.sum(1, keepdims=True), probs, atol=1e-5)


def test_vgg16_matches_the_papers_size():
    model = build_screener(ModelConfig())
    assert model.input_shape == (None, 224, 224, 3)
    assert 14e6 < model.count_params() < 16e6  # VGG-16 conv base (14.7M) + conv head
    cam_shape = model.output["cam"].shape
    assert tuple(cam_shape[1:]) == (7, 7, 2)
    names = [layer.name for layer in model.layers]
    for needed in ("head_conv1", "head_bn1", "head_relu1", "head_dropout1", "cam", "probs"):
        assert needed in names


@pytest.mark.parametrize("kwargs, message", [
    ({"backbone": "alexnet"}, "unknown backbone 'alexnet'.*vgg16"),
    ({"input_size": 16}, "input_size"),
    ({"initial_weights": "celeb"}, "initial_weights"),
    ({"backbone": "resnet18", "initial_weights": "vggface"}, "vgg16 only"),
    ({"positive_classes": ("control", "syndromic")}, "proper subset"),
    ({"dropout": 1.0}, "dropout"),
])
def test_bad_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_input_normalisation_is_in_the_graph():
    unit = ModelConfig(input_size=32)
    assert unit.input_scale_offset() == ([1 / 255.0] * 3, [0.0] * 3)  # the papers' [0, 1] scaling
    caffe = ModelConfig(input_size=32, initial_weights="imagenet")
    scale, offset = caffe.input_scale_offset()
    assert scale == [1.0] * 3 and offset[0] == pytest.approx(-123.68)
    model = build_screener(unit)
    assert model.get_layer("input_normalisation") is not None
