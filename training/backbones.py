"""Backbone registry. Each factory builds a headless Keras model ``(S, S, 3) -> (h, w, C)``.

Keras ships VGG-16/19 and MobileNet-V2; it ships no ResNet-18/34 (the second paper compares them),
so they are written here with the standard basic-block layout. Weights are always built empty
here; pretrained weights are loaded from user-supplied files by :mod:`training.weights`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers

from facescreen.edge.registry import Registry

# How each backbone's ImageNet weights expect their input, from 0..255 RGB (see training.model).
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
IMAGENET_STD_RGB = (58.393, 57.12, 57.375)
# ResNet batch-norm statistics follow PyTorch's momentum 0.1 (Keras: 0.9), as torchvision's ResNets were
# trained; Keras' default 0.99 leaves the moving statistics far behind in short fine-tuning runs.
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    build: Callable[[int], keras.Model]
    imagenet_normalisation: str     # "caffe" | "torch" | "tf"
    keras_application: str | None   # keras.applications name whose weight file fits, if any
    min_size: int = 32


def _vgg(depth: int) -> Callable[[int], keras.Model]:
    def build(size: int) -> keras.Model:
        app = keras.applications.VGG16 if depth == 16 else keras.applications.VGG19
        return app(include_top=False, weights=None, input_shape=(size, size, 3), name=f"vgg{depth}")
    return build


def _mobilenet_v2(size: int) -> keras.Model:
    return keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(size, size, 3),
                                          alpha=1.0, name="mobilenet_v2")


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


BACKBONES: Registry[BackboneSpec] = Registry("backbone")
BACKBONES.register("vgg16", lambda: BackboneSpec("vgg16", _vgg(16), "caffe", "VGG16"))
BACKBONES.register("vgg19", lambda: BackboneSpec("vgg19", _vgg(19), "caffe", "VGG19"))
BACKBONES.register("resnet18", lambda: BackboneSpec("resnet18", _resnet((2, 2, 2, 2), "resnet18"), "torch", None))
BACKBONES.register("resnet34", lambda: BackboneSpec("resnet34", _resnet((3, 4, 6, 3), "resnet34"), "torch", None))
BACKBONES.register("mobilenet_v2", lambda: BackboneSpec("mobilenet_v2", _mobilenet_v2, "tf", "MobileNetV2"))


def backbone_spec(name: str) -> BackboneSpec:
    return BACKBONES.create(name)
