"""Serve the app with uvicorn (one process: the model is loaded once; photo requests go through the
bounded inference queue)."""

from __future__ import annotations

import ctypes
import io
import logging
import socket
import threading
import time

from .main import create_app
from .routers.tablet import app_dir
from .settings import Settings, is_loopback
from .tls import local_addresses, self_signed

log = logging.getLogger(__name__)


ANY_ADDRESS = ("0.0.0.0", "::", "")


def reachable_hosts(host: str) -> list[str]:
    """The addresses phones can type: this machine's LAN addresses for a wildcard bind, else the host."""
    if host in ANY_ADDRESS:
        return local_addresses()
    return [host]


def capture_urls(settings: Settings, scheme: str) -> list[str]:
    return [
        f"{scheme}://{h if ':' not in h else '[' + h + ']'}:{settings.port}/" for h in reachable_hosts(settings.host)
    ]


def announce(settings: Settings, scheme: str, qr: bool = True) -> str:
    """What the operator reads at start-up: where phones and tablets open the capture page, and a
    QR code of it with the token in the URL fragment (a fragment never reaches a server log)."""
    urls = capture_urls(settings, scheme)
    if not urls:
        return (
            f"no network address found on this machine: phones cannot reach {settings.host}:{settings.port}; "
            "connect to the clinic network and start again"
        )
    if is_loopback(settings.host):
        lines = [
            f"capture page (only this machine can reach {settings.host}; for phones and tablets on the "
            "network start with --host 0.0.0.0 and --token-file):"
        ]
    else:
        lines = ["capture page (open on a phone or tablet on this network):"]
    lines += [f"  {u}" for u in urls]
    if (app_dir(settings) / "app.json").is_file():
        lines.append(f"tablet app (works offline after one visit): {urls[0]}tablet/")
    else:
        lines.append(f"no tablet app in {app_dir(settings)}: build it with `facescreen-kiosk tablet-export`")
    lines.append(f"API docs: {urls[0]}docs")
    if qr:
        import segno

        target = urls[0] + (f"#token={settings.token}" if settings.token else "")
        buf = io.StringIO()
        segno.make(target, error="m").terminal(out=buf, compact=True)
        lines += [
            "scan to open the capture page" + (" (it carries the token)" if settings.token else "") + ":",
            buf.getvalue(),
        ]
    return "\n".join(lines)


M_ARENA_MAX = -8  # glibc mallopt parameter


def limit_malloc_arenas(n: int = 2) -> None:
    """glibc gives each thread its own heap arena, and an arena keeps what it once held: after a burst
    of large photos on 16 request threads the server kept ~200 MB more than with two arenas (see
    README, server limits). Linux/glibc only; elsewhere a no-op."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, n)
    except (OSError, AttributeError):
        pass


def serve(settings: Settings, log_level: str = "info", engine=None) -> None:
    """Serve until stopped; ``engine``: the already loaded engine or pool (the CLI loads it first, so a
    bad bundle or model file is one line before anything binds, not a traceback from start-up)."""
    import uvicorn

    limit_malloc_arenas()

    ssl: dict = {}
    if settings.tls_self_signed:
        hosts = [h for h in reachable_hosts(settings.host) if not is_loopback(h)]
        cert, key = self_signed(settings.data_dir / "tls", hosts)  # made again when the addresses change
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        log.warning(
            "self-signed certificate %s for %s (phones will ask once to trust it)",
            cert,
            ", ".join(["localhost", *hosts]),
        )
    elif settings.tls_cert is not None:
        ssl = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    print(announce(settings, "https" if ssl else "http", qr=not is_loopback(settings.host)), flush=True)
    uvicorn.run(
        create_app(settings, engine), host=settings.host, port=settings.port, log_level=log_level, workers=1, **ssl
    )


class BackgroundServer:
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a thread: for tests and tools.

    ``with BackgroundServer(app) as srv: httpx.get(srv.url + "/v1/health")``"""

    def __init__(self, app, **ssl) -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.scheme = "https" if ssl else "http"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **ssl))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
