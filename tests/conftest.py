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
from fake_tensorrt import STAND_IN_TENSORRT, importable, real_tensorrt_here

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


# ---------------------------------------------------------------------------------------------
# TensorRT through the stand-in (tests/fake_tensorrt.py): the real converter and the real edge backend
# (edge/backends/tensorrt.py) run against it, so tensorrt-* artifacts join the parity, backend and
# runtime-matrix tests of every other target on a machine without a GPU.


@pytest.fixture(scope="session")
def tensorrt_stand_in():
    """One stand-in TensorRT 10.3 + cuda-python GPU for the session: ``(sys.modules entries, recorder)``;
    None where a real TensorRT is installed (then the real one builds and runs the engines). Use it in
    a block with ``fake_tensorrt.importable(stand_in and stand_in[0])``, or through ``tensorrt_here``."""
    if real_tensorrt_here():
        return None
    from fake_tensorrt import Recorder, stand_in_modules

    rec = Recorder()
    return stand_in_modules(STAND_IN_TENSORRT, rec), rec


@pytest.fixture
def tensorrt_here(tensorrt_stand_in):
    """TensorRT importable for this test: the session's stand-in (or the real one where installed);
    the stand-in's recorder, None for the real one."""
    with importable(tensorrt_stand_in and tensorrt_stand_in[0]):
        yield tensorrt_stand_in and tensorrt_stand_in[1]
