"""Multiply-add count of a Keras model (x2 = FLOPs), recorded in the model card so the benchmark
can report achieved GFLOP/s against the machine's measured matmul peak."""

from __future__ import annotations

import keras


def _layer_flops(layer) -> int:
    if isinstance(layer, keras.Model):
        return sum(_layer_flops(sub) for sub in layer.layers)
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
        out = layer.output.shape  # (N, H, W, C)
        kh, kw = layer.kernel_size
        cin = layer.input.shape[-1]
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            return 2 * out[1] * out[2] * kh * kw * out[3]
        return 2 * out[1] * out[2] * kh * kw * (cin // layer.groups) * out[3]
    if isinstance(layer, keras.layers.Dense):
        return 2 * layer.input.shape[-1] * layer.units
    return 0


def count_flops(model: keras.Model) -> int:
    """FLOPs of one image through the convolutions and dense layers (the bulk of the work)."""
    return int(sum(_layer_flops(layer) for layer in model.layers))
