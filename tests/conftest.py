"""Shared fixtures. Sample faces are real photos that installed packages ship (see edge.synthetic)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


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
    """The reference detector (the mtcnn package, TensorFlow); built once per session."""
    from facescreen.edge import create_detector

    return create_detector("mtcnn")
