"""KerasHub presets from a local folder: a preset built and saved here (never downloaded), loaded
into our backbone, gives the same features as KerasHub's own backbone; wrong architectures and
missing folders are refused with the reason."""

from __future__ import annotations

import keras_hub  # the Makefile installs it (--no-deps) with the train extra: missing is an error, not a skip
import numpy as np
import pytest

SIZE = 64


def _randomise(model, seed):
    """Random weights everywhere, batch-norm statistics included (so a mis-mapped layer shows)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights(
                [
                    rng.normal(0, 0.05, w.shape).astype(w.dtype)
                    if w.ndim > 1
                    else rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
                    for w in ws
                ]
            )


def _preset(tmp_path, hub_model, name):
    d = tmp_path / name
    hub_model.save_to_preset(str(d))
    return d


def _features(name, preset, x):
    import keras

    from facescreen.training.model import ModelConfig, base_model, build_screener
    from facescreen.training.weights import load_initial_weights

    cfg = ModelConfig(backbone=name, input_size=SIZE, head_filters=(8,), initial_weights="keras-hub")
    model = build_screener(cfg)
    record = load_initial_weights(model, cfg, preset)
    ours = np.asarray(base_model(model)(keras.ops.convert_to_tensor(x), training=False))
    return ours, record, cfg


def _hub_resnet(blocks: list[int]):
    """KerasHub's basic-block ResNet (18: [2, 2, 2, 2], 34: [3, 4, 6, 3]), as its presets build it."""
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=blocks,
        stackwise_num_strides=[1, 2, 2, 2],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(None, None, 3),
    )


@pytest.mark.parametrize("name", ["resnet18", "vgg16"])
def test_preset_weights_reproduce_keras_hubs_features(tmp_path, name):
    if name == "resnet18":
        hub = _hub_resnet([2, 2, 2, 2])
    else:
        hub = keras_hub.models.VGGBackbone(
            stackwise_num_repeats=[2, 2, 3, 3, 3],
            stackwise_num_filters=[64, 128, 256, 512, 512],
            image_shape=(None, None, 3),
        )
    _randomise(hub, 0)
    preset = _preset(tmp_path, hub, name)
    x = np.random.default_rng(1).normal(0, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
    ours, record, cfg = _features(name, preset, x)
    theirs = np.asarray(hub(x, training=False))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * float(np.abs(theirs).max()))
    assert record.kind == "keras-hub" and record.sha256 and "layers copied" in record.note
    assert cfg.normalisation == "torch"


def test_a_preset_of_another_architecture_is_refused(tmp_path):
    from facescreen.training.weights import WeightsError

    hub = _hub_resnet([3, 4, 6, 3])
    preset = _preset(tmp_path, hub, "resnet34")
    with pytest.raises(WeightsError, match=r"resnet18 needs .*stackwise_num_blocks=\[2, 2, 2, 2\]"):
        _features("resnet18", preset, np.zeros((1, SIZE, SIZE, 3), np.float32))


def test_keras_hub_needs_a_local_preset_folder(tmp_path):
    from facescreen.edge.errors import AssetMissingError
    from facescreen.training.model import ModelConfig
    from facescreen.training.weights import find_weights_file

    cfg = ModelConfig(backbone="resnet18", input_size=SIZE, initial_weights="keras-hub")
    with pytest.raises(AssetMissingError, match="never downloads"):
        find_weights_file(cfg, None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AssetMissingError, match="is not such a folder"):
        find_weights_file(cfg, tmp_path / "empty")
