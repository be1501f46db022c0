"""TLS for the capture page: browsers give a page the camera (getUserMedia) only on a secure
origin, i.e. https or localhost. Use the clinic's certificate, or generate a self-signed one
(the phone then asks once to trust it)."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path


class TlsError(RuntimeError):
    code = "tls_error"


class _Passphrase(Exception):
    """Raised by the password callback: the key asked for a passphrase."""


def check_pair(cert: Path, key: Path) -> None:
    """Refuse, as one sentence, a certificate and key the server could not load when it starts
    (uvicorn would end in OpenSSL's bare "PEM lib" traceback, naming neither file): each must be PEM
    (what ``openssl req``, certbot and most clinic IT hand out), the key without a passphrase (the
    server starts unattended: OpenSSL would stop and ask on the terminal), and the key the certificate's."""
    for path, what, marker, other in (
        (cert, "certificate", b"-----BEGIN CERTIFICATE-----", b"PRIVATE KEY-----"),
        (key, "private key", b"PRIVATE KEY-----", b"-----BEGIN CERTIFICATE-----"),
    ):
        try:
            head = Path(path).read_bytes()[:65536]
        except OSError as exc:
            raise ValueError(f"cannot read the TLS {what} {path}: {exc.strerror}") from None
        if marker in head:
            continue
        if other in head:
            hint = "; were --tls-cert and --tls-key given the other way round?"
        elif head[:1] == b"\x30" and not head.isascii():  # an ASN.1 SEQUENCE: the binary (DER) form
            kind = "x509" if what == "certificate" else "pkey"
            hint = f"; it looks binary (DER): convert it with openssl {kind} -inform DER -in {path} -out {path}.pem"
        else:
            hint = ""
        raise ValueError(f"the TLS {what} {path} is not PEM (no {marker.decode()!r} line){hint}")

    def passphrase() -> bytes:
        raise _Passphrase

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=passphrase)
    except _Passphrase:
        raise ValueError(
            f"the TLS private key {key} is protected by a passphrase, which the server cannot ask for "
            f"when it starts: write a copy without it (openssl pkey -in {key} -out KEY.pem; chmod 600 KEY.pem)"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ValueError(f"the TLS private key {key} is not the key of the certificate {cert}") from None
        raise ValueError(f"the TLS certificate {cert} and key {key} could not be loaded: {exc}") from None


def local_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses (what phones on the clinic network will type)."""
    found = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(info[4][0])
    except OSError:
        pass
    try:  # the address of the default route, without sending anything
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            found.add(s.getsockname()[0])
    except OSError:
        pass
    return sorted(a for a in found if not ipaddress.ip_address(a).is_loopback)


def self_signed(out_dir: str | Path, hosts: list[str] | None = None, days: int = 825) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, 127.0.0.1 and ``hosts``, made with the openssl
    command-line tool and reused while it names the same hosts; when this machine's addresses
    change (another clinic network, a new DHCP lease) it is made again, or phones would refuse it.
    Returns ``(cert, key)``; the folder is 0700 and the key 0600, and a reused key that others can
    read is refused."""
    out = Path(out_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    cert, key, names_file = out / "kiosk-cert.pem", out / "kiosk-key.pem", out / "kiosk-cert.names.json"
    names = ["DNS:localhost", "IP:127.0.0.1"]
    for h in hosts or []:
        try:
            ipaddress.ip_address(h)
            names.append(f"IP:{h}")
        except ValueError:
            names.append(f"DNS:{h}")
    names = list(dict.fromkeys(names))
    if cert.is_file() and key.is_file():
        mode = key.stat().st_mode & 0o777
        if mode & 0o077:
            raise TlsError(
                f"the TLS private key {key} is readable by other users (mode {mode:04o}); "
                f"run: chmod 600 {key}, or delete it to make a new one"
            )
        try:
            if json.loads(names_file.read_text()) == names:
                return cert, key
        except (OSError, ValueError):
            pass  # made by an older version, or the names are unknown: make it again
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsError(
            "generating a certificate needs the openssl command (apt-get install openssl), or pass --tls-cert/--tls-key"
        )
    cmd = [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-sha256",
        "-nodes",
        "-days",
        str(days),
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-subj",
        "/CN=facescreen-kiosk",
        "-addext",
        "subjectAltName=" + ",".join(names),
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ]
    old = os.umask(0o077)  # the key is never readable by others, not even for a moment
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.umask(old)
    if proc.returncode != 0:
        raise TlsError(f"openssl could not create the certificate: {proc.stderr.strip()[-500:]}")
    key.chmod(0o600)
    names_file.write_text(json.dumps(names))
    return cert, key
