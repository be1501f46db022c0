"""The reference detector: the ``mtcnn`` package with its shipped weights (imports TensorFlow)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np

from ..detect import DEFAULT_MIN_FACE_PX, LANDMARK_NAMES, FaceDetection
from ..errors import BackendUnavailableError


class MtcnnPackageDetector:
    name = "mtcnn"

    def __init__(self, min_face_size: int = DEFAULT_MIN_FACE_PX) -> None:
        try:
            from mtcnn import MTCNN  # imports TensorFlow: reference and training path only
        except ImportError as exc:
            raise BackendUnavailableError(
                "the 'mtcnn' detector needs the mtcnn package and TensorFlow (pip install 'facescreen[train]'); "
                "on a TensorFlow-free edge install use detector='mtcnn-lite'"
            ) from exc
        self._mtcnn = MTCNN()
        self.min_face_size = min_face_size

    def detect(self, rgb: np.ndarray, min_face_size: int | None = None) -> list[FaceDetection]:
        # The package's pyramid keeps its level COUNT from the image size whatever min_face_size
        # is, so a larger minimum pushes its last levels below P-Net's 12 px window, where it finds
        # nothing at all (a 180 px face is missed at min_face_size=40). A larger minimum face is
        # therefore served by detecting a copy scaled so that face spans the package's own minimum.
        wanted = min_face_size or self.min_face_size
        scale = min(1.0, self.min_face_size / wanted)
        image = (
            rgb
            if scale == 1.0
            else cv2.resize(
                rgb,
                (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
                interpolation=cv2.INTER_AREA,
            )
        )
        with _unfiltered_keras_tracebacks():
            raw = self._mtcnn.detect_faces(
                np.ascontiguousarray(image), min_face_size=self.min_face_size, box_format="xyxy"
            )
        faces = []
        for r in raw:
            lm = np.array([r["keypoints"][n] for n in LANDMARK_NAMES], dtype=np.float32)
            faces.append(FaceDetection(tuple(float(v) for v in r["box"]), float(r["confidence"]), lm))
        return faces if scale == 1.0 else [f.scaled(1.0 / scale) for f in faces]


@contextmanager
def _unfiltered_keras_tracebacks() -> Iterator[None]:
    """Keras' traceback filtering off for this thread (Keras keeps the setting per thread) while the
    package runs. On a photo without a face the package lets R-Net fail on an empty batch and catches
    the error; Keras' filtering handler re-raises it from a frame that stays in its traceback, a
    reference cycle that keeps every caller's frame, the photo included, until a full garbage
    collection (a quiet server may not run one for minutes). Unfiltered, the caught error is freed
    when it is caught. An error that escapes the package has a longer traceback, that is all."""
    import keras

    was = keras.config.is_traceback_filtering_enabled()
    keras.config.disable_traceback_filtering()
    try:
        yield
    finally:
        if was:
            keras.config.enable_traceback_filtering()
