"""Serve the app with uvicorn (one process: the model is loaded once; photo requests go through the
bounded inference queue)."""

from __future__ import annotations

import ctypes
import errno
import io
import logging
import socket
import threading
import time
import urllib.parse
from pathlib import Path

from facescreen.edge.bundle import load_bundle
from facescreen.edge.errors import FaceScreenError

from ..tablet.export import is_tablet_app
from .main import create_app
from .routers.tablet import app_dir, stale_app
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


def offline_note(settings: Settings, scheme: str, self_signed_cert: Path | None = None) -> str:
    """Whether tablets will keep the app for use without a network. Browsers install its service
    worker only on a secure origin (https, or this machine itself) whose certificate they trust: over
    http at a LAN address, or behind a certificate the tablet does not trust, the app opens online
    only, and the announcement said "works offline after one visit" all the same."""
    if scheme == "http" and not is_loopback(settings.host):
        return (
            "over http it does not work offline, and phones get no live camera: "
            "start with --tls-self-signed, or --tls-cert/--tls-key"
        )
    if self_signed_cert is not None:
        return (
            "works offline after one visit only on a tablet that trusts this kiosk's certificate: "
            f"install {self_signed_cert} on it (docs/tablet.md); elsewhere the app says it is not ready"
        )
    return "works offline after one visit"


def announce(settings: Settings, scheme: str, qr: bool = True, self_signed_cert: Path | None = None) -> str:
    """What the operator reads at start-up: where phones and tablets open the capture page, and a
    QR code of it with the token in the URL fragment (a fragment never reaches a server log).
    ``self_signed_cert``: the certificate --tls-self-signed made, which tablets must trust."""
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
    if not is_tablet_app(app_dir(settings)):
        lines.append(f"no tablet app in {app_dir(settings)}: build it with `facescreen-kiosk tablet-export`")
    elif stale := stale_app(settings, load_bundle(settings.bundle, verify=False).card):
        lines.append(f"tablet app not served: {stale}")
    else:
        lines.append(f"tablet app: {urls[0]}tablet/ ({offline_note(settings, scheme, self_signed_cert)})")
    lines.append(f"API docs: {urls[0]}docs")
    if qr:
        import segno

        # percent-encoded: the page reads the fragment with URLSearchParams, which turns a '+' (base64's,
        # e.g. `openssl rand -base64`) into a space, and the phone's every request was then 401
        target = urls[0] + (f"#token={urllib.parse.quote(settings.token, safe='')}" if settings.token else "")
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


def header_deadline_protocol(timeout_s: float) -> type:
    """uvicorn's HTTP/1.1 protocol with a deadline for a request's headers: a connection whose
    request line and headers have not all arrived ``timeout_s`` after it opened (or after its
    previous answer) is closed. uvicorn itself waits for headers for ever, so 40 connections sending
    one byte every 5 s would hold 40 sockets and file descriptors indefinitely. The body has its own
    deadline (kiosk.server.limits)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        _header_timer = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                log.info("closed a connection whose request headers took over %g s", timeout_s)
                self.transport.close()

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()  # the next request on this keep-alive connection

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadline


def uvicorn_options(settings: Settings | None) -> dict:
    """How uvicorn serves this app, in one place for `serve` and the test server. ``X-Forwarded-For``
    is not trusted (uvicorn trusts it from loopback by default): the kiosk serves clients directly,
    and a local process could otherwise claim another device's address, use its capture sessions and
    pass the per-device caps."""
    timeout = settings.header_timeout_s if settings else Settings.model_fields["header_timeout_s"].default
    return {"http": header_deadline_protocol(timeout), "proxy_headers": False}


class ListenError(FaceScreenError, code="cannot_listen"):
    """The server cannot listen where its settings say: the port is taken, the address is not this
    machine's, or the port is kept for root."""


def listen_sockets(settings: Settings) -> list[socket.socket]:
    """The sockets `serve` listens on, bound before the model loads and the capture page's address is
    printed. uvicorn binds after both: a port already in use (another `serve` left running) printed
    the capture URL and its QR code, loaded the model, then stopped in uvicorn's "[Errno 98] error
    while attempting to bind" log line. Bound as asyncio binds a host for uvicorn (every address the
    name resolves to, an IPv6 one IPv6-only, SO_REUSEADDR), so what --host reaches is unchanged.
    Raises ListenError saying what to do."""
    try:
        infos = socket.getaddrinfo(
            settings.host or None, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(
            f"--host {settings.host}: not an address this machine can listen on ({exc.strerror}); "
            "give one of its addresses, or 0.0.0.0 for all of them"
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):  # a name may resolve twice alike
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise ListenError(_why_not(settings, exc)) from None
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _why_not(settings: Settings, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {settings.port} is in use on {settings.host} (another `facescreen-kiosk serve` still "
            "running, or another program): stop it, or give another --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        theirs = ", ".join(local_addresses()) or "none found"
        return (
            f"--host {settings.host} is not an address of this machine (its network addresses: {theirs}); "
            "give one of them, or 0.0.0.0 for all"
        )
    if exc.errno == errno.EACCES:
        return (
            f"this user may not listen on port {settings.port} (ports below 1024 are kept for root); "
            "give --port 1024 or above (8000 is the default)"
        )
    return f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"


def serve(settings: Settings, log_level: str = "info", engine=None, sockets: list[socket.socket] | None = None) -> None:
    """Serve until stopped; ``engine``: the already loaded engine or pool, ``sockets``: those
    :func:`listen_sockets` bound (the CLI does both first, so a port in use, a bad bundle or model
    file is one line before any address is printed, not a traceback from start-up)."""
    import uvicorn

    limit_malloc_arenas()

    ssl: dict = {}
    cert: Path | None = None
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
    if sockets is None:
        sockets = listen_sockets(settings)
    scheme = "https" if ssl else "http"
    print(announce(settings, scheme, qr=not is_loopback(settings.host), self_signed_cert=cert), flush=True)
    config = uvicorn.Config(
        create_app(settings, engine),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        workers=1,
        **uvicorn_options(settings),
        **ssl,
    )
    try:
        uvicorn.Server(config).run(sockets=sockets)
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has already shut down gracefully (as uvicorn.run treats it)
        pass
    finally:
        for sock in sockets:
            sock.close()


class BackgroundServer:
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a thread: for tests and tools.

    ``with BackgroundServer(app) as srv: httpx.get(srv.url + "/v1/health")``"""

    def __init__(self, app, settings: Settings | None = None, **ssl) -> None:
        """``settings``: the served app's (default: ``app.state.settings``, else the defaults), for
        the same uvicorn options as `serve`."""
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.scheme = "https" if ssl else "http"
        settings = settings or getattr(getattr(app, "state", None), "settings", None)
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", **uvicorn_options(settings), **ssl
            )
        )
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
