"""How the pages that run models in the browser are served: cross-origin isolation, content types.

onnxruntime-web runs its WebAssembly on several threads only where ``SharedArrayBuffer`` exists,
which browsers grant to a cross-origin isolated page: its document (and its workers) served with
``Cross-Origin-Opener-Policy: same-origin`` and ``Cross-Origin-Embedder-Policy: require-corp``
(https://web.dev/articles/coop-coep). The kiosk sends both on the tablet app and the phone page;
everything those pages load is the kiosk's own (same origin), and their calls to another kiosk are
CORS requests, which require-corp allows. A statically hosted tablet app gets the same headers
from its service worker (kiosk/tablet/web/sw.js), which names these values too.
"""

from __future__ import annotations

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}

# the content types a browser needs for the app's files (modules, WebAssembly, the manifest), whoever
# serves them: the kiosk's /tablet/ route and the parity gate's static server
MEDIA_TYPES = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
