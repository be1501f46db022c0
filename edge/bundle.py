"""The model bundle: a directory with ``modelcard.json`` plus model artifacts.

It travels from training to the converters to the kiosk. The model card is data every runtime
reads (input size, colour order, scaling, classes, threshold, alignment template), so that
preprocessing can never drift between them. One loader validates it.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .align import AlignmentTemplate, DEFAULT_TEMPLATE
from .errors import BundleError

SCHEMA_VERSION = 1
MODELCARD = "modelcard.json"
DEFAULT_INTENDED_USE = (
    "Research prototype for referral screening of children's frontal face photos for genetic evaluation. "
    "Not a diagnostic device; not validated for clinical use."
)
ARTIFACT_FORMATS = ("keras", "tflite", "onnx", "tensorrt")


def software_version() -> str:
    try:
        from importlib.metadata import version

        return version("facescreen")
    except Exception:
        return "0+unknown"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# What every runtime feeds a screener graph (edge.pipeline -> backends.base.check_batch): aligned
# RGB crops as float32 pixels in [0, 255]; int8 artifacts quantise that inside their backend.
RUNTIME_DTYPE = "float32"
RUNTIME_VALUE_RANGE = (0.0, 255.0)


def _default_normalisation() -> dict:
    return {"in_graph": True, "scale": [1 / 255.0] * 3, "offset": [0.0] * 3}


NORMALISATION_KEYS = ("in_graph", "kind", "scale", "offset", "note")


@dataclass(frozen=True)
class InputSpec:
    """What the model graph takes: ``size`` x ``size`` RGB float32 pixels in [0, 255]; the
    scaling to [0, 1] (and any backbone normalisation) is inside the graph.

    Every field is either honoured by every runtime or refused when the card is loaded: the
    runtimes feed exactly ``RUNTIME_DTYPE`` pixels in ``RUNTIME_VALUE_RANGE`` and never normalise
    outside the graph, so a card asking for anything else would be silently misread. The
    normalisation's ``scale``/``offset`` describe the graph's own first layer (for people and for
    re-implementations); the converters' parity gate proves each artifact kept it."""

    size: int = 224
    colour: str = "RGB"
    dtype: str = RUNTIME_DTYPE
    value_range: tuple[float, float] = RUNTIME_VALUE_RANGE
    normalisation: dict = field(default_factory=_default_normalisation)

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError(f"input size must be >= 32, got {self.size}")
        if self.colour != "RGB":
            raise ValueError(f"only RGB input is supported, got {self.colour!r}")
        why = "facescreen's runtimes feed the graph float32 RGB pixels in [0, 255], nothing else"
        if self.dtype != RUNTIME_DTYPE:
            raise BundleError(f"model card input.dtype {self.dtype!r} cannot be honoured: {why}; "
                              f"export the model with a float32 input (quantised artifacts convert inside their backend)")
        if tuple(float(v) for v in self.value_range) != RUNTIME_VALUE_RANGE:
            raise BundleError(f"model card input.value_range {list(self.value_range)} cannot be honoured: {why}; "
                              f"put the scaling inside the graph (a Rescaling layer) and record [0, 255]")
        n = self.normalisation
        if not isinstance(n, dict) or n.get("in_graph") is not True:
            raise BundleError(f"model card input.normalisation {n!r} cannot be honoured: no runtime normalises "
                              f"outside the graph; put it inside the graph and record in_graph: true")
        unknown = sorted(set(n) - set(NORMALISATION_KEYS))
        if unknown:
            raise BundleError(f"model card input.normalisation has key(s) {unknown} that no runtime reads; "
                              f"expected only {list(NORMALISATION_KEYS)}")
        for key in ("scale", "offset"):
            v = n.get(key)
            if v is not None and (not isinstance(v, (list, tuple)) or len(v) != 3
                                  or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)):
                raise BundleError(f"model card input.normalisation.{key} must be three finite numbers (one per "
                                  f"RGB channel), got {v!r}")

    def to_dict(self) -> dict:
        return {"size": self.size, "colour": self.colour, "dtype": self.dtype,
                "value_range": list(self.value_range), "normalisation": self.normalisation}

    @classmethod
    def from_dict(cls, d: dict) -> "InputSpec":
        return cls(int(d["size"]), d.get("colour", "RGB"), d.get("dtype", RUNTIME_DTYPE),
                   tuple(d.get("value_range", RUNTIME_VALUE_RANGE)),
                   d.get("normalisation", _default_normalisation()))


@dataclass(frozen=True)
class ModelCard:
    model_id: str
    classes: tuple[str, ...]
    positive_classes: tuple[str, ...]
    threshold: float
    backbone: str
    input: InputSpec = field(default_factory=InputSpec)
    alignment: AlignmentTemplate = DEFAULT_TEMPLATE
    initial_weights: str = "none"
    version: str = "1"
    training_data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)  # name -> {file, format, precision, sha256, size_bytes, ...}
    intended_use: str = DEFAULT_INTENDED_USE
    not_for_clinical_use: bool = True
    created_at: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    software_version: str = field(default_factory=software_version)
    notes: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise BundleError(f"model card schema_version {self.schema_version} is not supported (expected {SCHEMA_VERSION})")
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise BundleError(f"classes must be >= 2 distinct names, got {list(self.classes)}")
        missing = [c for c in self.positive_classes if c not in self.classes]
        if not self.positive_classes or missing:
            raise BundleError(f"positive_classes {list(self.positive_classes)} must be a non-empty subset of classes {list(self.classes)}")
        if len(self.positive_classes) == len(self.classes):
            raise BundleError("at least one class must be negative (not in positive_classes)")
        if not 0.0 < self.threshold < 1.0:
            raise BundleError(f"threshold must be in (0, 1), got {self.threshold}")
        for name, art in self.artifacts.items():
            if art.get("format") not in ARTIFACT_FORMATS:
                raise BundleError(f"artifact {name!r} has format {art.get('format')!r}; expected one of {ARTIFACT_FORMATS}")
            if "file" not in art:
                raise BundleError(f"artifact {name!r} names no file")

    @property
    def positive_indices(self) -> list[int]:
        return [self.classes.index(c) for c in self.positive_classes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "model_id": self.model_id,
            "version": self.version,
            "created_at": self.created_at,
            "software_version": self.software_version,
            "intended_use": self.intended_use,
            "not_for_clinical_use": self.not_for_clinical_use,
            "backbone": self.backbone,
            "initial_weights": self.initial_weights,
            "classes": list(self.classes),
            "positive_classes": list(self.positive_classes),
            "threshold": self.threshold,
            "input": self.input.to_dict(),
            "alignment": self.alignment.to_dict(),
            "outputs": {"probs": "(N, classes) softmax probabilities",
                        "cam": "(N, h, w, classes) class-logit maps; their spatial mean gives the logits"},
            "training_data": self.training_data,
            "metrics": self.metrics,
            "artifacts": self.artifacts,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ModelCard":
        required = ("model_id", "classes", "positive_classes", "threshold", "backbone", "input", "alignment")
        missing = [k for k in required if k not in d]
        if missing:
            raise BundleError(f"model card is missing field(s): {', '.join(missing)}")
        try:
            return cls(
                model_id=d["model_id"], version=str(d.get("version", "1")),
                classes=tuple(d["classes"]), positive_classes=tuple(d["positive_classes"]),
                threshold=float(d["threshold"]), backbone=d["backbone"],
                input=InputSpec.from_dict(d["input"]), alignment=AlignmentTemplate.from_dict(d["alignment"]),
                initial_weights=d.get("initial_weights", "none"), training_data=d.get("training_data", {}),
                metrics=d.get("metrics", {}), artifacts=d.get("artifacts", {}),
                intended_use=d.get("intended_use", DEFAULT_INTENDED_USE),
                not_for_clinical_use=bool(d.get("not_for_clinical_use", True)),
                created_at=d.get("created_at", ""), software_version=d.get("software_version", "unknown"),
                notes=d.get("notes", ""), schema_version=int(d.get("schema_version", -1)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"model card is malformed: {exc}") from None


@dataclass(frozen=True)
class Bundle:
    path: Path
    card: ModelCard

    def artifact_path(self, name: str) -> Path:
        if name not in self.card.artifacts:
            raise BundleError(f"bundle {self.path} has no artifact {name!r}; it has: {', '.join(self.card.artifacts) or 'none'}")
        return self.path / self.card.artifacts[name]["file"]

    def artifacts_of(self, fmt: str) -> list[str]:
        return [n for n, a in self.card.artifacts.items() if a["format"] == fmt]


def artifact_entry(bundle_dir: Path, file: str, fmt: str, precision: str, **extra: Any) -> dict:
    """The model-card record of an artifact file already written into the bundle directory."""
    path = Path(bundle_dir) / file
    return {"file": file, "format": fmt, "precision": precision, "sha256": sha256_file(path),
            "size_bytes": path.stat().st_size, **extra}


def save_card(bundle_dir: Path, card: ModelCard) -> Path:
    bundle_dir = Path(bundle_dir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    out = bundle_dir / MODELCARD
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card.to_dict(), indent=2, sort_keys=False))
    tmp.replace(out)  # atomic: a crash never leaves half a model card
    return out


def load_bundle(path: str | Path, verify: bool = True) -> Bundle:
    """Load and validate a bundle; every artifact named in the card must exist and (with
    ``verify``) match its recorded size and SHA-256."""
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"no bundle directory at {root}")
    card_path = root / MODELCARD
    if not card_path.is_file():
        raise BundleError(f"{root} is not a bundle: {MODELCARD} is missing")
    try:
        raw = json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{card_path} is not valid JSON: {exc}") from None
    card = ModelCard.from_dict(raw)
    for name, art in card.artifacts.items():
        f = root / art["file"]
        if not f.is_file():
            raise BundleError(f"artifact {name!r}: file {f} named in the model card is missing")
        if verify and "size_bytes" in art and f.stat().st_size != art["size_bytes"]:
            raise BundleError(f"artifact {name!r}: {f} is {f.stat().st_size} bytes, the model card says {art['size_bytes']}")
        if verify and "sha256" in art and sha256_file(f) != art["sha256"]:
            raise BundleError(f"artifact {name!r}: {f} does not match the SHA-256 in the model card (file changed or corrupt)")
    return Bundle(root, card)
