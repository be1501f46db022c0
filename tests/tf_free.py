"""TensorFlow-free test mode (``FACESCREEN_TF_FREE=1``, set by ``make test-py310``).

TensorFlow, Keras and the mtcnn package are blocked (importing them raises ImportError, as on a
Jetson), the reference detector fixture becomes the converted MTCNN of the bundle that
tests/tools/build_tf_free_fixture.py built (``FACESCREEN_TF_FREE_BUNDLE``), and tests that need
TensorFlow itself are skipped with :data:`REASON`, in that mode only.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

TF_FREE = os.environ.get("FACESCREEN_TF_FREE") == "1"
BLOCKED = ("tensorflow", "keras", "tf_keras", "mtcnn")
REASON = "needs TensorFlow, which the TensorFlow-free (Jetson) test environment blocks"
requires_tensorflow = pytest.mark.skipif(TF_FREE, reason=REASON)


def block_tensorflow() -> None:
    if TF_FREE:
        for name in BLOCKED:
            sys.modules[name] = None


def blocking_prelude(modules: tuple[str, ...] = BLOCKED, packages: tuple[str, ...] = ()) -> str:
    """Python source to run first in a subprocess: importing any of ``modules`` (top-level names) or
    anything under ``packages`` then raises ImportError, as on a machine that lacks them."""
    return textwrap.dedent(f"""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {modules!r} or name.startswith({packages!r}):
                    raise ImportError(name + " is blocked in this test")
        sys.meta_path.insert(0, _Block())
    """)


def bundle() -> Path:
    path = os.environ.get("FACESCREEN_TF_FREE_BUNDLE")
    if not path or not (Path(path) / "modelcard.json").is_file():
        raise pytest.UsageError(
            "FACESCREEN_TF_FREE=1 needs FACESCREEN_TF_FREE_BUNDLE: the bundle built by "
            "tests/tools/build_tf_free_fixture.py (make test-py310 builds it)"
        )
    return Path(path)
