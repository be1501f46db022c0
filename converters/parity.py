"""Parity of a converted artifact with the Keras reference, measured through the real edge runtime.

Both sides run through ``edge.backends.open_backend``: the reference as the bundle's ``keras``
artifact, the candidate as the new artifact (still in its temporary directory). The verdict is
screening-flag agreement (summed positive-class probability against the model card's threshold),
because that is what a clinic acts on; probability and CAM differences are reported alongside.
The figures themselves come from :func:`edge.metrics.agreement`, shared with the benchmark.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from facescreen.edge.backends import open_backend
from facescreen.edge.bundle import Bundle
from facescreen.edge.errors import BackendUnavailableError
from facescreen.edge.metrics import DEFAULT_MIN_AGREEMENT, Agreement, ParityThresholds, agreement, gate_problems  # noqa: F401 (re-exported)

from .calibration import FaceSet
from .errors import ConversionError


@dataclass(frozen=True)
class Outputs:
    probs: np.ndarray
    cam: np.ndarray


@dataclass(frozen=True)
class ParityReport(Agreement):
    """The figures of :class:`edge.metrics.Agreement`, the gate they were held to and the verdict."""

    artifact: str
    backend: str
    runtime: str
    threshold: float
    cam_max_abs_diff: float  # class-logit maps, relative to the reference maps' range
    min_agreement: float
    max_prob_diff_gate: float | None
    passed: bool
    verdict: str

    def to_dict(self) -> dict:
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else round(v, 6) if isinstance(v, float) else v)
            for k, v in asdict(self).items()
        }


def run_backend(backend, faces: FaceSet, batch: int) -> Outputs:
    x = faces.batch()
    probs, cams = [], []
    for i in range(0, len(x), batch):
        p, c = backend.run(x[i : i + batch])
        probs.append(p)
        cams.append(c)
    return Outputs(np.concatenate(probs), np.concatenate(cams))


REFERENCE_DIR = "calibration"


def recorded_reference_path(bundle: Bundle, faces: FaceSet, artifact: str) -> Path:
    """Where the Keras outputs on ``faces`` are recorded: keyed by the faces AND the Keras file."""
    key = hashlib.sha256(f"{faces.sha256}:{bundle.card.artifacts[artifact]['sha256']}".encode()).hexdigest()[:16]
    return bundle.path / REFERENCE_DIR / f"keras-reference-{key}.npz"


def reference_outputs(
    bundle: Bundle, faces: FaceSet, batch: int = 16, artifact: str = "keras", progress=lambda s: None
) -> Outputs:
    """The Keras reference on ``faces``, through the edge keras backend, and recorded in the bundle.

    Where Keras cannot run (a Jetson without TensorFlow), the outputs recorded by an earlier run on
    the SAME faces and the SAME Keras file are used; they are the Keras model's outputs, not another
    artifact's."""
    recorded = recorded_reference_path(bundle, faces, artifact)
    try:
        backend = open_backend(bundle, artifact=artifact)
    except BackendUnavailableError as exc:
        if not recorded.is_file():
            raise ConversionError(
                f"the Keras reference cannot run here ({exc}) and the bundle has no recorded Keras outputs for these "
                f"held-out faces: run facescreen-convert once where Keras runs, with the same faces "
                f"(e.g. --calib BUNDLE/calibration/faces.npz written by --save-faces)"
            ) from None
        d = np.load(recorded, allow_pickle=False)
        progress(
            f"    reference: Keras outputs recorded in {recorded.relative_to(bundle.path)} (Keras cannot run here)"
        )
        return Outputs(d["probs"], d["cam"])
    progress(f"    reference: Keras model on {len(faces)} held-out faces")
    out = run_backend(backend, faces, batch)
    recorded.parent.mkdir(exist_ok=True)
    np.savez_compressed(recorded, probs=out.probs, cam=out.cam)
    return out


def compare(
    artifact: str,
    backend: str,
    runtime: str,
    ref: Outputs,
    got: Outputs,
    faces: FaceSet,
    positive: list[int],
    threshold: float,
    gates: ParityThresholds,
    temperature: float = 1.0,
) -> ParityReport:
    unusable = _unusable(ref, got)
    if unusable:
        a, cam_diff, problems = _nothing_agreed(len(faces)), float("nan"), [unusable]
    else:
        labels = np.isin(faces.labels, positive) if faces.labels is not None else None
        # flags as the Screener will raise them: after the card's temperature
        a = agreement(ref.probs, got.probs, positive, threshold, labels, temperature)
        cam_diff = float(np.abs(got.cam.astype(np.float64) - ref.cam).max() / (float(np.ptp(ref.cam)) or 1.0))
        problems = gate_problems(a, gates, threshold)
    return ParityReport(
        artifact=artifact,
        backend=backend,
        runtime=runtime,
        threshold=threshold,
        **asdict(a),
        cam_max_abs_diff=cam_diff,
        min_agreement=gates.min_agreement,
        max_prob_diff_gate=gates.max_prob_diff,
        passed=not problems,
        verdict="; ".join(problems) if problems else "parity ok",
    )


def _unusable(ref: Outputs, got: Outputs) -> str | None:
    """Why the artifact's outputs cannot be compared with the reference at all (None: they can)."""
    if got.probs.shape != ref.probs.shape or got.cam.shape != ref.cam.shape:
        return (
            f"outputs differ in shape from the Keras model: probs {got.probs.shape} vs {ref.probs.shape}, "
            f"cam {got.cam.shape} vs {ref.cam.shape}"
        )
    if not (np.isfinite(got.probs).all() and np.isfinite(got.cam).all()):
        return "the artifact produced non-finite outputs (NaN or inf)"
    return None


def _nothing_agreed(n: int) -> Agreement:
    """The figures of outputs that could not be compared: every flag counts as a disagreement."""
    nan = float("nan")
    return Agreement(
        n_faces=n,
        max_abs_prob_diff=nan,
        mean_abs_prob_diff=nan,
        max_abs_screening_diff=nan,
        flag_agreement=0.0,
        n_flag_disagreements=n,
        disagreement_margin=None,
        auc_reference=None,
        auc_artifact=None,
        auc_diff=None,
    )


def check_artifact(
    bundle: Bundle,
    staging_dir: Path,
    name: str,
    entry: dict,
    faces: FaceSet,
    ref: Outputs,
    gates: ParityThresholds,
    batch: int = 8,
) -> tuple[ParityReport, Outputs]:
    """Open the staged artifact with the edge runtime (as the bundle would, but from
    ``staging_dir``) and compare it with ``ref`` on ``faces``."""
    staged = Bundle(Path(staging_dir), replace(bundle.card, artifacts={name: entry}))
    backend = open_backend(staged, artifact=name)
    got = run_backend(backend, faces, batch)
    report = compare(
        name,
        backend.name,
        backend.runtime,
        ref,
        got,
        faces,
        bundle.card.positive_indices,
        bundle.card.threshold,
        gates,
        temperature=bundle.card.temperature,
    )
    return report, got
