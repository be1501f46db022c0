"""Frame sources named by URIs, as jetson-inference's videoSource: a camera, a video file, a folder
of images. ``capture()`` returns an RGB frame or None (no frame right now: the loop skips it).

    0, 1, ...                 OpenCV camera index (V4L2 on Linux)
    v4l2:///dev/video0        a V4L2 device path
    csi://0                   Jetson CSI camera through GStreamer (nvarguscamerasrc)
    gst:<pipeline> | "... ! appsink"   any GStreamer pipeline ending in appsink
    rtsp://... | http(s)://...   a network camera's stream (OpenCV's FFmpeg), reopened as a camera
    file.mp4 | file:///...    a video file (ends at its last frame)
    folder/ | folder://...    the images of a folder in name order (replay: demo and tests)

Phones and tablets send frames over HTTP instead; the server feeds them to the same guidance loop
(kiosk.server.routers.sessions).

A camera that stops delivering frames (unplugged, driver reset) is released and reopened with
exponential backoff, without blocking the loop and without restarting the program. Every failed
attempt is counted (``failed_opens``) so the kiosk can say so on screen; after ``give_up_s`` without
a frame the camera is given up (``gave_up``) and the stream ends.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from facescreen.edge.errors import PhotoError
from facescreen.edge.photo import PHOTO_SUFFIXES, PhotoLimits, find_photos, load_photo

log = logging.getLogger(__name__)

NETWORK_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
NETWORK_TIMEOUT_MS = 5000  # per open and per read of a network stream
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mjpeg", ".mjpg", ".y4m")


class FrameSource(Protocol):
    uri: str
    failed_opens: int  # attempts to open the source that failed (a camera retrying); 0 for files
    gave_up: bool  # the stream ended because the source could not be opened in time

    def capture(self) -> np.ndarray | None:
        """The next RGB uint8 frame, or None when there is none right now."""

    @property
    def is_streaming(self) -> bool:
        """False once a finite source (file, folder) is exhausted; a camera streams until closed."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 10.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.initial_s * self.factor ** max(0, attempt))


def csi_pipeline(sensor_id: int = 0, width: int = 1280, height: int = 720, fps: int = 30) -> str:
    """GStreamer pipeline for a Jetson CSI camera, delivering BGR frames to OpenCV's appsink."""
    return (
        f"nvarguscamerasrc sensor-id={sensor_id} ! video/x-raw(memory:NVMM), width={width}, height={height}, "
        f"framerate={fps}/1 ! nvvidconv ! video/x-raw, format=BGRx ! videoconvert ! video/x-raw, format=BGR ! "
        "appsink drop=true max-buffers=1"
    )


class CameraSource:
    """A live camera (index, device path or GStreamer pipeline) that reconnects on its own."""

    def __init__(
        self,
        spec: int | str,
        api: int = cv2.CAP_ANY,
        uri: str = "",
        width: int | None = None,
        height: int | None = None,
        backoff: Backoff = Backoff(),
        max_failures: int = 5,
        clock: Callable[[], float] = time.monotonic,
        give_up_s: float | None = None,
        params: tuple[int, ...] = (),
    ) -> None:
        self.spec, self.api, self.params = spec, api, params
        self.give_up_s = give_up_s
        self.failed_opens = 0
        self.gave_up = False
        self._missing_since: float | None = None  # when frames stopped coming (or the first try)
        self.uri = uri or str(spec)
        self.size = (width, height)
        self.backoff = backoff
        self.max_failures = max_failures
        self.clock = clock
        self._cap: cv2.VideoCapture | None = None
        self._failures = 0
        self._attempt = 0
        self._next_try = 0.0
        self._closed = False
        self.reconnects = 0  # times the camera came back after being lost
        self._ever_opened = False

    @property
    def connected(self) -> bool:
        return self._cap is not None

    @property
    def is_streaming(self) -> bool:
        return not self._closed and not self.gave_up

    def _missing(self, now: float) -> None:
        if self._missing_since is None:
            self._missing_since = now
        if self.give_up_s is not None and now - self._missing_since >= self.give_up_s:
            log.warning("camera %s gave no frame for %.0f s; giving up", self.uri, now - self._missing_since)
            self.gave_up = True

    def _open(self) -> bool:
        cap = (
            cv2.VideoCapture(self.spec, self.api, list(self.params))
            if self.params
            else cv2.VideoCapture(self.spec, self.api)
        )
        if not cap.isOpened():
            cap.release()
            return False
        if self.size[0] and self.size[1]:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        self._cap = cap
        return True

    def capture(self) -> np.ndarray | None:
        if self._closed:
            return None
        now = self.clock()
        if self._cap is None:
            if now < self._next_try:
                return None
            if not self._open():
                delay = self.backoff.delay(self._attempt)
                self._attempt += 1
                self._next_try = now + delay
                self.failed_opens += 1
                log.warning("camera %s not available; next try in %.1f s", self.uri, delay)
                self._missing(now)
                return None
            if self._ever_opened:
                self.reconnects += 1
                log.warning("camera %s reconnected", self.uri)
            self._ever_opened = True
            self._attempt = 0
            self._failures = 0
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self._missing(now)
            self._failures += 1
            if self._failures >= self.max_failures:
                log.warning("camera %s stopped delivering frames; releasing it and reconnecting", self.uri)
                self._cap.release()
                self._cap = None
                self._next_try = now + self.backoff.delay(0)
                self._attempt = 1
            return None
        self._failures = 0
        self._missing_since = None
        return _to_rgb(frame)

    def close(self) -> None:
        self._closed = True
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileSource:
    """A video file, frame by frame, ending at its last frame."""

    failed_opens, gave_up = 0, False  # opened in __init__ or not at all

    def __init__(self, path: str | Path, uri: str = "") -> None:
        self.path = Path(path)
        self.uri = uri or str(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no video file at {self.path}")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise ValueError(f"OpenCV cannot read the video {self.path} (codec not supported by this build?)")
        self._done = False

    @property
    def is_streaming(self) -> bool:
        return not self._done

    def capture(self) -> np.ndarray | None:
        if self._done:
            return None
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self.close()
            return None
        return _to_rgb(frame)

    def close(self) -> None:
        self._done = True
        self._cap.release()


class ImageFolderSource:
    """The images of a folder, in name order, each decoded by edge.photo.load_photo (EXIF
    orientation, grayscale/CMYK/16-bit/alpha conversion, size limits). An unreadable file is skipped,
    listed in ``skipped`` and taken out of the replay, so a looping replay neither reads nor warns
    about it again, and one with no readable file left ends instead of spinning for ever."""

    failed_opens, gave_up = 0, False

    def __init__(
        self, folder: str | Path, uri: str = "", limits: PhotoLimits = PhotoLimits(), loop: bool = False
    ) -> None:
        self.folder = Path(folder)
        self.uri = uri or str(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no image folder at {self.folder}")
        self.files = find_photos(self.folder, recursive=False)
        if not self.files:
            raise ValueError(f"{self.folder} holds no images ({', '.join(PHOTO_SUFFIXES)})")
        self.limits = limits
        self.loop = loop
        self.position = 0  # in ``files``, of the next image
        self.skipped: list[tuple[Path, str]] = []
        self.current: Path | None = None
        self._closed = False

    @property
    def is_streaming(self) -> bool:
        return not self._closed and self.position < len(self.files)

    def capture(self) -> np.ndarray | None:
        if not self.is_streaming:
            return None
        path = self.files[self.position]
        frame: np.ndarray | None = None
        try:
            frame = load_photo(path, self.limits)
        except PhotoError as exc:
            log.warning("skipping %s: %s", path, exc)
            self.skipped.append((path, str(exc)))
            del self.files[self.position]  # the next image moves into its place
        else:
            self.current = path
            self.position += 1
        if self.loop and self.files and self.position == len(self.files):
            self.position = 0
        return frame

    def close(self) -> None:
        self._closed = True


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def open_source(
    uri: str,
    width: int | None = None,
    height: int | None = None,
    limits: PhotoLimits = PhotoLimits(),
    loop: bool = False,
    camera_timeout_s: float | None = None,
) -> FrameSource:
    """Open a frame source from its URI (see the module docstring for the forms); a camera is given
    up after ``camera_timeout_s`` without a frame (None: it is retried for ever)."""
    uri = str(uri).strip()
    camera = functools.partial(CameraSource, give_up_s=camera_timeout_s)
    if re.fullmatch(r"\d+", uri):
        return camera(int(uri), cv2.CAP_ANY, uri, width, height)
    if (uri.startswith(("csi://", "gst:")) or " ! " in uri) and not gstreamer_available():
        raise ValueError(
            f"{uri!r} needs an OpenCV built with GStreamer (JetPack's OpenCV on a Jetson); "
            "this OpenCV has none (pip wheels do not)"
        )
    if uri.startswith("csi://"):
        sensor = uri[len("csi://") :] or "0"
        if not sensor.isdigit():
            raise ValueError(f"csi:// takes a sensor number, e.g. csi://0; got {uri!r}")
        return camera(csi_pipeline(int(sensor), width or 1280, height or 720), cv2.CAP_GSTREAMER, uri)
    if uri.startswith("v4l2://"):
        return camera(uri[len("v4l2://") :], cv2.CAP_V4L2, uri, width, height)
    if uri.startswith("/dev/video"):
        return camera(uri, cv2.CAP_V4L2, uri, width, height)
    if uri.startswith("gst:") or " ! " in uri:
        return camera(uri[len("gst:") :] if uri.startswith("gst:") else uri, cv2.CAP_GSTREAMER, uri)
    if uri.startswith("folder://"):
        return ImageFolderSource(uri[len("folder://") :], uri, limits, loop)
    if uri.lower().startswith(NETWORK_SCHEMES):
        if not ffmpeg_available():
            raise ValueError(
                f"{uri!r} needs an OpenCV built with FFmpeg (pip wheels are); this one has none: "
                "give a GStreamer pipeline instead (gst:rtspsrc location=... ! decodebin ! videoconvert ! appsink)"
            )
        # a camera that is not there (a wrong address, the camera off) must not hold the guidance loop
        # for FFmpeg's own time-outs (30 s and more): opening and reading each give up after these
        timeouts = (
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            NETWORK_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            NETWORK_TIMEOUT_MS,
        )
        return camera(uri, cv2.CAP_FFMPEG, uri, params=timeouts)
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", uri) and not uri.startswith("file://"):
        raise ValueError(
            f"cannot open frame source {uri!r}: a URL is opened for {', '.join(NETWORK_SCHEMES)} only "
            "(a GStreamer pipeline, gst:..., for anything else)"
        )
    path = Path(uri[len("file://") :] if uri.startswith("file://") else uri)
    if path.is_dir():
        return ImageFolderSource(path, uri, limits, loop)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return VideoFileSource(path, uri)
    if path.suffix.lower() in PHOTO_SUFFIXES:  # a developer trying one photo on the kiosk
        raise ValueError(
            f"{uri!r} is one photo, not a frame source (a camera, a video or a folder of images): "
            f"replay a folder that holds it (--source FOLDER), or screen it with: facescreen-screen BUNDLE {path}"
        )
    raise ValueError(
        f"cannot open frame source {uri!r}: expected a camera index (0), v4l2:///dev/videoN, csi://N, a network "
        f"stream (rtsp://, http://), a GStreamer pipeline (gst:...), a video file ({', '.join(VIDEO_SUFFIXES)}) "
        "or a folder of images"
    )


# cv::utils::logging::LogLevel (opencv2/core/utils/logger.defines.hpp). Newer Python bindings (4.14 from
# PyPI) expose it as cv2.utils.logging; older ones (4.11 from PyPI, and so JetPack 6's 4.8) only as
# cv2.setLogLevel taking the enum's integers.
LOG_LEVEL_SILENT, LOG_LEVEL_INFO = 0, 4
# FFmpeg's own log (a video cut short: "[mjpeg @ 0x...] overread 8") bypasses OpenCV's logger: OpenCV's
# FFmpeg backend sets FFmpeg's level from this variable, read once, when it first opens a video
# (videoio/src/cap_ffmpeg_impl.hpp, InternalFFMpegRegister); -8 is AV_LOG_QUIET. Unset, FFmpeg logs errors.
FFMPEG_LOG_ENV, AV_LOG_QUIET = "OPENCV_FFMPEG_LOGLEVEL", "-8"


def quiet_opencv(verbose: bool) -> None:
    """OpenCV's own log lines ("[ WARN:0@0.01] global cap_v4l.cpp ... can't open camera by index",
    every retry) and FFmpeg's (a damaged video's frames) are for developers: the kiosk reports a
    missing camera itself, and a video's end. Kept with -v; called before any source is opened."""
    logging = getattr(cv2.utils, "logging", None)
    set_level = logging.setLogLevel if logging is not None else cv2.setLogLevel
    set_level(LOG_LEVEL_INFO if verbose else LOG_LEVEL_SILENT)
    if not verbose:
        os.environ.setdefault(FFMPEG_LOG_ENV, AV_LOG_QUIET)  # a level the user set is kept


def ffmpeg_available() -> bool:
    """Whether this OpenCV build reads network streams and video files with FFmpeg (pip wheels do)."""
    return bool(re.search(r"FFMPEG:\s+YES", cv2.getBuildInformation()))


def gstreamer_available() -> bool:
    """Whether this OpenCV build can open GStreamer pipelines (pip wheels cannot; JetPack's can)."""
    return bool(re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()))
