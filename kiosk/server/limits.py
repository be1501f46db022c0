"""Request-body size limit, enforced before anything parses the body.

Uploads are buffered here, in memory, up to the limit; a larger body is answered 413 at once.
Together with ``MultiPartParser.spool_max_size`` raised to the same limit (main.create_app), a photo
within the limit is never spooled to a temporary file on disk.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import send_error


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit_mib = self.max_bytes / 2**20
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await send_error(send, 400, "bad_request", "the Content-Length header is not a number")
                return
            if size > self.max_bytes:
                await send_error(
                    send,
                    413,
                    "image_too_large",
                    f"the upload is {size / 2**20:.1f} MiB; the limit is {limit_mib:.0f} MiB",
                )
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await send_error(
                    send, 413, "image_too_large", f"the upload is larger than the {limit_mib:.0f} MiB limit"
                )
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
