"""The browser runtimes the tablet app can run the bundle's artifacts with, in a registry.

Each row names the verified edge artifacts it runs (a screener artifact from the model card, a
detector format from ``BUNDLE/detector/mtcnn.json``), the Python runtime that produced the same
artifact's reference outputs (for the parity gate), and the files it needs from its npm package.
Those files are copied from ``tablet/node_modules`` (``make tablet`` runs ``npm ci`` on the pinned
``tablet/package-lock.json``) into the exported app: the app never loads anything from a CDN.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from facescreen.edge.registry import Table

NODE_MODULES_ENV = "FACESCREEN_TABLET_NODE_MODULES"


@dataclass(frozen=True)
class BrowserRuntime:
    name: str  # runtime.js registry name
    package: str  # npm package
    screener_artifact: str  # model-card artifact it runs
    detector_format: str  # mtcnn.json format it runs
    python_backend: str  # edge backend that runs the same artifact (parity reference)
    python_detector_runtime: str  # MtcnnLiteDetector runtime for the same detector files
    files: tuple[tuple[str, str], ...]  # (path in node_modules, path under vendor/)
    rewrite: tuple[tuple[str, str, str], ...] = ()  # (vendor file, bare import, relative import)


_ROWS = (
    BrowserRuntime(
        "onnxruntime-web",
        "onnxruntime-web",
        "onnx-int8",
        "onnx",
        "onnxruntime",
        "onnxruntime",
        files=(
            ("onnxruntime-web/dist/ort.wasm.min.mjs", "onnxruntime-web/ort.wasm.min.mjs"),
            ("onnxruntime-web/dist/ort-wasm-simd-threaded.mjs", "onnxruntime-web/ort-wasm-simd-threaded.mjs"),
            ("onnxruntime-web/dist/ort-wasm-simd-threaded.wasm", "onnxruntime-web/ort-wasm-simd-threaded.wasm"),
        ),
    ),
    BrowserRuntime(
        "litert-js",
        "@litertjs/core",
        "tflite-int8",
        "tflite",
        "litert",
        "litert",
        files=(
            ("@litertjs/core/dist/index.js", "litertjs/core/index.js"),
            ("@litertjs/wasm-utils/dist/index.js", "litertjs/wasm-utils/index.js"),
            *(
                (
                    f"@litertjs/core/wasm/litert_wasm_{v}internal.{ext}",
                    f"litertjs/core/wasm/litert_wasm_{v}internal.{ext}",
                )
                for v in ("", "compat_", "jspi_")
                for ext in ("js", "wasm")
            ),
        ),
        rewrite=(("litertjs/core/index.js", '"@litertjs/wasm-utils"', '"../wasm-utils/index.js"'),),
    ),
)
RUNTIMES: Table[BrowserRuntime] = Table("browser runtime", _ROWS)


def browser_runtime(name: str) -> BrowserRuntime:
    return RUNTIMES.lookup(name)


def source_checkout() -> Path | None:
    """The source checkout this module runs from (an editable install, a test run), or None when it
    is installed from a wheel: there, two folders up is site-packages/facescreen, not a checkout."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "tablet" / "package.json").is_file() else None


def node_modules() -> Path:
    """Where ``make tablet`` put the npm packages: ``$FACESCREEN_TABLET_NODE_MODULES``, else the
    checkout's tablet/node_modules. An installed facescreen has no checkout to look in."""
    if os.environ.get(NODE_MODULES_ENV):
        return Path(os.environ[NODE_MODULES_ENV])
    checkout = source_checkout()
    if checkout is None:
        raise FileNotFoundError(
            f"this facescreen is installed, not run from its source checkout, so there is no tablet/node_modules "
            f"to take the browser runtime from: run `npm ci` in a copy of facescreen's tablet/ folder and set "
            f"{NODE_MODULES_ENV} to its node_modules"
        )
    return checkout / "tablet" / "node_modules"


def package_version(runtime: BrowserRuntime, root: Path | None = None) -> str:
    """The installed package's version, which must be the one tablet/package.json pins."""
    root = root or node_modules()
    meta = root / runtime.package / "package.json"
    if not meta.is_file():
        raise FileNotFoundError(
            f"{meta} is missing: run `make tablet` (npm ci in tablet/) to fetch the browser "
            f"runtime {runtime.package} from the npm registry"
        )
    version = json.loads(meta.read_text())["version"]
    pinned_file = root.parent / "package.json"  # what `npm ci` installed this node_modules from
    if pinned_file.is_file():
        pinned = json.loads(pinned_file.read_text())["dependencies"].get(runtime.package)
        if pinned and pinned != version:
            raise RuntimeError(
                f"{runtime.package} {version} is installed but {pinned_file} pins {pinned}: run `make tablet` again"
            )
    return version
