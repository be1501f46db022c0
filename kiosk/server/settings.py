"""Server settings: one validated object, injected with ``Depends(get_settings)`` so tests override it.

Binding to anything but the loopback interface needs a bearer token: the server then answers the
clinic's network, and results are health data.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import string
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from facescreen.edge.textfile import read_text

from ..guidance import GuidanceConfig
from ..messages import language
from ..quality import QualityConfig
from ..tracking import FindConfig
from .tls import check_pair

MiB = 1024 * 1024


def check_private(path: Path, what: str) -> None:
    """Refuse a secret (TLS key, token file) that other local users can read."""
    try:
        mode = Path(path).stat().st_mode & 0o777
    except FileNotFoundError:
        raise ValueError(f"{what} {path} does not exist") from None
    if mode & 0o077:
        raise ValueError(f"{what} {path} is readable by other users (mode {mode:04o}); run: chmod 600 {path}")


def read_token_file(path: str | Path) -> str:
    """The bearer token from a file readable by its owner only (not on the command line, where
    every local user sees it in `ps`)."""
    check_private(Path(path), "the token file")
    token = read_text(path).strip()  # without the byte-order mark Notepad writes: it made every request 401
    if not token:
        raise ValueError(f"the token file {path} is empty")
    return token


# What a bearer token may hold (RFC 6750's b64token): what every client sends alike. A token with an
# accented letter reached the server as Latin-1 from a browser's fetch and as UTF-8 from curl (one of
# them refused), and one with a space or a '#' did not survive the QR code's link.
TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-._~+/")
TOKEN_PATTERN = re.compile("[" + re.escape("".join(sorted(TOKEN_CHARS))) + "]+=*")  # then '=' padding
MIN_TOKEN_CHARS = 16
MAKE_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(24))"'


def check_token(token: str) -> str:
    """``token`` when a client can send it; else a ValueError saying what is wrong and how to make one."""
    if len(token) >= MIN_TOKEN_CHARS and TOKEN_PATTERN.fullmatch(token):
        return token
    odd = sorted(set(token) - TOKEN_CHARS - {"="})
    raise ValueError(
        f"the bearer token must be at least {MIN_TOKEN_CHARS} characters of A-Z a-z 0-9 - . _ ~ + / (then = "
        f"padding), which an Authorization header carries as they are; this one has {len(token)} characters"
        + (f", among them {', '.join(map(repr, odd))}" if odd else "")
        + f"; make one with {MAKE_TOKEN}"
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bundle: Path
    backend: str = "auto"
    detector: str = "auto"
    landmarks_model: Path | None = None
    data_dir: Path = Path("kiosk-data")
    kiosk_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=64)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    token: str | None = Field(None, repr=False)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_self_signed: bool = False
    max_upload_bytes: int = Field(20 * MiB, ge=1024, le=200 * MiB)
    max_pixels: int = Field(50_000_000, ge=10_000)
    language: str = "en"
    require_quality: bool = True  # /v1/screen refuses a photo that fails a quality measure
    quality: QualityConfig = QualityConfig()
    guidance: GuidanceConfig = GuidanceConfig()
    find: FindConfig = FindConfig()  # how frames are detected and tracked (speed; FindConfig.baseline(): as before)
    max_sessions: int = Field(8, ge=1, le=256)  # phone/tablet capture sessions held at once
    sessions_per_client: int = Field(2, ge=1, le=256)  # of those, held by one client address
    session_idle_s: float = Field(120.0, gt=0)
    # Photo requests admitted at once = engines + queue_depth; one more is answered 503 with
    # Retry-After before its body is read. Each admitted request holds at most max_upload_bytes.
    queue_depth: int = Field(8, ge=0, le=1024)
    engines: int = Field(1, ge=1, le=8)  # inference engines (each a full model copy)
    # Decoded pixels held by all requests at once (3 bytes each): a 49 MP photo takes 49 of them.
    decode_budget_mp: float = Field(64.0, ge=1.0, le=4096.0)
    # A request's body must arrive within this (else 408), and its headers within header_timeout_s
    # (else the connection is closed): a client trickling bytes holds a connection for that long at most.
    body_timeout_s: float = Field(30.0, gt=0, le=3600)
    header_timeout_s: float = Field(10.0, gt=0, le=3600)

    @field_validator("token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        return None if v is None else check_token(v)

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        return language(v)

    @model_validator(mode="after")
    def _exposure(self) -> Settings:
        if not is_loopback(self.host) and not self.token:
            raise ValueError(
                f"binding to {self.host} opens the server to the network: a bearer token is required "
                f"(--token-file FILE or FACESCREEN_TOKEN, at least {MIN_TOKEN_CHARS} characters)"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate and its key (--tls-cert and --tls-key)")
        if self.tls_cert is not None and self.tls_key is not None:
            check_private(self.tls_key, "the TLS private key")
            check_pair(self.tls_cert, self.tls_key)
        if self.tls_self_signed and self.tls_cert is not None:
            raise ValueError("give either --tls-cert/--tls-key or --tls-self-signed, not both")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None or self.tls_self_signed
