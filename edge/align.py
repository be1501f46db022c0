"""Five-point similarity alignment onto a canonical whole-face template.

The template is the widely used ArcFace 5-point template (112x112), shrunk about the face centre so
that the crop holds the whole face (forehead to chin) as gestalt screening needs, expressed in
fractions of the crop side so the same template serves any model input size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

_ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def _whole_face(points112: np.ndarray, shrink: float = 0.69, centre_y: float = 0.55) -> np.ndarray:
    p = points112 / 112.0
    anchor = np.array([0.5, (p[:2, 1].mean() + p[3:, 1].mean()) / 2.0])
    return (p - anchor) * shrink + np.array([0.5, centre_y])


@dataclass(frozen=True)
class AlignmentTemplate:
    name: str
    points: tuple = field(repr=False)  # (5, 2) fractions of the crop side, MTCNN landmark order

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.shape != (5, 2) or not np.all((pts > 0) & (pts < 1)):
            raise ValueError(f"template points must be (5, 2) fractions in (0, 1), got {pts.tolist()}")
        # stored as rounded tuples: hashable, comparable, and identical after a JSON round trip
        object.__setattr__(self, "points", tuple(tuple(round(float(v), 6) for v in p) for p in pts))

    def pixels(self, size: int) -> np.ndarray:
        return np.asarray(self.points, dtype=np.float64) * size

    def to_dict(self) -> dict:
        return {"name": self.name, "points": [list(p) for p in self.points]}

    @classmethod
    def from_dict(cls, d: dict) -> AlignmentTemplate:
        return cls(d["name"], np.asarray(d["points"], dtype=np.float64))


DEFAULT_TEMPLATE = AlignmentTemplate("facescreen-wholeface-v1", _whole_face(_ARCFACE_112))


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping
    ``src`` points onto ``dst`` (Umeyama 1991). Returns a 2x3 matrix."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    if var_s < 1e-9:
        raise ValueError("landmarks are degenerate (all at one point)")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


@dataclass(frozen=True)
class AlignedFace:
    image: np.ndarray = field(repr=False)  # (size, size, 3) uint8 RGB
    matrix: np.ndarray = field(repr=False)  # 2x3: photo pixels -> crop pixels
    landmarks: np.ndarray = field(repr=False)  # the five landmarks in crop pixels

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """Map crop-pixel points back into photo pixels (e.g. to lay a CAM over the photo)."""
        inv = cv2.invertAffineTransform(self.matrix)
        pts = np.asarray(points, dtype=np.float64)
        return pts @ inv[:, :2].T + inv[:, 2]


def align_face(
    rgb: np.ndarray, landmarks: np.ndarray, size: int = 224, template: AlignmentTemplate = DEFAULT_TEMPLATE
) -> AlignedFace:
    """Warp the photo so the five landmarks land on ``template`` in a ``size`` x ``size`` crop.

    The warp reads from the full-resolution photo; when it shrinks by more than 2x the photo is
    first halved (area filter) so that fine detail is averaged rather than aliased.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    matrix = similarity_transform(lm, template.pixels(size))
    src, m = rgb, matrix.copy()
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    while scale < 0.5 and min(src.shape[:2]) >= 8:
        src = cv2.pyrDown(src)
        # pixel centres: x_full = 2 * x_half + 0.5, so y = A (2 x_half + 0.5) + t
        m[:, 2] = m[:, 2] + 0.5 * m[:, :2].sum(axis=1)
        m[:, :2] *= 2.0
        scale *= 2.0
    crop = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    aligned_lm = lm @ matrix[:, :2].T + matrix[:, 2]
    return AlignedFace(image=crop, matrix=matrix, landmarks=aligned_lm)
