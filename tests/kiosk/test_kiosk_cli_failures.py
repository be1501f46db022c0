"""What the operator sees when the machine is not ordinary (issue 25), each command run as a real
process and bounded in time: a data directory that cannot be written, a camera that is not there.
One line with the remedy, the documented exit status, never a traceback, never OpenCV's own log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facescreen.edge.clikit import EXIT_UNAVAILABLE, EXIT_USAGE
from facescreen.kiosk.messages import MESSAGES

KIOSK = [sys.executable, "-m", "facescreen.kiosk"]
BOUND_S = 120  # every process here ends on its own in seconds; this only stops a hang from hanging CI
OPENCV_LOG = ("[ WARN:", "[ERROR:", "VIDEOIO(")  # OpenCV's own log line prefixes (opencv/core/utils/logger)


def unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30).returncode == 0


def read_only(tmp_path: Path) -> tuple[list[str], Path]:
    """A folder this process cannot write, and the prefix that runs a command so: a read-only tmpfs
    mounted over it in a private mount namespace (EROFS, as on the read-only media of the issue, and
    unwritable even for root), else, for a user who is not root, a folder without write permission."""
    d = tmp_path / "ro-data"
    d.mkdir()
    if unshare_works():
        mount = 'mount -t tmpfs -o ro,size=1m tmpfs "$0" && exec "$@"'
        return ["unshare", "-rm", "sh", "-c", mount, str(d)], d
    if os.geteuid() != 0:
        d.chmod(0o500)
        return [], d
    pytest.skip("root without user namespaces: no folder here is unwritable")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--source", "frames-not-needed", "--headless"],
        ["serve", "--port", "1"],
        ["export", "--out", "-"],
        ["purge", "--older-than-days", "1"],
    ],
    ids=["run", "serve", "export", "purge"],
)
def test_an_unwritable_data_dir_is_one_line_with_the_remedy(tmp_path, argv):
    prefix, data = read_only(tmp_path)
    # --bundle that does not exist: the check must come before anything is loaded
    extra = ["--bundle", str(tmp_path / "no-bundle")] if argv[0] in ("run", "serve") else []
    proc = subprocess.run(
        [*prefix, *KIOSK, *argv, *extra, "--data-dir", str(data / "store")],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
    )
    assert proc.returncode == EXIT_USAGE, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "cannot write the results store" in lines[0] and "--data-dir" in lines[0]
    assert "http" not in proc.stdout + proc.stderr  # serve printed no URL first


def _run_without_camera(bundle, *flags: str, verbose: bool = False) -> subprocess.CompletedProcess:
    """``facescreen-kiosk [-v] run FLAGS`` headless on camera 97, which no machine has."""
    top = ["-v"] if verbose else []
    return subprocess.run(
        [*KIOSK, *top, "run", "--camera", "97", "--headless", "--no-store", *flags, "--bundle", str(bundle)],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
    )


def test_a_missing_camera_is_reported_and_max_frames_ends_the_run(kiosk_bundle, tmp_path):
    proc = _run_without_camera(kiosk_bundle, "--max-frames", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event"] for e in events] == ["no_camera"]  # one line per change: two tries, one event
    assert events[0]["text"] == MESSAGES["en"]["camera_lost"]
    assert not any(p in proc.stderr for p in OPENCV_LOG), proc.stderr[-2000:]


def test_a_missing_camera_is_given_up_after_the_stated_time(kiosk_bundle):
    proc = _run_without_camera(kiosk_bundle, "--camera-timeout", "1")
    assert proc.returncode == EXIT_UNAVAILABLE, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["event"] == "error" and events[-1]["error"]["code"] == "no_camera"
    assert events[-1]["text"] == MESSAGES["en"]["camera_gave_up"]
    last = proc.stderr.strip().splitlines()[-1]
    assert "camera 97 gave no frame for 1 s" in last and "doctor" in last
    assert not any(p in proc.stderr for p in OPENCV_LOG), proc.stderr[-2000:]


def test_opencv_keeps_its_own_log_with_verbose(kiosk_bundle):
    proc = _run_without_camera(kiosk_bundle, "--max-frames", "1", verbose=True)
    assert proc.returncode == 0 and any(p in proc.stderr for p in OPENCV_LOG), proc.stderr[-2000:]


@pytest.mark.parametrize("flags", [[], ["--loop", "--max-frames", "3"]], ids=["once", "loop"])
def test_a_replay_with_no_readable_frame_is_an_error_not_a_silent_success(kiosk_bundle, tmp_path, flags):
    """Each file is named as it is skipped, and the run ends with one error line and the status of a
    user's mistake; with --loop it used to spin for ever, --max-frames or not."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in ("001.jpg", "002.png"):
        (frames / name).write_bytes(b"not an image")
    proc = subprocess.run(
        [*KIOSK, "run", "--source", str(frames), "--headless", "--no-store", *flags, "--bundle", str(kiosk_bundle)],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
    )
    assert proc.returncode == EXIT_USAGE, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert [n for n in ("001.jpg", "002.png") if sum(n in line for line in lines) == 1] == ["001.jpg", "002.png"]
    assert lines[-1] == f"facescreen-kiosk: error: no frame of {frames} could be read" and not proc.stdout
