"""Uploaded photos stay in memory, per app: the route class of every route that takes a multipart form.

Starlette spools an uploaded file to a temporary file on disk past ``MultiPartParser.spool_max_size``
(1 MiB), a class attribute that neither ``Request.form()`` (its arguments are ``max_files``,
``max_fields`` and ``max_part_size``, in Starlette 1.7 and 1.10 alike) nor FastAPI's ``form_limits``
sets. Raising the class attribute would change every app in the process; instead these routes hand
FastAPI a request whose form is parsed by a parser carrying this app's own limit
(``app.state.upload_spool_bytes``, the request gate's body limit, set by main.create_app). The body is
already bounded in memory by the gate (kiosk.server.limits), so a photo within the limit never
touches the disk.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser

MULTIPART = "multipart/form-data"


class _InMemoryFormRequest(Request):
    """A request whose multipart files are held in memory up to the app's body limit."""

    _in_memory_form: FormData | None = None

    # async (not Starlette's awaitable-or-context-manager): FastAPI awaits it, nothing here uses `async with`
    async def form(  # type: ignore[override]
        self, *, max_files: int | float = 1000, max_fields: int | float = 1000, max_part_size: int = 1024 * 1024
    ) -> FormData:
        if self.headers.get("content-type", "").split(";")[0].strip().lower() != MULTIPART:
            return await super().form(max_files=max_files, max_fields=max_fields, max_part_size=max_part_size)
        if self._in_memory_form is None:
            parser = MultiPartParser(
                self.headers, self.stream(), max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
            )
            parser.spool_max_size = self.app.state.upload_spool_bytes  # this parser's own, not the class's
            try:
                self._in_memory_form = await parser.parse()
            except MultiPartException as exc:  # what Starlette answers for a malformed form
                raise HTTPException(status_code=400, detail=exc.message) from None
        return self._in_memory_form


class InMemoryUploads(APIRoute):
    """The route class of the routers that take an uploaded photo (FastAPI's documented way to give a
    route its own Request class)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(_InMemoryFormRequest(request.scope, request.receive))

        return handle
