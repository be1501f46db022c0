"""The tablet's section of facescreen-bench: the browser against Python in one run on one machine, in
headless Chromium on the app exported from the benchmark's bundle (issue 23 §1).

- ``stages``: detect, align and infer per photo on the benchmark's 640x480 frames, each side's own
  timing of the same photo, from the export's parity record (kiosk/tablet/parity.py);
- ``guidance``: the guidance loop's per-frame work (detection or mesh tracking, the face mesh, every
  measure) on the kiosk bench's drifting sequence, browser and Python frame by frame in turn, with
  the frames the mesh followed and the frames detected apart (the mesh's own cost and the detector's);
- ``graphs``: the same ONNX screener graphs on the same faces (kiosk/tablet/gap.py), which says how
  much of the infer gap is the runtime and the instruction set rather than our code.

The targets are reported, never asserted: every stage within 2x of Python, guidance at least 60
frames/s p50. Found by facescreen-bench through the ``facescreen.bench_sections`` entry point.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TARGETS = {"stage_ratio_max": 2.0, "guidance_fps_p50_min": 60.0}
GRAPH_RUNS = 5  # timed runs per face and side for the same-graph comparison
WARMUP_FRAMES = 3
PHOTO_ROUNDS = 3  # the benchmark's few frames (6), each screened this many times for the stages' medians


def measure_guidance(app_dir: Path, bundle_dir: Path, runtime: str, sequence: list[np.ndarray]) -> dict:
    """Browser and Python guidance on ``sequence``, taking turns frame by frame (a machine whose load
    changes slows both alike), each after the same warm-up frames."""
    from facescreen.edge.assets import FACE_LANDMARK, asset_path

    from ..bench import guidance_summary
    from ..engine import KioskEngine
    from ..landmarks import DenseLandmarker
    from ..tools.browser import Chrome
    from ..tracking import FaceTrack, FindConfig
    from .parity import b64_pixels, module_call, open_in_browser, python_reference, static_server

    engine = KioskEngine(
        python_reference(bundle_dir, runtime), DenseLandmarker(asset_path(FACE_LANDMARK.name)), find=FindConfig()
    )
    shutil.copy(Path(__file__).with_name("bench.js"), app_dir / "bench.js")
    sides: dict[str, dict[str, list]] = {s: {"ms": [], "tracked": []} for s in ("browser", "python")}
    with static_server(app_dir) as url, Chrome() as chrome:
        open_in_browser(chrome, url)
        find = module_call(chrome, "bench.js", "guidanceStart")
        track = FaceTrack(FindConfig().redetect_every)
        if find["redetect_every"] != track.redetect_every:
            raise RuntimeError(
                f"the app follows faces for {find['redetect_every']} frames, the kiosk for {track.redetect_every}"
            )
        for i, f in enumerate(sequence):
            h, w = f.shape[:2]
            got = module_call(chrome, "bench.js", "guidanceStep", b64_pixels(f), h, w)
            t0 = time.perf_counter()
            a = engine.analyse(f, track, capture=False)
            ms = (time.perf_counter() - t0) * 1e3
            if i >= WARMUP_FRAMES:
                for side, (m, tracked) in (("browser", (got["ms"], got["tracked"])), ("python", (ms, a.tracked))):
                    sides[side]["ms"].append(m)
                    sides[side]["tracked"].append(tracked)
    out = {side: guidance_summary(v["ms"], v["tracked"]) for side, v in sides.items()}
    out["ratio_p50"] = out["browser"]["p50_ms"] / out["python"]["p50_ms"]
    return out


def measure(bundle_dir: str, inputs: dict, settings: dict) -> dict:
    """Export the app (through its gate) from the benchmark's bundle, then measure it."""
    out: dict[str, Any] = {"targets": TARGETS}
    try:
        from ..bench import GUIDANCE_FRAMES, moving_sequence
        from ..tools.browser import browser_skip_reason
        from . import gap
        from .export import APP_JSON, DEFAULT_RUNTIME, export_app
        from .parity import verify_app

        why = browser_skip_reason()
        if why:
            raise RuntimeError(why)
        bundle = Path(bundle_dir)
        frames = np.load(inputs["frames"])["frames"]
        photos = {f"frame_{i}_{r}": f for r in range(PHOTO_ROUNDS) for i, f in enumerate(frames)}
        with tempfile.TemporaryDirectory(prefix="facescreen-tablet-bench-") as tmp:
            verify = functools.partial(verify_app, bundle_dir=bundle, photos=photos)
            app_dir = export_app(bundle, Path(tmp) / "app", DEFAULT_RUNTIME, verify=verify, progress=lambda s: None)
            app = json.loads((app_dir / APP_JSON).read_text())
            parity = app["parity"]
            out["runtime"], out["backend"] = app["runtime"], app["screener"]["artifact"]
            out["photos"], out["parity"] = parity["n_photos"], parity["verdict"]
            out["stages"] = parity["stages_median_ms"]
            out["guidance"] = measure_guidance(
                app_dir, bundle, app["runtime"], moving_sequence(frames, GUIDANCE_FRAMES)
            )
        out["graphs"] = gap.run(bundle, runs=GRAPH_RUNS)["wasm"]["graphs"]
        out["status"] = "ok"
    except Exception as exc:  # no Chromium, no node_modules, a gate that refused the app: a row, not a crash
        out.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    return out


def targets_met(data: dict) -> dict[str, bool]:
    t = data["targets"]
    met = {
        f"{k}_within_{t['stage_ratio_max']:g}x": v["ratio"] <= t["stage_ratio_max"] for k, v in data["stages"].items()
    }
    met["guidance_fps_p50"] = data["guidance"]["browser"]["fps_p50"] >= t["guidance_fps_p50_min"]
    return met


class TabletSection:
    name = "tablet"
    measure = staticmethod(measure)

    # facescreen-bench prints a failed section's error itself, and calls these only for one measured
    def format(self, data: dict) -> list[str]:
        from .gap import graph_said

        lines = [
            f"tablet app in headless Chromium ({data['runtime']}, {data['backend']}) vs Python on the same "
            f"artifacts, {data['photos']} photos; gate: {data['parity']}",
            "  stage    browser ms  python ms  ratio",
        ]
        for k, v in data["stages"].items():
            lines.append(f"  {k:<8} {v['browser']:>10.2f} {v['python']:>10.2f} {v['ratio']:>6.2f}x")
        g = data["guidance"]
        for side in ("browser", "python"):
            s = g[side]
            lines.append(
                f"  guidance {side:<7} p50 {s['fps_p50']:.1f} frames/s (mean {s['fps_mean']:.1f}); followed "
                f"frame p50 {s['followed_p50_ms']:.1f} ms, detected {s['detected_p50_ms'] or float('nan'):.1f} ms "
                f"({s['detected_fraction']:.0%} of frames)"
            )
        for art, row in data["graphs"].items():
            lines.append(f"  same graph {art} in WebAssembly: {graph_said(row)}")
        met = targets_met(data)
        lines.append("  browser targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items()))
        return lines

    def rows(self, data: dict) -> list[dict]:
        rows = [
            {"measure": f"stage_{k}", "browser_ms": v["browser"], "python_ms": v["python"], "ratio": v["ratio"]}
            for k, v in data["stages"].items()
        ]
        g = data["guidance"]
        rows.append(
            {
                "measure": "guidance",
                "browser_ms": g["browser"]["p50_ms"],
                "python_ms": g["python"]["p50_ms"],
                "ratio": g["ratio_p50"],
                "per_s": g["browser"]["fps_p50"],
            }
        )
        for art, row in data["graphs"].items():
            if "browser_ms" in row:
                rows.append(
                    {
                        "measure": f"graph_{art}",
                        "browser_ms": row["browser_ms"],
                        "python_ms": row["python_ms"],
                        "ratio": row["ratio"],
                    }
                )
        return rows

    def plot(self, ax: Any, data: dict) -> None:
        """Browser over Python per measure (1 = as fast), with the 2x target."""
        rows = self.rows(data)
        names, ratios = [r["measure"] for r in rows], [r["ratio"] for r in rows]
        ax.barh(names, ratios, color="#4477aa")
        ax.axvline(data["targets"]["stage_ratio_max"], color="#cc3311", lw=0.8, ls="--")
        for i, r in enumerate(rows):
            ax.text(ratios[i], i, f" {r['browser_ms']:.1f} / {r['python_ms']:.1f} ms", va="center", fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, max(ratios + [data["targets"]["stage_ratio_max"]]) * 1.5)
        ax.set_xlabel("browser / Python, same run (p50); dashed: the 2x target")
        ax.set_title("tablet: browser vs Python", fontsize=9)


SECTION = TabletSection()
