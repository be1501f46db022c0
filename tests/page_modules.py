"""The tests' own page programs: ES modules in tests/kiosk/tablet/js/ (ESLint reads them: make lint),
loaded into whichever page a test has open as a ``blob:`` module, since neither server of the app
(the kiosk's /tablet/, the parity gate's static server) serves anything of tests/. Their functions are
called as the parity gate calls harness.js (``kiosk.tablet.parity.module_call``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from facescreen.kiosk.tablet.parity import b64_pixels, module_call
from facescreen.kiosk.tools.browser import Chrome

JS_DIR = Path(__file__).resolve().parent / "kiosk" / "tablet" / "js"
# one blob: URL per module and page, made on the first call: the module's state lasts as long as the
# page, and a page opened since (a navigation forgets the URL) gets its own
LOAD = (
    "const [name, src] = arguments; const urls = (window.__testModules ??= {}); "
    "return (urls[name] ??= URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));"
)


def page_module(chrome: Chrome, name: str) -> Callable[..., Any]:
    """``call(fn, *args)``: ``fn`` of tests/kiosk/tablet/js/``name``.js in the page open now, awaited."""
    src = (JS_DIR / f"{name}.js").read_text(encoding="utf-8")
    return lambda fn, *args: module_call(chrome, chrome.script(LOAD, name, src), fn, *args)


def bridge(chrome: Chrome) -> Callable[..., Any]:
    """``call(module, name, *args)``: ``name`` of the app's core/``module``.js through bridge.js, a
    function called, a constant read (arrays as :func:`f32` and :func:`u8` write them)."""
    call = page_module(chrome, "bridge")
    return lambda module, name, *args: call("call", module, name, list(args))


def f32(a) -> dict:
    """A float32 array for bridge.js (decoded there into a Float32Array)."""
    return {"__f32": b64_pixels(np.asarray(a, dtype=np.float32))}


def u8(a) -> dict:
    """A uint8 array for bridge.js (decoded there into a Uint8Array)."""
    return {"__u8": b64_pixels(np.asarray(a, dtype=np.uint8))}
