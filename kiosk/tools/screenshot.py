"""Screenshots of the phone capture page in real headless Chromium (for docs/kiosk-capture.png).

The server runs on 127.0.0.1 (a secure origin, so the page gets the camera); Chromium's fake camera
plays a clip made from a sample photo (kiosk.scenes): the face too far, then well placed. The first
screenshot shows the live view with the instruction over it, the second the result.

    python -m facescreen.kiosk.tools.screenshot --bundle .cache/demo-bundle --out docs/kiosk-capture.png
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..scenes import GOOD_SCENES, Scene, compose, write_sequence
from .browser import Chrome, write_y4m


@dataclass(frozen=True)
class PageRun:
    guidance_text: str
    result_label: str
    guidance_png: Path | None
    result_png: Path | None
    upload_label: str | None = None


def fake_camera_clip(path: Path, far_frames: int = 6, fps: int = 2) -> Path:
    """Too far for ``far_frames`` frames, then the good frames (Chromium loops the clip)."""
    far = compose(Scene("too_far", iod=0.045))
    frames = [far] * far_frames + [compose(s) for s in GOOD_SCENES for _ in range(2)]
    return write_y4m(path, frames, fps)


def capture_page_run(
    base_url: str,
    work: Path,
    guidance_png: Path | None = None,
    result_png: Path | None = None,
    lang: str = "en",
    window=(420, 860),
    upload_photo: Path | None = None,
) -> PageRun:
    """Drive the page: live guidance until a result; optionally the upload fallback too."""
    clip = fake_camera_clip(work / "camera.y4m")
    with Chrome(fake_video=clip, window=window) as c:
        c.get(f"{base_url}/?lang={lang}")
        c.wait_for("document.body.dataset.state === 'guidance' && document.getElementById('instruction').textContent")
        text = c.script("return document.getElementById('instruction').textContent;")
        if guidance_png:
            c.screenshot(guidance_png)
        c.wait_for("document.body.dataset.state === 'result'", timeout=90)
        label = c.script("return document.getElementById('result-label').textContent;")
        if result_png:
            c.screenshot(result_png)
        upload_label = None
        if upload_photo is not None:
            c.get(f"{base_url}/?lang={lang}&mode=upload")
            c.wait_for("document.body.dataset.state === 'upload'")
            c.upload("#file", upload_photo)
            c.wait_for("document.body.dataset.state === 'result'", timeout=90)
            upload_label = c.script("return document.getElementById('result-label').textContent;")
    return PageRun(text, label, guidance_png, result_png, upload_label)


def kiosk_card(engine, out: Path, data_dir: Path, lang: str = "en") -> str:
    """The kiosk's own screen (kiosk.display.Renderer) at its result: the good scenes replayed through
    the guidance loop into a results store, so the card shows what an operator sees. Returns its label."""
    from ..app import KioskApp
    from ..display import FolderOutput, Renderer
    from ..guidance import GuidanceConfig, GuidanceLoop
    from ..sources import ImageFolderSource
    from ..store import ResultsStore

    frames = data_dir / "frames"
    write_sequence(frames, GOOD_SCENES)
    loop = GuidanceLoop(engine, GuidanceConfig(language=lang))
    renderer = Renderer(lang)
    renderer.demo = engine.is_demo
    shown = data_dir / "shown"
    app = KioskApp(ImageFolderSource(frames), loop, [FolderOutput(shown)], renderer, ResultsStore(data_dir / "store"))
    events = app.run()
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.open(sorted(shown.iterdir())[-1]).save(out)  # the last frame shown: the result card
    return events[-1].text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m facescreen.kiosk.tools.screenshot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bundle", default=".cache/demo-bundle")
    p.add_argument("--detector", default="auto")
    p.add_argument("--landmarks", default=None)
    p.add_argument("--out", default="docs/kiosk-capture.png", help="live guidance screenshot")
    p.add_argument("--result-out", default="docs/kiosk-capture-result.png", help="result screenshot")
    p.add_argument("--card-out", default="docs/kiosk-result-card.png", help="the kiosk's own result card")
    p.add_argument("--lang", default="en")
    p.add_argument("--window", default="420x860", help="browser window WIDTHxHEIGHT (a phone: 420x860)")
    args = p.parse_args(argv)
    from ..engine import KioskEngine
    from ..server import Settings, create_app
    from ..server.run import BackgroundServer

    engine = KioskEngine.create(args.bundle, detector=args.detector, landmarks_model=args.landmarks)
    window = tuple(int(v) for v in args.window.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(bundle=args.bundle, data_dir=Path(tmp) / "data", kiosk_id="screenshot")
        with BackgroundServer(create_app(settings, engine=engine)) as srv:
            run = capture_page_run(srv.url, Path(tmp), Path(args.out), Path(args.result_out), args.lang, window)
        card = kiosk_card(engine, Path(args.card_out), Path(tmp) / "card", args.lang)
    print(f"live view: {run.guidance_png}  (instruction: {run.guidance_text!r})")
    print(f"kiosk result card: {args.card_out}  ({card!r})")
    print(f"result:    {run.result_png}  ({run.result_label!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
