"""Memory under decompression bombs, measured on a real `facescreen-kiosk serve` process.

16 concurrent 49-megapixel 1-bit PNGs (6 KB each; before the decode budget they took a server to
7.4 GB) with a queue deep enough to admit all 16, so the decode budget alone bounds the pixels in
flight. Memory, not time, is asserted: peak RSS under 1.5 GB, and RSS back at its baseline (a server
that has decoded one such image: the detector's per-shape buffers are filled once, see loadrun).
Run by both environments: Python 3.11, and the Jetson's Python 3.10 stack (make test-py310), where
the refused bombs used to stay alive in reference cycles through their tracebacks (2.6 GB peak, 2.5 GB
kept) until the error handlers released their frames (kiosk/server/errors.py).
The server runs TensorFlow-free on a slim ONNX bundle, as a kiosk does (a Keras bundle would add
TensorFlow's ~1 GB to every figure). Loopback only; figures for the README come from kiosk/tools/loadrun.py."""

from __future__ import annotations

from facescreen.kiosk.tools.loadrun import kiosk_server, run_bombs

GB = 1e9
MiB = 2**20


def test_sixteen_concurrent_png_bombs_stay_bounded(kiosk_edge_bundle):
    with kiosk_server(kiosk_edge_bundle, "--queue-depth", "16") as (url, pid):
        row = run_bombs(url, pid, n=16)
    print("\nbombs:", row)
    assert set(row["statuses"]) <= {"422"}, row  # every bomb: no face / quality, never a 5xx or a crash
    assert sum(row["statuses"].values()) == 16
    assert row["peak_rss_mib"] * MiB < 1.5 * GB, row
    assert row["after_rss_mib"] - row["baseline_rss_mib"] < 96, row  # 5-65 MiB seen, the machine's load varies
