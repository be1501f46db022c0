"""Frame sources: URIs, image-folder replay, video files, and a camera that disappears and returns."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from facescreen.kiosk.sources import (
    FFMPEG_LOG_ENV,
    Backoff,
    CameraSource,
    ImageFolderSource,
    VideoFileSource,
    ffmpeg_available,
    gstreamer_available,
    open_source,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def write_video(path, n=5, size=(64, 48)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    assert w.isOpened(), "this OpenCV cannot write MJPG/AVI"
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), 40 * i % 256, np.uint8))
    w.release()
    return path


def test_folder_replays_in_name_order_and_skips_unreadable_files(tmp_path):
    for name, value in [("b.png", 20), ("a.png", 10), ("c.jpg", 30)]:
        Image.fromarray(np.full((24, 24, 3), value, np.uint8)).save(tmp_path / name)  # >= min_side
    (tmp_path / "bb_broken.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(str(tmp_path))
    assert isinstance(src, ImageFolderSource)
    frames = []
    while src.is_streaming:
        f = src.capture()
        if f is not None:
            frames.append(int(f[0, 0, 0]))
    assert frames[:2] == [10, 20] and abs(frames[2] - 30) <= 2
    assert [p.name for p, _ in src.skipped] == ["bb_broken.png"]
    assert src.capture() is None


def test_a_looping_folder_reads_an_unreadable_file_once_and_ends_when_none_is_readable(tmp_path, caplog):
    """A replay with --loop used to read every broken file again on every pass, and one holding no
    readable file spun for ever (max_frames counts frames shown, and none was)."""
    for name, value in [("a.png", 10), ("c.png", 30)]:
        Image.fromarray(np.full((24, 24, 3), value, np.uint8)).save(tmp_path / name)
    (tmp_path / "b_broken.png").write_bytes(b"not an image")
    src = open_source(str(tmp_path), loop=True)
    got = [src.capture() for _ in range(7)]
    assert [None if f is None else int(f[0, 0, 0]) for f in got] == [10, None, 30, 10, 30, 10, 30]
    assert [p.name for p, _ in src.skipped] == ["b_broken.png"] and src.is_streaming
    assert sum("b_broken.png" in r.message for r in caplog.records) == 1

    for name in ("a.png", "c.png"):
        (tmp_path / name).write_bytes(b"overwritten")  # unreadable from the next pass on
    assert [src.capture() for _ in range(3)] == [None, None, None] and not src.is_streaming
    assert [p.name for p, _ in src.skipped] == ["b_broken.png", "a.png", "c.png"]


def test_video_file_source_ends_at_the_last_frame(tmp_path):
    src = open_source(str(write_video(tmp_path / "clip.avi")))
    assert isinstance(src, VideoFileSource)
    frames = [src.capture() for _ in range(7)]
    got = [f for f in frames if f is not None]
    assert len(got) == 5 and got[0].shape == (48, 64, 3) and not src.is_streaming


REPLAY = """
import sys
from facescreen.kiosk.sources import open_source, quiet_opencv
quiet_opencv(verbose=sys.argv[1] == "-v")
src = open_source(sys.argv[2])
while src.is_streaming:
    src.capture()
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_a_video_cut_short_does_not_print_ffmpeg_lines_unless_verbose(tmp_path, verbose):
    """FFmpeg logs on file descriptor 2 itself ("[mjpeg @ 0x...] overread 8"), around OpenCV's
    logger: only -v shows it (the line is printed by a child process, so it is read from there)."""
    whole = write_video(tmp_path / "clip.avi", n=20, size=(320, 240)).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole[: len(whole) // 3])
    env = {k: v for k, v in os.environ.items() if k != FFMPEG_LOG_ENV}
    args = [sys.executable, "-c", REPLAY, "-v" if verbose else "-q", str(cut)]
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert ("[mjpeg @" in run.stderr) == verbose, run.stderr


def test_camera_that_disappears_is_reopened_with_backoff(tmp_path):
    """A real cv2.VideoCapture on a file standing in for a camera device: when it stops giving
    frames the source releases it and retries with growing delays until it is back."""
    clip = write_video(tmp_path / "cam.avi", n=3)
    clock = FakeClock()
    cam = CameraSource(str(clip), cv2.CAP_ANY, backoff=Backoff(initial_s=1.0, max_s=4.0), max_failures=2, clock=clock)
    assert sum(cam.capture() is not None for _ in range(3)) == 3 and cam.connected
    # the "camera" stops: two failed reads release it
    assert cam.capture() is None and cam.capture() is None and not cam.connected
    hidden = clip.rename(tmp_path / "unplugged.avi")
    attempts = []
    for _ in range(20):  # unplugged: retries at growing intervals, never blocking
        clock.t += 0.5
        before = cam._attempt
        assert cam.capture() is None
        if cam._attempt != before:
            attempts.append(clock.t)
    gaps = np.diff(attempts)
    assert len(attempts) >= 3 and gaps[-1] > gaps[0], attempts
    hidden.rename(clip)  # plugged back in
    for _ in range(20):
        clock.t += 0.5
        frame = cam.capture()
        if frame is not None:
            break
    assert frame is not None and cam.reconnects == 1 and cam.is_streaming
    cam.close()
    assert cam.capture() is None and not cam.is_streaming


def test_backoff_grows_to_a_ceiling():
    b = Backoff(initial_s=0.5, max_s=3.0)
    assert [b.delay(i) for i in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("uri", ["missing_file.txt"])
def test_unknown_sources_say_what_is_accepted(uri):
    with pytest.raises(ValueError, match="camera index"):
        open_source(uri)


@pytest.mark.parametrize("uri", ["nope://x", "ftp://camera/x.mjpg"])
def test_a_url_of_another_scheme_says_which_are_opened(uri):
    """It was taken for a file: "no video file at ftp:/camera/x.mjpg" (the slashes joined)."""
    with pytest.raises(ValueError, match="a URL is opened for rtsp://, rtsps://, http://, https:// only"):
        open_source(uri)


@pytest.mark.skipif(not ffmpeg_available(), reason="this OpenCV has no FFmpeg")
def test_a_network_camera_streams_and_one_that_is_not_there_is_given_up(tmp_path):
    """A network camera's stream (here a video served over HTTP on this machine) is a camera: it was
    "no video file at http:/..." (the URL taken for a path). One at an address that answers nothing
    is retried, and given up after the camera time-out, as a USB camera is."""
    import functools
    import http.server
    import socket
    import threading

    write_video(tmp_path / "cam.avi", n=4)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        src = open_source(f"http://127.0.0.1:{httpd.server_address[1]}/cam.avi")
        try:
            assert isinstance(src, CameraSource) and src.api == cv2.CAP_FFMPEG
            frames = [f for f in (src.capture() for _ in range(4)) if f is not None]
            assert len(frames) == 4 and frames[0].shape == (48, 64, 3)
        finally:
            src.close()
        httpd.shutdown()
    with socket.socket() as s:  # a port nothing listens on: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = open_source(f"rtsp://127.0.0.1:{port}/stream", camera_timeout_s=0)
    assert gone.capture() is None and gone.failed_opens == 1 and gone.gave_up and not gone.is_streaming


def test_one_photo_as_the_source_says_how_to_screen_it(tmp_path):
    with pytest.raises(ValueError, match=r"is one photo, not a frame source.*facescreen-screen BUNDLE .*child\.JPG$"):
        open_source(str(tmp_path / "child.JPG"))


def test_missing_folder_or_video_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_source(str(tmp_path / "gone.mp4"))
    with pytest.raises(FileNotFoundError):
        open_source(f"folder://{tmp_path / 'gone'}")


@pytest.mark.skipif(gstreamer_available(), reason="this OpenCV has GStreamer")
@pytest.mark.parametrize("uri", ["csi://0", "gst:videotestsrc ! appsink"])
def test_gstreamer_uris_need_a_gstreamer_build(uri):
    with pytest.raises(ValueError, match="GStreamer"):
        open_source(uri)


def test_camera_index_uri_makes_a_camera_source_without_opening_it_yet():
    src = open_source("7")
    assert isinstance(src, CameraSource) and src.spec == 7 and not src.connected
    src.close()
