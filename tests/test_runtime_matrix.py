"""One answer on every runtime: every runtime we ship x every bundle feature a clinic can produce.

Each cell screens the same aligned faces (the converters' held-out faces) through one runtime of one
bundle and must give the Keras reference's answer as the converters' gate recorded it for that
artifact on those very faces: screening probabilities within its ``parity.max_abs_screening_diff``
(after the card's temperature) and flags agreeing at least as well as its ``parity.flag_agreement``
(every face, for the artifacts these fixtures produce). The reference is the Keras model's raw
outputs with the card applied by edge.postprocess directly, not through the Screener, so a bug the
Python runtimes share still shows. Each cell also checks its own answer is the card's rule applied
to its own class probabilities (the positive classes' sum, ``probability >= threshold``).

Runtimes come from the registries, so a new one joins by registering there, not by writing tests:
the Keras reference; every screener conversion target (``converters.targets.TARGETS``) through the
edge Screener (every toolchain is here, TensorRT's through its stand-in: "unavailable" fails); every
browser runtime (``kiosk.tablet.runtimes.RUNTIMES``) in real headless Chromium, through the tablet
app's own ``BrowserScreener.screenAligned``. Features are the rows of
:data:`FEATURES`; each names the fixture bundle that carries it and proves the bundle really does.
:func:`test_every_card_field_is_in_the_matrix_or_said_why_not` holds every ModelCard field to that.

The fixture screeners are ResNet-18s trained for a few epochs on a SYNTHETIC cohort with a strong
planted signal (as the converters' fixtures), so that their probabilities spread out and their
thresholds sit in gaps wider than int8 noise; each is built and converted once per session (the
converters' gate included). The demo bundle joins where `make demo` has built it, and the papers'
VGG-16 screener (the benchmark bundle: real architecture, synthetic weights) where `make bench` has,
each with the artifacts its make target converts: the cells of a target it did not convert skip,
saying the bundle has none, and those of a target the converters' gate refused skip with the gate's
reason (from the bundle's parity.json).

TensorRT (``tensorrt-fp16``, ``tensorrt-int8``): the fixture bundles are converted, and every cell
screens, with TensorRT importable: the real one where it is installed, elsewhere the session's
stand-in TensorRT 10.3 + cuda-python (``tensorrt_stand_in``, tests/fake_tensorrt.py). So the real
converter (converters/to_tensorrt.py: the engine-building calls, the converters' gate that records
the figures these cells are held to) and the real edge backend (edge/backends/tensorrt.py: buffers,
copies, tensor names, shapes, profiles) run in every cell, and the stand-in's parser refuses what
TensorRT's documented ONNX rules refuse (edge/tensorrt_onnx.py). Their cells are compared by the same
rule as every other (no runtime is special-cased). What they cannot show: the stand-in's engine
computes with ONNX Runtime (the int8 engine runs the Q/DQ ``onnx-int8`` graph, the fp16 one the fp32
``onnx`` graph), so TensorRT's kernels, its fp16 arithmetic and its layer fusion are not under test
here; on a machine with TensorRT and a GPU the same cells run them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tf_free
from factories import make_card, train_fixture_screener
from fake_tensorrt import importable

pytestmark = tf_free.requires_tensorflow

SENSITIVITY = 1.0  # the "threshold by target sensitivity" feature's policy
TEMPERATURE = 1.52  # the README's calibrated example
FLOAT_SLACK = 1e-5  # float32 rounding between two runs of one float computation (batch of 1 vs N)


# ---------------------------------------------------------------------------------------------------
# fixture bundles


@dataclass(frozen=True)
class BundleSpec:
    """A fixture bundle: the architecture and the card it is saved with."""

    backbone: str
    size: int
    classes: tuple[str, ...]
    positive: tuple[str, ...]
    temperature: float
    threshold: str  # "sensitivity": THRESHOLD_RULES' at SENSITIVITY; "gap": the widest gap of the scores
    head: tuple[int, ...] = (32,)


BUNDLES = {
    # calibrated, with a threshold set by a target sensitivity (1.0: every syndromic child of the faces
    # it was chosen on is flagged, the highest such threshold), at a small non-default input size
    "calibrated": BundleSpec("resnet18", 64, ("control", "syndromic"), ("syndromic",), TEMPERATURE, "sensitivity"),
    # three classes, two of them positive, sharpened (T < 1)
    "three-class": BundleSpec("resnet18", 64, ("control", "williams", "other"), ("williams", "other"), 0.8, "gap"),
}
CACHE = Path(__file__).resolve().parents[1] / ".cache"
# bundles the Makefile builds and converts (not the tests: too slow), by feature bundle name: the folder and
# the make target; both gates measured on the held-out faces of CACHE / "parity-cohort" (Makefile's PARITY)
MADE_BUNDLES = {"demo": (CACHE / "demo-bundle", "make demo"), "vgg16": (CACHE / "bench-bundle", "make bench")}
MADE_PARITY = CACHE / "parity-cohort"
# comma-separated MADE_BUNDLES names whose rows must run, not skip (.ci/run makes both first: demo,vgg16)
REQUIRE_MADE_ENV = "FACESCREEN_REQUIRE_MADE_BUNDLES"


@pytest.fixture(scope="session")
def aligned_112(tmp_path_factory, mtcnn_detector):
    """A small SYNTHETIC cohort (edge.synthetic) aligned once at 112 px (the demo's size) by the reference pipeline;
    labels 0 control / 1 syndromic."""
    from facescreen.converters.calibration import load_folder
    from facescreen.edge.bundle import InputSpec
    from facescreen.edge.synthetic import CohortConfig, make_cohort

    root = tmp_path_factory.mktemp("matrix-cohort")
    # a strong planted signal (as the converters' fixtures): a few epochs separate the classes, so
    # the thresholds sit in gaps wider than int8 noise
    make_cohort(
        root,
        CohortConfig(n_per_class=56, image_size=224, eye_widen=(0.35, 0.03), mouth_widen=(0.4, 0.04), seed=11),
    )
    probe = make_card(input=InputSpec(size=112))
    faces = load_folder(root, probe, mtcnn_detector)
    assert len(faces) >= 104, faces.skipped
    return faces


def _faces_at(aligned, size: int, classes: tuple[str, ...]):
    import cv2

    from facescreen.converters.calibration import FaceSet

    crops = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in aligned.faces])
    # a three-class card: the cohort's syndromic faces alternate between the two positive classes
    labels = np.where(aligned.labels == 1, 1 + np.arange(len(aligned.labels)) % (len(classes) - 1), 0)
    return FaceSet(crops, labels, source=f"{aligned.source} at {size} px")


def _build(spec: BundleSpec, aligned, root: Path):
    """(bundle dir, held-out faces, conversion results by target)."""

    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.targets import TARGETS, resolve_targets
    from facescreen.edge.postprocess import screening_probability
    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig
    from facescreen.training.thresholds import ThresholdConfig, select_threshold, widest_gap_threshold

    cfg = ModelConfig(spec.backbone, spec.size, spec.classes, spec.positive, head_filters=spec.head)
    faces = _faces_at(aligned, cfg.input_size, spec.classes)
    x = faces.batch()
    model = train_fixture_screener(cfg, x, faces.labels)
    positive = [spec.classes.index(c) for c in spec.positive]
    scores = screening_probability(np.asarray(model(x, training=False)["probs"]), positive, spec.temperature)
    y = np.isin(faces.labels, positive).astype(int)
    if spec.threshold == "sensitivity":
        choice = select_threshold(ThresholdConfig("sensitivity", target=SENSITIVITY), y, scores)
        threshold, rule = choice.value, choice.rule
    else:
        threshold, rule = widest_gap_threshold(scores), "the widest gap of the scores (test fixture)"
    bundle = save_bundle(
        model,
        cfg,
        root / "bundle",
        model_id=f"matrix-{cfg.backbone}-{cfg.input_size}",
        threshold=threshold,
        calibration={"temperature": spec.temperature, "fitted_on": "a fixed value (test fixture)"}
        if spec.temperature != 1.0
        else {},
        metrics={"threshold_rule": rule},
        training_data={"kind": "synthetic"},
        notes="runtime-matrix fixture trained for a few epochs on SYNTHETIC faces",
    )
    _, held = faces.split(0.25, seed=0)
    screeners = [n for n in TARGETS.names() if TARGETS.lookup(n).kind == "screener"]
    results = convert_bundle(
        bundle,
        resolve_targets(screeners),
        held,
        faces,
        ConvertOptions(detector_timing_repeats=0),
        progress=lambda s: None,
    )
    return Path(bundle), held, {r.target: r for r in results}


# ---------------------------------------------------------------------------------------------------
# runtimes: how each one screens aligned faces


@dataclass(frozen=True)
class Answers:
    probability: np.ndarray  # (N,) screening probability
    flag: np.ndarray  # (N,) bool
    class_probabilities: np.ndarray  # (N, K), after the card's temperature


def python_answers(bundle: Path, artifact: str, faces: np.ndarray) -> Answers:
    """The edge Screener (what the kiosk, the server and the CLI run) on one artifact."""
    from facescreen.edge import create_screener

    screener = create_screener(bundle, artifact=artifact, detector=None)
    results = [screener.screen_aligned(f, with_cam=False) for f in faces]
    return Answers(
        np.array([r.probability for r in results]),
        np.array([r.flag for r in results]),
        np.array([r.class_probabilities for r in results]),
    )


def stage_browser_app(bundle: Path, runtime_name: str, out: Path) -> Path:
    """The tablet app's pages, modules and runtime files with this bundle's card and screener: what
    tablet-export assembles, less the detector and the face mesh (the cells screen aligned faces)."""
    import json

    from facescreen.edge.bundle import load_bundle
    from facescreen.kiosk.tablet.export import stage_web
    from facescreen.kiosk.tablet.runtimes import browser_runtime

    rt = browser_runtime(runtime_name)
    card = load_bundle(bundle).card
    stage_web(out, rt)
    entry = card.artifacts[rt.screener_artifact]
    (out / "model").mkdir(exist_ok=True)
    shutil.copyfile(bundle / entry["file"], out / "model" / Path(entry["file"]).name)
    shutil.copyfile(bundle / "modelcard.json", out / "model" / "modelcard.json")
    app = {
        "runtime": rt.name,
        "card": "model/modelcard.json",
        "screener": {"artifact": rt.screener_artifact, "file": f"model/{Path(entry['file']).name}"},
    }
    (out / "app.json").write_text(json.dumps(app), encoding="utf-8")
    return out


def browser_answers_in(app_dir: Path, faces: np.ndarray) -> Answers:
    from page_modules import page_module

    from facescreen.kiosk.tablet.parity import b64_pixels, static_server
    from facescreen.kiosk.tools.browser import Chrome

    with static_server(app_dir) as url, Chrome() as chrome:
        chrome.get(url + "harness.html")
        page = page_module(chrome, "aligned")
        page("open")
        got = page("screenAligned", b64_pixels(faces.astype(np.uint8)), len(faces), faces.shape[1])
    return Answers(
        np.array([g["probability"] for g in got]),
        np.array([g["flag"] for g in got]),
        np.array([g["class_probabilities"] for g in got]),
    )


@dataclass(frozen=True)
class Runtime:
    name: str
    artifact: str  # the card artifact it runs, whose recorded parity figure it is held to
    answers: Callable[[Path, np.ndarray, Path], Answers]  # (bundle, faces, scratch folder)
    needs_browser: bool = False


def _runtimes() -> list[Runtime]:
    from facescreen.converters.targets import TARGETS
    from facescreen.kiosk.tablet.runtimes import RUNTIMES, browser_runtime

    rows = [Runtime("keras", "keras", lambda b, f, tmp: python_answers(b, "keras", f))]
    for name in TARGETS.names():
        if TARGETS.lookup(name).kind == "screener":
            rows.append(Runtime(name, name, lambda b, f, tmp, a=name: python_answers(b, a, f)))
    for name in RUNTIMES.names():
        rt = browser_runtime(name)
        rows.append(
            Runtime(
                f"browser:{name}",
                rt.screener_artifact,
                lambda b, f, tmp, n=name: browser_answers_in(stage_browser_app(b, n, tmp / n), f),
                needs_browser=True,
            )
        )
    return rows


RUNTIMES = _runtimes()


# ---------------------------------------------------------------------------------------------------
# features: which fixture bundle carries each, and the proof that it does


@dataclass(frozen=True)
class Feature:
    bundle: str
    holds: Callable[[object], bool]  # on the bundle's ModelCard


FEATURES = {
    "temperature": Feature("calibrated", lambda c: c.temperature != 1.0),
    "three-class-two-positive": Feature(
        "three-class", lambda c: len(c.classes) == 3 and len(c.positive_classes) == 2 and c.temperature != 1.0
    ),
    "threshold-by-sensitivity": Feature(
        "calibrated", lambda c: c.metrics["threshold_rule"] == f"sensitivity>={SENSITIVITY:g}"
    ),
    "input-size": Feature("three-class", lambda c: c.input.size not in (type(c.input)().size, _demo().input_size)),
    "demo": Feature(
        "demo", lambda c: _is_demo(c) and (c.backbone, c.input.size) == (_demo().backbone, _demo().input_size)
    ),
    "vgg16-screener": Feature(
        "vgg16", lambda c: (c.backbone, c.input.size) == (_bench().backbone, _bench().input_size)
    ),
}


def _demo():
    from facescreen.training.demo import DEMO_MODEL

    return DEMO_MODEL


def _bench():
    from facescreen.training.reference import BENCH_MODEL

    return BENCH_MODEL


def _is_demo(card) -> bool:
    from facescreen.kiosk.engine import is_demo_card

    return is_demo_card(card)


# ModelCard fields and where the matrix holds runtimes to them (a field a runtime's answer depends on
# must name the feature that exercises it); the rest say why no runtime's answer depends on them.
CARD_FIELDS_IN_MATRIX = {
    "classes": "three-class-two-positive",
    "positive_classes": "three-class-two-positive",
    "threshold": "threshold-by-sensitivity",
    "calibration": "temperature",
    "input": "input-size",
    "artifacts": "every runtime: each runs the card's artifact and is held to its recorded parity figure",
}
CARD_FIELDS_NOT_READ_BY_RUNTIMES = {
    "alignment": "applied before the screener (edge.pipeline, core/align.js): pinned op by op and by export parity",
    "model_id": "carried into every result unchanged",
    "version": "carried into every result unchanged",
    "intended_use": "carried into every result unchanged",
    "not_for_clinical_use": "carried into every result unchanged",
    "backbone": "documentation: the graph is in the artifact",
    "initial_weights": "documentation",
    "training_data": "documentation (and the demo notice: the demo feature)",
    "metrics": "documentation",
    "created_at": "documentation",
    "software_version": "documentation",
    "notes": "documentation",
    "derived_from": "documentation",
    "schema_version": "refused at load when unknown (edge.bundle)",
    "considerations": "documentation",
}


def test_a_required_made_bundle_that_is_not_built_fails_its_row(monkeypatch, tmp_path):
    """In CI the demo row may not skip: a missing demo bundle is a failure there, a skip elsewhere."""
    monkeypatch.setitem(MADE_BUNDLES, "demo", (tmp_path / "demo-bundle", "make demo"))
    monkeypatch.setenv(REQUIRE_MADE_ENV, "vgg16,demo")
    with pytest.raises(pytest.fail.Exception, match="not built.*requires its row"):
        _made_bundle("demo", None)
    monkeypatch.setenv(REQUIRE_MADE_ENV, "vgg16")
    with pytest.raises(pytest.skip.Exception, match="not built"):
        _made_bundle("demo", None)


def test_a_made_bundles_cells_say_what_its_conversion_did(tmp_path):
    """A made bundle's target the gate refused skips saying so (not "no artifact"); one the conversion
    could not try skips for want of the artifact; one written after an earlier refusal runs; any other
    failure fails its cells."""
    from types import SimpleNamespace

    from facescreen.edge.bundle import CONVERSION_RECORD

    refusal = "parity check failed, not written: flag agreement 97.0% < 99.0%"
    rows = {
        "onnx-int8": {"status": "failed", "message": refusal},
        "tensorrt-int8": {"status": "unavailable", "message": "TensorRT is not installed"},
        "tflite-int8": {"status": "failed", "message": refusal},  # refused once, written since
        "tflite-fp16": {"status": "failed", "message": "converter crashed"},
    }
    (tmp_path / CONVERSION_RECORD).write_text(json.dumps({"artifacts": rows}))
    results = made_results(tmp_path, SimpleNamespace(artifacts={"tflite-int8": {}}))

    def cell(artifact):
        _skip_unbuilt(SimpleNamespace(artifact=artifact), results)

    with pytest.raises(pytest.skip.Exception, match="gate refused onnx-int8.*97.0%"):
        cell("onnx-int8")
    with pytest.raises(pytest.skip.Exception, match="has no tensorrt-int8 artifact"):
        cell("tensorrt-int8")
    with pytest.raises(pytest.fail.Exception, match="tflite-fp16 was not written: converter crashed"):
        cell("tflite-fp16")
    cell("tflite-int8")  # runs


def test_every_card_field_is_in_the_matrix_or_said_why_not():
    from facescreen.edge.bundle import ModelCard

    fields = {f.name for f in dataclasses.fields(ModelCard)}
    classified = set(CARD_FIELDS_IN_MATRIX) | set(CARD_FIELDS_NOT_READ_BY_RUNTIMES)
    assert fields == classified, (
        f"new card field(s) {sorted(fields - classified)}: add a FEATURE that a runtime must honour, or say "
        f"why no runtime's answer depends on them; gone: {sorted(classified - fields)}"
    )
    for field, feature in CARD_FIELDS_IN_MATRIX.items():
        assert feature in FEATURES or feature.startswith("every runtime"), field


# ---------------------------------------------------------------------------------------------------
# the comparison


def cell_problems(
    got: Answers, ref: Answers, threshold: float, positive: list[int], tolerance: float, min_agreement: float = 1.0
) -> list[str]:
    """What is wrong with one cell's answers against the Keras reference (empty: the same answer).
    ``tolerance`` and ``min_agreement`` are what the converters' gate recorded for the artifact on
    these very faces: a runtime of it must reproduce them."""
    from facescreen.edge.postprocess import flagged

    problems = []
    if got.probability.shape != ref.probability.shape:
        return [f"{len(got.probability)} answers for {len(ref.probability)} faces"]
    own = got.class_probabilities[:, positive].sum(axis=1)
    if np.abs(own - got.probability).max() > FLOAT_SLACK:
        problems.append("the screening probability is not the sum of the positive classes' probabilities")
    if (flagged(got.probability, threshold) != got.flag).any():
        problems.append("a flag does not follow probability >= threshold")
    diff = np.abs(got.probability - ref.probability)
    if diff.max() > tolerance + FLOAT_SLACK:
        problems.append(
            f"screening probabilities differ from Keras by up to {diff.max():.5f}, beyond the artifact's recorded "
            f"{tolerance:.5f}"
        )
    same = float((got.flag == ref.flag).mean())
    if same < min_agreement - FLOAT_SLACK:
        problems.append(
            f"{int((got.flag != ref.flag).sum())} of {len(got.flag)} faces get another flag than from "
            f"Keras (agreement {same:.1%}; the artifact's gate recorded {min_agreement:.1%})"
        )
    return problems


def recorded(card, artifact: str) -> tuple[float, float]:
    """The artifact's recorded (max |screening probability difference|, flag agreement) with Keras on
    the gate's faces; the Keras reference itself: (0, 1)."""
    if artifact == "keras":
        return 0.0, 1.0
    parity = card.artifacts[artifact]["parity"]
    if "max_abs_screening_diff" not in parity:
        pytest.skip(f"{artifact} was converted before the gate recorded max_abs_screening_diff: convert it again")
    return float(parity["max_abs_screening_diff"]), float(parity["flag_agreement"])


class DetectOnce:
    """The reference detector, each photo's answer kept for the session: the demo and VGG-16 rows
    align the same parity photos (at 112 and at 224 px), and detecting them twice cost about 19 s of
    make test. The answers are the detector's own (it is deterministic); only the second run goes."""

    def __init__(self, detector) -> None:
        self._detector, self.name, self._answers = detector, detector.name, {}

    def detect(self, rgb: np.ndarray, min_face_size: int | None = None):
        key = (hashlib.sha256(np.ascontiguousarray(rgb).data).digest(), rgb.shape, min_face_size)
        if key not in self._answers:
            self._answers[key] = self._detector.detect(rgb, min_face_size)
        return self._answers[key]


def _made_bundle(name: str, detector):
    """A bundle as the Makefile built and converted it (:data:`MADE_BUNDLES`), on the held-out cohort its
    converters' gate measured (the Makefile's --parity folder), so its recorded figures apply; skipped
    where either has not been built."""
    from facescreen.converters.calibration import load_folder
    from facescreen.edge.bundle import load_bundle

    bundle, make = MADE_BUNDLES[name]
    if not (bundle / "modelcard.json").is_file() or not (MADE_PARITY / "cohort.csv").is_file():
        why = f"the {name} bundle or its parity cohort is not built ({bundle}, {MADE_PARITY}): {make}"
        if name in os.environ.get(REQUIRE_MADE_ENV, "").split(","):
            pytest.fail(f"{why} ({REQUIRE_MADE_ENV} requires its row)")
        pytest.skip(why)
    card = load_bundle(bundle).card
    return bundle, load_folder(MADE_PARITY, card, detector), made_results(bundle, card)


def made_results(bundle: Path, card) -> dict:
    """What the make target's conversion did, per artifact, as the matrix's own builds report it
    (:func:`_skip_unbuilt` reads both alike): the card's artifacts were written; a target the
    conversion tried and did not write is in the bundle's parity.json with its status and why (the
    gate's refusal skips its cells saying so, any other failure fails them). A target it could not try
    here ("unavailable": no TensorRT beside `make bench`) is left out, as one it never tried: its cells
    skip for want of the artifact."""
    from types import SimpleNamespace

    from facescreen.edge.bundle import conversion_record

    rows = conversion_record(bundle) or {}
    results = {
        target: SimpleNamespace(status=row["status"], message=row.get("message", ""))
        for target, row in rows.items()
        if row.get("status") == "failed"
    }
    results.update({artifact: SimpleNamespace(status="written", message="") for artifact in card.artifacts})
    return results


@pytest.fixture(scope="session")
def matrix_bundles(aligned_112, mtcnn_detector, tensorrt_stand_in, tmp_path_factory):
    """Each fixture bundle, built and converted once, when a cell first needs it: TensorRT (the
    stand-in where no real one is installed) is importable while it converts, as on a Jetson."""
    built = {}
    made_detector = DetectOnce(mtcnn_detector)

    def get(name: str):
        if name in MADE_BUNDLES:
            if name not in built:
                built[name] = _made_bundle(name, made_detector)
            return built[name]
        if name not in built:
            with importable(tensorrt_stand_in and tensorrt_stand_in[0]):
                built[name] = _build(BUNDLES[name], aligned_112, tmp_path_factory.mktemp(f"matrix-{name}"))
        return built[name]

    return get


def reference_answers(bundle: Path, faces: np.ndarray) -> Answers:
    """The Keras model's raw outputs with the card applied by edge.postprocess's functions directly,
    not through the Screener: a bug in the Screener (which every Python runtime shares) shows."""
    from facescreen.edge.backends import open_backend
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.postprocess import apply_temperature, flagged, screening_probability

    b = load_bundle(bundle)
    raw, _ = open_backend(b, artifact="keras").run(faces.astype(np.float32))
    probs = apply_temperature(raw, b.card.temperature)
    p = screening_probability(probs, b.card.positive_indices)
    return Answers(p, flagged(p, b.card.threshold), probs)


@pytest.fixture(scope="session")
def answers(matrix_bundles, tensorrt_stand_in, tmp_path_factory):
    """Each (bundle, runtime)'s answers, computed once and shared by the features on one bundle; every
    runtime runs where TensorRT (the stand-in where no real one is installed) is importable."""
    cache: dict[tuple[str, str], Answers] = {}

    def get(bundle_name: str, runtime: Runtime | None) -> Answers:  # None: the reference
        key = (bundle_name, runtime.name if runtime else "")
        if key not in cache:
            bundle, held, _ = matrix_bundles(bundle_name)
            if runtime is None:
                cache[key] = reference_answers(bundle, held.faces)
            else:
                with importable(tensorrt_stand_in and tensorrt_stand_in[0]):
                    cache[key] = runtime.answers(bundle, held.faces, tmp_path_factory.mktemp("cell"))
        return cache[key]

    return get


def _skip_unbuilt(runtime: Runtime, results: dict) -> None:
    r = results.get(runtime.artifact)
    if runtime.artifact == "keras" or (r is not None and r.status == "written"):
        return
    if r is None:
        pytest.skip(f"the bundle has no {runtime.artifact} artifact (facescreen-convert --to {runtime.artifact})")
    if r.status == "unavailable":  # every toolchain is here (TensorRT or its stand-in): a cell never skips silently
        pytest.fail(f"{runtime.artifact} could not be built where the matrix runs: {r.message}")
    if r.message.startswith("parity check failed"):  # refused by the converters' gate, saying why: not shipped
        pytest.skip(f"the converters' gate refused {runtime.artifact} for this bundle: {r.message}")
    pytest.fail(f"{runtime.artifact} was not written: {r.message}")


@pytest.mark.parametrize("runtime", RUNTIMES, ids=[r.name for r in RUNTIMES])
@pytest.mark.parametrize("feature", list(FEATURES))
def test_one_answer(feature, runtime, matrix_bundles, answers):
    from facescreen.edge.bundle import load_bundle
    from facescreen.kiosk.tablet.export import DEFAULT_RUNTIME
    from facescreen.kiosk.tools.browser import PageError, browser_skip_reason

    row = FEATURES[feature]
    bundle, held, results = matrix_bundles(row.bundle)
    card = load_bundle(bundle).card
    assert row.holds(card), f"the {row.bundle!r} fixture bundle does not carry the feature {feature!r}"
    _skip_unbuilt(runtime, results)
    if runtime.needs_browser and browser_skip_reason():
        pytest.skip(browser_skip_reason())
    ref = answers(row.bundle, None)
    assert ref.flag.any() and not ref.flag.all(), "the reference must flag some faces and not others"
    try:
        got = answers(row.bundle, runtime)
    except PageError as exc:  # a browser runtime the export does not offer (refused by its gate)
        if runtime.needs_browser and runtime.name != f"browser:{DEFAULT_RUNTIME}":
            pytest.skip(f"{runtime.name} cannot open the artifact (tablet-export refuses it): {exc}")
        raise
    problems = cell_problems(got, ref, card.threshold, card.positive_indices, *recorded(card, runtime.artifact))
    assert not problems, f"{runtime.name} x {feature}: " + "; ".join(problems)


# ---------------------------------------------------------------------------------------------------
# the matrix catches a runtime that ignores the card's temperature


def test_a_python_runtime_that_ignores_temperature_fails_the_matrix(matrix_bundles, answers, monkeypatch):
    """Planted: the Screener skips the temperature (as the browser once did)."""
    from facescreen.edge import screener as screener_module
    from facescreen.edge.bundle import load_bundle

    bundle, held, _ = matrix_bundles(FEATURES["temperature"].bundle)
    card = load_bundle(bundle).card
    ref = answers(FEATURES["temperature"].bundle, None)
    monkeypatch.setattr(screener_module, "apply_temperature", lambda p, t=1.0: np.asarray(p, dtype=np.float64))
    got = python_answers(bundle, "tflite-fp32", held.faces)
    problems = cell_problems(got, ref, card.threshold, card.positive_indices, *recorded(card, "tflite-fp32"))
    assert any("differ from Keras" in p for p in problems), problems


def test_a_browser_that_ignores_temperature_fails_the_matrix(matrix_bundles, answers, tmp_path):
    """Planted: screen.js reads no temperature from the card (the bug this matrix was written for).
    Held to the browser's own unplanted answers at float precision: against Keras, the onnx-int8
    figure the gate recorded on this fixture (native ONNX Runtime's int8 error, ~0.2) is wide enough
    to hide a temperature slip, which is why the browser cells also pin the card arithmetic itself
    (tests/kiosk/tablet/test_tablet_screening.py)."""
    from facescreen.edge.bundle import load_bundle
    from facescreen.kiosk.tablet.export import DEFAULT_RUNTIME
    from facescreen.kiosk.tools.browser import browser_skip_reason

    if browser_skip_reason():
        pytest.skip(browser_skip_reason())
    feature = FEATURES["temperature"]
    bundle, held, results = matrix_bundles(feature.bundle)
    runtime = next(r for r in RUNTIMES if r.name == f"browser:{DEFAULT_RUNTIME}")
    _skip_unbuilt(runtime, results)
    card = load_bundle(bundle).card
    honest = answers(feature.bundle, runtime)
    app = stage_browser_app(bundle, DEFAULT_RUNTIME, tmp_path / "app")
    js = app / "core" / "screen.js"
    src = js.read_text()
    read = "this.card.calibration?.temperature ?? 1"
    assert src.count(read) == 1
    js.write_text(src.replace(read, "1"))
    planted = browser_answers_in(app, held.faces)
    problems = cell_problems(planted, honest, card.threshold, card.positive_indices, 0.0)
    assert any("differ from Keras" in p for p in problems), problems
