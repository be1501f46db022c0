"""Cold start of one target, in a process of its own: interpreter, imports, the bundle opened and
verified, the runtime loaded and one aligned face screened, as ``facescreen-screen`` does on its
first photo. The benchmark runs

    python -m facescreen.edge.bench.cold BUNDLE ARTIFACT FACES.npz THREADS

and times it from before the process starts to this module's one JSON line (its own breakdown,
measured from when this module began running)."""

from __future__ import annotations

import json
import sys
import time

_T0 = time.perf_counter()


def main(argv: list[str]) -> int:
    bundle_dir, artifact, faces_npz, threads = argv
    import numpy as np

    from ..backends import open_backend
    from ..bundle import load_bundle
    from ..screener import Screener

    t_import = time.perf_counter()
    bundle = load_bundle(bundle_dir)
    backend = open_backend(bundle, artifact=artifact, threads=int(threads))
    t_load = time.perf_counter()
    face = np.load(faces_npz)["faces"][0]
    Screener(bundle, backend, detector=None).screen_aligned(face)
    t_first = time.perf_counter()
    parts = {"import": t_import - _T0, "load": t_load - t_import, "first_result": t_first - t_load}
    print(json.dumps({k: v * 1e3 for k, v in parts.items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
