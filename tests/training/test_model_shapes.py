"""The screener for every backbone: output shapes, and the CAM is exact (no gradients needed)."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.training.backbones import BACKBONES
from facescreen.training.model import ModelConfig, build_screener


@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_outputs_and_exact_cam(backbone):
    classes = ("healthy", "wbs", "other_syndrome")
    cfg = ModelConfig(
        backbone=backbone,
        input_size=64,
        classes=classes,
        positive_classes=("wbs", "other_syndrome"),
        head_filters=(32,),
    )
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


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backbone": "alexnet"}, "unknown backbone 'alexnet'.*vgg16"),
        ({"input_size": 16}, "input_size"),
        ({"initial_weights": "celeb"}, "initial_weights"),
        ({"backbone": "resnet18", "initial_weights": "vggface"}, "vgg16 only"),
        ({"positive_classes": ("control", "syndromic")}, "proper subset"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


@pytest.mark.parametrize(
    "backbone, init, kind, mean, std",
    [
        ("vgg16", "none", "unit", (0, 0, 0), (255, 255, 255)),  # the papers' [0, 1] scaling
        ("vgg16", "imagenet", "caffe", (123.68, 116.779, 103.939), (1, 1, 1)),
        ("vgg16", "vggface", "caffe-vggface", (129.1863, 104.7624, 93.594), (1, 1, 1)),
        ("resnet18", "imagenet", "torch", (123.68, 116.779, 103.939), (58.393, 57.12, 57.375)),
        ("mobilenet_v2", "imagenet", "tf", (127.5, 127.5, 127.5), (127.5, 127.5, 127.5)),
    ],
)
def test_input_normalisation_is_in_the_graph(backbone, init, kind, mean, std):
    """The backbone spec's normalisation for these weights, applied by the model's first layer."""
    cfg = ModelConfig(backbone=backbone, input_size=32, head_filters=(8,), initial_weights=init)
    assert cfg.normalisation == kind
    scale, offset = cfg.input_scale_offset()
    np.testing.assert_allclose(scale, 1 / np.array(std, float))
    np.testing.assert_allclose(offset, -np.array(mean, float) / np.array(std, float))
    if kind == "unit":
        assert [str(o) for o in offset] == ["0.0"] * 3  # not "-0.0" in the model card
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    layer_out = np.asarray(build_screener(cfg).get_layer("input_normalisation")(x))
    np.testing.assert_allclose(
        layer_out, (x - np.array(mean, "float32")) / np.array(std, "float32"), rtol=1e-5, atol=1e-4
    )


def test_weight_file_names_come_from_the_backbone_spec():
    from facescreen.training.weights import imagenet_file_names

    assert imagenet_file_names(ModelConfig(initial_weights="imagenet")) == [
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ]
    names = imagenet_file_names(ModelConfig(backbone="mobilenet_v2", input_size=160, initial_weights="imagenet"))
    assert names[0].endswith("1.0_160_no_top.h5") and len(names) == 5 and names[1].endswith("1.0_224_no_top.h5")
    assert imagenet_file_names(ModelConfig(backbone="resnet18", initial_weights="imagenet")) == []
    assert imagenet_file_names(ModelConfig()) == []  # random initialisation reads no file
