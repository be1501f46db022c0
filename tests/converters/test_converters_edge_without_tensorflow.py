"""The whole edge path where TensorFlow cannot be imported (a tablet or kiosk install): the converted
MTCNN finds the face, the photo is aligned, and LiteRT and ONNX Runtime screen it, giving the same
flags as the Keras reference does on the same faces."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest


@pytest.fixture(scope="module")
def edge_bundle(converted, tmp_path_factory):
    """The converted tiny bundle plus the converted detector, and three synthetic photos."""
    from PIL import Image

    from facescreen.converters.convert import ConvertOptions, convert_bundle
    from facescreen.converters.targets import resolve_targets
    from facescreen.edge.synthetic import CohortConfig, make_subject

    bundle_dir, _, _ = converted
    root = tmp_path_factory.mktemp("edge-path")
    bundle = shutil.copytree(bundle_dir, root / "bundle")
    results = convert_bundle(bundle, resolve_targets("mtcnn-tflite,mtcnn-onnx"), None,
                             options=ConvertOptions(detector_timing_repeats=0), progress=lambda s: None)
    assert all(r.status == "written" for r in results), [r.message for r in results]
    rng = np.random.default_rng(7)
    photos = []
    for i, (src, syn) in enumerate([("astronaut", False), ("grace_hopper", True), ("grace_hopper", False)]):
        path = root / f"photo{i}.jpg"
        Image.fromarray(make_subject(rng, src, syn, CohortConfig(image_size=480))).save(path, quality=92)
        photos.append(str(path))
    return bundle, photos


def test_detect_align_screen_without_tensorflow(edge_bundle):
    from facescreen.edge import create_screener

    bundle, photos = edge_bundle
    code = textwrap.dedent(f"""
        import json, sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if (name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "mtcnn")
                        or name.startswith(("facescreen.training", "facescreen.converters"))):
                    raise ImportError(name + " is blocked in this test")
        sys.meta_path.insert(0, _Block())
        from facescreen.edge import create_screener
        out = {{}}
        for backend in ("litert", "onnxruntime"):
            s = create_screener({str(bundle)!r}, backend=backend)
            assert s.detector.name == "mtcnn-lite", s.detector.name
            rs = [s.screen(p) for p in {photos!r}]
            out[backend] = [[r.flag, r.probability, r.backend, r.cam.shape[0]] for r in rs]
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    reference = create_screener(bundle, backend="keras", detector="mtcnn-lite")
    ref = [reference.screen(p) for p in photos]
    for backend, rows in got.items():
        assert [row[2].split(":")[0] for row in rows] == [backend] * len(photos)
        assert [row[0] for row in rows] == [r.flag for r in ref], (backend, rows, [r.probability for r in ref])
        assert max(abs(row[1] - r.probability) for row, r in zip(rows, ref)) < 0.1
        assert all(row[3] == reference.card.input.size for row in rows)
