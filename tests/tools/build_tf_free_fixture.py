"""Build, in the TensorFlow environment, the bundle the TensorFlow-free Python 3.10 test run uses.

`make test-py310` runs the edge and kiosk tests in the environment a Jetson gets (Python 3.10, numpy
1.26, no TensorFlow), where no model can be trained or converted. This script makes one small bundle
for it, through the real converters: an UNTRAINED ResNet-18 at 64 px (the kiosk and edge behaviour
under test does not depend on what the model answers) converted to ``tflite-fp32`` and ``onnx``
(each parity-checked against Keras), plus the converted MTCNN (``mtcnn-tflite``, ``mtcnn-onnx``,
checked against the mtcnn package on the sample photos). The TF-free run then detects with that
MTCNN and screens through LiteRT and ONNX Runtime.

    python tests/tools/build_tf_free_fixture.py --out .cache/tf-free-fixture
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

DONE = ".complete"
TARGETS = "tflite-fp32,onnx,mtcnn-tflite,mtcnn-onnx"


def build(out: Path) -> Path:
    bundle = out / "bundle"
    if (out / DONE).is_file():
        return bundle
    import keras

    from facescreen.converters.calibration import FaceSet
    from facescreen.converters.convert import convert_bundle
    from facescreen.converters.targets import resolve_targets
    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig, build_screener

    shutil.rmtree(out, ignore_errors=True)
    keras.utils.set_random_seed(0)
    cfg = ModelConfig(backbone="resnet18", input_size=64, head_filters=(16,))
    # threshold far from the untrained model's ~0.5 outputs, so the parity gate measures the converters
    save_bundle(
        build_screener(cfg),
        cfg,
        bundle,
        model_id="tf-free-test-fixture-untrained",
        threshold=0.9,
        training_data={"kind": "synthetic"},
        notes="test fixture: UNTRAINED, for the TensorFlow-free test run",
    )
    faces = FaceSet(np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8), source="random")
    results = convert_bundle(bundle, resolve_targets(TARGETS), faces, progress=lambda s: None)
    bad = [f"{r.target}: {r.status} {r.message}" for r in results if not r.ok]
    if bad:
        raise SystemExit("the TF-free test fixture could not be converted: " + "; ".join(bad))
    (out / DONE).write_text(TARGETS + "\n")
    return bundle


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=".cache/tf-free-fixture")
    print(build(Path(p.parse_args(argv).out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
