"""Serve the app with uvicorn (one process: the model is loaded once and calls are serialised)."""
from __future__ import annotations

import logging
import socket
import threading
import time

from .main import create_app
from .settings import Settings, is_loopback
from .tls import local_addresses, self_signed

log = logging.getLogger(__name__)


def serve(settings: Settings, log_level: str = "info", engine=None) -> None:
    """Serve until stopped; ``engine``: an already loaded KioskEngine (the CLI loads it first, so a
    bad bundle or model file is one line before anything binds, not a traceback from start-up)."""
    import uvicorn

    ssl: dict = {}
    if settings.tls_self_signed:
        hosts = local_addresses() + ([settings.host] if not is_loopback(settings.host) and settings.host != "0.0.0.0" else [])
        cert, key = self_signed(settings.data_dir / "tls", hosts)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        log.warning("self-signed certificate %s (phones will ask once to trust it)", cert)
    elif settings.tls_cert is not None:
        ssl = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    scheme = "https" if ssl else "http"
    log.warning("capture page: %s://%s:%d/   API docs: %s://%s:%d/docs", scheme, settings.host, settings.port,
                scheme, settings.host, settings.port)
    uvicorn.run(create_app(settings, engine), host=settings.host, port=settings.port, log_level=log_level,
                workers=1, **ssl)


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

    def __enter__(self) -> "BackgroundServer":
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
