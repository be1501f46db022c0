"""Following the face between detections, and how a frame's face is found.

The face mesh already runs on every guidance frame, and it locates the face on its own: the crop
it reads can come from the previous frame's face (as MediaPipe's own face-mesh graph does), and
its 468 points then say where the face is now. :class:`FaceTrack` carries the last detection
along with the mesh: the similarity transform that maps the mesh at detection time onto the mesh
now is applied to the detector's box and five landmarks, so every quality measure keeps reading a
face in the detector's own convention (a mesh bounding box is a different box). The detector runs
again when the mesh loses the face, every ``redetect_every`` frames, and on every frame that may be
captured (see kiosk.guidance): quality is judged on the face that is screened.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from facescreen.edge.align import similarity_transform
from facescreen.edge.detect import DetectConfig, FaceDetection, box_iou

from .configfile import FileConfig
from .landmarks import FaceMesh

if TYPE_CHECKING:  # kiosk.quality imports this module
    from .quality.config import QualityConfig

N_TRACK_POINTS = 468  # the mesh points both face-mesh models share
# a face that overlaps its previous box less than this moved too far for the mesh crop taken from
# that box (at 30 frames/s a child's head moves far less; a replay of unrelated stills moves more)
MIN_FRAME_IOU = 0.7


class FindConfig(FileConfig):
    """How the kiosk finds the face in a frame (speed settings; quality thresholds are QualityConfig).

    The defaults are the fast path; :meth:`baseline` is the behaviour before it (full P-Net
    pyramid, every frame detected at full size, the capture detected and aligned again), kept as a
    configuration so the benchmark measures both in one run. An operator gives it as a JSON file
    (``facescreen-kiosk run|serve --find-config``)."""

    # the detector's smallest face, as a fraction of the quality's minimum head size (a face far
    # below it fails anyway; at half of it the child still hears "move closer", not "no face").
    # None: the detector's own smallest face (20 px), the whole pyramid
    min_face_of_min_head: float | None = Field(0.5, gt=0, le=1)
    # guidance frames are detected downscaled until that smallest face spans this many pixels
    # (None: at full size). Frames that may be captured are always detected at full size.
    work_face_px: int | None = Field(40, ge=20)
    # frames between detections while the mesh follows the face (0: detect on every frame)
    redetect_every: int = Field(12, ge=0, le=1000)
    # the capture screens the face its quality was judged on, and the CAM overlay reuses the
    # screened crop; False: detect and align the captured frame again (the old behaviour)
    reuse_capture_detection: bool = True

    @classmethod
    def baseline(cls) -> FindConfig:
        return cls(min_face_of_min_head=None, work_face_px=None, redetect_every=0, reuse_capture_detection=False)

    def detect_config(
        self, base: DetectConfig, quality: QualityConfig, frame_height: int, full_size: bool
    ) -> DetectConfig:
        """The detection settings for one frame of ``frame_height`` pixels. Only ``base``'s scale and
        confidence carry over: the smallest face of a frame comes from the quality configuration, and
        the baseline (no ``min_face_of_min_head``) searches the whole pyramid, down to the detector's
        20 px, even where ``base`` is the photo path's (edge.detect.PHOTO_DETECT)."""
        whole = DetectConfig(max_side=base.max_side, min_confidence=base.min_confidence)
        if self.min_face_of_min_head is None:
            return whole
        min_face = max(20.0, self.min_face_of_min_head * quality.min_head_size * frame_height)
        return replace(whole, min_face_px=min_face, work_face_px=None if full_size else self.work_face_px)


class FaceTrack:
    """One guidance loop's face between detections (one per loop or capture session, never shared)."""

    def __init__(self, redetect_every: int) -> None:
        self.redetect_every = redetect_every
        self.face: FaceDetection | None = None  # where the face is now
        self._ref_face: FaceDetection | None = None
        self._ref_points: np.ndarray | None = None
        self.age = 0  # frames followed since the last detection

    @property
    def due(self) -> bool:
        """True when this frame must be detected."""
        return self.face is None or self.redetect_every == 0 or self.age >= self.redetect_every

    def start(self, face: FaceDetection, mesh: FaceMesh | None) -> None:
        """A fresh detection and its mesh: the reference the following frames are mapped from."""
        if mesh is None:
            self.lose()
            return
        self.face, self._ref_face, self.age = face, face, 0
        self._ref_points = mesh.points[:N_TRACK_POINTS, :2].copy()

    def follow(self, mesh: FaceMesh) -> FaceDetection | None:
        """The detection carried onto this frame by the mesh's motion since the reference frame,
        or None when the face moved so far that the mesh read it from an ill-fitting crop (its
        points are then not to be trusted: detect instead)."""
        m = similarity_transform(self._ref_points, mesh.points[:N_TRACK_POINTS, :2])
        ref = self._ref_face
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        x1, y1, x2, y2 = ref.box
        cx, cy = m[:, :2] @ np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0]) + m[:, 2]
        hw, hh = (x2 - x1) * scale / 2.0, (y2 - y1) * scale / 2.0
        landmarks = ref.landmarks @ m[:, :2].T + m[:, 2]
        face = FaceDetection((cx - hw, cy - hh, cx + hw, cy + hh), ref.confidence, landmarks)
        if box_iou(face.box, self.face.box) < MIN_FRAME_IOU:
            self.lose()
            return None
        self.face = face
        self.age += 1
        return face

    def lose(self) -> None:
        self.face, self._ref_face, self._ref_points, self.age = None, None, None, 0
