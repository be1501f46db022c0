"""Cold start of one target, in a process of its own: interpreter, imports, the bundle opened and
verified, the runtime loaded and one aligned face screened, as ``facescreen-screen`` does on its
first photo. The benchmark runs

    python -m facescreen.edge.bench.cold BUNDLE ARTIFACT FACES.npz THREADS

and times it from before the process starts to this module's one JSON line, which gives the load
and first-result parts; the rest (interpreter start-up and imports: ``python -m`` imports the
facescreen packages before this module runs) is the benchmark's ``startup`` part."""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    bundle_dir, artifact, faces_npz, threads = argv
    import numpy as np

    from ..backends import open_backend
    from ..bundle import load_bundle
    from ..screener import Screener

    t_import = time.perf_counter()  # the facescreen modules are imported by now
    bundle = load_bundle(bundle_dir)
    backend = open_backend(bundle, artifact=artifact, threads=int(threads))
    t_load = time.perf_counter()
    face = np.load(faces_npz)["faces"][0]
    Screener(bundle, backend, detector=None).screen_aligned(face)
    t_first = time.perf_counter()
    parts = {"load": t_load - t_import, "first_result": t_first - t_load}
    print(json.dumps({k: v * 1e3 for k, v in parts.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
