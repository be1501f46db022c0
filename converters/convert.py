"""The one dispatcher and the one wrapper every target goes through.

For each target: check its toolchain -> build into a staging directory inside the bundle -> parity
check through the edge runtime -> embed metadata (parity figures included) and re-check the file
-> move it into the bundle and record it in the model card. A target that fails any step leaves
the bundle as it was (an older verified artifact of the same name stays), and its row says why;
it never stops the other targets. Results go to ``BUNDLE/parity.json`` (``edge.bundle.CONVERSION_RECORD``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from facescreen.edge.backends import open_backend
from facescreen.edge.bundle import CONVERSION_RECORD, Bundle, artifact_entry, load_bundle, save_card

from .calibration import MIN_CALIBRATION_FACES, FaceSet, require_minimum
from .errors import CalibrationError, ConversionError, TargetUnavailableError
from .metadata import artifact_metadata, carrier, embed
from .parity import Outputs, ParityReport, ParityThresholds, check_artifact, reference_outputs, run_backend
from .source import KerasSource
from .targets import Target

STAGING_PREFIX = ".convert-"
DETECTOR_DIR = "detector"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ConvertOptions:
    int8_io: str = "int8"  # tflite-int8 input/output type: "int8" or "uint8"
    max_batch: int = 8  # TensorRT optimisation profile: batch 1..max_batch
    workspace_mb: int = 1024  # TensorRT builder workspace limit
    parity: ParityThresholds = ParityThresholds()
    min_calibration_faces: int = MIN_CALIBRATION_FACES
    force_small_calib: bool = False
    parity_batch: int = 8
    detector_photos: int = 4  # synthetic cohort photos added to the detector check
    detector_timing_repeats: int = 5

    def __post_init__(self) -> None:
        if self.int8_io not in ("int8", "uint8"):
            raise ValueError(f"int8_io must be 'int8' or 'uint8', got {self.int8_io!r}")
        if not 1 <= self.max_batch <= 256:
            raise ValueError(f"max_batch must be in 1..256, got {self.max_batch}")
        if self.workspace_mb < 64:
            raise ValueError(f"workspace_mb must be >= 64, got {self.workspace_mb}")
        if self.parity_batch > self.max_batch:
            object.__setattr__(self, "parity_batch", self.max_batch)


@dataclass(frozen=True)
class BuildContext:
    """What a target's ``build(ctx, target, out)`` may use."""

    bundle: Bundle
    source: KerasSource
    calibration: FaceSet | None
    options: ConvertOptions
    workdir: Path

    def calibration_faces(self, target: Target) -> FaceSet:
        if self.calibration is None:
            raise CalibrationError(f"{target.name} is calibrated: pass --calib with photos or aligned faces")
        return self.calibration

    def artifact_file(self, name: str) -> Path:
        """An artifact already verified into the bundle (a dependency such as ``onnx``)."""
        return self.bundle.artifact_path(name)


@dataclass(frozen=True)
class TargetResult:
    target: str
    status: str  # "written" | "failed" | "unavailable"
    seconds: float = 0.0
    size_mb: float | None = None
    file: str | None = None
    parity: ParityReport | None = None
    detector: dict | None = None
    message: str = ""
    hint: str = ""  # e.g. the trtexec command where TensorRT is missing

    @property
    def ok(self) -> bool:
        return self.status == "written"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["parity"] = self.parity.to_dict() if self.parity else None
        return d


@dataclass
class _Run:
    bundle_dir: Path
    bundle: Bundle
    source: KerasSource
    calibration: FaceSet | None
    held_out: FaceSet | None
    options: ConvertOptions
    workdir: Path
    progress: Progress
    reference: Outputs | None = None
    results: list[TargetResult] = field(default_factory=list)


def convert_bundle(
    bundle_dir: str | Path,
    targets: list[Target],
    held_out: FaceSet | None,
    calibration: FaceSet | None = None,
    options: ConvertOptions = ConvertOptions(),
    progress: Progress = print,
) -> list[TargetResult]:
    """Build ``targets`` into the bundle; returns one result per target (in order)."""
    bundle_dir = Path(bundle_dir)
    bundle = load_bundle(bundle_dir)
    _check_faces(bundle, targets, held_out, calibration, options)
    targets = with_dependencies(bundle, targets, progress)
    workdir = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=bundle_dir))
    run = _Run(
        bundle_dir, bundle, KerasSource(bundle, workdir / "source"), calibration, held_out, options, workdir, progress
    )
    note = _small_set_note(held_out, options.parity) if any(t.kind == "screener" for t in targets) else None
    if note:
        progress(note)
    try:
        for i, target in enumerate(targets, 1):
            progress(f"[{i}/{len(targets)}] {target.name}: {target.summary}")
            result = _run_target(run, target)
            run.results.append(result)
            progress(
                f"[{i}/{len(targets)}] {target.name}: {result.status}"
                + (f" ({result.message})" if result.message else "")
            )
            if result.hint:
                progress(f"    {result.hint}")
            _write_parity_file(run, result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return run.results


def _check_faces(
    bundle: Bundle,
    targets: list[Target],
    held_out: FaceSet | None,
    calibration: FaceSet | None,
    options: ConvertOptions,
) -> None:
    size = bundle.card.input.size
    screeners = [t.name for t in targets if t.kind == "screener"]
    if screeners and held_out is None:
        raise CalibrationError(
            f"the parity check of {screeners} needs held-out faces: pass --calib (a held-out part "
            f"is split off) or --parity"
        )
    for name, fs in (("held-out", held_out), ("calibration", calibration)):
        if fs is not None and fs.size != size:
            raise CalibrationError(f"the {name} faces are {fs.size} px but the model takes {size} px")
    if any(t.calibrated for t in targets):
        if calibration is None:
            raise CalibrationError(
                f"targets {[t.name for t in targets if t.calibrated]} need calibration faces (--calib)"
            )
        require_minimum(calibration, options.min_calibration_faces, options.force_small_calib)
    if screeners and len(held_out) < 10:
        raise CalibrationError(f"only {len(held_out)} held-out faces for the parity check; at least 10 are needed")


def _small_set_note(held_out: FaceSet | None, gates: ParityThresholds) -> str | None:
    """With few held-out faces a single changed flag already breaks the agreement rule: say so upfront."""
    if held_out is None or (1 - 1 / len(held_out)) >= gates.min_agreement:
        return None
    return (
        f"note: with {len(held_out)} held-out faces, ONE changed flag gives {1 - 1 / len(held_out):.1%} agreement, "
        f"below the required {gates.min_agreement:.1%}: a face sitting on the threshold can fail an artifact; "
        f"use at least {int(np.ceil(1 / (1 - gates.min_agreement)))} held-out faces for a tolerant check"
    )


def with_dependencies(bundle: Bundle, targets: list[Target], progress: Progress) -> list[Target]:
    from .targets import target as target_row

    names = [t.name for t in targets]
    out: list[Target] = []
    for t in targets:
        for dep in t.depends:
            if dep not in bundle.card.artifacts and dep not in names and dep not in [o.name for o in out]:
                progress(
                    f"{t.name} is built from the '{dep}' artifact, which the bundle lacks: converting '{dep}' first"
                )
                out.append(target_row(dep))
        out.append(t)
    return out


def _run_target(run: _Run, target: Target) -> TargetResult:
    missing = target.missing_requirements()
    if missing:
        return _unavailable(run, target, f"{', '.join(missing)} cannot be imported")
    for dep in target.depends:
        if dep not in run.bundle.card.artifacts:
            return TargetResult(
                target.name, "failed", message=f"needs the '{dep}' artifact, which failed or is missing"
            )
    stage = run.workdir / target.name
    stage.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        return _RUNNERS[target.kind](run, target, stage, t0)
    except TargetUnavailableError as exc:  # e.g. TensorRT importable but no CUDA runtime or GPU
        return _unavailable(run, target, str(exc))
    except (ConversionError, CalibrationError) as exc:
        return TargetResult(target.name, "failed", time.perf_counter() - t0, message=str(exc))
    except Exception as exc:  # a toolchain crash fails this row, not the table
        tail = traceback.format_exc(limit=3).strip().splitlines()[-1]
        return TargetResult(
            target.name,
            "failed",
            time.perf_counter() - t0,
            message=f"{type(exc).__name__} while converting: {exc} [{tail}]",
        )


def _unavailable(run: _Run, target: Target, reason: str) -> TargetResult:
    hint = target.hint_when_unavailable(run.bundle, run.options)
    return TargetResult(
        target.name,
        "unavailable",
        message=f"cannot build {target.name} here: {reason} "
        f"({'build it on the device that will run it' if target.device == 'gpu' else 'install facescreen[convert]'})",
        hint=hint,
    )


def _calibration_record(run: _Run, target: Target) -> dict | None:
    if not target.calibrated or run.calibration is None:
        return None
    return {"sha256": run.calibration.sha256, "n_faces": len(run.calibration), "source": run.calibration.source}


def _run_screener(run: _Run, target: Target, stage: Path, t0: float) -> TargetResult:
    ctx = BuildContext(run.bundle, run.source, run.calibration, run.options, run.workdir)
    out = stage / target.file
    extra = target.builder()(ctx, target, out) or {}
    seconds = time.perf_counter() - t0
    if not out.is_file():
        raise ConversionError(f"{target.name}: the converter wrote no file at {out}")
    if run.reference is None:
        run.reference = reference_outputs(
            run.bundle, run.held_out, batch=16, artifact=run.source.artifact, progress=run.progress
        )
    entry = artifact_entry(stage, target.file, target.format, target.precision, **extra)
    report, got = check_artifact(
        run.bundle,
        stage,
        target.name,
        entry,
        run.held_out,
        run.reference,
        run.options.parity,
        batch=run.options.parity_batch,
    )
    size_mb = out.stat().st_size / 2**20
    if not report.passed:
        kept = " (the bundle keeps its earlier, verified artifact)" if target.name in run.bundle.card.artifacts else ""
        return TargetResult(
            target.name,
            "failed",
            seconds,
            size_mb,
            parity=report,
            message=f"parity check failed, not written: {report.verdict}{kept}",
        )
    toolchain = {**(run.source.versions() if target.built_from_keras else {}), **extra.get("toolchain", {})}
    meta = artifact_metadata(run.bundle.card, target, _calibration_record(run, target), toolchain, report.to_dict())
    embed(out, target, meta)
    _recheck_identical(run, target, stage, got)
    size_mb = out.stat().st_size / 2**20
    for f in carrier(target.format).files(out):
        os.replace(f, run.bundle_dir / f.name)
    # max_abs_screening_diff (after the card's temperature, on the gate's faces) is the figure every
    # runtime of this artifact is held to by the runtime matrix (tests/test_runtime_matrix.py)
    parity_summary = {
        k: report.to_dict()[k]
        for k in (
            "n_faces",
            "max_abs_prob_diff",
            "mean_abs_prob_diff",
            "max_abs_screening_diff",
            "flag_agreement",
            "auc_diff",
            "runtime",
        )
    }
    new_entry = artifact_entry(
        run.bundle_dir,
        target.file,
        target.format,
        target.precision,
        **{k: v for k, v in extra.items() if k != "toolchain"},
        toolchain=toolchain,
        calibration=_calibration_record(run, target),
        parity=parity_summary,
        converted_at=meta["converted_at"],
    )
    _record(run, {target.name: new_entry})
    return TargetResult(target.name, "written", seconds, size_mb, target.file, parity=report)


def _recheck_identical(run: _Run, target: Target, stage: Path, before: Outputs) -> None:
    """Embedding metadata rewrote the file: its outputs on the first parity batch must not have
    changed by a single bit."""
    if not carrier(target.format).in_file:
        return  # the artifact's bytes are untouched (its metadata is a sidecar)
    n = min(len(run.held_out), run.options.parity_batch)
    entry = artifact_entry(stage, target.file, target.format, target.precision)
    staged = Bundle(stage, replace(run.bundle.card, artifacts={target.name: entry}))
    after = run_backend(open_backend(staged, artifact=target.name), run.held_out.subset(np.arange(n), "recheck"), n)
    if not (np.array_equal(after.probs, before.probs[:n]) and np.array_equal(after.cam, before.cam[:n])):
        raise ConversionError(f"{target.name}: outputs changed after embedding metadata; artifact not written")


def _record(run: _Run, entries: dict) -> None:
    card = replace(run.bundle.card, artifacts={**run.bundle.card.artifacts, **entries})
    save_card(run.bundle_dir, card)
    run.bundle = Bundle(run.bundle_dir, card)


def _run_detector(run: _Run, target: Target, stage: Path, t0: float) -> TargetResult:
    """Detector targets: build the networks into ``stage``, check the converted cascade against the
    mtcnn package on real photos, and only then move them into BUNDLE/detector/."""
    from .to_mtcnn import commit, verify

    ctx = BuildContext(run.bundle, run.source, run.calibration, run.options, run.workdir)
    extra = target.builder()(ctx, target, stage)
    seconds = time.perf_counter() - t0
    size_mb = extra["size_bytes"] / 2**20
    run.progress("    checking the converted cascade against the mtcnn package on sample and synthetic photos")
    check = verify(stage, target, run.options)
    if not check["ok"]:
        bad = {k: v for k, v in check["photos"].items() if not v["ok"]}
        return TargetResult(
            target.name,
            "failed",
            seconds,
            size_mb,
            detector=check,
            message=f"the converted cascade does not find the same faces as the package, not written: {bad}",
        )
    manifest = commit(stage, run.bundle_dir / DETECTOR_DIR, target, check)
    s = check["summary"]
    msg = f"min IoU {s['min_iou']:.3f}, max landmark {s['max_landmark_px']:.1f} px"
    if "converted_ms" in s:
        msg += f", {s['converted_ms']:.0f} ms vs package {s['package_ms']:.0f} ms on a 640x480 frame"
    return TargetResult(
        target.name, "written", seconds, size_mb, f"{DETECTOR_DIR}/{manifest.name}", detector=check, message=msg
    )


# how each kind of target is built, checked and moved in (Target.kind)
_RUNNERS: dict[str, Callable[[_Run, Target, Path, float], TargetResult]] = {
    "screener": _run_screener,
    "detector": _run_detector,
}


def _write_parity_file(run: _Run, result: TargetResult) -> None:
    path = run.bundle_dir / CONVERSION_RECORD
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        data = {}
    data.setdefault("artifacts", {})
    if run.held_out is not None:
        data["held_out"] = run.held_out.summary()
    data["thresholds"] = asdict(run.options.parity)
    row = {
        "status": result.status,
        "checked_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "message": result.message,
    }
    if result.parity is not None:
        row["parity"] = result.parity.to_dict()
    if result.detector is not None:
        row["detector"] = result.detector
    data["artifacts"][result.target] = row
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default))
    tmp.replace(path)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.bool_):
        return bool(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
