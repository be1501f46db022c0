"""``Screener``: a bundle, an inference backend and a detector; photo in, ScreeningResult out."""
from __future__ import annotations

import csv
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterable

import numpy as np

from .backends import InferenceBackend, open_backend
from .bundle import Bundle, load_bundle
from .detect import DetectConfig, Detector, FaceDetection, create_detector
from .errors import BackendUnavailableError, FaceScreenError
from .photo import PhotoSource
from .pipeline import AlignConfig, PreparedFace, as_batch, prepare_face
from .postprocess import apply_temperature, representable_scores, screening_cam, screening_probability, \
    threshold_resolution
from .result import ScreeningResult


class Screener:
    def __init__(self, bundle: Bundle, backend: InferenceBackend, detector: Detector | None = None,
                 detect: DetectConfig = DetectConfig()) -> None:
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

    def prepare(self, photo: PhotoSource) -> PreparedFace:
        if self.detector is None:
            raise FaceScreenError("this screener was created without a face detector; use screen_aligned()")
        return prepare_face(photo, self.detector, self.align_config)

    def screen(self, photo: PhotoSource) -> ScreeningResult:
        """The whole path: decode, detect, align, infer, post-process."""
        prepared = self.prepare(photo)
        return self.screen_prepared(prepared)

    def screen_prepared(self, prepared: PreparedFace) -> ScreeningResult:
        result = self.screen_aligned(prepared.aligned.image, detection=prepared.detection, n_faces=prepared.n_faces)
        return replace(result, align_matrix=prepared.aligned.matrix,
                       timings_ms={**prepared.timings_ms, **result.timings_ms})

    def screen_aligned(self, face: np.ndarray, detection: FaceDetection | None = None, n_faces: int = 1,
                       with_cam: bool = True) -> ScreeningResult:
        """Screen one already aligned ``(S, S, 3)`` uint8 RGB crop."""
        t0 = time.perf_counter()
        probs, cam = self.predict(face[None])
        t1 = time.perf_counter()
        p = float(screening_probability(probs, self._positive)[0])
        heat = screening_cam(cam[0], self._positive, self.card.input.size) if with_cam else None
        t2 = time.perf_counter()
        c = self.card
        return ScreeningResult(
            probability=p, threshold=c.threshold, class_names=c.classes,
            class_probabilities=tuple(float(v) for v in probs[0]), positive_classes=c.positive_classes,
            model_id=c.model_id, model_version=c.version, backend=self.backend_label,
            intended_use=c.intended_use, not_for_clinical_use=c.not_for_clinical_use,
            timings_ms={"infer": (t1 - t0) * 1e3, "postprocess": (t2 - t1) * 1e3},
            detection=detection, n_faces=n_faces, cam=heat,
        )

    def screen_folder(self, paths: Iterable[Path], out_csv: Path) -> int:
        """Score every photo; a photo that fails gets its error in the CSV, the rest go on."""
        n = 0
        with open(out_csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "status", "flag", "probability", "threshold", "n_faces", "error"] + list(self.card.classes))
            for path in paths:
                try:
                    r = self.screen(path)
                    w.writerow([path, "ok", int(r.flag), f"{r.probability:.6f}", r.threshold, r.n_faces, ""]
                               + [f"{v:.6f}" for v in r.class_probabilities])
                    n += 1
                except FaceScreenError as exc:
                    w.writerow([path, exc.code, "", "", "", "", str(exc)] + [""] * len(self.card.classes))
        return n


def check_threshold_resolvable(bundle: Bundle, artifact: str) -> None:
    """Refuse an artifact whose quantised probability output cannot resolve the card's threshold
    (the converters record the output's quantisation; see converters.to_tflite)."""
    q = bundle.card.artifacts.get(artifact, {}).get("output_quantisation")
    if not q:
        return
    scores = representable_scores(q["scale"], q["zero_point"], q["qmin"], q["qmax"],
                                  len(bundle.card.positive_classes), bundle.card.temperature)
    try:
        threshold_resolution(bundle.card.threshold, scores)
    except ValueError as exc:
        raise BackendUnavailableError(f"artifact {artifact!r}: {exc}") from None


def default_detector(bundle: Bundle) -> Detector:
    """The converted TensorFlow-free cascade when the bundle carries it, else the mtcnn package."""
    lite_dir = bundle.path / "detector"
    if (lite_dir / "mtcnn.json").is_file():
        return create_detector("mtcnn-lite", model_dir=lite_dir)
    return create_detector("mtcnn")


def create_screener(bundle: Bundle | str | Path, backend: str = "auto", artifact: str | None = None,
                    threads: int | None = None, detector: Detector | str | None = "auto",
                    detect: DetectConfig = DetectConfig()) -> Screener:
    """Open a bundle for screening. ``detector``: "auto", a registered name, an instance, or None."""
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    inference = open_backend(b, backend=backend, artifact=artifact, threads=threads)
    if detector == "auto":
        det = default_detector(b)
    elif detector == "mtcnn-lite":
        det = create_detector("mtcnn-lite", model_dir=b.path / "detector")
    elif isinstance(detector, str):
        det = create_detector(detector)
    else:
        det = detector
    return Screener(b, inference, det, detect)
