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
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .align import DEFAULT_TEMPLATE, AlignmentTemplate
from .errors import BundleError

SCHEMA_VERSION = 1
MODELCARD = "modelcard.json"
DEFAULT_INTENDED_USE = (
    "Research prototype for referral screening of children's frontal face photos for genetic evaluation. "
    "Not a diagnostic device; not validated for clinical use."
)
ARTIFACT_FORMATS = ("keras", "tflite", "onnx", "tensorrt")
MODEL_CARD_MD = "MODEL_CARD.md"
# What a reader of the card must know whatever the training data (rendered into MODEL_CARD.md;
# a bundle may override each list in modelcard.json's "considerations").
DEFAULT_CONSIDERATIONS = {
    "out_of_scope_use": [
        "Diagnosis, or ruling a syndrome out: a negative screen does not exclude a genetic condition.",
        "Adults, profile or non-frontal photos, photos with an open mouth, occlusions or strong expressions.",
        "Populations, ages, cameras or clinics unlike the training data without a local validation first.",
        "Any decision made without a clinician, and any use on people who have not consented.",
    ],
    "limitations": [
        "The face detector (MTCNN) and the kiosk's quality thresholds were developed and validated on adult "
        "faces only; their behaviour on infants' and toddlers' faces has not been measured.",
        "MTCNN's landmark regressor leans toward a mean face, so 5-point alignment does not normalise away "
        "traits such as hypertelorism (wide-set eyes): eye-distance differences stay in the aligned crop, "
        "and the model may use them, for better or for worse.",
        "Performance is measured by cross-validation on one collection; it is an estimate for photos like "
        "those, with the intervals shown, not a guarantee elsewhere.",
        "Subgroups marked too small to judge have too few children of one class for any conclusion.",
    ],
    "ethical_considerations": [
        "Face photos of children are sensitive biometric data: keep them on the device or under the "
        "clinic's data-protection rules, with the guardians' informed consent.",
        "Facial gestalt varies with ancestry; a model trained mostly on one population can under-perform "
        "on others. Check the subgroup table and validate locally before use.",
        "A screening flag can cause worry; it should lead to a clinical genetic evaluation, never to a "
        "label. Report how the flag is communicated.",
    ],
}


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


# Verifying a bundle hashes its files; a start-up should not re-read 45 MB that did not change.
# A file's SHA-256 is remembered under its stat key (size, mtime_ns, ctime_ns, inode): any write,
# copy, touch or replacement changes the key and the file is hashed again. ctime cannot be set back
# by user tools, so a rewrite that restores the old mtime still misses the cache. The memory is a
# sidecar beside the files, or, for a read-only bundle, one file per folder under the user's cache
# directory ($XDG_CACHE_HOME/facescreen/file-hashes; model files only, never photos); if neither
# is writable the files are hashed every time. This guards against corruption and changed files,
# as the card's hashes do; it is no defence against someone who can rewrite both.
HASH_SIDECAR = ".facescreen-sha256.json"
_hash_memory: dict[tuple, str] = {}


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _hash_stores(folder: Path) -> list[Path]:
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facescreen" / "file-hashes"
    return [folder / HASH_SIDECAR, user / (hashlib.sha256(str(folder).encode()).hexdigest()[:32] + ".json")]


def _read_store(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def cached_sha256(path: str | Path) -> str:
    """:func:`sha256_file`, not recomputed while the file's stat key is unchanged (see above)."""
    path = Path(path).absolute()
    key = _stat_key(path.stat())
    mem_key = (str(path), *key)
    if mem_key in _hash_memory:
        return _hash_memory[mem_key]
    stores = _hash_stores(path.parent)
    for store in stores:
        hit = _read_store(store).get(path.name)
        if isinstance(hit, dict) and hit.get("stat") == key and isinstance(hit.get("sha256"), str):
            _hash_memory[mem_key] = hit["sha256"]
            return hit["sha256"]
    digest = sha256_file(path)
    if _stat_key(path.stat()) == key:  # not written to while it was read
        _hash_memory[mem_key] = digest
        for store in stores:
            if _remember(store, path.name, key, digest):
                break
    return digest


def _remember(store: Path, name: str, key: list[int], digest: str) -> bool:
    entries = _read_store(store)
    entries[name] = {"stat": key, "sha256": digest}
    tmp = store.with_name(f"{store.name}.{os.getpid()}.tmp")
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
        tmp.replace(store)  # atomic: a reader sees the old or the new memory, never half of one
        return True
    except OSError:  # read-only here: the caller tries the next place
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return False


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
            raise BundleError(
                f"model card input.dtype {self.dtype!r} cannot be honoured: {why}; "
                f"export the model with a float32 input (quantised artifacts convert inside their backend)"
            )
        if tuple(float(v) for v in self.value_range) != RUNTIME_VALUE_RANGE:
            raise BundleError(
                f"model card input.value_range {list(self.value_range)} cannot be honoured: {why}; "
                f"put the scaling inside the graph (a Rescaling layer) and record [0, 255]"
            )
        n = self.normalisation
        if not isinstance(n, dict) or n.get("in_graph") is not True:
            raise BundleError(
                f"model card input.normalisation {n!r} cannot be honoured: no runtime normalises "
                f"outside the graph; put it inside the graph and record in_graph: true"
            )
        unknown = sorted(set(n) - set(NORMALISATION_KEYS))
        if unknown:
            raise BundleError(
                f"model card input.normalisation has key(s) {unknown} that no runtime reads; "
                f"expected only {list(NORMALISATION_KEYS)}"
            )
        for key in ("scale", "offset"):
            v = n.get(key)
            if v is not None and (
                not isinstance(v, (list, tuple))
                or len(v) != 3
                or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)
            ):
                raise BundleError(
                    f"model card input.normalisation.{key} must be three finite numbers (one per "
                    f"RGB channel), got {v!r}"
                )

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "colour": self.colour,
            "dtype": self.dtype,
            "value_range": list(self.value_range),
            "normalisation": self.normalisation,
        }

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        return cls(
            int(d["size"]),
            d.get("colour", "RGB"),
            d.get("dtype", RUNTIME_DTYPE),
            tuple(d.get("value_range", RUNTIME_VALUE_RANGE)),
            d.get("normalisation", _default_normalisation()),
        )


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
    derived_from: dict = field(default_factory=dict)  # a slim copy's source bundle (converters.export_edge)
    schema_version: int = SCHEMA_VERSION
    # {"temperature": T, ...}: every runtime divides the logits by T (edge.postprocess.apply_temperature)
    calibration: dict = field(default_factory=dict)
    considerations: dict = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_CONSIDERATIONS.items()})

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise BundleError(
                f"model card schema_version {self.schema_version} is not supported (expected {SCHEMA_VERSION})"
            )
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise BundleError(f"classes must be >= 2 distinct names, got {list(self.classes)}")
        missing = [c for c in self.positive_classes if c not in self.classes]
        if not self.positive_classes or missing:
            raise BundleError(
                f"positive_classes {list(self.positive_classes)} must be a non-empty subset of "
                f"classes {list(self.classes)}"
            )
        if len(self.positive_classes) == len(self.classes):
            raise BundleError("at least one class must be negative (not in positive_classes)")
        if not 0.0 < self.threshold < 1.0:
            raise BundleError(f"threshold must be in (0, 1), got {self.threshold}")
        t = self.calibration.get("temperature", 1.0)
        if not isinstance(t, (int, float)) or not 0.0 < float(t) < float("inf"):
            raise BundleError(f"calibration.temperature must be a number > 0, got {t!r}")
        for name, art in self.artifacts.items():
            if art.get("format") not in ARTIFACT_FORMATS:
                raise BundleError(
                    f"artifact {name!r} has format {art.get('format')!r}; expected one of {ARTIFACT_FORMATS}"
                )
            if "file" not in art:
                raise BundleError(f"artifact {name!r} names no file")

    @property
    def positive_indices(self) -> list[int]:
        return [self.classes.index(c) for c in self.positive_classes]

    @property
    def temperature(self) -> float:
        """The temperature every runtime applies to the probabilities (1.0: none): the edge Screener on
        every backend, the tablet app in the browser."""
        return float(self.calibration.get("temperature", 1.0))

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
            "calibration": self.calibration,
            "input": self.input.to_dict(),
            "alignment": self.alignment.to_dict(),
            "outputs": {
                "probs": "(N, classes) softmax probabilities",
                "cam": "(N, h, w, classes) class-logit maps; their spatial mean gives the logits",
            },
            "training_data": self.training_data,
            "metrics": self.metrics,
            "artifacts": self.artifacts,
            "considerations": self.considerations,
            "notes": self.notes,
            **({"derived_from": self.derived_from} if self.derived_from else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ModelCard:
        required = ("model_id", "classes", "positive_classes", "threshold", "backbone", "input", "alignment")
        missing = [k for k in required if k not in d]
        if missing:
            raise BundleError(f"model card is missing field(s): {', '.join(missing)}")
        try:
            return cls(
                model_id=d["model_id"],
                version=str(d.get("version", "1")),
                classes=tuple(d["classes"]),
                positive_classes=tuple(d["positive_classes"]),
                threshold=float(d["threshold"]),
                backbone=d["backbone"],
                input=InputSpec.from_dict(d["input"]),
                alignment=AlignmentTemplate.from_dict(d["alignment"]),
                initial_weights=d.get("initial_weights", "none"),
                training_data=d.get("training_data", {}),
                metrics=d.get("metrics", {}),
                artifacts=d.get("artifacts", {}),
                intended_use=d.get("intended_use", DEFAULT_INTENDED_USE),
                not_for_clinical_use=bool(d.get("not_for_clinical_use", True)),
                created_at=d.get("created_at", ""),
                software_version=d.get("software_version", "unknown"),
                notes=d.get("notes", ""),
                derived_from=d.get("derived_from", {}),
                schema_version=int(d.get("schema_version", -1)),
                calibration=d.get("calibration") or {},
                considerations=d.get("considerations") or {k: list(v) for k, v in DEFAULT_CONSIDERATIONS.items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"model card is malformed: {exc}") from None


@dataclass(frozen=True)
class Bundle:
    path: Path
    card: ModelCard

    def artifact(self, name: str) -> dict:
        """The model card's record of artifact ``name``, or BundleError naming those the bundle has
        (a misspelt name is the user's mistake, not a backend that cannot run here)."""
        if name not in self.card.artifacts:
            raise BundleError(
                f"bundle {self.path} has no artifact {name!r}; it has: {', '.join(self.card.artifacts) or 'none'}"
            )
        return self.card.artifacts[name]

    def artifact_path(self, name: str) -> Path:
        return self.path / self.artifact(name)["file"]

    def artifacts_of(self, fmt: str) -> list[str]:
        return [n for n, a in self.card.artifacts.items() if a["format"] == fmt]


def artifact_entry(bundle_dir: Path, file: str, fmt: str, precision: str, **extra: Any) -> dict:
    """The model-card record of an artifact file already written into the bundle directory."""
    path = Path(bundle_dir) / file
    return {
        "file": file,
        "format": fmt,
        "precision": precision,
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
        **extra,
    }


def read_json_object(path: Path, what: str) -> dict:
    """A JSON object the bundle carries (its model card, the detector's manifest, the conversion
    record), or a :class:`BundleError` naming the file: a copy cut short or corrupted on its way to a
    device reads as what it is, never as a codec's or a missing key's message."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path} is not {what}: a JSON object is expected, not {type(data).__name__}")
    return data


# What the converters did to each target they tried on this bundle (written, failed and why, could not
# run here), with the parity figures: they write it, and the kiosk's doctor, the tablet export and the
# runtime matrix read it, so that a missing artifact is reported with its reason, not as "convert it".
CONVERSION_RECORD = "parity.json"


def conversion_record(bundle_dir: str | Path) -> dict[str, dict] | None:
    """Per target the converters tried, its row of ``BUNDLE/parity.json`` (``status``: written,
    failed, unavailable; ``checked_at``; ``message``); None when no conversion has run on the bundle.
    A file that is not a JSON object of that shape raises :class:`BundleError`."""
    path = Path(bundle_dir) / CONVERSION_RECORD
    if not path.is_file():
        return None
    rows = read_json_object(path, "a conversion record").get("artifacts", {})
    if not isinstance(rows, dict) or not all(isinstance(r, dict) for r in rows.values()):
        raise BundleError(f"{path} has no per-target record (an 'artifacts' object of objects)")
    return rows


def save_card(bundle_dir: Path, card: ModelCard) -> Path:
    bundle_dir = Path(bundle_dir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    out = bundle_dir / MODELCARD
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card.to_dict(), indent=2, sort_keys=False))
    tmp.replace(out)  # atomic: a crash never leaves half a model card
    from .card_markdown import render_model_card

    md = bundle_dir / MODEL_CARD_MD
    tmp = md.with_suffix(".md.tmp")
    tmp.write_text(render_model_card(card.to_dict()))
    tmp.replace(md)  # the readable card is rendered from the JSON every time the JSON changes
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
    card = ModelCard.from_dict(read_json_object(card_path, "a model card"))
    for name, art in card.artifacts.items():
        f = root / art["file"]
        if not f.is_file():
            raise BundleError(f"artifact {name!r}: file {f} named in the model card is missing")
        if verify and "size_bytes" in art and f.stat().st_size != art["size_bytes"]:
            raise BundleError(
                f"artifact {name!r}: {f} is {f.stat().st_size} bytes, the model card says {art['size_bytes']}"
            )
        if verify and "sha256" in art and cached_sha256(f) != art["sha256"]:
            raise BundleError(
                f"artifact {name!r}: {f} does not match the SHA-256 in the model card (file changed or corrupt)"
            )
    return Bundle(root, card)
