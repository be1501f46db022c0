"""A slim bundle for a tablet or kiosk: the model card, the named verified artifacts and the
converted detector, without ``model.keras`` (the 45 MB reference only training and conversion need).

    facescreen-convert BUNDLE --export-edge OUT --artifacts tflite-int8,mtcnn-tflite

Only what the converters verified travels: a screener artifact whose model-card entry carries its
parity figures, a detector format whose check against the mtcnn package passed; every file is
re-hashed against its record before it is copied. The new card says where it came from
(``derived_from``: the source card's model id, version and SHA-256, and the reference model's
SHA-256), so a tablet's result can be traced to the bundle that was validated.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from facescreen.edge.bundle import MODELCARD, load_bundle, save_card, sha256_file, software_version
from facescreen.edge.detectors.mtcnn_manifest import load_manifest, save_manifest

from .convert import DETECTOR_DIR
from .errors import ConversionError
from .targets import TARGETS


def export_edge(bundle_dir: str | Path, out: str | Path, artifacts: list[str]) -> Path:
    """Write the slim bundle ``out`` (which must not exist or be empty); returns it."""
    src = load_bundle(bundle_dir)  # every artifact present and matching its SHA-256
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConversionError(f"{out} already exists; --export-edge writes a new folder")
    if not artifacts:
        raise ConversionError("--export-edge needs --artifacts, e.g. tflite-int8,mtcnn-tflite")
    screeners, detector_formats = _check(src, artifacts)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries = {}
        for name in screeners:
            entry = src.card.artifacts[name]
            shutil.copy2(src.path / entry["file"], stage / entry["file"])
            entries[name] = entry
        if detector_formats:
            _copy_detector(src.path / DETECTOR_DIR, stage / DETECTOR_DIR, detector_formats)
        reference = next((a for a in src.card.artifacts.values() if a["format"] == "keras"), None)
        card = replace(
            src.card,
            artifacts=entries,
            derived_from={
                "kind": "edge export",
                "model_id": src.card.model_id,
                "version": src.card.version,
                "modelcard_sha256": sha256_file(src.path / MODELCARD),
                "reference_sha256": reference.get("sha256") if reference else None,
                "source": str(src.path.resolve()),
                "artifacts": list(artifacts),
                "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "software_version": software_version(),
            },
        )
        save_card(stage, card)
        load_bundle(stage)  # the copy is whole before it takes its name
        if out.exists():
            out.rmdir()
        stage.rename(out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return out


def _check(src, artifacts: list[str]) -> tuple[list[str], list[str]]:
    """Split the names into screener artifacts and detector formats; refuse anything not verified."""
    screeners, formats = [], []
    for name in artifacts:
        if name in TARGETS and TARGETS.lookup(name).kind == "detector":
            formats.append(TARGETS.lookup(name).format)
            continue
        if name not in src.card.artifacts:
            have = [n for n, a in src.card.artifacts.items() if a["format"] != "keras"]
            remedy = (  # only a target the converters know can be converted first; else say what exists
                f"convert it first: facescreen-convert {src.path} --to {name}"
                if name in TARGETS
                else f"{name!r} is no conversion target either; `facescreen-convert --list` shows them"
            )
            raise ConversionError(
                f"{src.path} has no artifact {name!r} to export; it has: {', '.join(have) or 'none'} ({remedy})"
            )
        entry = src.card.artifacts[name]
        if entry["format"] == "keras":
            raise ConversionError(
                f"{name!r} is the Keras reference model; an edge bundle carries converted "
                "artifacts only (e.g. tflite-int8)"
            )
        if not entry.get("parity"):
            raise ConversionError(
                f"artifact {name!r} carries no parity figures in the model card, so it was not "
                f"verified by the converters; re-convert it (facescreen-convert {src.path} --to {name})"
            )
        screeners.append(name)
    if not screeners:
        raise ConversionError("an edge bundle needs a screener artifact (e.g. tflite-int8) besides the detector")
    return screeners, formats


def _copy_detector(src: Path, dest: Path, formats: list[str]) -> None:
    manifest = load_manifest(src)  # every network present and matching its SHA-256
    for fmt in formats:
        if fmt not in manifest.formats:
            raise ConversionError(f"{src} has no converted {fmt} detector (convert it first: --to mtcnn-{fmt})")
        if not manifest.verification.get(fmt, {}).get("ok"):
            raise ConversionError(f"the {fmt} detector in {src} did not pass its check against the mtcnn package")
    dest.mkdir(parents=True)
    for fmt in formats:
        for nf in manifest.formats[fmt].values():
            shutil.copy2(src / nf.file, dest / nf.file)
    save_manifest(
        dest,
        replace(
            manifest,
            formats={f: manifest.formats[f] for f in formats},
            verification={f: manifest.verification[f] for f in formats},
        ),
    )
