"""The reference detector: the ``mtcnn`` package with its shipped weights (imports TensorFlow)."""
from __future__ import annotations

import numpy as np

from ..detect import LANDMARK_NAMES, FaceDetection
from ..errors import BackendUnavailableError


class MtcnnPackageDetector:
    name = "mtcnn"

    def __init__(self, min_face_size: int = 20) -> None:
        try:
            from mtcnn import MTCNN  # imports TensorFlow: reference and training path only
        except ImportError as exc:
            raise BackendUnavailableError(
                "the 'mtcnn' detector needs the mtcnn package and TensorFlow (pip install 'facescreen[train]'); "
                "on a TensorFlow-free edge install use detector='mtcnn-lite'"
            ) from exc
        self._mtcnn = MTCNN()
        self.min_face_size = min_face_size

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        raw = self._mtcnn.detect_faces(np.ascontiguousarray(rgb), min_face_size=self.min_face_size, box_format="xyxy")
        faces = []
        for r in raw:
            lm = np.array([r["keypoints"][n] for n in LANDMARK_NAMES], dtype=np.float32)
            faces.append(FaceDetection(tuple(float(v) for v in r["box"]), float(r["confidence"]), lm))
        return faces
