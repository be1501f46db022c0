"""Initial weights from files the test writes itself (h5py), never downloaded."""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from facescreen.edge.errors import AssetMissingError
from facescreen.training.backbones import VGGFACE_MEAN_RGB
from facescreen.training.model import ModelConfig, base_model, build_screener
from facescreen.training.weights import WeightsError, load_initial_weights

SIZE = 32


def write_keras2_h5(path: Path, layers: list[tuple[str, list[np.ndarray]]]) -> Path:
    """A Keras 2 style HDF5 weight file (what keras_vggface and keras-applications ship)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        for name, arrays in layers:
            g = f.create_group(name)
            names = [f"{name}/kernel:0", f"{name}/bias:0"][: len(arrays)]
            g.attrs["weight_names"] = np.array([n.encode() for n in names], dtype="S")
            for n, a in zip(names, arrays):
                g.create_dataset(n, data=a)
    return path


@pytest.fixture(scope="module")
def reference_vgg16():
    """A plain Keras VGG-16 with random weights: stands for the BGR-trained Caffe network."""
    keras.utils.set_random_seed(11)
    return keras.applications.VGG16(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))


def _convs(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _vggface_layers(ref) -> list[tuple[str, list[np.ndarray]]]:
    names = [
        "conv1_1",
        "conv1_2",
        "pool1",
        "conv2_1",
        "conv2_2",
        "pool2",
        "conv3_1",
        "conv3_2",
        "conv3_3",
        "pool3",
        "conv4_1",
        "conv4_2",
        "conv4_3",
        "pool4",
        "conv5_1",
        "conv5_2",
        "conv5_3",
        "pool5",
    ]
    weights = iter([c.get_weights() for c in _convs(ref)])
    return [(n, [] if n.startswith("pool") else next(weights)) for n in names]


def test_vggface_maps_conv_by_conv_and_folds_bgr_into_the_first_kernel(tmp_path, reference_vgg16):
    path = write_keras2_h5(tmp_path / "rcmalli_vggface_tf_notop_vgg16.h5", _vggface_layers(reference_vgg16))
    cfg = ModelConfig(backbone="vgg16", input_size=SIZE, initial_weights="vggface", head_filters=(8,))
    model = build_screener(cfg)
    record = load_initial_weights(model, cfg, path)
    assert record.kind == "vggface" and record.sha256 and "conv1_1->block1_conv1" in record.note
    x = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    ours = base_model(model)(model.get_layer("input_normalisation")(x))  # RGB in, mean subtracted in the graph
    bgr_mean = np.array(VGGFACE_MEAN_RGB[::-1], dtype="float32")
    caffe = reference_vgg16(x[..., ::-1] - bgr_mean)  # the original network: BGR minus mean
    np.testing.assert_allclose(np.asarray(ours), np.asarray(caffe), rtol=1e-4, atol=1e-3)


def test_vggface_shape_or_count_mismatch_fails_loudly(tmp_path, reference_vgg16):
    layers = _vggface_layers(reference_vgg16)
    bad = [(n, [a[..., :-1] for a in w] if n == "conv2_1" else w) for n, w in layers]
    cfg = ModelConfig(backbone="vgg16", input_size=SIZE, initial_weights="vggface", head_filters=(8,))
    with pytest.raises(
        WeightsError, match=r"conv2_1 has kernel \(3, 3, 64, 127\).*block2_conv1 needs \(3, 3, 64, 128\)"
    ):
        load_initial_weights(build_screener(cfg), cfg, write_keras2_h5(tmp_path / "bad.h5", bad))
    short = [layer for layer in layers if layer[0] != "conv5_3"]
    with pytest.raises(WeightsError, match="holds 12 convolution layers.*has 13"):
        load_initial_weights(build_screener(cfg), cfg, write_keras2_h5(tmp_path / "short.h5", short))
    with pytest.raises(AssetMissingError, match="rcmalli_vggface_tf_notop_vgg16.h5"):
        load_initial_weights(build_screener(cfg), cfg, None)


def test_imagenet_from_the_local_keras_cache(tmp_path, monkeypatch, reference_vgg16):
    models = tmp_path / "keras_home" / "models"
    models.mkdir(parents=True)
    layers = [(layer.name, layer.get_weights()) for layer in reference_vgg16.layers]
    write_keras2_h5(models / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", layers)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    cfg = ModelConfig(backbone="vgg16", input_size=SIZE, initial_weights="imagenet", head_filters=(8,))
    model = build_screener(cfg)
    record = load_initial_weights(model, cfg)
    assert record.file.endswith("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    ours, ref = _convs(base_model(model)), _convs(reference_vgg16)
    np.testing.assert_array_equal(ours[0].get_weights()[0], ref[0].get_weights()[0][:, :, ::-1, :])  # BGR folded
    for a, b in zip(ours[1:], ref[1:]):
        np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])


@pytest.mark.parametrize(
    "backbone, size, file_name",
    [
        ("vgg16", 64, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("vgg19", 64, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("mobilenet_v2", 96, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"),
    ],
)
def test_offline_without_the_file_says_which_file_and_where(tmp_path, monkeypatch, backbone, size, file_name):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    cfg = ModelConfig(backbone=backbone, input_size=size, initial_weights="imagenet", head_filters=(8,))
    with pytest.raises(AssetMissingError) as info:
        load_initial_weights(build_screener(cfg), cfg)
    message = str(info.value)
    assert file_name in message and str(tmp_path / "empty" / "models") in message and "never downloads" in message


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, while meeting the resnet34 file
def test_resnet18_takes_a_weights_h5_of_the_same_architecture(tmp_path):
    from facescreen.training.backbones import backbone_spec

    keras.utils.set_random_seed(3)
    source = backbone_spec("resnet18").build(SIZE)
    path = tmp_path / "resnet18_imagenet.weights.h5"
    source.save_weights(str(path))
    cfg = ModelConfig(backbone="resnet18", input_size=SIZE, initial_weights="imagenet", head_filters=(8,))
    model = build_screener(cfg)
    load_initial_weights(model, cfg, path)
    for a, b in zip(base_model(model).weights, source.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(AssetMissingError, match="Keras ships no ImageNet weights for resnet18.*--weights"):
        load_initial_weights(build_screener(cfg), cfg)
    other = backbone_spec("resnet34").build(SIZE)
    other.save_weights(str(tmp_path / "r34.weights.h5"))
    with pytest.raises(WeightsError, match="does not fit the resnet18 backbone"):
        load_initial_weights(build_screener(cfg), cfg, tmp_path / "r34.weights.h5")
