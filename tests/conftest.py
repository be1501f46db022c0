"""Shared fixtures. Sample faces are real photos that installed packages ship (see edge.synthetic).
In the TensorFlow-free mode of ``make test-py310`` (tests/tf_free.py) the reference detector is the
converted MTCNN."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tf_free
from factories import make_card

tf_free.block_tensorflow()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from facescreen.edge.synthetic import source_photo

    return source_photo("astronaut")


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    from facescreen.edge.synthetic import source_photo

    return source_photo("grace_hopper")


@pytest.fixture(scope="session")
def mtcnn_detector():
    """The reference detector (the mtcnn package, TensorFlow); built once per session. TensorFlow-free:
    the converted cascade (mtcnn-lite), pinned to the package by tests/edge/test_mtcnn_lite.py."""
    from facescreen.edge import create_detector

    if tf_free.TF_FREE:
        return create_detector("mtcnn-lite", tf_free.bundle())
    return create_detector("mtcnn")


@pytest.fixture(scope="session")
def detector_dir(tmp_path_factory):
    """A bundle whose detector/ holds both converted MTCNN formats (and nothing else). TensorFlow-free: the
    one converted (and checked against the package) by tests/tools/build_tf_free_fixture.py."""
    if tf_free.TF_FREE:
        return tf_free.bundle() / "detector"
    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.targets import resolve_targets
    from facescreen.edge.bundle import InputSpec, save_card

    bundle = tmp_path_factory.mktemp("detector-bundle")
    save_card(
        bundle,
        make_card(model_id="detector-only", input=InputSpec(size=64)),
    )
    results = convert_bundle(
        bundle,
        resolve_targets("detector"),
        None,
        options=ConvertOptions(detector_timing_repeats=0),
        progress=lambda s: None,
    )
    assert [r.status for r in results] == ["written", "written"], [r.message for r in results]
    return bundle / "detector"
