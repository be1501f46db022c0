"""The screener: a backbone, a convolutional head, and a CAM-exact classifier.

    image (S, S, 3) RGB float32 in [0, 255]
      -> input normalisation (in the graph; [0, 1] scaling per the papers, or the
         pretrained weights' own normalisation)
      -> backbone conv base
      -> head: [1x1 conv -> batch norm -> ReLU -> 50% dropout] x n  (the papers' FC layers as convs)
      -> 1x1 conv to K classes  = "cam": (h, w, K) class-logit maps
      -> global average pooling = logits  (so CAM is exact, without gradients)
      -> softmax                = "probs": (K,)

Backend-agnostic Keras 3: runs under TensorFlow or JAX.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import layers

from .backbones import BACKBONES, BN_MOMENTUM, NORMALISATIONS, PretrainedCfg, backbone_spec

INITIAL_WEIGHTS = ("none", "imagenet", "vggface", "keras-hub")


@dataclass(frozen=True)
class ModelConfig:
    backbone: str = "vgg16"
    input_size: int = 224
    classes: tuple[str, ...] = ("control", "syndromic")
    positive_classes: tuple[str, ...] = ("syndromic",)
    head_filters: tuple[int, ...] = (512, 512)
    head_kernel: int = 1
    dropout: float = 0.5
    initial_weights: str = "none"

    def __post_init__(self) -> None:
        spec = backbone_spec(self.backbone)  # raises with the valid names
        if self.input_size < spec.min_size:
            raise ValueError(f"input_size must be >= {spec.min_size} for {self.backbone}, got {self.input_size}")
        if self.initial_weights not in INITIAL_WEIGHTS:
            raise ValueError(f"initial_weights must be one of {INITIAL_WEIGHTS}, got {self.initial_weights!r}")
        if self.initial_weights != "none" and self.initial_weights not in spec.pretrained:
            have = [n for n in BACKBONES.names() if self.initial_weights in backbone_spec(n).pretrained]
            title = backbone_spec(have[0]).pretrained[self.initial_weights].title if have else self.initial_weights
            raise ValueError(f"{title} weights exist for {', '.join(have)} only")
        if len(self.classes) < 2 or not set(self.positive_classes) < set(self.classes):
            raise ValueError(
                f"positive_classes {self.positive_classes} must be a proper subset of classes {self.classes}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def pretrained(self) -> PretrainedCfg | None:
        """The backbone's config for ``initial_weights`` (None: random initialisation)."""
        return None if self.initial_weights == "none" else backbone_spec(self.backbone).pretrained[self.initial_weights]

    @property
    def normalisation(self) -> str:
        return self.pretrained.normalisation if self.pretrained else "unit"

    def input_scale_offset(self) -> tuple[list[float], list[float]]:
        """Per-channel ``y = x * scale + offset`` from 0..255 RGB to what the backbone expects.
        (Caffe-style BGR order is folded into the first conv when such weights are loaded.)"""
        return NORMALISATIONS[self.normalisation].scale_offset()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["normalisation"] = self.normalisation
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        keys = {f for f in cls.__dataclass_fields__}
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in keys}
        return cls(**kw)


def build_screener(cfg: ModelConfig) -> keras.Model:
    """Build the screener with empty (or, later, loaded) backbone weights."""
    spec = backbone_spec(cfg.backbone)
    inp = keras.Input((cfg.input_size, cfg.input_size, 3), name="image", dtype="float32")
    scale, offset = cfg.input_scale_offset()
    x = layers.Rescaling(scale=scale, offset=offset, name="input_normalisation")(inp)
    base = spec.build(cfg.input_size)
    f = base(x)
    for i, n in enumerate(cfg.head_filters, start=1):
        f = layers.Conv2D(n, cfg.head_kernel, padding="same", use_bias=False, name=f"head_conv{i}")(f)
        f = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"head_bn{i}")(f)
        f = layers.ReLU(name=f"head_relu{i}")(f)
        f = layers.Dropout(cfg.dropout, name=f"head_dropout{i}")(f)
    cam = layers.Conv2D(len(cfg.classes), 1, name="cam", dtype="float32")(f)
    logits = layers.GlobalAveragePooling2D(name="logits", dtype="float32")(cam)
    probs = layers.Activation("softmax", name="probs", dtype="float32")(logits)
    return keras.Model(inp, {"probs": probs, "cam": cam}, name=f"facescreen_{cfg.backbone}")


def base_model(model: keras.Model) -> keras.Model:
    """The nested backbone (for weight loading and Grad-CAM)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            return layer
    raise ValueError("no nested backbone model found")
