"""facescreen.edge: the light runtime under training, converters and the kiosk.

Imports nothing from the other three packages and never TensorFlow at import time.
Data flow: ``load_photo -> find_face -> align_face -> backend.run -> ScreeningResult``.
"""

try:  # OpenCV is an extra, not a hard dependency (a Jetson uses JetPack's own build): say how to get one
    import cv2 as _cv2  # noqa: F401
except ImportError as _exc:
    raise ImportError(
        f"facescreen needs OpenCV (cv2), which cannot be imported here ({_exc}). On a PC or tablet: pip install "
        f"'facescreen[edge]' (it brings opencv-python-headless). On a Jetson: use JetPack's OpenCV (built with "
        f"GStreamer) from a venv made with --system-site-packages, as deploy/jetson/install.sh does; do not "
        f"pip-install OpenCV there."
    ) from None
from .align import DEFAULT_TEMPLATE, AlignedFace, AlignmentTemplate, align_face, similarity_transform
from .bundle import Bundle, InputSpec, ModelCard, artifact_entry, load_bundle, save_card
from .detect import DETECTORS, DetectConfig, FaceDetection, FaceFinding, create_detector, detect_faces, find_face
from .errors import (
    AssetMissingError,
    BackendUnavailableError,
    BundleError,
    FaceScreenError,
    NoFaceError,
    PhotoAspectError,
    PhotoError,
    PhotoTooLargeError,
    PhotoTooSmallError,
)
from .photo import PhotoLimits, load_photo
from .pipeline import AlignConfig, PreparedFace, as_batch, prepare_face
from .result import NO_FLAG, REFER, ScreeningResult
from .screener import Screener, create_screener

__all__ = [
    "AlignConfig",
    "AlignedFace",
    "AlignmentTemplate",
    "AssetMissingError",
    "BackendUnavailableError",
    "Bundle",
    "BundleError",
    "DEFAULT_TEMPLATE",
    "DETECTORS",
    "DetectConfig",
    "FaceDetection",
    "FaceFinding",
    "FaceScreenError",
    "InputSpec",
    "ModelCard",
    "NO_FLAG",
    "NoFaceError",
    "PhotoAspectError",
    "PhotoError",
    "PhotoLimits",
    "PhotoTooLargeError",
    "PhotoTooSmallError",
    "PreparedFace",
    "REFER",
    "ScreeningResult",
    "Screener",
    "align_face",
    "artifact_entry",
    "as_batch",
    "create_detector",
    "create_screener",
    "detect_faces",
    "find_face",
    "load_bundle",
    "load_photo",
    "prepare_face",
    "save_card",
    "similarity_transform",
]
