"""The metadata every artifact carries, and how each format embeds it.

One dict (model card without its artifact list, target, precision, software and toolchain
versions, calibration-set hash, and after the check the parity figures) goes into ONNX
``metadata_props``, into the TFLite flatbuffer's ``metadata`` table, and into a ``.json`` sidecar
next to a TensorRT engine (an engine file has no metadata field), as well as into modelcard.json.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facescreen.edge.bundle import ModelCard, software_version
from facescreen.edge.registry import Registry

from .targets import Target

METADATA_KEY = "facescreen"  # TFLite metadata name / ONNX metadata_props key prefix


def artifact_metadata(
    card: ModelCard, target: Target, calibration: dict | None, toolchain: dict, parity: dict | None = None
) -> dict:
    card_dict = card.to_dict()
    card_dict.pop("artifacts", None)
    return {
        "target": target.name,
        "format": target.format,
        "precision": target.precision,
        "software_version": software_version(),
        "toolchain": toolchain,
        "converted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "calibration": calibration,
        "parity": parity,
        "inputs": {
            "image": f"(N, {card.input.size}, {card.input.size}, 3) {card.input.dtype} {card.input.colour} "
            f"{card.input.value_range[0]:g}..{card.input.value_range[1]:g} (scaling in the graph)"
        },
        "outputs": card_dict["outputs"],
        "model_card": card_dict,
    }


def _embed_onnx(path: Path, meta: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    props.update({f"{METADATA_KEY}.{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in meta.items()})
    del model.metadata_props[:]
    for k, v in sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(path))


def _read_onnx(path: Path) -> dict | None:
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    prefix = METADATA_KEY + "."
    out = {}
    for k, v in props.items():
        if k.startswith(prefix):
            try:
                out[k[len(prefix) :]] = json.loads(v)
            except json.JSONDecodeError:
                out[k[len(prefix) :]] = v
    return out or None


def _embed_tflite(path: Path, meta: dict) -> None:
    from .tf_export import add_tflite_metadata, read_tflite_metadata

    data = path.read_bytes()
    if read_tflite_metadata(data, METADATA_KEY) is not None:
        raise ValueError(f"{path} already carries {METADATA_KEY!r} metadata")
    path.write_bytes(add_tflite_metadata(data, METADATA_KEY, meta))


def _read_tflite(path: Path) -> dict | None:
    from .tf_export import read_tflite_metadata

    return read_tflite_metadata(path.read_bytes(), METADATA_KEY)


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _embed_sidecar(path: Path, meta: dict) -> None:
    sidecar(path).write_text(json.dumps(meta, indent=2))


def _read_sidecar(path: Path) -> dict | None:
    s = sidecar(path)
    return json.loads(s.read_text()) if s.is_file() else None


@dataclass(frozen=True)
class MetadataCarrier:
    """How one artifact format carries the metadata dict."""

    embed: Callable[[Path, dict], None]
    read: Callable[[Path], dict | None]
    in_file: bool  # True: embedding rewrites the artifact (so its outputs are checked again);
    # False: a ``.json`` sidecar beside it (the artifact's bytes are untouched)

    def files(self, path: Path) -> list[Path]:
        """The files an embedded artifact consists of."""
        return [path] if self.in_file else [path, sidecar(path)]


CARRIERS: Registry[MetadataCarrier] = Registry("artifact format with metadata")
CARRIERS.register("onnx", lambda: MetadataCarrier(_embed_onnx, _read_onnx, in_file=True))
CARRIERS.register("tflite", lambda: MetadataCarrier(_embed_tflite, _read_tflite, in_file=True))
CARRIERS.register(
    "tensorrt", lambda: MetadataCarrier(_embed_sidecar, _read_sidecar, in_file=False)
)  # no field in an engine


def carrier(fmt: str) -> MetadataCarrier:
    return CARRIERS.create(fmt)


def embed(path: Path, target: Target, meta: dict) -> None:
    """Write ``meta`` into the artifact at ``path`` (or its sidecar), in place."""
    carrier(target.format).embed(path, meta)


def read_embedded(path: Path, target_format: str) -> dict | None:
    """What :func:`embed` wrote (for tests and for people inspecting an artifact)."""
    return carrier(target_format).read(path)
