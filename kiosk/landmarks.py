"""Dense face landmarks: MediaPipe's face mesh, run once per frame through LiteRT.

The default model is the attention mesh (``face_landmark_with_attention.tflite``, fetched at set-up
time by ``make assets``; see :mod:`edge.assets` and :mod:`kiosk.attention_mesh`): 478 points, the
468 mesh points with the lips and eye contours refined by sub-networks, plus five iris points per
eye. The plain 468-point ``face_landmark.tflite`` still loads when passed as ``model_path``, but its
strong open-eye prior keeps painted-shut eyes above the closed-eye threshold (README.md, kiosk).
Both take a 192x192 RGB crop in [0, 1] around an upright face and give ``(x, y, z)`` points in crop
pixels (``z`` is depth relative to the face, in the same pixel scale, smaller = nearer the camera)
plus a face-presence logit. As in MediaPipe's own graph, the crop is a square 1.5x the detector's
face box, rotated so that the eye line is horizontal; the points are mapped back to frame pixels
here so every quality measure works in one coordinate system. Indices 0-467 mean the same in both.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facescreen.edge.assets import FACE_LANDMARK_ATTENTION, asset_path
from facescreen.edge.backends.base import inference_threads
from facescreen.edge.detect import FaceDetection
from facescreen.edge.errors import AssetMissingError, BackendUnavailableError
from facescreen.edge.tflite import tflite_runtime

from .attention_mesh import N_MESH, N_POINTS, AttentionMesh, is_attention_model

MODEL_FILE = FACE_LANDMARK_ATTENTION.name
INPUT_SIZE = 192

# Face-mesh indices used by the measures (MediaPipe canonical face mesh topology). "Right"/"left"
# are the SUBJECT's sides: the subject's right eye appears on the image's left in a frontal photo.
MESH = {
    "forehead": 10,
    "chin": 152,
    "nose_tip": 1,
    "lip_upper_inner": 13,
    "lip_lower_inner": 14,
    "mouth_right": 61,
    "mouth_left": 291,
    "right_eye_outer": 33,
    "right_eye_inner": 133,
    "right_eye_upper": 159,
    "right_eye_lower": 145,
    "left_eye_outer": 263,
    "left_eye_inner": 362,
    "left_eye_upper": 386,
    "left_eye_lower": 374,
    "right_cheek": 234,
    "left_cheek": 454,
}


@dataclass(frozen=True)
class FaceMesh:
    """468 (plain mesh) or 478 (attention mesh, irises at 468-477) landmarks in frame pixels (``z``
    in the same scale) and the model's face-presence score."""

    points: np.ndarray = field(repr=False)  # (468 or 478, 3) float64
    presence: float
    pitch_bias_deg: float = 0.0  # the landmark model's own pitch bias (see attention_mesh)

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] not in (N_MESH, N_POINTS) or pts.shape[1] != 3:
            raise ValueError(f"face mesh must have shape ({N_MESH}, 3) or ({N_POINTS}, 3), got {pts.shape}")
        object.__setattr__(self, "points", pts)

    def xy(self, name: str) -> np.ndarray:
        return self.points[MESH[name], :2]

    def dist(self, a: str, b: str) -> float:
        return float(np.linalg.norm(self.xy(a) - self.xy(b)))


def roi_matrix(face: FaceDetection, scale: float = 1.5, size: int = INPUT_SIZE) -> np.ndarray:
    """2x3 matrix: frame pixels -> the square, eye-levelled crop the mesh model reads."""
    x1, y1, x2, y2 = face.box
    centre = ((x1 + x2) / 2.0, (y1 + y2) / 2.0)
    side = max(x2 - x1, y2 - y1) * scale
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    m = cv2.getRotationMatrix2D(centre, angle, size / max(side, 1.0))
    m[:, 2] += np.array([size / 2.0 - centre[0], size / 2.0 - centre[1]])
    return m


class _PlainMesh:
    """The 468-point ``face_landmark.tflite``: one invoke, mesh and face-flag outputs."""

    pitch_bias_deg = 0.0

    def __init__(self, content: bytes, threads: int, Interpreter) -> None:
        self._interp = Interpreter(model_content=content, num_threads=threads)
        self._interp.allocate_tensors()
        inp = self._interp.get_input_details()[0]
        self._input, self.input_shape = inp["index"], tuple(int(d) for d in inp["shape"])
        outs = {int(np.prod(d["shape"])): d["index"] for d in self._interp.get_output_details()}
        if N_MESH * 3 not in outs or 1 not in outs:
            raise ValueError(f"no face-mesh outputs ({N_MESH * 3} landmarks + 1 score)")
        self._points_out, self._score_out = outs[N_MESH * 3], outs[1]

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        self._interp.set_tensor(self._input, x)
        self._interp.invoke()
        pts = self._interp.get_tensor(self._points_out).reshape(N_MESH, 3).astype(np.float64)
        return pts, float(self._interp.get_tensor(self._score_out).ravel()[0])


class DenseLandmarker:
    """LiteRT face-mesh model. One model; calls are serialised (interpreters are not re-entrant).
    With no ``threads`` it runs :func:`edge.backends.base.default_threads`, as the screener and the
    detector do: it runs on every frame of the guidance loop, beside them."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int | None = None,
        roi_scale: float = 1.5,
        min_presence: float = 0.5,
    ) -> None:
        path = Path(model_path) if model_path else asset_path(MODEL_FILE)
        Interpreter = tflite_runtime().Interpreter  # raises BackendUnavailableError with what to install
        if not path.is_file():  # a folder or a typo: say so, not IsADirectoryError at server start-up
            raise AssetMissingError(
                f"face-mesh model {path} is {'a folder' if path.is_dir() else 'missing'}; "
                "give the face_landmark.tflite file (or run `make assets`)"
            )
        content = path.read_bytes()
        threads = inference_threads(threads)
        try:
            self._model = (
                AttentionMesh(content, threads)
                if is_attention_model(content)
                else _PlainMesh(content, threads, Interpreter)
            )
        except ValueError as exc:
            raise BackendUnavailableError(f"{path} is not a usable MediaPipe face mesh: {exc}") from None
        if self._model.input_shape != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise BackendUnavailableError(f"{path} takes input {self._model.input_shape}, expected (1, 192, 192, 3)")
        self.roi_scale = roi_scale
        self.min_presence = min_presence
        self._lock = threading.Lock()
        self.path = path

    def __call__(self, rgb: np.ndarray, face: FaceDetection) -> FaceMesh | None:
        """The mesh of ``face`` in ``rgb``, or None when the model says no face is in the crop."""
        m = roi_matrix(face, self.roi_scale)
        crop = cv2.warpAffine(rgb, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        x = (crop.astype(np.float32) / 255.0)[None]
        with self._lock:
            pts, logit = self._model(x)
        presence = float(1.0 / (1.0 + np.exp(-np.clip(logit, -60, 60))))
        if presence < self.min_presence:
            return None
        inv = cv2.invertAffineTransform(m)
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        xy = pts[:, :2] @ inv[:, :2].T + inv[:, 2]
        return FaceMesh(np.column_stack([xy, pts[:, 2] / scale]), presence, self._model.pitch_bias_deg)
