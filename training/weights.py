"""Initial weights for the backbone, always from a file on this machine; nothing is downloaded.

- ``imagenet``: Keras' own "notop" weight file for VGG-16/19 and MobileNet-V2, read from the
  given file or the local Keras cache (``$KERAS_HOME/models`` or ``~/.keras/models``). Keras
  ships no ResNet-18/34, so for those give a ``.weights.h5`` of facescreen's own backbone of the
  same architecture (e.g. converted from torchvision).
- ``vggface``: Oxford's VGG-Face in its Keras conversion (rcmalli keras_vggface,
  ``rcmalli_vggface_tf_notop_vgg16.h5``, layers ``conv1_1``..``conv5_3``), mapped onto our
  VGG-16 conv by conv, in order; any shape mismatch is an error.
- ``keras-hub``: a KerasHub preset saved in a local folder (``config.json`` + ``model.weights.h5``,
  e.g. ``keras_hub.models.Backbone.from_preset("resnet_18_imagenet").save_to_preset(DIR)`` on a
  machine with network access, or a timm/torchvision checkpoint converted by KerasHub). Its
  ResNetBackbone (basic blocks, ResNet-18/34) or VGGBackbone (VGG-16/19) is checked against our
  backbone's architecture and copied layer by layer; the input normalisation is ImageNet mean/std
  (``torch``), as KerasHub's ported ImageNet presets expect.
- ``none``: the backbone's random initialisation.

Caffe-style weights (VGG-Face, and Keras' ImageNet VGGs) were trained on BGR input. The model
takes RGB, so the channel flip is folded into the first convolution's kernel (its input-channel
axis is reversed); the mean subtraction already happens in the graph (see training.model).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from facescreen.edge.bundle import sha256_file
from facescreen.edge.errors import AssetMissingError
from facescreen.edge.registry import Registry

from .backbones import VGGFACE_FILE
from .model import ModelConfig, base_model

KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


class WeightsError(ValueError):
    """A weight file does not fit the backbone; the message says where it does not."""


@dataclass(frozen=True)
class WeightsRecord:
    """What was loaded: recorded in the model card."""

    kind: str
    file: str | None = None
    sha256: str | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "file": self.file, "sha256": self.sha256, "note": self.note}


def keras_cache_dirs() -> list[Path]:
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    return [home / "models", Path("/tmp/.keras/models")]


def imagenet_file_names(cfg: ModelConfig) -> list[str]:
    """Keras' file name(s) for this backbone's ImageNet "notop" weights, the best fit first (from
    the backbone's spec, training.backbones)."""
    return list(cfg.pretrained.files(cfg.input_size)) if cfg.pretrained else []


def _keras_url(name: str) -> str:
    folder = name.split("_weights")[0]
    return f"{KERAS_APPLICATIONS_URL}{folder}/{name}"


def _find_imagenet_file(cfg: ModelConfig) -> Path:
    names = imagenet_file_names(cfg)
    dirs = keras_cache_dirs()
    for name in names:
        for d in dirs:
            if (d / name).is_file():
                return d / name
    raise AssetMissingError(
        f"ImageNet weights for {cfg.backbone} are not on this machine, and facescreen never downloads at run time. "
        f"Put Keras' file {names[0]} into {dirs[0]}/ (it is published at {_keras_url(names[0])}), "
        f"or pass its path with --weights FILE; or train from scratch with --init none."
    )


def fold_bgr_into_first_conv(backbone: keras.Model) -> str:
    """Reverse the input-channel axis of the first convolution: BGR-trained weights then take RGB."""
    convs = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise WeightsError(f"{backbone.name} has no convolution to fold the RGB->BGR flip into")
    first = convs[0]
    kernel, *rest = first.get_weights()
    if kernel.shape[2] != 3:
        raise WeightsError(f"{first.name} takes {kernel.shape[2]} channels, not 3")
    first.set_weights([kernel[:, :, ::-1, :].copy(), *rest])
    return first.name


def _load_keras_file(backbone: keras.Model, path: Path, what: str) -> None:
    try:
        backbone.load_weights(str(path))
    except Exception as exc:  # Keras raises ValueError/KeyError/OSError for files of another architecture
        raise WeightsError(f"{path} does not fit the {backbone.name} backbone ({what}): {exc}") from None


def _imagenet_file(cfg: ModelConfig, weights: Path | None) -> Path:
    if weights is not None:
        return weights
    if cfg.pretrained.keras_application is None:
        raise AssetMissingError(
            f"Keras ships no ImageNet weights for {cfg.backbone}; pass --weights FILE, a .weights.h5 saved "
            f"from facescreen's {cfg.backbone} backbone (training.backbones) with ImageNet weights, "
            "or train from scratch with --init none."
        )
    return _find_imagenet_file(cfg)


def _vggface_file(cfg: ModelConfig, weights: Path | None) -> Path:
    if weights is None:
        raise AssetMissingError(
            f"--init vggface needs the VGG-Face weight file: pass --weights FILE, the Keras conversion of "
            f"Oxford's VGG-Face for VGG-16 without the top (keras_vggface's {VGGFACE_FILE}); "
            "facescreen never downloads at run time. Or use --init imagenet / --init none."
        )
    return weights


def _imagenet(model: keras.Model, cfg: ModelConfig, path: Path) -> WeightsRecord:
    pre = cfg.pretrained
    backbone = base_model(model)
    if pre.keras_application is None:
        _load_keras_file(backbone, path, f"expected a .weights.h5 of facescreen's {cfg.backbone}")
        return WeightsRecord(
            "imagenet", str(path), sha256_file(path), f"{cfg.backbone} .weights.h5 supplied by the user"
        )
    _load_keras_file(backbone, path, f"expected Keras' {imagenet_file_names(cfg)[0]}")
    note = f"Keras {pre.keras_application} ImageNet notop weights"
    if pre.norm.bgr:
        note += f"; BGR->RGB folded into {fold_bgr_into_first_conv(backbone)}"
    return WeightsRecord("imagenet", str(path), sha256_file(path), note)


def read_legacy_conv_layers(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(layer name, kernel, bias)`` of every convolution in a Keras 2 HDF5 weight file, in the
    file's layer order. Fully connected layers (``fc*``, the classifier top) are skipped."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise WeightsError(f"{path} is not an HDF5 weight file: {exc}") from None
    with f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in group.attrs:
            raise WeightsError(
                f"{path} is not a Keras 2 HDF5 weight file (no 'layer_names' attribute); "
                f"expected e.g. keras_vggface's {VGGFACE_FILE}"
            )
        out = []
        for raw in group.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            g = group[name]
            values = [np.asarray(g[w.decode() if isinstance(w, bytes) else w]) for w in g.attrs.get("weight_names", [])]
            if name.startswith("fc") or not values:
                continue
            if values[0].ndim == 4:
                if len(values) != 2:
                    raise WeightsError(f"{path}: layer {name} holds {len(values)} arrays; expected kernel and bias")
                out.append((name, values[0], values[1]))
    return out


def _vggface(model: keras.Model, cfg: ModelConfig, weights: Path) -> WeightsRecord:
    layers = read_legacy_conv_layers(weights)
    backbone = base_model(model)
    convs = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
    if len(layers) != len(convs):
        raise WeightsError(
            f"{weights} holds {len(layers)} convolution layers "
            f"({', '.join(n for n, _, _ in layers[:4])}...); {backbone.name} has {len(convs)}"
        )
    for (name, kernel, bias), conv in zip(layers, convs):
        want_k, want_b = (tuple(w.shape) for w in conv.weights)
        if tuple(kernel.shape) != want_k or tuple(bias.shape) != want_b:
            raise WeightsError(
                f"{weights}: layer {name} has kernel {tuple(kernel.shape)} / bias {tuple(bias.shape)}, "
                f"but {conv.name} needs {want_k} / {want_b}"
            )
        conv.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    first = fold_bgr_into_first_conv(backbone)
    return WeightsRecord(
        "vggface",
        str(weights),
        sha256_file(weights),
        f"VGG-Face mapped conv by conv ({layers[0][0]}->{convs[0].name} ... "
        f"{layers[-1][0]}->{convs[-1].name}); BGR->RGB folded into {first}",
    )


KERAS_HUB_INSTALL = "pip install --no-deps keras-hub==0.32.0 (its image backbones need no tensorflow-text)"
# facescreen ResNet layer -> KerasHub ResNetBackbone layer, per block (stack s, block b)
_RESNET_BLOCK_LAYERS = (
    ("conv1", "1_conv"),
    ("bn1", "1_bn"),
    ("conv2", "2_conv"),
    ("bn2", "2_bn"),
    ("down_conv", "0_conv"),
    ("down_bn", "0_bn"),
)
_RESNET_BLOCKS = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3]}
_VGG_REPEATS = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}


def _keras_hub_dir(cfg: ModelConfig, weights: Path | None) -> Path:
    if weights is None or not weights.is_dir() or not (weights / "config.json").is_file():
        raise AssetMissingError(
            "--init keras-hub needs --weights PRESET_DIR, a KerasHub preset saved in a local folder (config.json, "
            "model.weights.h5); facescreen never downloads at run time. Make one where the network is allowed: "
            "python -c \"import keras_hub; keras_hub.models.Backbone.from_preset('resnet_18_imagenet')"
            ".save_to_preset('resnet18-preset')\"" + (f"; {weights} is not such a folder" if weights else "")
        )
    return weights


def _keras_hub_pairs(hub: keras.Model, cfg: ModelConfig, backbone: keras.Model, preset: Path) -> list[tuple]:
    """(KerasHub layer, our layer) pairs; raises when the preset's architecture is not our backbone's."""
    conf = hub.get_config()
    kind = type(hub).__name__
    name = cfg.backbone
    if name in _RESNET_BLOCKS:
        want = {
            "block_type": "basic_block",
            "use_pre_activation": False,
            "stackwise_num_blocks": _RESNET_BLOCKS[name],
            "stackwise_num_filters": [64, 128, 256, 512],
            "input_conv_filters": [64],
            "input_conv_kernel_sizes": [7],
        }
        if kind != "ResNetBackbone" or any(
            list(conf.get(k) or []) != v if isinstance(v, list) else conf.get(k) != v for k, v in want.items()
        ):
            raise WeightsError(
                f"{preset}: a {kind} with {', '.join(f'{k}={conf.get(k)}' for k in want)}; "
                f"{name} needs {', '.join(f'{k}={v}' for k, v in want.items())}"
            )
        pairs = [("conv1_conv", "conv1"), ("conv1_bn", "bn1")]
        for st, n in enumerate(_RESNET_BLOCKS[name]):
            for b in range(n):
                for ours, theirs in _RESNET_BLOCK_LAYERS:
                    if ours.startswith("down") and (b > 0 or st == 0):
                        continue
                    pairs.append((f"stack{st}_block{b}_{theirs}", f"layer{st + 1}_{b}_{ours}"))
        return [(hub.get_layer(a), backbone.get_layer(b)) for a, b in pairs]
    if name in _VGG_REPEATS:
        if kind != "VGGBackbone" or list(conf.get("stackwise_num_repeats", [])) != _VGG_REPEATS[name]:
            raise WeightsError(
                f"{preset}: a {kind} with stackwise_num_repeats={conf.get('stackwise_num_repeats')}; "
                f"{name} needs VGGBackbone with {_VGG_REPEATS[name]}"
            )
        theirs = [layer for layer in hub.layers if isinstance(layer, keras.layers.Conv2D)]
        ours = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
        return list(zip(theirs, ours))
    raise WeightsError(f"--init keras-hub supports {', '.join(list(_RESNET_BLOCKS) + list(_VGG_REPEATS))}, not {name}")


def _keras_hub(model: keras.Model, cfg: ModelConfig, preset: Path) -> WeightsRecord:
    try:
        import keras_hub
    except ImportError:
        raise AssetMissingError(f"--init keras-hub needs the keras-hub package: {KERAS_HUB_INSTALL}") from None
    try:
        hub = keras_hub.models.Backbone.from_preset(str(preset))  # a local folder: nothing is downloaded
    except Exception as exc:  # keras-hub raises ValueError/KeyError/OSError for folders it cannot read
        raise WeightsError(
            f"{preset} is not a KerasHub backbone preset keras-hub {keras_hub.__version__} can read: {exc}"
        ) from None
    backbone = base_model(model)
    pairs = _keras_hub_pairs(hub, cfg, backbone, preset)
    for src, dst in pairs:
        got, want = [tuple(w.shape) for w in src.weights], [tuple(w.shape) for w in dst.weights]
        if got != want:
            raise WeightsError(f"{preset}: layer {src.name} holds {got}, but {dst.name} needs {want}")
        dst.set_weights(src.get_weights())
    files = sorted(preset.glob("*.weights.h5"))
    return WeightsRecord(
        "keras-hub",
        str(preset),
        sha256_file(files[0]) if files else None,
        f"KerasHub {type(hub).__name__} preset (keras-hub {keras_hub.__version__}), "
        f"{len(pairs)} layers copied ({pairs[0][0].name}->{pairs[0][1].name} ... "
        f"{pairs[-1][0].name}->{pairs[-1][1].name})",
    )


def _none(model: keras.Model, cfg: ModelConfig, weights: Path | None) -> WeightsRecord:
    return WeightsRecord("none", note="random initialisation")


@dataclass(frozen=True)
class Initialiser:
    find: Callable[[ModelConfig, Path | None], Path | None]  # the file to read, or an error that names it
    load: Callable[[keras.Model, ModelConfig, Path | None], WeightsRecord]


INITIALISERS: Registry[Initialiser] = Registry("initial weights")
INITIALISERS.register("none", lambda: Initialiser(lambda cfg, w: None, _none))
INITIALISERS.register("imagenet", lambda: Initialiser(_imagenet_file, _imagenet))
INITIALISERS.register("vggface", lambda: Initialiser(_vggface_file, _vggface))
INITIALISERS.register("keras-hub", lambda: Initialiser(_keras_hub_dir, _keras_hub))


def find_weights_file(cfg: ModelConfig, weights: str | Path | None = None) -> Path | None:
    """The file ``cfg.initial_weights`` will be read from; raises before any work is done if it is
    missing (the command line checks this before aligning the photos)."""
    path = Path(weights).expanduser() if weights else None
    if path is not None and not path.exists():
        raise AssetMissingError(f"no such weight file or preset folder: {path}")
    return INITIALISERS.create(cfg.initial_weights).find(cfg, path)


def load_initial_weights(model: keras.Model, cfg: ModelConfig, weights: str | Path | None = None) -> WeightsRecord:
    """Load ``cfg.initial_weights`` into the model's backbone; returns what was loaded."""
    return INITIALISERS.create(cfg.initial_weights).load(model, cfg, find_weights_file(cfg, weights))
