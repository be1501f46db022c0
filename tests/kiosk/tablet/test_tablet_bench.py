"""The tablet's section of facescreen-bench (kiosk/tablet/bench.py): found through its entry point,
it exports the app from the bundle through the gate and measures the browser against Python in one
run: the stages of a photo, the guidance loop, the same graphs. Times are recorded, never asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facescreen.kiosk.tablet import bench as tb
from facescreen.kiosk.tools.browser import browser_skip_reason

needs_browser = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))


def test_edge_finds_the_tablet_section():
    from facescreen.edge.bench.sections import discover_sections

    found = discover_sections()
    assert found.errors == {} and found.sections["tablet"] is tb.SECTION


@pytest.fixture(scope="module")
def measured(tablet_bundle, scene_frames, tmp_path_factory) -> dict:
    # the benchmark's inputs as facescreen-bench saves them (edge/bench/runner.py prepare_inputs)
    path = tmp_path_factory.mktemp("tablet-bench") / "frames.npz"
    np.savez(path, frames=np.stack([scene_frames[n] for n in ("good_b", "off_centre", "too_dark")]))
    return tb.measure(str(tablet_bundle), {"frames": str(path)}, {})


@needs_browser
def test_the_section_measures_the_browser_against_python(measured, capsys):
    assert measured["status"] == "ok", measured.get("error")
    assert measured["parity"] == "parity ok" and measured["photos"] == 3 * tb.PHOTO_ROUNDS
    assert set(measured["stages"]) == {"detect", "align", "infer"}
    assert all(v["browser"] > 0 and v["python"] > 0 and v["ratio"] > 0 for v in measured["stages"].values())
    g = measured["guidance"]
    for side in ("browser", "python"):
        s = g[side]
        assert s["fps_p50"] > 0 and s["followed_p50_ms"] > 0 and 0 < s["detected_fraction"] < 1, (side, s)
    # the same frames and FindConfig on both sides: the same frames followed and detected
    assert g["browser"]["detected_fraction"] == g["python"]["detected_fraction"]
    assert measured["graphs"] and all(r["verdict"] == "answers as Python" for r in measured["graphs"].values())
    lines = tb.SECTION.format(measured)
    assert lines[-1].startswith("  browser targets: ") and "guidance_fps_p50" in lines[-1]
    rows = tb.SECTION.rows(measured)
    assert [r["measure"] for r in rows][:4] == [f"stage_{k}" for k in measured["stages"]] + ["guidance"]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
        print("tablet bench:", json.dumps({k: measured[k] for k in ("stages", "guidance")}))


@needs_browser
def test_the_section_draws_its_panel(measured):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    tb.SECTION.plot(ax, measured)
    assert [t.get_text() for t in ax.get_yticklabels()] == [r["measure"] for r in tb.SECTION.rows(measured)]
    plt.close(fig)
