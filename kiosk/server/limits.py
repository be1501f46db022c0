"""Reading a request body, bounded in size and in time, before anything parses it.

The body is buffered here, in memory, up to the limit: a larger one is answered 413 at once (from its
``Content-Length`` before a byte is read, or as soon as it passes the limit), and one that has not
arrived in full within the deadline is answered 408, so a client trickling a few bytes every second
holds neither a queue slot (admission comes after the body, kiosk.server.gate) nor a connection for
ever. Together with the upload routes' in-memory form parser (kiosk.server.uploads), which spools to
disk only past the same limit, a photo within the limit is never written to a temporary file.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import Receive, Scope


class BodyRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def read_body(scope: Scope, receive: Receive, max_bytes: int, timeout_s: float) -> bytes | None:
    """The whole body, or None when the client went away; raises :class:`BodyRefused` (400, 408, 413)."""
    limit_mib = max_bytes / 2**20
    declared = dict(scope.get("headers") or []).get(b"content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BodyRefused(400, "bad_request", "the Content-Length header is not a number") from None
        if size > max_bytes:
            raise BodyRefused(
                413, "image_too_large", f"the upload is {size / 2**20:.1f} MiB; the limit is {limit_mib:.0f} MiB"
            )
    body = bytearray()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise BodyRefused(
                408,
                "request_timeout",
                f"the request body did not arrive within {timeout_s:g} s ({len(body)} bytes came); "
                "check the network and send it again",
            ) from None
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > max_bytes:
            raise BodyRefused(413, "image_too_large", f"the upload is larger than the {limit_mib:.0f} MiB limit")
        if not message.get("more_body", False):
            return bytes(body)
