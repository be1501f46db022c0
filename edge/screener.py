"""``Screener``: a bundle, an inference backend and a detector; photo in, ScreeningResult out."""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import numpy as np

from .backends import InferenceBackend, open_backend
from .bundle import Bundle, load_bundle, software_version
from .detect import PHOTO_DETECT, DetectConfig, Detector, FaceDetection, FaceFinding, create_detector
from .detectors.mtcnn_manifest import MANIFEST
from .errors import BackendUnavailableError, FaceScreenError
from .folder import FolderStats, screen_many
from .photo import PhotoSource
from .pipeline import AlignConfig, PreparedFace, as_batch, prepare_face
from .postprocess import (
    apply_temperature,
    representable_scores,
    screening_cam,
    screening_probability,
    threshold_resolution,
)
from .result import ScreeningResult
from .spreadsheet import SafeCsvWriter


class Screener:
    def __init__(
        self,
        bundle: Bundle,
        backend: InferenceBackend,
        detector: Detector | None = None,
        detect: DetectConfig = PHOTO_DETECT,
    ) -> None:
        self.bundle = bundle
        self.card = bundle.card
        self.backend = backend
        self.detector = detector
        self.align_config = AlignConfig(size=self.card.input.size, template=self.card.alignment, detect=detect)
        self._positive = self.card.positive_indices
        self._temperature = self.card.temperature
        check_threshold_resolvable(bundle, backend.artifact)

    @property
    def backend_label(self) -> str:
        return f"{self.backend.name}:{self.backend.artifact}"

    def predict(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model outputs for a batch of aligned crops: ``probs (N, K)`` after the model card's
        temperature (the same step for every backend), ``cam (N, h, w, K)``."""
        probs, cam = self.backend.run(as_batch(faces))
        return apply_temperature(probs, self._temperature).astype(np.float32), cam

    def prepare(self, photo: PhotoSource, found: FaceFinding | None = None) -> PreparedFace:
        if self.detector is None and found is None:
            raise FaceScreenError("this screener was created without a face detector; use screen_aligned()")
        return prepare_face(photo, self.detector, self.align_config, found)

    def screen(self, photo: PhotoSource, found: FaceFinding | None = None) -> ScreeningResult:
        """The whole path: decode, detect (unless ``found``, this photo's face, is given), align,
        infer, post-process."""
        prepared = self.prepare(photo, found)
        return self.screen_prepared(prepared)

    def screen_prepared(self, prepared: PreparedFace) -> ScreeningResult:
        result = self.screen_aligned(prepared.aligned.image, detection=prepared.detection, n_faces=prepared.n_faces)
        return replace(
            result,
            align_matrix=prepared.aligned.matrix,
            face_crop=prepared.aligned.image,
            timings_ms={**prepared.timings_ms, **result.timings_ms},
        )

    def screen_aligned(
        self, face: np.ndarray, detection: FaceDetection | None = None, n_faces: int = 1, with_cam: bool = True
    ) -> ScreeningResult:
        """Screen one already aligned ``(S, S, 3)`` uint8 RGB crop."""
        t0 = time.perf_counter()
        probs, cam = self.predict(face[None])
        t1 = time.perf_counter()
        p = float(screening_probability(probs, self._positive)[0])
        heat = screening_cam(cam[0], self._positive, self.card.input.size) if with_cam else None
        t2 = time.perf_counter()
        c = self.card
        return ScreeningResult(
            probability=p,
            threshold=c.threshold,
            class_names=c.classes,
            class_probabilities=tuple(float(v) for v in probs[0]),
            positive_classes=c.positive_classes,
            model_id=c.model_id,
            model_version=c.version,
            backend=self.backend_label,
            intended_use=c.intended_use,
            not_for_clinical_use=c.not_for_clinical_use,
            timings_ms={"infer": (t1 - t0) * 1e3, "postprocess": (t2 - t1) * 1e3},
            detection=detection,
            n_faces=n_faces,
            cam=heat,
        )

    def screen_folder(
        self,
        paths: Iterable[Path],
        out_csv: Path,
        on_result: Callable[[Path, PreparedFace, ScreeningResult], None] | None = None,
        overlap: bool = True,
        stats: FolderStats | None = None,
    ) -> int:
        """Score every photo into a CSV (:class:`ResultsCsv`); a photo that fails gets its error in
        its row and the rest go on. ``on_result`` sees each screened photo (e.g. to draw its CAM).
        ``overlap``: decode and detect the next photos while this one is inferred (edge.folder).
        Returns how many were screened."""
        n = 0
        with open(out_csv, "w", newline="", encoding="utf-8") as f:
            rows = ResultsCsv(f, self)
            for done in screen_many(self, paths, overlap=overlap, stats=stats):
                if done.error is not None:
                    rows.failed(done.path, done.error)
                    continue
                prepared, result = done.unwrap()
                rows.screened(done.path, result)
                n += 1
                if on_result is not None:
                    on_result(done.path, prepared, result)
        return n


class ResultsCsv:
    """One row per photo, each carrying what produced it (model id and version, backend, software
    version, time), so a CSV separated from its run still says which model scored it."""

    def __init__(self, f: TextIO, screener: Screener) -> None:
        c = screener.card
        self._n_classes = len(c.classes)
        self._made_by = [c.model_id, c.version, screener.backend_label, software_version()]
        self._w = SafeCsvWriter(f)  # photo paths and error text come from outside
        self._w.writerow(
            [
                "path",
                "status",
                "flag",
                "probability",
                "threshold",
                "n_faces",
                "error",
                *c.classes,
                "model_id",
                "model_version",
                "backend",
                "software_version",
                "screened_at",
            ]
        )

    def screened(self, path: Path | str, r: ScreeningResult) -> None:
        self._w.writerow(
            [
                path,
                "ok",
                int(r.flag),
                f"{r.probability:.6f}",
                r.threshold,
                r.n_faces,
                "",
                *(f"{v:.6f}" for v in r.class_probabilities),
                *self._made_by,
                _now(),
            ]
        )

    def failed(self, path: Path | str, exc: FaceScreenError) -> None:
        self._w.writerow([path, exc.code, "", "", "", "", str(exc), *([""] * self._n_classes), *self._made_by, _now()])


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def check_threshold_resolvable(bundle: Bundle, artifact: str) -> None:
    """Refuse an artifact whose quantised probability output cannot resolve the card's threshold
    (the converters record the output's quantisation; see converters.to_tflite)."""
    q = bundle.card.artifacts.get(artifact, {}).get("output_quantisation")
    if not q:
        return
    scores = representable_scores(
        q["scale"], q["zero_point"], q["qmin"], q["qmax"], len(bundle.card.positive_classes), bundle.card.temperature
    )
    try:
        threshold_resolution(bundle.card.threshold, scores)
    except ValueError as exc:
        raise BackendUnavailableError(f"artifact {artifact!r}: {exc}") from None


def default_detector(bundle: Bundle, threads: int | None = None) -> Detector:
    """The converted TensorFlow-free cascade when the bundle carries it, else the mtcnn package."""
    name = "mtcnn-lite" if (bundle.path / "detector" / MANIFEST).is_file() else "mtcnn"
    return create_detector(name, bundle, threads=threads)


def create_screener(
    bundle: Bundle | str | Path,
    backend: str = "auto",
    artifact: str | None = None,
    threads: int | None = None,
    detector: Detector | str | None = "auto",
    detect: DetectConfig = PHOTO_DETECT,
) -> Screener:
    """Open a bundle for screening. ``detector``: "auto", a registered name (built from this
    bundle), an instance, or None. ``detect``: how photos are shown to it (default: faces of at
    least a tenth of the photo's shorter side, see edge.detect.PHOTO_DETECT)."""
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    inference = open_backend(b, backend=backend, artifact=artifact, threads=threads)
    if detector == "auto":
        det = default_detector(b, threads)
    elif isinstance(detector, str):
        det = create_detector(detector, b, threads=threads)
    else:
        det = detector
    return Screener(b, inference, det, detect)
