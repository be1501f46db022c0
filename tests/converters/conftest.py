"""A tiny trained bundle (ResNet-18 at 64 px) and its aligned SYNTHETIC faces, built once per session.

The cohort plants a STRONG geometric signal (not the demo's subtle one) so that a few epochs give a
model whose screening probabilities are spread out rather than constant, and the threshold sits in
the widest gap of those probabilities: flag agreement then measures the converters, not luck, and a
broken artifact (which collapses the outputs) cannot pass.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from factories import make_card, train_fixture_screener
from fake_tensorrt import importable

SIZE = 64
N_PER_CLASS = 75


def screener_cpu_targets() -> list[str]:
    from facescreen.converters.targets import ALIASES, target

    return [n for n in ALIASES["cpu"] if target(n).kind == "screener"]


@pytest.fixture(scope="session")
def cohort_dir(tmp_path_factory):
    from facescreen.edge.synthetic import CohortConfig, make_cohort

    out = tmp_path_factory.mktemp("cohort")
    make_cohort(
        out,
        CohortConfig(n_per_class=N_PER_CLASS, image_size=256, eye_widen=(0.35, 0.03), mouth_widen=(0.4, 0.04), seed=11),
    )
    return out


def _probe_card(size: int = SIZE):
    from facescreen.edge.bundle import InputSpec

    return make_card(input=InputSpec(size=size))


@pytest.fixture(scope="session")
def probe_card():
    """A model card for 64 px faces (what the calibration loader needs to know)."""
    return _probe_card()


@pytest.fixture(scope="session")
def faceset(cohort_dir, mtcnn_detector):
    """Every cohort photo through edge.pipeline.prepare_face (as training does), labels from cohort.csv."""
    from facescreen.converters.calibration import load_folder

    fs = load_folder(cohort_dir, _probe_card(), mtcnn_detector)
    assert fs.labels is not None and len(fs) >= 140, fs.skipped
    return fs


@pytest.fixture(scope="session")
def tiny_bundle_src(tmp_path_factory, faceset):
    """A trained bundle directory; tests copy it before converting into it."""

    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig
    from facescreen.training.thresholds import widest_gap_threshold

    cfg = ModelConfig(backbone="resnet18", input_size=SIZE, head_filters=(64,))
    x = faceset.batch()
    model = train_fixture_screener(cfg, x, faceset.labels)
    p = np.asarray(model(x, training=False)["probs"])[:, 1]
    assert p.std() > 0.05, "the fixture model's outputs are nearly constant; parity tests would be meaningless"
    out = tmp_path_factory.mktemp("bundle") / "tiny"
    save_bundle(
        model,
        cfg,
        out,
        model_id="test-tiny-resnet18-64",
        threshold=widest_gap_threshold(p),
        notes="test fixture trained on a SYNTHETIC cohort",
    )
    return out


@pytest.fixture(scope="session")
def faces_npz(tmp_path_factory, faceset):
    from facescreen.converters.calibration import save_faces

    return save_faces(faceset, tmp_path_factory.mktemp("faces") / "aligned_64.npz")


@pytest.fixture(scope="session")
def split_faces(faceset):
    """(calibration part >= 100 faces, held-out part) of the aligned cohort."""
    calib, held = faceset.split(0.25, seed=0)
    assert len(calib) >= 100
    return calib, held


@pytest.fixture
def fresh_bundle(tmp_path, tiny_bundle_src):
    """A private copy of the trained bundle to convert into."""
    return shutil.copytree(tiny_bundle_src, tmp_path / "bundle")


@pytest.fixture(scope="session")
def converted(tmp_path_factory, tiny_bundle_src, split_faces):
    """The tiny bundle converted to every CPU screener target (and the TensorRT ones, which build only
    where TensorRT and a GPU exist): (bundle dir, results by target, progress lines)."""
    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.targets import resolve_targets

    bundle = shutil.copytree(tiny_bundle_src, tmp_path_factory.mktemp("converted") / "bundle")
    calib, held = split_faces
    lines: list[str] = []
    results = convert_bundle(
        bundle,
        resolve_targets(screener_cpu_targets() + ["tensorrt"]),
        held,
        calib,
        ConvertOptions(),
        progress=lines.append,
    )
    return bundle, {r.target: r for r in results}, lines


@pytest.fixture(scope="session")
def converted_all(converted, tensorrt_stand_in, split_faces, tmp_path_factory):
    """The converted bundle plus its TensorRT engines, built (and parity-gated) through the stand-in
    (tests/conftest.py's ``tensorrt_stand_in``) where no real TensorRT is installed:
    (bundle dir, results by target, progress lines)."""
    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.targets import resolve_targets

    bundle_dir, results, lines = converted
    bundle = shutil.copytree(bundle_dir, tmp_path_factory.mktemp("converted-all") / "bundle")
    calib, held = split_faces
    trt_lines: list[str] = []
    with importable(tensorrt_stand_in and tensorrt_stand_in[0]):
        trt = convert_bundle(
            bundle, resolve_targets("tensorrt"), held, calib, ConvertOptions(), progress=trt_lines.append
        )
    return bundle, {**results, **{r.target: r for r in trt}}, lines + trt_lines
