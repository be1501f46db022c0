"""Memory under decompression bombs, measured on a real `facescreen-kiosk serve` process.

16 concurrent 49-megapixel 1-bit PNGs (6 KB each; before the decode budget they took a server to
7.4 GB) with a queue deep enough to admit all 16, so the decode budget alone bounds the pixels in
flight. Memory, not time, is asserted: peak RSS under 1.5 GB, and RSS back at its baseline (a server
that has decoded one such image: the detector's per-shape buffers are filled once, see loadrun).
The server runs TensorFlow-free on a slim ONNX bundle, as a kiosk does (a Keras bundle would add
TensorFlow's ~1 GB to every figure). Loopback only; figures for the README come from kiosk/tools/loadrun.py."""
from __future__ import annotations

import pytest
import tf_free

from facescreen.kiosk.tools.loadrun import kiosk_server, run_bombs

GB = 1e9
MiB = 2**20


# KNOWN FAILURE, kept visible: in the Python 3.10 / numpy 1.26 / Pillow 12 environment of the Jetson pins
# (make test-py310, converted-MTCNN fixture) the same run peaks at 2.6 GB and keeps 2.5 GB afterwards;
# the bound holds on the Python 3.11 stack only. strict: the day it passes there, this marker must go.
@pytest.mark.xfail(tf_free.TF_FREE, strict=True,
                   reason="decode memory is not bounded on the Python 3.10 / Jetson-pinned stack (2.6 GB peak)")
def test_sixteen_concurrent_png_bombs_stay_bounded(kiosk_edge_bundle):
    with kiosk_server(kiosk_edge_bundle, "--queue-depth", "16") as (url, pid):
        row = run_bombs(url, pid, n=16)
    print("\nbombs:", row)
    assert set(row["statuses"]) <= {"422"}, row  # every bomb: no face / quality, never a 5xx or a crash
    assert sum(row["statuses"].values()) == 16
    assert row["peak_rss_mib"] * MiB < 1.5 * GB, row
    assert row["after_rss_mib"] - row["baseline_rss_mib"] < 96, row  # 5-65 MiB seen, the machine's load varies
