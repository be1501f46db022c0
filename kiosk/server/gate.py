"""What is checked before a request's body is read, in one ASGI middleware:

1. the bearer token, for every route that depends on ``require_token`` (an unauthenticated upload
   costs the server nothing: it is refused before a byte of it is read);
2. admission to the inference queue, for every route that takes a photo (``photo_rgb``): when it is
   full the answer is 503 with ``Retry-After``, again before the body is read;
3. ``Cache-Control: no-store`` on every API response (results are health data).

Which routes need what is read from the routes' own dependencies, so nothing is listed twice.
The gate is given the routers' routes when the app is built (``main.ROUTERS``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admission import InferenceQueue
from .deps import UNAUTHORIZED, photo_rgb, require_token, token_ok
from .errors import send_error

API_PREFIX = "/v1/"


def _calls(dependant: Any) -> set[Callable]:
    found = {dependant.call} if dependant.call is not None else set()
    for d in dependant.dependencies:
        found |= _calls(d)
    return found


class RequestGate:
    def __init__(self, app: ASGIApp, token: str | None, queue: InferenceQueue, routes: Iterable[Any]) -> None:
        self.app, self.token, self.queue = app, token, queue
        self._table = []  # (route, needs the token, takes a photo)
        for route in routes:
            calls = _calls(route.dependant)
            if require_token in calls or photo_rgb in calls:
                self._table.append((route, require_token in calls, photo_rgb in calls))

    def _route_needs(self, scope: Scope) -> tuple[bool, bool]:
        """(needs the token, takes a photo) for the route this request will reach."""
        for route, needs_token, takes_photo in self._table:
            if route.matches(scope)[0] == Match.FULL:
                return needs_token, takes_photo
        return False, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith(API_PREFIX)
        needs_token, takes_photo = self._route_needs(scope)
        if needs_token:
            headers = dict(scope.get("headers") or [])
            if not token_ok(headers.get(b"authorization", b"").decode("latin-1"), self.token):
                await send_error(send, 401, *UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
                return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start" and api:
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"cache-control"]
                message["headers"] = [*headers, (b"cache-control", b"no-store")]
            await send(message)

        if not takes_photo:
            await self.app(scope, receive, send_no_store)
            return
        if not self.queue.try_enter():
            retry = self.queue.retry_after_s()
            await send_error(
                send,
                503,
                "busy",
                f"the server is busy ({self.queue.capacity} photos in progress); try again in {retry} s",
                headers={"Retry-After": str(retry)},
            )
            return
        # The slot is the client's request: it is given back once the response has gone out, not when
        # the app returns, because the app goes on after that (FastAPI runs the exit code of `yield`
        # dependencies after sending: the decode budget's release, the heap trim). A client that sends
        # its next photo on the answer must find its slot free, or 8 clients fill a queue of 9.
        t0 = time.monotonic()
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                self.queue.leave(time.monotonic() - t0)

        async def send_then_leave(message: Message) -> None:
            await send_no_store(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                leave()

        try:
            await self.app(scope, receive, send_then_leave)
        finally:
            leave()
