"""A bounded loopback load run against a real `facescreen-kiosk serve` process.

Starts the server (127.0.0.1, a free port, a temporary data folder), then:

* ``clients``: N concurrent clients each post the same good photo to ``/v1/screen`` R times;
  p50/p95 of the answered requests, how many got 503 (queue full), any other status, the
  server's peak RSS during the run;
* ``bombs``: 16 concurrent 49-megapixel 1-bit PNGs (6 KB each) to ``/v1/screen``; the server's peak
  RSS during the burst and its RSS afterwards.

Memory is read from ``/proc/PID/status`` of the server process (VmRSS sampled every 20 ms, and
VmHWM after resetting it through ``/proc/PID/clear_refs``). Nothing leaves 127.0.0.1.

  python -m facescreen.kiosk.tools.loadrun --bundle B --clients 8 32 --requests 6 --json out.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .ports import free_port
from .serverproc import server_process

MiB = 2**20


def proc_status(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` figure in bytes (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} for process {pid}")


def reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:  # "5": reset the peak RSS (VmHWM) to the current RSS
        f.write("5")


class RssSampler:
    """The largest VmRSS seen every ``every_s`` while the block runs."""

    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        self.pid, self.every_s, self.peak = pid, every_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, proc_status(self.pid, "VmRSS"))
            time.sleep(self.every_s)

    def __enter__(self) -> RssSampler:
        reset_peak(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, proc_status(self.pid, "VmHWM"))


@contextmanager
def kiosk_server(
    bundle: str | Path, *extra: str, data_dir: Path | None = None, timeout_s: float = 300.0
) -> Iterator[tuple[str, int]]:
    """``facescreen-kiosk serve`` on 127.0.0.1 in a child process; yields ``(url, pid)``."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "facescreen.kiosk",
            "serve",
            "--bundle",
            str(bundle),
            "--port",
            str(port),
            "--data-dir",
            str(data_dir or Path(tmp) / "data"),
            "--log-level",
            "warning",
            *extra,
        ]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        url = f"http://127.0.0.1:{port}"
        with server_process(cmd, url, env=env, timeout_s=timeout_s) as proc:
            yield url, proc.pid


def tool_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line every run against a served bundle starts with: --bundle, and --json for the rows."""
    p = argparse.ArgumentParser(
        prog=f"python -m facescreen.kiosk.tools.{name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bundle", required=True, help="model bundle the server loads")
    p.add_argument("--json", default=None, help="also write the rows here")
    return p


def report(rows: list[dict[str, Any]], json_path: str | None) -> int:
    """A run's rows: one JSON line each on stdout, and all of them in ``json_path`` when given."""
    for r in rows:
        print(json.dumps(r))
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=2))
    return 0


def bomb_png(width: int = 7000, height: int = 7000) -> bytes:
    """49 megapixels in a few kilobytes: a blank 1-bit PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (width, height)).save(buf, "PNG")
    return buf.getvalue()


def sample_jpeg(size: tuple[int, int] | None = None) -> bytes:
    """A real face photo (edge.synthetic's sample), as a JPEG, optionally resized to ``size``."""
    from PIL import Image

    from facescreen.edge.synthetic import source_photo

    img = Image.fromarray(source_photo("grace_hopper"))
    if size is not None:
        img = img.resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _burst(url: str, data: bytes, ctype: str, clients: int, requests: int) -> list[tuple[int, float]]:
    import httpx

    def client_run(_: int) -> list[tuple[int, float]]:
        out = []
        with httpx.Client(base_url=url, timeout=300) as c:
            for _ in range(requests):
                t0 = time.perf_counter()
                r = c.post("/v1/screen", files={"file": ("p", data, ctype)}, data={"include_cam": "false"})
                out.append((r.status_code, time.perf_counter() - t0))
        return out

    with ThreadPoolExecutor(clients) as pool:
        return [x for part in pool.map(client_run, range(clients)) for x in part]


def run_clients(url: str, pid: int, clients: int, requests: int, photo: bytes) -> dict[str, Any]:
    _burst(url, photo, "image/jpeg", 2, 2)  # warm-up
    with RssSampler(pid) as rss:
        t0 = time.perf_counter()
        results = _burst(url, photo, "image/jpeg", clients, requests)
        wall = time.perf_counter() - t0
    ok = [t for s, t in results if s == 200]
    busy = [t for s, t in results if s == 503]
    statuses: dict[str, int] = {}
    for s, _ in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    p50, p95 = np.percentile(ok, [50, 95]) if ok else (float("nan"), float("nan"))
    return {
        "scenario": "clients",
        "clients": clients,
        "requests": len(results),
        "ok": len(ok),
        "busy_503": statuses.get("503", 0),
        "statuses": statuses,
        "wall_s": round(wall, 2),
        "ok_per_s": round(len(ok) / wall, 2),
        "p50_ms": round(float(p50) * 1e3, 1),
        "p95_ms": round(float(p95) * 1e3, 1),
        "busy_p50_ms": round(float(np.percentile(busy, 50)) * 1e3, 1) if busy else None,
        "peak_rss_mib": round(rss.peak / MiB, 1),
    }


def run_bombs(url: str, pid: int, n: int = 16) -> dict[str, Any]:
    import gc

    data = bomb_png()
    # Baseline: a server that has seen one such image. The converted detector keeps one allocated
    # interpreter per P-Net input shape (edge/detectors/mtcnn_nets.py, up to SHAPE_CACHE_PIXELS): the first image
    # of a new size fills it once. What is measured is what 16 at once add to that.
    cold = proc_status(pid, "VmRSS")
    _burst(url, data, "image/png", 1, 1)
    gc.collect()
    time.sleep(0.5)
    baseline = proc_status(pid, "VmRSS")
    with RssSampler(pid) as rss:
        results = _burst(url, data, "image/png", n, 1)
    time.sleep(1.0)
    after = proc_status(pid, "VmRSS")
    statuses: dict[str, int] = {}
    for s, _ in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    return {
        "scenario": "bombs",
        "bombs": n,
        "bomb_bytes": len(data),
        "statuses": statuses,
        "cold_rss_mib": round(cold / MiB, 1),
        "baseline_rss_mib": round(baseline / MiB, 1),
        "peak_rss_mib": round(rss.peak / MiB, 1),
        "after_rss_mib": round(after / MiB, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = tool_parser("loadrun", __doc__)
    p.add_argument("--clients", type=int, nargs="+", default=[8, 32], help="concurrent clients per run (default 8 32)")
    p.add_argument("--requests", type=int, default=4, help="requests per client (default 4)")
    p.add_argument("--bombs", type=int, default=16, help="concurrent 49 MP PNG bombs (0: skip; default 16)")
    p.add_argument("--server-args", default="", help="extra `serve` arguments, e.g. '--queue-depth 8 --engines 2'")
    args = p.parse_args(argv)
    rows = []
    photo = sample_jpeg()
    with kiosk_server(args.bundle, *args.server_args.split()) as (url, pid):
        rows.append(
            {"scenario": "idle", "rss_mib": round(proc_status(pid, "VmRSS") / MiB, 1), "server_args": args.server_args}
        )
        for n in args.clients:
            rows.append(run_clients(url, pid, n, args.requests, photo))
        if args.bombs:
            rows.append(run_bombs(url, pid, args.bombs))
    return report(rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
