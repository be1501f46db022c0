"""``facescreen-kiosk doctor``: what this machine can run, checked the way the kiosk will use it.

One row per check (platform and L4T release, Python, numpy, the OpenCV build and its GStreamer, each
inference backend of ``edge.backends.BACKENDS``, the CUDA device with a 16-byte allocation, the groups
of the user it runs as and their access to L4T's GPU nodes, cameras opened, model assets, free disk,
the clock, the bundle's artifacts and its engine builds), each ``ok``, ``warn``, ``absent`` or
``fail`` with the reason in words. ``absent`` is an optional part that is missing (TensorRT on a
PC); ``fail`` is a part the kiosk cannot start without. Exit 0 when nothing failed, 1 otherwise.

``--json FILE`` writes the same rows as one first-boot report (:func:`report`, schema
:data:`REPORT_SCHEMA`) that a technician sends back from a new Jetson; ``deploy/jetson/install.sh``
runs it as the kiosk's own user at step 6. Whether an artifact runs here is the backends' registry's
answer (``choose_artifact``), not a second copy of its rules.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

SUPPORTED_PYTHON = ((3, 10), (3, 12))
JETSON_RELEASE = Path("/etc/nv_tegra_release")
REPORT_SCHEMA = "facescreen-doctor-report/1"
STATUSES = ("ok", "warn", "absent", "fail")
# L4T's GPU device nodes (root:video 0660): the kiosk's user must reach them for CUDA and TensorRT
GPU_NODES = ("/dev/nvmap", "/dev/nvhost-*", "/dev/nvgpu/*/*")
GPU_GROUP = "video"
MIN_FREE_DISK_GB = 2.0  # engines, the results store and logs
# systemd-timesyncd creates this file once the clock has been synchronised (systemd-timesyncd.service(8))
TIME_SYNCED = Path("/run/systemd/timesync/synchronized")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | absent | fail
    detail: str


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


def _dist_version(module: str) -> str:
    """The version of the distribution that provides ``module``, without importing it (importing
    tensorflow to learn its version would take the doctor seconds)."""
    for dist in importlib.metadata.packages_distributions().get(module.split(".")[0], []):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "installed"


def check_backends() -> list[Check]:
    """One row per inference backend of the registry: which of its libraries is installed."""
    from facescreen.edge.backends import BACKENDS, backend_spec

    rows = []
    for name in BACKENDS.names():
        spec = backend_spec(name)
        found = next((m for m in spec.modules if importlib.util.find_spec(m) is not None), None)
        if found is None:
            rows.append(
                Check(name, "absent", f"{spec.module} is not importable: {spec.format} artifacts cannot run here")
            )
        else:
            rows.append(Check(name, "ok", f"{found} {_dist_version(found)}"))
    return rows


def check_onnxruntime_providers() -> Check:
    try:
        import onnxruntime as ort
    except ImportError:
        return Check("onnxruntime-providers", "absent", "onnxruntime is not importable")
    return Check("onnxruntime-providers", "ok", ", ".join(ort.get_available_providers()))


def check_cuda() -> Check:
    """cuda-python imported, device 0 answers, and 16 bytes can be allocated and freed on it (what the
    TensorRT backend does first; a user outside the video group fails here on L4T)."""
    from facescreen.edge.backends.tensorrt import DeviceBuffer, cuda_device, cuda_runtime
    from facescreen.edge.errors import BackendUnavailableError

    try:
        dev = cuda_device(0)
        buf = DeviceBuffer(cuda_runtime(), 16)
    except BackendUnavailableError as exc:
        return Check("cuda", "absent", str(exc))
    except RuntimeError as exc:  # cuda_check: the allocation itself failed
        return Check("cuda", "fail", f"cuda-python imports but a 16-byte device allocation failed ({exc})")
    buf.free()
    return Check(
        "cuda", "ok", f"{dev['device']}, compute capability {dev['compute_capability']}; 16-byte allocation ok"
    )


def _group_names() -> list[str]:
    import grp

    names = []
    for gid in sorted(set(os.getgroups()) | {os.getegid()}):
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            names.append(str(gid))
    return names


def check_groups(on_jetson: bool, dev: Path = Path("/")) -> Check:
    """The user the doctor runs as (the kiosk's, when install.sh runs it), its groups, and whether it can
    open L4T's GPU nodes: a kiosk user outside ``video`` silently gets the CPU model."""
    import getpass

    groups = _group_names()
    nodes = sorted(str(p) for pattern in GPU_NODES for p in dev.glob(pattern.lstrip("/")))
    blocked = [n for n in nodes if not os.access(n, os.R_OK | os.W_OK)]
    detail = f"user {getpass.getuser()} (uid {os.getuid()}) in groups {', '.join(groups)}"
    if not on_jetson:
        return Check("groups", "ok", detail + "; not a Jetson: no L4T GPU nodes to reach")
    if not nodes:
        return Check("groups", "warn", detail + f"; none of {', '.join(GPU_NODES)} exists")
    if blocked:
        return Check(
            "groups",
            "fail",
            detail + f"; cannot open {', '.join(blocked[:3])}{' ...' if len(blocked) > 3 else ''} "
            f"(root:{GPU_GROUP} 0660 on L4T): add the user to {GPU_GROUP} (usermod -aG {GPU_GROUP} USER) "
            f"or give the unit SupplementaryGroups={GPU_GROUP}",
        )
    return Check("groups", "ok", detail + f"; opens {len(nodes)} GPU device nodes")


def _opens(index: int) -> bool:
    import cv2

    cap = cv2.VideoCapture(index)
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()


def check_cameras(dev: Path = Path("/dev"), opens: Callable[[int], bool] | None = None) -> Check:
    """Each /dev/videoN (USB and CSI cameras appear there) opened and one frame read, as the kiosk will."""
    cams = sorted(dev.glob("video*"))
    if not cams:
        return Check(
            "cameras",
            "warn",
            "no /dev/video* device (USB and CSI cameras appear there); "
            "replay a folder with --source to run without one",
        )
    opens = opens or _opens
    results = []
    for cam in cams:
        number = re.fullmatch(r"video(\d+)", cam.name)
        if not os.access(cam, os.R_OK | os.W_OK):
            results.append((str(cam), False, "no access: the user is not in the video group"))
        elif number is not None:
            ok = opens(int(number.group(1)))
            results.append((str(cam), ok, "a frame read" if ok else "opened no stream (metadata node, or busy)"))
    good = [c for c, ok, _ in results if ok]
    detail = "; ".join(f"{c}: {why}" for c, _, why in results)
    return Check("cameras", "ok" if good else "warn", detail)


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


def check_disk(path: Path) -> Check:
    """Free space where the results store lives (or its nearest existing parent)."""
    where = path
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free / 1e9
    status = "ok" if free >= MIN_FREE_DISK_GB else "warn"
    return Check("disk", status, f"{free:.1f} GB free on {where} (results store {path}; {MIN_FREE_DISK_GB} GB wanted)")


def check_clock(now: _dt.datetime | None = None, installed: _dt.datetime | None = None) -> Check:
    """The clock is not behind the day facescreen was installed (a Jetson without network time or an RTC
    battery boots in the past, and every screening would carry that date), and whether it is synchronised."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    installed = installed or _dt.datetime.fromtimestamp(Path(__file__).stat().st_mtime, _dt.timezone.utc)
    synced = "synchronised by systemd-timesyncd" if TIME_SYNCED.exists() else "not known to be synchronised"
    detail = f"{now.isoformat(timespec='seconds')}, {synced}"
    if now < installed:
        return Check(
            "clock",
            "fail",
            detail + f"; earlier than facescreen's install ({installed.date()}): set the time (timedatectl) or give "
            f"the Jetson network time, else every screening is stored with a wrong date",
        )
    return Check("clock", "ok", detail)


def check_engine_builds(bundle_dir: Path) -> list[Check]:
    """The engine builds recorded in the bundle's parity.json (the converters write it): written, or the
    reason each failed or could not run here."""
    from facescreen.edge.backends import backend_spec
    from facescreen.edge.bundle import CONVERSION_RECORD, conversion_record
    from facescreen.edge.errors import BundleError

    path = bundle_dir / CONVERSION_RECORD
    try:
        rows = conversion_record(bundle_dir)
    except BundleError as exc:
        return [Check("engine-build", "warn", str(exc))]
    if rows is None:
        return [Check("engine-build", "warn", f"{path} is missing: no conversion has run on this bundle")]
    fmt = backend_spec("tensorrt").format
    engines = {n: r for n, r in rows.items() if n.startswith(fmt)}
    if not engines:
        return [Check("engine-build", "warn", f"{path} records no {fmt} engine build")]
    status = {"written": "ok", "unavailable": "absent"}
    return [
        Check(
            f"engine-build:{name}",
            status.get(row.get("status", ""), "fail"),
            f"{row.get('status')} at {row.get('checked_at')}" + (f": {row['message']}" if row.get("message") else ""),
        )
        for name, row in sorted(engines.items())
    ]


def check_bundle(bundle_dir: str | None) -> list[Check]:
    """For each artifact, the backends' registry's answer: does it run here (``choose_artifact``), and
    which one ``--backend auto`` runs."""
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
            rows.append(Check(f"bundle:{name}", "ok", f"{entry['format']} {entry['precision']} runs here ({backend})"))
        except FaceScreenError as exc:
            rows.append(Check(f"bundle:{name}", "absent", str(exc)))
    try:
        backend, art = choose_artifact(bundle)
        rows.append(Check("bundle", "ok", f"{bundle.path}: --backend auto runs {art} with {backend}"))
    except FaceScreenError as exc:
        rows.append(Check("bundle", "fail", f"{bundle.path}: {exc}"))
    return rows + check_engine_builds(bundle.path)


def l4t_release(jetson_release: Path = JETSON_RELEASE) -> str | None:
    """``"R36 (release), REVISION: 4.3"`` from /etc/nv_tegra_release, or None off a Jetson."""
    if not jetson_release.is_file():
        return None
    return ", ".join(jetson_release.read_text().splitlines()[0].strip("# ").split(", ")[:2])


def run_checks(
    bundle: str | None = None,
    assets_dir: str | None = None,
    jetson_release: Path = JETSON_RELEASE,
    data_dir: str | None = None,
) -> list[Check]:
    release = l4t_release(jetson_release)
    on_jetson = release is not None
    rows = [Check("platform", "ok", f"{platform.machine()}, " + (f"L4T {release}" if on_jetson else "not a Jetson"))]
    steps: list[Callable[[], Check | list[Check]]] = [
        check_python,
        check_numpy,
        lambda: check_opencv(on_jetson),
        check_backends,
        check_onnxruntime_providers,
        check_cuda,
        lambda: check_groups(on_jetson),
        check_cameras,
        lambda: check_assets(assets_dir),
        lambda: check_disk(Path(data_dir or os.environ.get("FACESCREEN_DATA", "kiosk-data")).resolve()),
        check_clock,
    ]
    for step in steps:
        got = step()
        rows += got if isinstance(got, list) else [got]
    runtimes = [r for r in rows if r.name in ("litert", "onnxruntime", "tensorrt")]
    if not any(r.status == "ok" for r in runtimes):
        rows.append(Check("runtime", "fail", "no inference runtime (LiteRT, ONNX Runtime or TensorRT) is importable"))
    return rows + check_bundle(bundle)


def report(rows: list[Check], jetson_release: Path = JETSON_RELEASE) -> dict:
    """The first-boot report: who and where, then every check (schema :data:`REPORT_SCHEMA`)."""
    from facescreen import __version__

    return {
        "schema": REPORT_SCHEMA,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "facescreen": __version__,
        "host": socket.gethostname(),
        "machine": platform.machine(),
        "l4t_release": l4t_release(jetson_release),
        "python": platform.python_version(),
        "user": {"uid": os.getuid(), "groups": _group_names()},
        "passed": not any(r.status == "fail" for r in rows),
        "checks": [asdict(r) for r in rows],
    }


def render(rows: list[Check]) -> str:
    width = max(len(r.name) for r in rows)
    return "\n".join(f"{r.name:<{width}}  {r.status:<6}  {r.detail}" for r in rows)


def doctor(bundle: str | None, assets_dir: str | None, json_out: str | None, data_dir: str | None = None) -> int:
    """Print the checks; with ``json_out`` write the report there instead ("-": standard output)."""
    rows = run_checks(bundle, assets_dir, data_dir=data_dir)
    if json_out is None:
        print(render(rows))
    else:
        text = json.dumps(report(rows), indent=2)
        if json_out == "-":
            print(text)
        else:
            Path(json_out).write_text(text + "\n")
            print(render(rows))
            print(f"report written to {json_out}")
    return 1 if any(r.status == "fail" for r in rows) else 0
