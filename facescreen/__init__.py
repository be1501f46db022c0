"""facescreen: screening children's frontal face photos for genetic-syndrome referral, at the edge.

The installed package is one namespace, ``facescreen``, whose sub-packages live in the repository's
top-level folders (``edge/``, ``training/``, ``converters/``, ``kiosk/``) through setuptools'
``package-dir`` mapping, so nothing generic (``edge``, ``kiosk``...) lands at the top of site-packages.
Static tools do not read that mapping: for them (mypy, an IDE) this folder links each sub-package to
its folder (``facescreen/edge -> ../edge``...), so ``facescreen.*`` imports resolve from the checkout.
This module imports none of them: ``import facescreen`` stays as light as the edge runtime (it only
sets one switch TensorFlow reads at import, below).
"""

from __future__ import annotations

import os

# TensorFlow uses its oneDNN kernels by default only on x86 CPUs with AVX-512 VNNI, BF16 or AMX (its 2.9
# release notes); on others (an AVX2-only AMD EPYC here) it falls back to Eigen, whose convolution input
# gradient is 25x slower at ResNet-18's 512-channel stage (112 ms against 4.3 ms a call, batch 16): a
# training step took 4x as long (502 -> 123 ms at 48 px, 694 -> 484 ms at 112 px). TensorFlow reads the
# switch once, when it is imported, so it is set here, before any sub-package can import it; a value
# already in the environment wins. The edge, kiosk and tablet paths never import TensorFlow.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("facescreen")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


__version__ = _version()
