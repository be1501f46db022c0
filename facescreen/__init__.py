"""facescreen: screening children's frontal face photos for genetic-syndrome referral, at the edge.

The installed package is one namespace, ``facescreen``, whose sub-packages live in the repository's
top-level folders (``edge/``, ``training/``, ``converters/``, ``kiosk/``) through setuptools'
``package-dir`` mapping, so nothing generic (``edge``, ``kiosk``...) lands at the top of site-packages.
Static tools do not read that mapping: for them (mypy, an IDE) this folder links each sub-package to
its folder (``facescreen/edge -> ../edge``...), so ``facescreen.*`` imports resolve from the checkout.
This module imports none of them: ``import facescreen`` stays as light as the edge runtime.
"""

from __future__ import annotations


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("facescreen")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


__version__ = _version()
