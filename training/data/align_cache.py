"""Detect and align every photo once, through :func:`edge.pipeline.prepare_face`, and cache it.

A cache entry is keyed by the photo's resolved path, its content hash, the aligned size, the
alignment template, the detector and its settings, so a changed photo or setting is re-aligned and
everything else is reused. Failures are cached as well (a photo without a face stays without one)
and every one is listed, with its reason, in the failures CSV; none is dropped silently.

Several faces in one photo: :func:`edge.detect.find_face` screens the largest confident face. By
default such a photo is kept and listed in the CSV as a warning (``several_faces``,
``kept_largest_face``); with ``reject_multiple_faces`` it is left out instead.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from facescreen.edge.bundle import sha256_file
from facescreen.edge.detect import DetectConfig, Detector, create_detector, detect_faces
from facescreen.edge.detectors.mtcnn_manifest import MANIFEST
from facescreen.edge.errors import NoFaceError, PhotoError
from facescreen.edge.photo import load_photo
from facescreen.edge.pipeline import AlignConfig, prepare_face

from .manifest import Photo

CACHE_VERSION = 1
FAILURE_COLUMNS = ("path", "subject_id", "label", "reason", "action", "detail")


@dataclass(frozen=True)
class AlignmentIssue:
    photo: Photo
    reason: str  # unreadable | no_face | low_confidence | several_faces | alignment_failed
    detail: str
    left_out: bool

    @property
    def action(self) -> str:
        return "left_out" if self.left_out else "kept_largest_face"


@dataclass(frozen=True)
class AlignedPhotos:
    """The photos that aligned (in manifest order) and every issue met on the way."""

    faces: np.ndarray = field(repr=False)  # (N, S, S, 3) uint8 RGB
    photos: tuple[Photo, ...]
    issues: tuple[AlignmentIssue, ...]
    detector: str
    size: int
    digests: tuple[str, ...] = ()  # SHA-256 of each aligned photo's file: byte-identical photos share a fold

    def __post_init__(self) -> None:
        if self.digests and len(self.digests) != len(self.photos):
            raise ValueError(f"expected one digest per photo, got {len(self.digests)} for {len(self.photos)}")
        if self.faces.ndim != 4 or self.faces.shape[0] != len(self.photos) or self.faces.dtype != np.uint8:
            raise ValueError(
                f"expected ({len(self.photos)}, S, S, 3) uint8 faces, got {self.faces.shape} {self.faces.dtype}"
            )

    @property
    def left_out(self) -> list[AlignmentIssue]:
        return [i for i in self.issues if i.left_out]


def _detector_files_hash(bundle: str | Path | None) -> str | None:
    """A converted detector's manifest (it lists every network file's hash): other networks, other key."""
    manifest = Path(bundle) / "detector" / MANIFEST if bundle is not None else None
    return sha256_file(manifest) if manifest is not None and manifest.is_file() else None


class AlignmentCache:
    def __init__(
        self,
        root: str | Path,
        detector: str = "mtcnn",
        config: AlignConfig = AlignConfig(),
        reject_multiple_faces: bool = False,
        detector_instance: Detector | None = None,
        detector_bundle: str | Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.detector_name = detector
        self.detector_bundle = detector_bundle
        self.config = config
        self.reject_multiple_faces = reject_multiple_faces
        self._detector = detector_instance
        self._settings = json.dumps(
            {
                "version": CACHE_VERSION,
                "size": config.size,
                "template": config.template.to_dict(),
                "detector": detector,
                "detector_files": _detector_files_hash(detector_bundle),
                "detect": asdict(config.detect),
                "limits": asdict(config.limits),
            },
            sort_keys=True,
        )

    def key(self, path: Path, content_sha256: str) -> str:
        return hashlib.sha256(f"{path.resolve()}\n{content_sha256}\n{self._settings}".encode()).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            self._detector = create_detector(self.detector_name, self.detector_bundle)
        return self._detector

    def align(self, photos: tuple[Photo, ...] | list[Photo], progress: bool = True) -> AlignedPhotos:
        from tqdm.auto import tqdm

        faces, kept, issues, digests = [], [], [], []
        hits = 0
        bar = tqdm(
            photos,
            desc=f"aligning ({self.detector_name}, {self.config.size}px)",
            unit="photo",
            disable=not progress,
            dynamic_ncols=True,
            mininterval=1.0,
        )
        for photo in bar:
            entry, cached, digest = self._lookup_or_align(photo)
            hits += cached
            bar.set_postfix(cached=hits, issues=len(issues))
            if "reason" in entry:
                issues.append(AlignmentIssue(photo, str(entry["reason"]), str(entry["detail"]), left_out=True))
                continue
            n_faces = int(entry["n_faces"])
            if n_faces > 1:
                detail = f"{n_faces} confident faces; the largest was aligned"
                issues.append(AlignmentIssue(photo, "several_faces", detail, left_out=self.reject_multiple_faces))
                if self.reject_multiple_faces:
                    continue
            faces.append(entry["face"])
            kept.append(photo)
            digests.append(digest)
        s = self.config.size
        stacked = np.stack(faces) if faces else np.zeros((0, s, s, 3), np.uint8)
        return AlignedPhotos(stacked, tuple(kept), tuple(issues), self.detector_name, s, tuple(digests))

    def _lookup_or_align(self, photo: Photo) -> tuple[dict, bool, str]:
        try:
            digest = sha256_file(photo.path)
        except OSError as exc:  # missing or unreadable file: nothing to cache
            return {"reason": "unreadable", "detail": f"cannot read the file: {exc.strerror or exc}"}, False, ""
        path = self._entry(self.key(photo.path, digest))
        if path.is_file():
            with np.load(path, allow_pickle=False) as d:
                return {k: d[k] for k in d.files}, True, digest
        entry = self._align_one(photo)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **entry)
        tmp.replace(path)  # atomic: an interrupted run never leaves half an entry
        return entry, False, digest

    def _align_one(self, photo: Photo) -> dict:
        try:
            prepared = prepare_face(photo.path, self.detector, self.config)
        except PhotoError as exc:
            return {"reason": "unreadable", "detail": str(exc)}
        except NoFaceError as exc:
            return self._why_no_face(photo, str(exc))
        except ValueError as exc:  # degenerate landmarks
            return {"reason": "alignment_failed", "detail": str(exc)}
        return {
            "face": prepared.aligned.image,
            "landmarks": prepared.aligned.landmarks.astype(np.float32),
            "confidence": np.float32(prepared.detection.confidence),
            "n_faces": np.int32(prepared.n_faces),
        }

    def _why_no_face(self, photo: Photo, message: str) -> dict:
        """Tell "no face at all" from "a face below the confidence threshold" (diagnosis only)."""
        rgb = load_photo(photo.path, self.config.limits)
        relaxed = DetectConfig(max_side=self.config.detect.max_side, min_confidence=0.0)
        faces = detect_faces(rgb, self.detector, relaxed)
        if faces:
            best = max(f.confidence for f in faces)
            return {
                "reason": "low_confidence",
                "detail": f"best face confidence {best:.3f} < {self.config.detect.min_confidence:.2f}",
            }
        return {"reason": "no_face", "detail": message}


def write_issues_csv(issues: tuple[AlignmentIssue, ...] | list[AlignmentIssue], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FAILURE_COLUMNS)
        for i in issues:
            w.writerow([str(i.photo.path), i.photo.subject_id, i.photo.label, i.reason, i.action, i.detail])
    return path
