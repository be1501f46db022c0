"""A kiosk server in a child process, started and stopped in one place: the load and hostile runs,
the kiosk benchmark and the memory tests all wait for the same signal (``/v1/health`` says the
model is loaded) and stop the child the same way."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def server_process(
    cmd: list[str], url: str, *, env: dict[str, str] | None = None, timeout_s: float = 300.0
) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` (a server that will listen at ``url``), wait until its model is loaded, yield the
    process; on exit terminate it, and kill it if it does not stop within 30 s. A child that exits
    or does not load in ``timeout_s`` raises RuntimeError with the end of its stderr."""
    import httpx

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""  # always a pipe here
                raise RuntimeError(f"the server exited ({proc.returncode}): {err[-2000:]}")
            try:
                if httpx.get(url + "/v1/health", timeout=2).json().get("model_loaded"):
                    break
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not load its model within {timeout_s:.0f} s")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
