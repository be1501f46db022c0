"""``create_app``: a thin wiring of settings, the engine (loaded once), the store, routers and
error handlers. Run it with ``facescreen-kiosk serve`` (kiosk.server.run)."""
from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import Optional

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartParser

from facescreen.edge.bundle import software_version
from facescreen.edge.photo import PhotoLimits

from ..engine import KioskEngine
from ..store import ResultsStore
from . import errors
from .limits import BodySizeLimit
from .routers import pages, results, screening, sessions, sync, system, tablet
from .routers.pages import STATIC_DIR
from .sessions import SessionManager
from .settings import Settings

MULTIPART_OVERHEAD = 64 * 1024

DESCRIPTION = """Guided frontal face capture with quality checks and a **screening flag** for referral to
genetic evaluation: `refer for genetic evaluation` or `no referral flag`. **Not a diagnosis.** Every
result carries the model's id, version, intended use and its not-for-clinical-use marking.

Errors are JSON `{"error": {"code", "message"}}`: 400 unreadable or empty upload, 401 token, 413 too
large (bytes or pixels), 415 not an image, 422 no face / quality check failed / malformed request."""


def create_app(settings: Settings, engine: Optional[KioskEngine] = None,
               store: Optional[ResultsStore] = None) -> FastAPI:
    """Build the app. Without ``engine``, the model is loaded once at start-up (lifespan)."""

    def attach(app: FastAPI, eng: KioskEngine) -> None:
        app.state.engine = eng
        app.state.sessions = SessionManager(eng, settings.guidance, settings.max_sessions, settings.session_idle_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.engine is None:
            eng = await run_in_threadpool(
                KioskEngine.create, settings.bundle, settings.backend, settings.detector, settings.landmarks_model,
                settings.quality, app.state.limits)
            attach(app, eng)
        yield
        if store is None:
            app.state.store.close()

    app = FastAPI(title="facescreen kiosk", version=software_version(), description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.limits = PhotoLimits(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
    app.state.store = store or ResultsStore(settings.data_dir)
    app.state.started = time.monotonic()
    app.state.engine = None
    app.state.sessions = None
    if engine is not None:
        attach(app, engine)
    errors.install(app)
    body_limit = settings.max_upload_bytes + MULTIPART_OVERHEAD
    app.add_middleware(BodySizeLimit, max_bytes=body_limit)
    # keep every accepted upload in memory: a photo is never spooled to a temp file on disk
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, body_limit)
    for r in (system.router, screening.router, sessions.router, results.router, sync.router, tablet.router, pages.router):
        app.include_router(r)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
