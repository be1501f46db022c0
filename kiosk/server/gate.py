"""What is checked before a request reaches its route, in one ASGI middleware, for every route:

1. the route's pre-body checks, found from its dependencies (``CHECKS``): the bearer token
   (``require_token``), a token configured at all (``require_configured_token``), with repeated
   wrong tokens from one client slowed down (429). Nothing of the body has been read yet: an
   unauthenticated upload of any size costs the server nothing;
2. the body, read only for a route that declares one (a ``File``, ``Form`` or ``Body`` parameter),
   bounded in size (413) and in time (408); a request no route takes (an unknown path, a method
   the path does not answer) is passed on unread and answered 404/405;
3. admission to the inference queue, for every route that decodes photos (``photo_decoder``), once
   its body has arrived: when the queue is full the answer is 503 with ``Retry-After``. A client
   trickling its body holds no slot;
4. ``Cache-Control: no-store`` on every API response (results are health data), and on every answer,
   the gate's refusals included, ``EVERY_ANSWER`` (no page of the kiosk, the capture page at ``/`` or
   the tablet app, nor any file they load, sends its address to anyone) and a route's
   own ``answer_headers`` (CORS for the tablet's sync);
5. an unhandled error answered 500 here, so the keep-alive connection survives it.

Which routes need what is read from the routes themselves, so nothing is listed twice and a new
route cannot forget a rule (tests/kiosk/test_kiosk_server_routes.py enumerates them)."""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admission import InferenceQueue
from .deps import NO_TOKEN, UNAUTHORIZED, photo_decoder, require_configured_token, require_token, token_ok
from .errors import answer_bug, send_error
from .limits import BodyRefused, read_body

API_PREFIX = "/v1/"
EVERY_ANSWER = {"Referrer-Policy": "no-referrer"}


class Refusal(NamedTuple):
    status: int
    code: str
    message: str
    headers: dict[str, str] = {}


class TokenFailures:
    """Wrong tokens per client address: after ``limit`` in ``window_s`` that client is answered 429
    (``Retry-After``) without its token being compared, until the window has passed. Guessing a
    token then takes ``limit`` tries per window instead of ~1,100 a second."""

    def __init__(self, limit: int = 10, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._seen: dict[str, collections.deque[float]] = {}

    def _recent(self, client: str) -> collections.deque[float]:
        q = self._seen.setdefault(client, collections.deque())
        while q and self.clock() - q[0] > self.window_s:
            q.popleft()
        if not q:
            del self._seen[client]  # the table holds only clients that failed lately
            return collections.deque()
        return q

    def retry_after_s(self, client: str) -> int | None:
        q = self._recent(client)
        if len(q) < self.limit:
            return None
        return max(1, math.ceil(self.window_s - (self.clock() - q[0])))

    def failed(self, client: str) -> None:
        self._seen.setdefault(client, collections.deque()).append(self.clock())

    def succeeded(self, client: str) -> None:
        self._seen.pop(client, None)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _check_configured(gate: RequestGate, scope: Scope) -> Refusal | None:
    return None if gate.token else Refusal(403, *NO_TOKEN)


def _check_token(gate: RequestGate, scope: Scope) -> Refusal | None:
    if not gate.token:
        return None
    client = _client(scope)
    retry = gate.failures.retry_after_s(client)
    if retry is not None:
        return Refusal(
            429,
            "too_many_wrong_tokens",
            f"too many wrong tokens from this device; try again in {retry} s (ask the operator for the token)",
            {"Retry-After": str(retry)},
        )
    given = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
    if token_ok(given, gate.token):
        gate.failures.succeeded(client)
        return None
    if given:  # a wrong token is a guess; no token at all is not
        gate.failures.failed(client)
    return Refusal(401, *UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})


# dependency -> what the gate checks for a route that has it, before the body; in this order
CHECKS: dict[Callable[..., Any], Callable[[RequestGate, Scope], Refusal | None]] = {
    require_configured_token: _check_configured,
    require_token: _check_token,
}


def _calls(dependant: Any) -> set[Callable]:
    found = {dependant.call} if dependant.call is not None else set()
    for d in dependant.dependencies:
        found |= _calls(d)
    return found


def flat_routes(routes: Iterable[BaseRoute]) -> list[BaseRoute]:
    """Every route an app answers, each as it was declared: FastAPI 0.162.5 (the Jetson's pin) and 0.165
    keep an included router as one entry (``_IncludedRouter``) that holds its routes; versions without
    ``iter_route_contexts`` copy them into the list."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: the list is flat already
        return list(routes)
    return [c.original_route for c in iter_route_contexts(list(routes))]


@dataclass(frozen=True)
class RouteRules:
    """What the gate does for one route, derived from the route."""

    checks: tuple[Callable[[RequestGate, Scope], Refusal | None], ...] = ()
    reads_body: bool = False
    takes_photo: bool = False
    headers: dict[str, str] = field(default_factory=lambda: dict(EVERY_ANSWER))  # on every answer

    @classmethod
    def of(cls, route: BaseRoute) -> RouteRules:
        if not isinstance(route, APIRoute):  # static files, docs: no body, no token
            return cls()
        calls = _calls(route.dependant)
        return cls(
            checks=tuple(check for dep, check in CHECKS.items() if dep in calls),
            reads_body=route.body_field is not None,  # File, Form or Body, in the route or its dependencies
            takes_photo=photo_decoder in calls,
            headers={**EVERY_ANSWER, **getattr(route, "answer_headers", {})},
        )


class RequestGate:
    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        queue: InferenceQueue,
        routes: Iterable[BaseRoute],
        max_body_bytes: int = 2**20,
        body_timeout_s: float = 30.0,
        failures: TokenFailures | None = None,
    ) -> None:
        self.app, self.token, self.queue = app, token, queue
        self.max_body_bytes, self.body_timeout_s = max_body_bytes, body_timeout_s
        self.failures = failures or TokenFailures()
        self._routes = routes  # the app's own list: read when a request comes, once every router is in
        self._table: list[tuple[BaseRoute, RouteRules]] | None = None

    def rules(self, scope: Scope) -> RouteRules | None:
        """The rules of the route this request will reach; None when no route takes it (the router
        answers 404 or 405 without reading the body). The first full match wins, as in the router."""
        if self._table is None:
            self._table = [(r, RouteRules.of(r)) for r in flat_routes(self._routes)]
        for route, rules in self._table:
            if route.matches(scope)[0] == Match.FULL:
                return rules
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rules = self.rules(scope) or RouteRules()
        api = scope["path"].startswith(API_PREFIX)
        started = False

        async def send_marked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                named = {k.lower().encode() for k in rules.headers} | ({b"cache-control"} if api else set())
                headers = [h for h in message.get("headers", []) if h[0].lower() not in named]
                headers += [(k.lower().encode(), v.encode()) for k, v in rules.headers.items()]
                message["headers"] = headers + ([(b"cache-control", b"no-store")] if api else [])
            await send(message)

        async def refuse(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
            await send_error(send, status, code, message, headers={**rules.headers, **(headers or {})})

        for check in rules.checks:
            refusal = check(self, scope)
            if refusal is not None:
                await refuse(*refusal)
                return
        if rules.reads_body:
            try:
                body = await read_body(scope, receive, self.max_body_bytes, self.body_timeout_s)
            except BodyRefused as exc:
                await refuse(exc.status, exc.code, exc.message)
                return
            if body is None:  # the client went away
                return
            receive = _replay(body, receive)

        async def run(send_to: Send) -> None:
            try:
                await self.app(scope, receive, send_to)
            except Exception as exc:
                if started:  # half an answer is out: only closing the connection can say it failed
                    raise
                await answer_bug(scope, exc, send_marked)  # answered here, so the keep-alive connection survives

        if not rules.takes_photo:
            await run(send_marked)
            return
        if not self.queue.try_enter():
            retry = self.queue.retry_after_s()
            await refuse(
                503,
                "busy",
                f"the server is busy ({self.queue.capacity} photos in progress); try again in {retry} s",
                {"Retry-After": str(retry)},
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
            await send_marked(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                leave()

        try:
            await run(send_then_leave)
        finally:
            leave()


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the body already read, then whatever the client sends next (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
