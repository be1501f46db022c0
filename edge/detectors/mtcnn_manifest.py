"""``BUNDLE/detector/mtcnn.json``: which converted MTCNN network files a bundle carries.

Written by ``converters`` (target ``mtcnn-tflite`` / ``mtcnn-onnx``) after the converted cascade
was checked against the mtcnn package; read by :class:`~edge.detectors.mtcnn_lite.MtcnnLiteDetector`.
Every file is listed with its SHA-256 and verified on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..bundle import cached_sha256, read_json_object, sha256_file
from ..errors import BundleError

MANIFEST = "mtcnn.json"
MANIFEST_KIND = "facescreen-mtcnn-cascade"
MANIFEST_SCHEMA = 1
NETS = ("pnet", "rnet", "onet")
FORMATS = ("tflite", "onnx")
# Each network's outputs, told apart by their last dimension (runtimes do not keep output order).
OUTPUT_ROLES = {
    "pnet": {4: "bbox_reg", 2: "face_prob"},
    "rnet": {4: "bbox_reg", 2: "face_prob"},
    "onet": {4: "bbox_reg", 10: "landmarks", 2: "face_prob"},
}
INPUT_SHAPES = {"pnet": [-1, -1, -1, 3], "rnet": [-1, 24, 24, 3], "onet": [-1, 48, 48, 3]}


@dataclass(frozen=True)
class NetFile:
    file: str
    sha256: str
    size_bytes: int
    input_shape: tuple[int, ...]

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "input_shape": list(self.input_shape),
        }


@dataclass(frozen=True)
class MtcnnManifest:
    """``formats``: format name -> {net name -> NetFile}; ``verification``: per-format figures."""

    formats: dict
    source: dict = field(default_factory=dict)
    cascade: dict = field(default_factory=dict)
    verification: dict = field(default_factory=dict)
    created_at: str = ""
    software_version: str = ""
    kind: str = MANIFEST_KIND
    schema_version: int = MANIFEST_SCHEMA

    def __post_init__(self) -> None:
        if self.kind != MANIFEST_KIND or self.schema_version != MANIFEST_SCHEMA:
            raise BundleError(
                f"not a {MANIFEST_KIND} v{MANIFEST_SCHEMA} manifest (got {self.kind!r} v{self.schema_version})"
            )
        if not self.formats:
            raise BundleError("the MTCNN manifest lists no converted networks")
        for fmt, nets in self.formats.items():
            if fmt not in FORMATS:
                raise BundleError(f"MTCNN manifest: unknown format {fmt!r}; expected one of {FORMATS}")
            missing = [n for n in NETS if n not in nets]
            if missing:
                raise BundleError(
                    f"MTCNN manifest: format {fmt!r} lacks network(s) {missing}; the cascade needs {NETS}"
                )

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "software_version": self.software_version,
            "source": self.source,
            "cascade": self.cascade,
            "input": {"colour": "RGB", "normalisation": "(x - 127.5) / 128", "layout": "NHWC"},
            "formats": {f: {n: nf.to_dict() for n, nf in nets.items()} for f, nets in self.formats.items()},
            "verification": self.verification,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MtcnnManifest:
        try:
            formats = {
                f: {
                    n: NetFile(v["file"], v["sha256"], int(v["size_bytes"]), tuple(v["input_shape"]))
                    for n, v in nets.items()
                }
                for f, nets in d["formats"].items()
            }
            return cls(
                formats=formats,
                source=d.get("source", {}),
                cascade=d.get("cascade", {}),
                verification=d.get("verification", {}),
                created_at=d.get("created_at", ""),
                software_version=d.get("software_version", ""),
                kind=d.get("kind", ""),
                schema_version=int(d.get("schema_version", -1)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"the MTCNN manifest is malformed: {exc!r}") from None


def net_file(model_dir: Path, file: str, input_shape: list[int]) -> NetFile:
    path = Path(model_dir) / file
    return NetFile(file, sha256_file(path), path.stat().st_size, tuple(input_shape))


def save_manifest(model_dir: Path, manifest: MtcnnManifest) -> Path:
    out = Path(model_dir) / MANIFEST
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=2))
    tmp.replace(out)
    return out


def load_manifest(model_dir: str | Path, verify: bool = True) -> MtcnnManifest:
    """Read and check the manifest; with ``verify`` every listed file must match its SHA-256."""
    root = Path(model_dir)
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(
            f"no {MANIFEST} in {root}: convert the detector first (facescreen-convert BUNDLE --to mtcnn-tflite)"
        )
    manifest = MtcnnManifest.from_dict(read_json_object(path, "a detector manifest"))
    for fmt, nets in manifest.formats.items():
        for name, nf in nets.items():
            f = root / nf.file
            if not f.is_file():
                raise BundleError(f"MTCNN {fmt} {name}: {f} named in {MANIFEST} is missing")
            if verify and (f.stat().st_size != nf.size_bytes or cached_sha256(f) != nf.sha256):
                raise BundleError(f"MTCNN {fmt} {name}: {f} does not match the size/SHA-256 in {MANIFEST}")
    return manifest
