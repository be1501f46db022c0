"""Backbone registry. Each factory builds a headless Keras model ``(S, S, 3) -> (h, w, C)``.

Keras ships VGG-16/19 and MobileNet-V2; it ships no ResNet-18/34 (the second paper compares them),
so they are written here with the standard basic-block layout. Weights are always built empty
here; each spec says which pretrained weights fit it, how their input is normalised and which
files hold them (like timm's pretrained configs); :mod:`training.weights` loads them from
user-supplied files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

from facescreen.edge.registry import Registry

# ResNet batch-norm statistics follow PyTorch's momentum 0.1 (Keras: 0.9), as torchvision's ResNets were
# trained; Keras' default 0.99 leaves the moving statistics far behind in short fine-tuning runs.
BN_MOMENTUM = 0.9

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
IMAGENET_STD_RGB = (58.393, 57.12, 57.375)
VGGFACE_MEAN_RGB = (129.1863, 104.7624, 93.5940)  # Oxford VGG-Face (rcmalli keras_vggface version 1)
VGGFACE_FILE = "rcmalli_vggface_tf_notop_vgg16.h5"
MOBILENET_V2_ROWS = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class Normalisation:
    """What a set of weights expects from 0..255 RGB pixels: ``(x - mean) / std`` per channel, done
    in the graph. ``bgr``: the weights were trained on BGR input (the flip is folded into the first
    convolution when they are loaded, see training.weights)."""

    name: str
    mean_rgb: tuple[float, float, float]
    std_rgb: tuple[float, float, float]
    bgr: bool = False

    def scale_offset(self) -> tuple[list[float], list[float]]:
        """Per-channel ``y = x * scale + offset`` (what the model card records)."""
        return [1 / s for s in self.std_rgb], [0.0 - m / s for m, s in zip(self.mean_rgb, self.std_rgb)]


NORMALISATIONS = {
    n.name: n
    for n in (
        Normalisation("unit", (0.0, 0.0, 0.0), (255.0, 255.0, 255.0)),  # the papers' [0, 1]; no pretrained weights
        Normalisation("caffe", IMAGENET_MEAN_RGB, (1.0, 1.0, 1.0), bgr=True),
        Normalisation("caffe-vggface", VGGFACE_MEAN_RGB, (1.0, 1.0, 1.0), bgr=True),
        Normalisation("torch", IMAGENET_MEAN_RGB, IMAGENET_STD_RGB),
        Normalisation("tf", (127.5, 127.5, 127.5), (127.5, 127.5, 127.5)),
    )
}


@dataclass(frozen=True)
class PretrainedCfg:
    """One set of pretrained weights a backbone can start from (timm's pretrained config): how
    its input is normalised and which weight files fit it. Files are never downloaded."""

    title: str  # for messages: "ImageNet", "VGG-Face"
    normalisation: str  # a key of NORMALISATIONS
    files: Callable[[int], tuple[str, ...]] = lambda size: ()  # file names for an input size, best fit first
    keras_application: str | None = None  # keras.applications model whose weight file fits, if any

    @property
    def norm(self) -> Normalisation:
        return NORMALISATIONS[self.normalisation]


def _keras_vgg_files(app: str) -> Callable[[int], tuple[str, ...]]:
    return lambda size: (f"{app.lower()}_weights_tf_dim_ordering_tf_kernels_notop.h5",)


def _mobilenet_v2_files(size: int) -> tuple[str, ...]:
    rows = [size] if size in MOBILENET_V2_ROWS else []
    rows += [r for r in sorted(MOBILENET_V2_ROWS, reverse=True) if r not in rows]
    return tuple(f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{r}_no_top.h5" for r in rows)


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    build: Callable[[int], keras.Model]
    pretrained: dict[str, PretrainedCfg]  # initial-weights name ("imagenet", "vggface") -> its config
    min_size: int = 32


def _vgg(depth: int) -> Callable[[int], keras.Model]:
    def build(size: int) -> keras.Model:
        app = keras.applications.VGG16 if depth == 16 else keras.applications.VGG19
        return app(include_top=False, weights=None, input_shape=(size, size, 3), name=f"vgg{depth}")

    return build


def _mobilenet_v2(size: int) -> keras.Model:
    return keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(size, size, 3), alpha=1.0, name="mobilenet_v2"
    )


def _basic_block(x, filters: int, stride: int, name: str):
    shortcut = x
    y = layers.ZeroPadding2D(1, name=f"{name}_pad1")(x)
    y = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_conv1")(y)
    y = layers.BatchNormalization(epsilon=1e-5, momentum=BN_MOMENTUM, name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.ZeroPadding2D(1, name=f"{name}_pad2")(y)
    y = layers.Conv2D(filters, 3, use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(epsilon=1e-5, momentum=BN_MOMENTUM, name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_down_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=1e-5, momentum=BN_MOMENTUM, name=f"{name}_down_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def _resnet(blocks: tuple[int, int, int, int], name: str) -> Callable[[int], keras.Model]:
    def build(size: int) -> keras.Model:
        inp = keras.Input((size, size, 3), name="image")
        x = layers.ZeroPadding2D(3, name="conv1_pad")(inp)
        x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1")(x)
        x = layers.BatchNormalization(epsilon=1e-5, momentum=BN_MOMENTUM, name="bn1")(x)
        x = layers.ReLU(name="relu1")(x)
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
        for stage, (n, filters) in enumerate(zip(blocks, (64, 128, 256, 512)), start=1):
            for b in range(n):
                stride = 2 if (b == 0 and stage > 1) else 1
                x = _basic_block(x, filters, stride, f"layer{stage}_{b}")
        return keras.Model(inp, x, name=name)

    return build


def _keras_imagenet(app: str, normalisation: str, files: Callable[[int], tuple[str, ...]]) -> PretrainedCfg:
    return PretrainedCfg("ImageNet", normalisation, files, keras_application=app)


# ResNet-18/34: Keras ships no ImageNet weights; a user's .weights.h5 of the same architecture
# (e.g. converted from torchvision) expects torchvision's normalisation.
_TORCH_IMAGENET = PretrainedCfg("ImageNet", "torch")
_VGGFACE = PretrainedCfg("VGG-Face", "caffe-vggface", lambda size: (VGGFACE_FILE,))
# A KerasHub preset saved in a local folder (training.weights copies it layer by layer): KerasHub's
# ResNet and VGG ImageNet presets are ported from timm/torchvision and expect their normalisation.
_KERAS_HUB = PretrainedCfg("KerasHub", "torch")

BACKBONES: Registry[BackboneSpec] = Registry("backbone")
BACKBONES.register(
    "vgg16",
    lambda: BackboneSpec(
        "vgg16",
        _vgg(16),
        {
            "imagenet": _keras_imagenet("VGG16", "caffe", _keras_vgg_files("VGG16")),
            "vggface": _VGGFACE,
            "keras-hub": _KERAS_HUB,
        },
    ),
)
BACKBONES.register(
    "vgg19",
    lambda: BackboneSpec(
        "vgg19",
        _vgg(19),
        {"imagenet": _keras_imagenet("VGG19", "caffe", _keras_vgg_files("VGG19")), "keras-hub": _KERAS_HUB},
    ),
)
BACKBONES.register(
    "resnet18",
    lambda: BackboneSpec(
        "resnet18", _resnet((2, 2, 2, 2), "resnet18"), {"imagenet": _TORCH_IMAGENET, "keras-hub": _KERAS_HUB}
    ),
)
BACKBONES.register(
    "resnet34",
    lambda: BackboneSpec(
        "resnet34", _resnet((3, 4, 6, 3), "resnet34"), {"imagenet": _TORCH_IMAGENET, "keras-hub": _KERAS_HUB}
    ),
)
BACKBONES.register(
    "mobilenet_v2",
    lambda: BackboneSpec(
        "mobilenet_v2", _mobilenet_v2, {"imagenet": _keras_imagenet("MobileNetV2", "tf", _mobilenet_v2_files)}
    ),
)


def backbone_spec(name: str) -> BackboneSpec:
    return BACKBONES.create(name)
