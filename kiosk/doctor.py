"""``facescreen-kiosk doctor``: what this machine can run, checked the way the kiosk will use it.

One row per check (Python, numpy, the OpenCV build, LiteRT, ONNX Runtime, TensorRT, the CUDA device,
cameras, model assets, the bundle's artifacts), each ``ok``, ``warn``, ``absent`` or ``fail`` with the
reason in words. ``absent`` is an optional part that is missing (TensorRT on a PC); ``fail`` is a
part the kiosk cannot start without. Exit 0 when nothing failed, 1 otherwise. ``deploy/jetson/
install.sh`` ends with it, so a Jetson that passes has been shown to import everything it needs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import platform
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

SUPPORTED_PYTHON = ((3, 10), (3, 12))
JETSON_RELEASE = Path("/etc/nv_tegra_release")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | absent | fail
    detail: str


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except Exception:  # an installed-but-broken binary module is reported, not raised
        return None
    return str(getattr(mod, "__version__", "installed"))


def check_python() -> Check:
    v = sys.version_info[:2]
    ok = SUPPORTED_PYTHON[0] <= v <= SUPPORTED_PYTHON[1]
    return Check(
        "python",
        "ok" if ok else "fail",
        f"{platform.python_version()} ({sys.executable})" + ("" if ok else " - facescreen supports 3.10 to 3.12"),
    )


def check_numpy() -> Check:
    import numpy as np

    return Check("numpy", "ok", np.__version__)


def _pip_opencv() -> list[str]:
    names = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")
    found = []
    for n in names:
        try:
            found.append(f"{n}=={importlib.metadata.version(n)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def check_opencv(on_jetson: bool) -> Check:
    try:
        import cv2
    except ImportError as exc:
        return Check("opencv", "fail", f"cv2 cannot be imported: {exc}")
    info = cv2.getBuildInformation()
    gui = re.search(r"^\s*GUI:\s*(\S+)", info, re.MULTILINE)
    gst = re.search(r"GStreamer:\s+(\w+)", info)
    detail = (
        f"{cv2.__version__} from {Path(cv2.__file__).parent}; GUI: {gui.group(1) if gui else 'unknown'}; "
        f"GStreamer: {gst.group(1) if gst else 'unknown'}"
    )
    pip_wheels = _pip_opencv()
    if on_jetson and pip_wheels:
        return Check(
            "opencv",
            "warn",
            detail + f"; pip's {', '.join(pip_wheels)} shadows JetPack's OpenCV, so "
            f"csi:// cameras are refused: pip uninstall {' '.join(w.split('==')[0] for w in pip_wheels)}",
        )
    if on_jetson and not (gst and gst.group(1) == "YES"):
        return Check("opencv", "warn", detail + "; without GStreamer csi:// cameras cannot be opened")
    if gui and gui.group(1).upper() == "NONE":  # the kiosk's default `run` opens a window: it would stop (exit 3)
        return Check(
            "opencv",
            "warn",
            detail + "; this headless build opens no window, so `facescreen-kiosk run` needs --headless "
            "(or the GUI build: pip install 'facescreen[kiosk,kiosk-gui]' without opencv-python-headless)",
        )
    return Check("opencv", "ok", detail)


def check_litert() -> Check:
    for module in ("ai_edge_litert", "tflite_runtime"):
        v = _version(module)
        if v is not None:
            return Check("litert", "ok", f"{module} {v}")
    return Check(
        "litert", "absent", "neither ai_edge_litert nor tflite_runtime is importable (pip install ai-edge-litert)"
    )


def check_onnxruntime() -> Check:
    try:
        import onnxruntime as ort
    except ImportError:
        return Check("onnxruntime", "absent", "onnxruntime is not importable")
    return Check("onnxruntime", "ok", f"{ort.__version__}; providers: {', '.join(ort.get_available_providers())}")


def check_tensorrt() -> Check:
    v = _version("tensorrt")
    if v is None:
        return Check(
            "tensorrt",
            "absent",
            "tensorrt is not importable (TensorRT engines run only on a Jetson/NVIDIA "
            "GPU with JetPack's python3-libnvinfer)",
        )
    return Check("tensorrt", "ok", v)


def check_cuda() -> Check:
    from facescreen.edge.backends.tensorrt import cuda_device
    from facescreen.edge.errors import BackendUnavailableError

    try:
        dev = cuda_device(0)
    except BackendUnavailableError as exc:
        return Check("cuda", "absent", str(exc))
    return Check("cuda", "ok", f"{dev['device']}, compute capability {dev['compute_capability']}")


def check_cameras(dev: Path = Path("/dev")) -> Check:
    cams = sorted(str(p) for p in dev.glob("video*"))
    if not cams:
        return Check(
            "cameras",
            "warn",
            "no /dev/video* device (USB and CSI cameras appear there); "
            "replay a folder with --source to run without one",
        )
    return Check("cameras", "ok", ", ".join(cams))


def check_assets(assets_dir: str | None) -> Check:
    from facescreen.edge.assets import ASSETS, asset_path
    from facescreen.edge.errors import AssetMissingError

    missing = []
    for name in ASSETS:
        try:
            asset_path(name, assets_dir)
        except AssetMissingError as exc:
            missing.append(str(exc))
    if missing:
        return Check("assets", "fail", "; ".join(missing))
    return Check("assets", "ok", f"{', '.join(ASSETS)} present and verified")


def check_bundle(bundle_dir: str | None) -> list[Check]:
    from facescreen.edge.backends import choose_artifact
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.errors import FaceScreenError

    if bundle_dir is None:
        return [Check("bundle", "warn", "no --bundle given: artifacts not checked")]
    try:
        bundle = load_bundle(bundle_dir)
    except FaceScreenError as exc:
        return [Check("bundle", "fail", str(exc))]
    rows = []
    for name, entry in bundle.card.artifacts.items():
        try:
            backend, _ = choose_artifact(bundle, artifact=name)
            if entry["format"] == "tensorrt":
                from facescreen.edge.backends.tensorrt import engine_usable_here

                if not engine_usable_here(entry):
                    raise FaceScreenError(
                        f"built with TensorRT {entry.get('tensorrt_version')} for {entry.get('device')} "
                        f"(compute capability {entry.get('compute_capability')}); rebuild it here"
                    )
            rows.append(Check(f"bundle:{name}", "ok", f"{entry['format']} {entry['precision']} runs here ({backend})"))
        except FaceScreenError as exc:
            rows.append(Check(f"bundle:{name}", "absent", str(exc)))
    try:
        backend, art = choose_artifact(bundle)
        rows.append(Check("bundle", "ok", f"{bundle.path}: --backend auto runs {art} with {backend}"))
    except FaceScreenError as exc:
        rows.append(Check("bundle", "fail", f"{bundle.path}: {exc}"))
    return rows


def run_checks(
    bundle: str | None = None, assets_dir: str | None = None, jetson_release: Path = JETSON_RELEASE
) -> list[Check]:
    on_jetson = jetson_release.is_file()
    rows = [
        Check(
            "platform",
            "ok",
            f"{platform.machine()}, "
            + (jetson_release.read_text().splitlines()[0].strip("# ") if on_jetson else "not a Jetson"),
        )
    ]
    steps: list[Callable[[], Check]] = [
        check_python,
        check_numpy,
        lambda: check_opencv(on_jetson),
        check_litert,
        check_onnxruntime,
        check_tensorrt,
        check_cuda,
        check_cameras,
        lambda: check_assets(assets_dir),
    ]
    rows += [step() for step in steps]
    if not any(r.name in ("litert", "onnxruntime", "tensorrt") and r.status == "ok" for r in rows):
        rows.append(Check("runtime", "fail", "no inference runtime (LiteRT, ONNX Runtime or TensorRT) is importable"))
    return rows + check_bundle(bundle)


def render(rows: list[Check]) -> str:
    width = max(len(r.name) for r in rows)
    return "\n".join(f"{r.name:<{width}}  {r.status:<6}  {r.detail}" for r in rows)


def doctor(bundle: str | None, assets_dir: str | None, as_json: bool) -> int:
    rows = run_checks(bundle, assets_dir)
    print(json.dumps([asdict(r) for r in rows], indent=2) if as_json else render(rows))
    return 1 if any(r.status == "fail" for r in rows) else 0
