"""Issue 19's figures, re-measured on a real `facescreen-kiosk serve` process (loopback, bounded):

* ``unauth``: 32 concurrent unauthenticated 19 MiB JSON bodies to ``POST /v1/sync/results`` and 32 to
  an unknown path: statuses, the server's RSS growth (peak and after);
* ``sync_bombs``: 16 concurrent syncs, each one consented 49 MP 1-bit PNG in ``photo_jpeg_b64``, beside
  16 concurrent 49 MP PNGs to ``/v1/quality`` (the reference peak): statuses and peak RSS of each;
* ``pairs``: 30 concurrent pairs of syncs of one id with different photos: statuses, and how many
  stored rows carry the other request's photo;
* ``slow``: p50 of 20 real ``/v1/quality`` requests unloaded and beside 9 connections trickling
  10 bytes every 2 s into ``/v1/screen``.

  python -m facescreen.kiosk.tools.hostilerun --bundle B [--json out.json]
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .loadrun import MiB, RssSampler, bomb_png, kiosk_server, proc_status, report, sample_jpeg, tool_parser

BODY = 19 * MiB
SCENARIOS = ["unauth", "sync_bombs", "pairs", "slow"]


def _statuses(codes: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in codes:
        out[str(c)] = out.get(str(c), 0) + 1
    return out


def _post_raw(port: int, path: str, body_bytes: int, headers: str = "") -> int:
    """Send a request declaring ``body_bytes`` of JSON and as much of it as the server reads; the status."""
    chunk = b'{"results":[' + b"{}," * (64 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}"
            f"Content-Length: {body_bytes}\r\n\r\n".encode()
        )
        sent = 0
        try:
            while sent < body_bytes:
                n = min(len(chunk), body_bytes - sent)
                s.sendall(chunk[:n])
                sent += n
        except OSError:
            pass  # the server answered and closed without reading the body
        answer = b""
        try:
            while b"\r\n" not in answer:
                part = s.recv(4096)
                if not part:
                    break
                answer += part
        except OSError:
            pass
    return int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/") else 0


def run_unauth(url: str, pid: int, n: int = 32) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    rows = {}
    for path in ("/v1/sync/results", "/v1/no-such-route"):
        before = proc_status(pid, "VmRSS")
        with RssSampler(pid) as rss, ThreadPoolExecutor(n) as pool:
            codes = list(pool.map(lambda to: _post_raw(port, to, BODY), [path] * n))
        time.sleep(1.0)
        rows[path] = {
            "statuses": _statuses(codes),
            "peak_growth_mib": round((rss.peak - before) / MiB, 1),
            "after_growth_mib": round((proc_status(pid, "VmRSS") - before) / MiB, 1),
        }
    return {"scenario": "unauth", "bodies": n, "body_mib": BODY / MiB, **rows}


def synced(card: dict[str, Any], photo: bytes | None, sid: str | None = None) -> dict[str, Any]:
    return {
        "id": sid or uuid.uuid4().hex,
        "created_at": "2026-11-29T05:00:00Z",
        "tablet_id": "hostilerun",
        "model_id": card["model_id"],
        "model_version": card["version"],
        "backend": "hostilerun",
        "probability": 1.0,
        "threshold": card["threshold"],
        "flag": True,
        "label": "refer for genetic evaluation",
        "not_for_clinical_use": card["not_for_clinical_use"],
        "intended_use": card["intended_use"],
        "consent": photo is not None,
        "photo_jpeg_b64": base64.b64encode(photo).decode() if photo is not None else None,
    }


def run_sync_bombs(url: str, pid: int, token: str, n: int = 16) -> dict[str, Any]:
    import httpx

    auth = {"Authorization": f"Bearer {token}"}
    bomb = bomb_png()
    card = httpx.get(url + "/v1/model", headers=auth, timeout=30).json()
    out: dict[str, Any] = {"scenario": "sync_bombs", "bombs": n}

    def burst(send) -> tuple[dict[str, int], float]:
        with RssSampler(pid) as rss, httpx.Client(base_url=url, headers=auth, timeout=600) as c:
            with ThreadPoolExecutor(n) as pool:
                codes = list(pool.map(lambda _: send(c).status_code, range(n)))
        return _statuses(codes), round(rss.peak / MiB, 1)

    with httpx.Client(base_url=url, headers=auth, timeout=600) as c:  # warm: the first image of a size
        c.post("/v1/quality", files={"file": ("b.png", bomb, "image/png")})
    out["baseline_rss_mib"] = round(proc_status(pid, "VmRSS") / MiB, 1)
    out["quality_statuses"], out["quality_peak_rss_mib"] = burst(
        lambda c: c.post("/v1/quality", files={"file": ("b.png", bomb, "image/png")})
    )
    out["sync_statuses"], out["sync_peak_rss_mib"] = burst(
        lambda c: c.post("/v1/sync/results", json={"results": [synced(card, bomb)]})
    )
    time.sleep(1.0)
    out["after_rss_mib"] = round(proc_status(pid, "VmRSS") / MiB, 1)
    return out


def _colour_jpeg(rgb: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def run_pairs(url: str, token: str, data_dir: Path, n: int = 30) -> dict[str, Any]:
    import httpx
    from PIL import Image

    auth = {"Authorization": f"Bearer {token}"}
    card = httpx.get(url + "/v1/model", headers=auth, timeout=30).json()
    red, blue = _colour_jpeg((230, 20, 20)), _colour_jpeg((20, 20, 230))
    reqs = []
    for _ in range(n):
        sid = uuid.uuid4().hex
        reqs += [synced(card, red, sid), synced(card, blue, sid)]
    with httpx.Client(base_url=url, headers=auth, timeout=120) as c, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda r: (r, c.post("/v1/sync/results", json={"results": [r]})), reqs))
        wrong = 0
        for r, a in answers:
            if a.status_code == 200 and a.json()["new"] == [r["id"]]:
                row = c.get(f"/v1/results/{r['id']}").json()
                kept = np.asarray(Image.open(data_dir / row["photo_file"])).reshape(-1, 3).mean(axis=0)
                sent = (230, 20, 20) if r["photo_jpeg_b64"] == base64.b64encode(red).decode() else (20, 20, 230)
                wrong += int(np.abs(kept - np.array(sent)).max() > 30)
    return {
        "scenario": "pairs",
        "pairs": n,
        "statuses": _statuses([a.status_code for _, a in answers]),
        "rows_with_the_other_photo": wrong,
    }


def run_slow(url: str, token: str, n_slow: int = 9, n_real: int = 20) -> dict[str, Any]:
    import httpx

    port = int(url.rsplit(":", 1)[1])
    auth = {"Authorization": f"Bearer {token}"}
    photo = sample_jpeg()

    def real() -> tuple[list[int], float]:
        codes, times = [], []
        with httpx.Client(base_url=url, headers=auth, timeout=120) as c:
            for _ in range(n_real):
                t0 = time.perf_counter()
                codes.append(c.post("/v1/quality", files={"file": ("p.jpg", photo, "image/jpeg")}).status_code)
                times.append(time.perf_counter() - t0)
        return codes, float(np.median(times)) * 1e3

    real()  # warm-up
    _, unloaded_ms = real()
    stop = threading.Event()

    def trickle() -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
                s.sendall(
                    f"POST /v1/screen HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                    "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n".encode()
                )
                while not stop.wait(2.0):
                    s.sendall(b"0123456789")
        except OSError:
            pass  # timed out by the server (408) and closed

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(n_slow)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    codes, loaded_ms = real()
    stop.set()
    return {
        "scenario": "slow",
        "slow_connections": n_slow,
        "statuses": _statuses(codes),
        "p50_unloaded_ms": round(unloaded_ms, 1),
        "p50_beside_slow_ms": round(loaded_ms, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = tool_parser("hostilerun", __doc__)
    p.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS, help="run these scenarios (default all)")
    args = p.parse_args(argv)
    token = secrets.token_hex(16)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        os.environ["FACESCREEN_TOKEN"] = token  # not on the command line, where `ps` shows it
        if set(args.only) - {"slow"}:
            with kiosk_server(args.bundle, "--queue-depth", "16", data_dir=data_dir) as (url, pid):
                if "unauth" in args.only:
                    rows.append(run_unauth(url, pid))
                if "sync_bombs" in args.only:
                    rows.append(run_sync_bombs(url, pid, token))
                if "pairs" in args.only:
                    rows.append(run_pairs(url, token, data_dir))
        if "slow" in args.only:  # the default queue: 1 engine + 8, which 9 slow bodies used to fill
            with kiosk_server(args.bundle, data_dir=Path(tmp) / "data2") as (url, pid):
                rows.append(run_slow(url, token))
    return report(rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
