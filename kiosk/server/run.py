"""Serve the app with uvicorn (one process: the model is loaded once and calls are serialised)."""
from __future__ import annotations

import logging

from .main import create_app
from .settings import Settings, is_loopback
from .tls import local_addresses, self_signed

log = logging.getLogger(__name__)


def serve(settings: Settings, log_level: str = "info") -> None:
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
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level,
                workers=1, **ssl)
