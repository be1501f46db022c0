"""TLS for the capture page: browsers give a page the camera (getUserMedia) only on a secure
origin, i.e. https or localhost. Use the clinic's certificate, or generate a self-signed one
(the phone then asks once to trust it)."""
from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
from pathlib import Path


class TlsError(RuntimeError):
    code = "tls_error"


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
    """Create (once) a self-signed certificate for localhost, 127.0.0.1 and ``hosts`` with the
    openssl command-line tool. Returns ``(cert, key)``; the key is readable by its owner only."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cert, key = out / "kiosk-cert.pem", out / "kiosk-key.pem"
    if cert.is_file() and key.is_file():
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsError("generating a certificate needs the openssl command (apt-get install openssl), "
                       "or pass --tls-cert/--tls-key")
    names = ["DNS:localhost", "IP:127.0.0.1"]
    for h in hosts or []:
        try:
            ipaddress.ip_address(h)
            names.append(f"IP:{h}")
        except ValueError:
            names.append(f"DNS:{h}")
    cmd = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", str(days),
           "-keyout", str(key), "-out", str(cert), "-subj", "/CN=facescreen-kiosk",
           "-addext", "subjectAltName=" + ",".join(dict.fromkeys(names)),
           "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TlsError(f"openssl could not create the certificate: {proc.stderr.strip()[-500:]}")
    key.chmod(0o600)
    return cert, key
