"""``make demo``: replay a guided capture with the DEMO MODEL (trained on SYNTHETIC data).

A frame sequence is made from a real sample photo (kiosk.scenes): too far, off centre, tilted, too
dark, then good frames. The guidance loop gives its instruction for each frame, captures the
sharpest good frame, screens it and prints the result, labelled as a demo that is not for
clinical use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from .app import KioskApp
from .display import FolderOutput, Renderer
from .engine import KioskEngine
from .guidance import GuidanceConfig, GuidanceEvent, GuidanceLoop
from .messages import message
from .scenes import DEMO_SCENES, write_sequence
from .sources import ImageFolderSource
from .store import ResultsStore

DEMO_BUNDLE = "demo-bundle"


def ensure_demo_bundle(cache: Path) -> Path:
    """The demo bundle under ``cache``; built once by the training program (a separate process:
    the kiosk never imports training or TensorFlow)."""
    bundle = cache / DEMO_BUNDLE
    if (bundle / "modelcard.json").is_file():
        return bundle
    print(f"building the demo model once into {bundle} (python -m facescreen.training demo-bundle) ...", flush=True)
    proc = subprocess.run([sys.executable, "-m", "facescreen.training", "demo-bundle", "--cache", str(cache)])
    if proc.returncode != 0 or not (bundle / "modelcard.json").is_file():
        raise RuntimeError(
            f"could not build the demo bundle (exit {proc.returncode}); "
            f"run `python -m facescreen.training demo-bundle --cache {cache}` and read its error"
        )
    return bundle


def run_demo(
    cache: str | Path = ".cache",
    lang: str = "en",
    detector: str = "auto",
    backend: str = "auto",
    landmarks_model: str | Path | None = None,
    out: TextIO = sys.stdout,
    as_json: bool = False,
    engine: KioskEngine | None = None,
) -> list[GuidanceEvent]:
    cache = Path(cache)
    work = cache / "kiosk-demo"
    frames_dir = work / "frames"
    write_sequence(frames_dir, DEMO_SCENES)
    if engine is None:
        engine = KioskEngine.create(
            ensure_demo_bundle(cache), backend=backend, detector=detector, landmarks_model=landmarks_model
        )
    banner = message("demo_notice", lang) if engine.is_demo else message("not_for_clinical_use", lang)

    def show(ev: GuidanceEvent) -> None:
        if as_json:
            d = ev.to_dict()
            d.pop("quality", None)
            out.write(json.dumps(d, ensure_ascii=False) + "\n")
            return
        name = source.current.name if source.current else "?"
        if ev.kind in ("guidance", "hold"):
            failing = [m.name for m in ev.report.results if not m.passed] if ev.report else []
            detail = f"   (failing: {', '.join(failing)})" if failing else ""
            out.write(f"frame {ev.frame_index} {name:22s} -> {ev.text}{detail}\n")
        elif ev.kind == "result":
            r = ev.result
            out.write(
                f"frame {ev.frame_index} {name:22s} -> captured the sharpest of {ev.needed} good frames "
                f"(frame {ev.captured_frame}, sharpness {ev.report['sharpness'].raw:.0f}) and screened it\n\n"
            )
            out.write(f"=== {banner} ===\n")
            out.write(f"{message('result_title', lang)}: {message(r.label, lang).upper()}\n")
            out.write(message("probability", lang, probability=r.probability, threshold=r.threshold) + "\n")
            out.write(message("model_line", lang, model_id=r.model_id, version=r.model_version) + f" ({r.backend})\n")
            out.write(message("result_note", lang) + "\n")
            out.write(f"intended use: {r.intended_use}\n")
            out.write(f"stored as {ev.record.get('id')} in {store.path}; overlays in {work / 'display'}\n")
            out.write(f"=== {banner} ===\n")
        elif ev.kind == "error":
            out.write(f"frame {ev.frame_index} {name:22s} -> {ev.text} ({ev.error_code}: {ev.error})\n")
        out.flush()

    out.write(f"=== {banner} ===\nreplaying {len(DEMO_SCENES)} frames from {frames_dir}\n")
    source = ImageFolderSource(frames_dir)
    store = ResultsStore(work / "data")
    loop = GuidanceLoop(engine, GuidanceConfig(language=lang))
    app = KioskApp(
        source,
        loop,
        [FolderOutput(work / "display")],
        Renderer(lang, demo=engine.is_demo),
        store=store,
        kiosk_id="demo",
        on_event=show,
    )
    try:
        return app.run()
    finally:
        store.close()
