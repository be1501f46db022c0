"""The real server (uvicorn on 127.0.0.1) under concurrent uploads, and over TLS.

Bounded: 72 requests from 8 client threads, loopback only. Checks: no 5xx, every answer
as expected, memory (RSS) stable once warm. Latency figures are printed, not asserted (speed
targets live in benchmark commands)."""

from __future__ import annotations

import gc
import io
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from facescreen.kiosk.server import Settings, create_app
from facescreen.kiosk.server.tls import self_signed


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def jpeg(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92)
    return buf.getvalue()


@pytest.fixture(scope="module")
def uploads(grace_hopper, scene_frames):
    good = jpeg(grace_hopper)
    return {"screen": good, "quality": jpeg(scene_frames["tilted"]), "bad": good[: len(good) // 3]}


def test_concurrent_uploads_no_5xx_and_stable_memory(kiosk_bundle, engine, tmp_path, uploads, live_server):
    settings = Settings(bundle=kiosk_bundle, data_dir=tmp_path, kiosk_id="load")
    expected = {"screen": 200, "quality": 200, "bad": 400}
    path = {"screen": "/v1/screen", "quality": "/v1/quality", "bad": "/v1/screen"}

    failures = []

    def call(client: httpx.Client, kind: str) -> tuple[str, int, float]:
        t0 = time.perf_counter()
        r = client.post(path[kind], files={"file": ("p.jpg", uploads[kind], "image/jpeg")})
        if r.status_code >= 500:
            failures.append((kind, r.status_code, r.text[:300]))
        return kind, r.status_code, time.perf_counter() - t0

    def burst(client, kinds):
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda k: call(client, k), kinds))

    with live_server(create_app(settings, engine=engine)) as srv, httpx.Client(base_url=srv.url, timeout=120) as client:
        kinds = ["screen"] * 8 + ["quality"] * 8 + ["bad"] * 8
        burst(client, kinds)  # warm-up: first-call allocations of every path and worker thread
        t0 = time.perf_counter()
        results, rss = [], []
        for _ in range(4):  # a leak grows every round; new worker threads' arenas settle after the first two
            results += burst(client, kinds)
            gc.collect()
            rss.append(rss_mib())
        wall = time.perf_counter() - t0
        before, after = rss[1], rss[-1]
        health = client.get("/v1/health")
        n_rows = client.get("/v1/results?limit=1").json()["total"]
    assert not failures, failures
    assert all(s == expected[k] for k, s, _ in results), [(k, s) for k, s, _ in results if s != expected[k]]
    assert health.status_code == 200 and n_rows == 5 * 8
    lat = {k: np.percentile([t for kk, _, t in results if kk == k], [50, 95]) for k in expected}
    print(
        f"\nload: {len(results)} requests in {wall:.1f} s from 8 threads; RSS {before:.0f} -> {after:.0f} MiB; "
        + "; ".join(f"{k} p50 {v[0] * 1e3:.0f} ms p95 {v[1] * 1e3:.0f} ms" for k, v in lat.items())
    )
    assert after - before < 40, f"RSS grew {after - before:.0f} MiB over the last {2 * len(kinds)} requests ({rss})"


def test_tls_with_a_generated_self_signed_certificate(kiosk_bundle, engine, tmp_path, live_server):
    cert, key = self_signed(tmp_path / "tls")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    settings = Settings(bundle=kiosk_bundle, data_dir=tmp_path / "data", tls_cert=cert, tls_key=key)
    app = create_app(settings, engine=engine)
    with live_server(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as srv:
        assert srv.url.startswith("https://")
        ctx = ssl.create_default_context(cafile=str(cert))  # the certificate must name 127.0.0.1
        with httpx.Client(verify=ctx) as c:
            assert c.get(srv.url + "/v1/health").json()["status"] == "ok"
            assert 'capture="user"' in c.get(srv.url + "/").text
        with pytest.raises(httpx.ConnectError):  # and an unverified client is refused, as a phone would warn
            httpx.get(srv.url + "/v1/health")
    assert self_signed(tmp_path / "tls") == (cert, key)  # made once, reused
