"""Build the offline tablet app (a static PWA) from a bundle, gated by browser parity.

Like the converters' gate: the app is assembled in a staging folder, the browser runtime is run in
real headless Chromium on verification photos and compared with the Python edge path
(:mod:`kiosk.tablet.parity`), and only an app that passes is moved into place (atomically), with
the parity figures in its ``app.json``. A runtime that fails parity is not offered.

    facescreen-kiosk tablet-export --bundle .cache/demo-bundle --out tablet-app/

The default ``--out`` is ``BUNDLE/tablet``, which ``facescreen-kiosk serve`` serves at ``/tablet/``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from facescreen.edge.assets import FACE_LANDMARK, asset_path
from facescreen.edge.bundle import Bundle, ModelCard, conversion_record, load_bundle, sha256_file, software_version
from facescreen.edge.detect import PHOTO_DETECT
from facescreen.edge.detectors.mtcnn_cascade import CascadeConfig
from facescreen.edge.detectors.mtcnn_manifest import load_manifest
from facescreen.edge.errors import BundleError

from ..banner import with_banner
from ..childref import child_ref_spec
from ..engine import is_demo_card
from ..guidance import GuidanceConfig
from ..messages import ALIASES, MESSAGES
from ..quality import DEFAULT_MEASURES, MEASURE_NAMES, QualityConfig
from ..tracking import MIN_FRAME_IOU, N_TRACK_POINTS, FindConfig
from .runtimes import BrowserRuntime, browser_runtime, node_modules, package_version

WEB_DIR = Path(__file__).resolve().parent / "web"
APP_PAGE = "index.html"  # the app's page: it gets the capture pages' banner (kiosk/banner.py) when staged
# the capture pages' shared scripts: their home is the phone page's folder, the export copies them
SHARED_SCRIPTS = tuple(
    Path(__file__).resolve().parent.parent / "server" / "static" / name
    for name in ("childref.js", "speech.js", "format.js")
)
APP_DIR_IN_BUNDLE = "tablet"
APP_JSON = "app.json"  # the app's record (parity included): a folder holding it is a tablet app
# The browser's face mesh: the plain 468-point model. The kiosk's default attention mesh does not
# convert (MediaPipe's custom Landmarks2TransformMatrix op has no ONNX form); README, tablet section.
MESH_ASSET = FACE_LANDMARK
MESH_FILE = "model/face_landmark.onnx"
MESH_OPSET = 17
DEFAULT_RUNTIME = "onnxruntime-web"  # measured in headless Chromium: see README, "The tablet works offline"


def mesh_measures() -> list[str]:
    """The measures that read the face mesh (core/mesh.js), from the measures' registry."""
    return [m.name for m in DEFAULT_MEASURES if m.needs == "mesh"]


class TabletExportError(Exception):
    code = "tablet_export_failed"


def convert_mesh(dst: Path, source: Path | None = None) -> dict:
    """The pinned face_landmark.tflite -> ONNX (tf2onnx), in a child process so that this one stays
    TensorFlow-free. Build time only: the browser never converts or downloads anything."""
    src = source or asset_path(MESH_ASSET.name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "tf2onnx.convert",
        "--tflite",
        str(src),
        "--output",
        str(dst),
        "--opset",
        str(MESH_OPSET),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not dst.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise TabletExportError(f"converting the face mesh {src} to ONNX failed: {' / '.join(tail)}")
    return {
        "file": MESH_FILE,
        "source": src.name,
        "source_sha256": sha256_file(src),
        "opset": MESH_OPSET,
        "converter": "tf2onnx",
        "points": 468,
    }


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def stage_web(out: Path, runtime: BrowserRuntime, modules: Path | None = None) -> None:
    """Copy the app's own pages and modules and ``runtime``'s files from its npm package into ``out``:
    everything of the app but the bundle's files and app.json (the runtime matrix stages its browser
    cells with this too)."""
    modules = modules or node_modules()
    page = WEB_DIR / APP_PAGE
    for src in WEB_DIR.rglob("*"):
        if src.is_file() and src != page:
            _copy(src, out / src.relative_to(WEB_DIR))
    (out / APP_PAGE).write_text(with_banner(page.read_text(encoding="utf-8")), encoding="utf-8")
    for rel_src, rel_dst in runtime.files:
        src = modules / rel_src
        if not src.is_file():
            raise TabletExportError(f"{src} is missing: run `make tablet` to install {runtime.package}")
        _copy(src, out / "vendor" / rel_dst)
    for rel, bare, relative in runtime.rewrite:  # a bare module name means nothing to a browser
        f = out / "vendor" / rel
        f.write_text(f.read_text(encoding="utf-8").replace(bare, relative), encoding="utf-8")


def missing_artifact(bundle: Bundle, runtime: BrowserRuntime) -> str:
    """Why the bundle cannot go on the tablet with ``runtime``, from what its conversion did: a target
    the converters tried and did not write (their gate refused it, or it failed) is reported with their
    reason, since converting again the same way is refused again; one never tried, with the command.
    (Another runtime is not suggested: litert-js refuses today's int8 artifacts, docs/tablet.md.)"""
    art = runtime.screener_artifact
    text = f"bundle {bundle.path} has no {art!r} artifact, which {runtime.name} runs"
    try:
        row = (conversion_record(bundle.path) or {}).get(art, {})
    except BundleError as exc:
        row, text = {}, f"{text} ({exc})"
    if row.get("status") in ("failed", "unavailable"):
        text += (
            f"; the converters tried it ({row.get('checked_at', 'time not recorded')}) and did not write it: "
            f"{row.get('message') or row['status']}"
        )
    else:
        text += f"; convert it first: facescreen-convert {bundle.path} --to {art}"
    return text


def assemble(
    bundle: Bundle,
    out: Path,
    runtime: BrowserRuntime,
    modules: Path | None = None,
    quality: QualityConfig | None = None,
    find: FindConfig | None = None,
) -> dict:
    """Write the app into ``out`` (an empty folder); returns app.json's content (without parity).
    ``quality``: the kiosk's capture-quality thresholds (default: QualityConfig's); ``find``: how the
    guidance finds and follows the face (default: FindConfig's). The browser reads both from app.json,
    so the app and the kiosk run on the same numbers."""
    modules = modules or node_modules()
    quality = quality or QualityConfig()
    find = find or FindConfig()
    version = package_version(runtime, modules)
    card = bundle.card
    if runtime.screener_artifact not in card.artifacts:
        raise TabletExportError(missing_artifact(bundle, runtime))
    det_dir = bundle.path / "detector"
    manifest = load_manifest(det_dir)
    if runtime.detector_format not in manifest.formats:
        raise TabletExportError(
            f"the bundle's detector has no {runtime.detector_format} networks for {runtime.name}; "
            f"convert them: facescreen-convert {bundle.path} --to mtcnn-{runtime.detector_format}"
        )
    stage_web(out, runtime, modules)
    entry = card.artifacts[runtime.screener_artifact]
    screener_file = f"model/{Path(entry['file']).name}"
    _copy(bundle.path / entry["file"], out / screener_file)
    _copy(bundle.path / "modelcard.json", out / "model" / "modelcard.json")
    nets = {}
    for net, nf in manifest.formats[runtime.detector_format].items():
        nets[net] = f"model/detector/{Path(nf.file).name}"
        _copy(det_dir / nf.file, out / nets[net])
    mesh = convert_mesh(out / MESH_FILE)
    for script in SHARED_SCRIPTS:
        _copy(script, out / script.name)
    (out / "messages.json").write_text(json.dumps(MESSAGES, ensure_ascii=False, indent=1), encoding="utf-8")
    demo = is_demo_card(card)
    files = {p.relative_to(out).as_posix(): sha256_file(p) for p in sorted(out.rglob("*")) if p.is_file()}
    content_hash = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "kind": "facescreen-tablet-app",
        "schema_version": 1,
        "version": content_hash,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "software_version": software_version(),
        "runtime": runtime.name,
        "runtime_package": f"{runtime.package}@{version}",
        "card": "model/modelcard.json",
        "demo": demo,
        "screener": {"artifact": runtime.screener_artifact, "file": screener_file, "sha256": entry["sha256"]},
        "detector": {"format": runtime.detector_format, "nets": nets},
        "detect": asdict(PHOTO_DETECT),  # a photo takes the kiosk's photo path (edge.detect)
        "cascade": CascadeConfig().to_dict(),
        "quality": quality.model_dump(),
        # the measures' registry, in priority order: core/quality.js ports every one (its MEASURES are
        # pinned to this order by tests/kiosk/tablet/test_tablet_constants.py)
        "quality_measures": list(MEASURE_NAMES),
        "mesh": mesh,
        "quality_mesh_measures": mesh_measures(),
        # the guidance's speed path (kiosk/tracking.py) and streak (kiosk/guidance.py), read by core/track.js, guide.js
        "find": {**find.model_dump(), "min_frame_iou": MIN_FRAME_IOU, "track_points": N_TRACK_POINTS},
        "guidance": GuidanceConfig().model_dump(include={"consecutive_frames", "max_frame_gap_s"}),
        "child_ref": child_ref_spec(),
        # the first language where none was chosen on the tablet: the browser's, as the kiosk resolves
        # it for the phone page (core/language.js ports kiosk/messages.py's `language`)
        "language_aliases": ALIASES,
        "files": files,
    }


def is_tablet_app(folder: Path) -> bool:
    """Whether ``folder`` holds an app this export wrote (what the server serves at /tablet/)."""
    return (Path(folder) / APP_JSON).is_file()


# card fields that record where a bundle's files came from, not what the model answers: converting a
# new target rewrites "artifacts", an edge export adds "derived_from"; neither changes the app's model
PROVENANCE_FIELDS = ("artifacts", "derived_from")


def app_model_mismatch(folder: Path, card: ModelCard) -> str | None:
    """Why the app in ``folder`` is not the one exported from a bundle with ``card``, or None when it
    is: its screener must be the card's artifact of that name (same SHA-256) and its copy of the card
    the same in every field but the provenance ones. `serve` serves ``BUNDLE/tablet``, and a bundle
    converted again in place (re-quantised, a new threshold, a new version) kept serving the app of
    the model before, whose results that kiosk's own sync then refused."""
    try:
        app = json.loads((Path(folder) / APP_JSON).read_text(encoding="utf-8"))
        artifact, sha = app["screener"]["artifact"], app["screener"]["sha256"]
        theirs = ModelCard.from_dict(json.loads((Path(folder) / app["card"]).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, BundleError) as exc:
        return f"its {APP_JSON} or model card cannot be read ({exc})"
    if card.artifacts.get(artifact, {}).get("sha256") != sha:
        return f"its screener ({artifact}, SHA-256 {str(sha)[:12]}) is not this bundle's {artifact}"
    a, b = theirs.to_dict(), card.to_dict()
    differ = sorted(k for k in a.keys() | b.keys() if k not in PROVENANCE_FIELDS and a.get(k) != b.get(k))
    if differ:
        return (
            f"it was exported from {theirs.model_id} v{theirs.version}, whose model card differs from this "
            f"bundle's ({card.model_id} v{card.version}) in {', '.join(differ)}"
        )
    return None


def check_out_folder(target: Path) -> Path:
    """``target`` if the export may put the app there, else ValueError. The app is moved into place
    whole, replacing the folder: only a new or empty folder or an earlier app may be replaced (an
    ``--out`` naming a folder of the user's own, or a file, was deleted with everything in it)."""
    target = Path(target)
    if not target.exists():
        return target
    if not target.is_dir():
        raise ValueError(f"{target} is a file; give a folder for the tablet app")
    if is_tablet_app(target) or not any(target.iterdir()):
        return target
    raise ValueError(
        f"{target} holds files that are not a tablet app (no {APP_JSON}), and the export replaces the folder "
        "whole: give a new or empty folder, or the folder of an earlier export"
    )


def write_app_json(out: Path, app: dict) -> Path:
    path = out / APP_JSON
    path.write_text(json.dumps(app, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def export_app(
    bundle: str | Path | Bundle,
    out: str | Path | None = None,
    runtime: str = DEFAULT_RUNTIME,
    verify: Callable[[Path, dict], dict] | None = None,
    progress: Callable[[str], None] = print,
    quality: QualityConfig | None = None,
    find: FindConfig | None = None,
) -> Path:
    """Assemble, verify in headless Chromium, then move into ``out``. ``verify(staging, app)``
    returns the parity record (default: :func:`kiosk.tablet.parity.verify_app` on the converters'
    verification photos); a record with ``passed: false`` stops the export and nothing is written.
    An ``out`` that is a file, or a folder of other files, is refused first (:func:`check_out_folder`)."""
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    target = check_out_folder(Path(out) if out is not None else b.path / APP_DIR_IN_BUNDLE)
    rt = browser_runtime(runtime)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tablet-", dir=target.parent) as tmp:
        staging = Path(tmp) / "app"
        staging.mkdir()
        app = assemble(b, staging, rt, quality=quality, find=find)
        write_app_json(staging, {**app, "parity": None})
        progress(f"tablet app assembled ({rt.name}, {len(app['files'])} files); checking parity in headless Chromium")
        if verify is None:
            from .parity import verify_app

            verify = functools.partial(verify_app, bundle_dir=b.path)
        record = verify(staging, app)
        if not record.get("passed"):
            raise TabletExportError(f"{rt.name} failed browser parity, the app is not written: {record.get('verdict')}")
        write_app_json(staging, {**app, "parity": record})
        progress(f"parity ok: {record.get('verdict')}")
        if check_out_folder(target).exists():  # again: Chromium took minutes, the folder may have changed
            old = Path(tmp) / "old"
            target.rename(old)
        staging.rename(target)
    return target
