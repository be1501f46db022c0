"""Shared fixtures. Sample faces are real photos that installed packages ship (see edge.synthetic).
In the TensorFlow-free mode of ``make test-py310`` (tests/tf_free.py) the reference detector is the
converted MTCNN."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tf_free

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
        return create_detector("mtcnn-lite", model_dir=tf_free.bundle() / "detector")
    return create_detector("mtcnn")
