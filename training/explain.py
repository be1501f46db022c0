"""Heat maps over the aligned faces: CAM and Grad-CAM.

CAM is exact for this model: its ``cam`` output holds the class-logit maps whose spatial mean is
the logits (see training.model), so :func:`edge.postprocess.screening_cam` needs no gradients.

Grad-CAM (Selvaraju et al. 2017) weighs the backbone's output channels by the spatial mean of the
gradient of the screening logit, ``log(sum p_positive) - log(sum p_negative)``, with respect to
them, and keeps the positive part of the weighted sum. The gradient is taken by the running Keras
backend, one small function per backend in a registry (TensorFlow and JAX).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from facescreen.edge.postprocess import overlay_cam, screening_cam
from facescreen.edge.registry import Registry

from .model import base_model


def cam_maps(cams: np.ndarray, positive: list[int], size: int) -> np.ndarray:
    """``(N, h, w, K)`` class-logit maps -> ``(N, size, size)`` screening CAMs in [0, 1]."""
    return np.stack([screening_cam(c, positive, size) for c in cams])


def split_at_backbone(model: keras.Model) -> tuple[Callable, Callable]:
    """``(features, head)``: image -> backbone output, and backbone output -> logits, reusing the
    model's own layers (the screener is a chain: input -> normalisation -> backbone -> head)."""
    backbone = base_model(model)
    names = [layer.name for layer in model.layers]
    b = names.index(backbone.name)
    pre = [layer for layer in model.layers[1 : b + 1]]
    head_layers = model.layers[b + 1 : names.index("logits") + 1]

    def chain(layers):
        def run(x):
            for layer in layers:
                x = layer(x, training=False) if _takes_training(layer) else layer(x)
            return x

        return run

    return chain(pre), chain(head_layers)


def _takes_training(layer) -> bool:
    return isinstance(layer, (keras.Model, keras.layers.BatchNormalization, keras.layers.Dropout))


def screening_logit(logits, positive: list[int]):
    negative = [k for k in range(logits.shape[-1]) if k not in positive]
    pos = keras.ops.take(logits, positive, axis=-1)
    neg = keras.ops.take(logits, negative, axis=-1)
    return keras.ops.logsumexp(pos, axis=-1) - keras.ops.logsumexp(neg, axis=-1)


def _tf_gradient(fn: Callable, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    t = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = tf.reduce_sum(fn(t))
    return tape.gradient(y, t).numpy()


def _jax_gradient(fn: Callable, x: np.ndarray) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    return np.asarray(jax.grad(lambda t: jnp.sum(fn(t)))(jnp.asarray(x)))


GRADIENTS: Registry[np.ndarray] = Registry("Keras backend for Grad-CAM")
GRADIENTS.register("tensorflow", lambda: _tf_gradient)
GRADIENTS.register("jax", lambda: _jax_gradient)


def gradcam_lowres(model: keras.Model, faces: np.ndarray, positive: list[int]) -> np.ndarray:
    """``(N, h, w)`` Grad-CAM at the backbone's resolution, before upsampling and scaling."""
    features, head = split_at_backbone(model)
    feats = np.asarray(features(np.asarray(faces, np.float32)), dtype=np.float32)
    grad = GRADIENTS.create(keras.backend.backend())(lambda f: screening_logit(head(f), positive), feats)
    weights = grad.mean(axis=(1, 2), keepdims=True)
    return np.maximum((weights * feats).sum(-1), 0.0)


def gradcam_maps(model: keras.Model, faces: np.ndarray, positive: list[int], size: int) -> np.ndarray:
    """``(N, size, size)`` Grad-CAM maps in [0, 1] for the screening logit."""
    import cv2

    out = []
    for m in gradcam_lowres(model, faces, positive):
        up = np.maximum(cv2.resize(m.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC), 0.0)
        hi = float(up.max())
        out.append(up / hi if hi > 1e-12 else np.zeros_like(up))
    return np.stack(out)


def explanation_panel(
    faces: np.ndarray, maps: dict[str, np.ndarray], titles: list[str], path: Path, heading: str = ""
) -> Path:
    """A grid: one row per face, the aligned face then each heat map laid over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 1 + len(maps)
    fig, axes = plt.subplots(len(faces), cols, figsize=(2.2 * cols, 2.3 * len(faces)), squeeze=False)
    for i, face in enumerate(faces):
        axes[i, 0].imshow(face)
        axes[i, 0].set_title(titles[i], fontsize=7)
        for j, (name, m) in enumerate(maps.items(), start=1):
            axes[i, j].imshow(overlay_cam(face, m[i]))
            if i == 0:
                axes[i, j].set_title(name, fontsize=8)
        for ax in axes[i]:
            ax.axis("off")
    if heading:
        import textwrap

        fig.suptitle("\n".join(textwrap.wrap(heading, width=18 * cols)), fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
