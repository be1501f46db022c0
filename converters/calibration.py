"""Calibration and parity faces: aligned exactly as in training, via ``edge.pipeline.prepare_face``.

A face set comes from a folder of photos (each detected and aligned with the model card's size and
template) or from a ``.npz`` of already aligned faces (``faces``: (N, S, S, 3) uint8, optional
``labels``). Its SHA-256 keys everything calibrated from it (model-card entries, TensorRT caches).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facescreen.edge.bundle import ModelCard
from facescreen.edge.detect import Detector
from facescreen.edge.errors import FaceScreenError
from facescreen.edge.photo import PHOTO_SUFFIXES, find_photos
from facescreen.edge.pipeline import AlignConfig, as_batch, prepare_face
from facescreen.edge.spreadsheet import read_table

from .errors import CalibrationError

log = logging.getLogger(__name__)

MIN_CALIBRATION_FACES = 100


@dataclass(frozen=True)
class FaceSet:
    """Aligned faces ``(N, S, S, 3)`` uint8 RGB, optional integer class labels, and where they came from."""

    faces: np.ndarray = field(repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)
    source: str = ""
    skipped: tuple[str, ...] = ()  # photos left out, with the reason
    sha256: str = field(init=False, default="")

    def __post_init__(self) -> None:
        f = np.asarray(self.faces)
        if f.ndim != 4 or f.shape[3] != 3 or f.shape[1] != f.shape[2] or f.dtype != np.uint8:
            raise CalibrationError(
                f"faces must be (N, S, S, 3) uint8 RGB crops, got {f.shape} {f.dtype} from {self.source}"
            )
        if self.labels is not None and np.asarray(self.labels).shape != (len(f),):
            raise CalibrationError(f"labels must be one per face ({len(f)}), got shape {np.asarray(self.labels).shape}")
        h = hashlib.sha256(str(f.shape).encode())
        h.update(np.ascontiguousarray(f).tobytes())
        object.__setattr__(self, "faces", f)
        object.__setattr__(self, "sha256", h.hexdigest())

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def size(self) -> int:
        return int(self.faces.shape[1])

    def batch(self) -> np.ndarray:
        """The model's float32 [0, 255] input batch (the same conversion every runtime gets)."""
        return as_batch(self.faces)

    def subset(self, idx: np.ndarray, source: str) -> FaceSet:
        return FaceSet(self.faces[idx], None if self.labels is None else self.labels[idx], source)

    def split(self, held_out: float, seed: int = 0) -> tuple[FaceSet, FaceSet]:
        """(calibration part, held-out part): a seeded shuffle, so the same set splits the same way."""
        check_held_out(held_out)
        idx = np.random.default_rng(seed).permutation(len(self))
        n_out = max(1, int(round(len(self) * held_out)))
        return (
            self.subset(np.sort(idx[n_out:]), f"{self.source} (calibration part)"),
            self.subset(np.sort(idx[:n_out]), f"{self.source} (held-out part)"),
        )

    def summary(self) -> dict:
        return {
            "n_faces": len(self),
            "size": self.size,
            "sha256": self.sha256,
            "source": self.source,
            "labelled": self.labels is not None,
            "n_skipped_photos": len(self.skipped),
        }


def require_minimum(faces: FaceSet, minimum: int = MIN_CALIBRATION_FACES, force: bool = False) -> None:
    if len(faces) < minimum and not force:
        raise CalibrationError(
            f"only {len(faces)} calibration faces from {faces.source}; at least {minimum} are needed, because "
            f"int8 ranges estimated from fewer faces are unreliable. Add photos, or pass --force-small-calib "
            f"to accept the risk (the parity check still runs)."
        )


def _labels_from_names(values, card: ModelCard, where: str) -> np.ndarray:
    out = []
    for v in values:
        v = v.item() if isinstance(v, np.generic) else v
        if isinstance(v, (int, np.integer)) and 0 <= int(v) < len(card.classes):
            out.append(int(v))
        elif isinstance(v, str) and v in card.classes:
            out.append(card.classes.index(v))
        else:
            raise CalibrationError(
                f"{where}: label {v!r} is neither a class of the model {list(card.classes)} nor a class index"
            )
    return np.asarray(out, dtype=np.int64)


def load_npz(path: Path, card: ModelCard) -> FaceSet:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path} is not a readable .npz of aligned faces: {exc}") from None
    if "faces" not in data:
        raise CalibrationError(
            f"{path} has no 'faces' array (it has: {list(data.keys())}); expected faces=(N, S, S, 3) uint8"
        )
    faces = data["faces"]
    size = card.input.size
    if faces.ndim != 4 or faces.shape[1:] != (size, size, 3):
        raise CalibrationError(
            f"{path}: faces are {faces.shape[1:]} but the model takes ({size}, {size}, 3); "
            f"re-align the photos at {size} px (pass the photo folder instead of the .npz)"
        )
    labels = _labels_from_names(data["labels"], card, str(path)) if "labels" in data else None
    return FaceSet(faces.astype(np.uint8, copy=False), labels, str(path))


def _folder_labels(root: Path, photos: list[Path], card: ModelCard) -> list | None:
    """Labels from ``cohort.csv`` (``path``, ``label`` columns) or from class-named subfolders."""
    manifest = root / "cohort.csv"
    if manifest.is_file():
        table = read_table(manifest, ("path",), CalibrationError)
        rows = {str((root / r["path"]).resolve()): r.get("label") for _, r in table.rows}
        return [rows.get(str(p.resolve())) for p in photos]
    parents = [p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None for p in photos]
    if all(pp in card.classes for pp in parents):
        return parents
    return None


def load_folder(root: Path, card: ModelCard, detector: Detector) -> FaceSet:
    photos = find_photos(root)
    if not photos:
        raise CalibrationError(f"no photos ({', '.join(PHOTO_SUFFIXES)}) under {root}")
    names = _folder_labels(root, photos, card)
    config = AlignConfig(size=card.input.size, template=card.alignment)
    faces, labels, skipped = [], [], []
    for i, path in enumerate(photos):
        try:
            faces.append(prepare_face(path, detector, config).aligned.image)
            labels.append(None if names is None else names[i])
        except FaceScreenError as exc:
            skipped.append(f"{path}: {exc}")
            log.warning("calibration: left out %s: %s", path, exc)
    if not faces:
        raise CalibrationError(f"no face could be detected and aligned in any of the {len(photos)} photos under {root}")
    lab = None
    if names is not None and all(v not in (None, "") for v in labels):
        lab = _labels_from_names(labels, card, str(root))
    return FaceSet(np.stack(faces), lab, str(root), tuple(skipped))


def check_held_out(fraction: float) -> float:
    """A held-out fraction in (0, 1) (``nan`` is none), else ValueError."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held-out fraction must be in (0, 1), got {fraction}")
    return fraction


def held_out_fraction(text: str) -> float:
    """``--holdout-fraction``, checked when parsing: :meth:`FaceSet.split` checked it only after the
    calibration photos had been detected and aligned (minutes on a real set)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"held-out fraction must be a number in (0, 1), got {text!r}") from None
    return check_held_out(value)


def faces_source(path: str | Path) -> Path:
    """``path`` if :func:`load_faces` can read it (a ``.npz`` or a folder), else CalibrationError
    saying why (the converters' CLI checks ``--calib`` and ``--parity`` with it when parsing)."""
    p = Path(path)
    if p.is_dir() or (p.is_file() and p.suffix == ".npz"):
        return p
    if not p.exists():
        raise CalibrationError(f"no file or folder at {p}")
    raise CalibrationError(f"{p} is neither a .npz of aligned faces nor a folder of photos")


def load_faces(path: str | Path, card: ModelCard, detector: Detector | None = None) -> FaceSet:
    """Aligned faces from a ``.npz`` or a photo folder (which needs ``detector``)."""
    p = faces_source(path)
    if p.is_file():
        return load_npz(p, card)
    if detector is None:
        raise CalibrationError(f"{p} is a photo folder: a face detector is needed to align it")
    return load_folder(p, card, detector)


def save_faces(faces: FaceSet, path: str | Path) -> Path:
    """Write the aligned faces as a ``.npz`` that :func:`load_faces` reads back (skips detection)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)  # e.g. BUNDLE/calibration/ before any TensorRT build made it
    arrays = {"faces": faces.faces}
    if faces.labels is not None:
        arrays["labels"] = faces.labels
    np.savez_compressed(out, **arrays)
    return out
