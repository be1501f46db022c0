"""``create_app``: a thin wiring of settings, the engine (loaded once), the store, routers and
error handlers. Run it with ``facescreen-kiosk serve`` (kiosk.server.run)."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from facescreen.edge.bundle import software_version
from facescreen.edge.photo import DecodeBudget, PhotoLimits

from ..engine import KioskEngine
from ..store import ResultsStore, ServedModelRow
from . import errors
from .admission import InferenceQueue
from .gate import RequestGate
from .pool import EnginePool
from .routers import pages, results, screening, sessions, sync, system, tablet
from .routers.pages import STATIC_DIR
from .sessions import SessionManager
from .settings import Settings

MULTIPART_OVERHEAD = 64 * 1024
ROUTERS = (system.router, screening.router, sessions.router, results.router, sync.router, tablet.router, pages.router)

DESCRIPTION = """Guided frontal face capture with quality checks and a **screening flag** for referral to
genetic evaluation: `refer for genetic evaluation` or `no referral flag`. **Not a diagnosis.** Every
result carries the model's id, version, intended use and its not-for-clinical-use marking.

Errors are JSON `{"error": {"code", "message"}}`: 400 unreadable or empty upload, 401 token, 403 no token
configured (sync), 404 no such screening or session, 408 body too slow, 409 nothing to keep, 413 too large
(bytes or pixels), 415 not an image, 422 no face / quality check failed / image too small / malformed
request, 429 too many capture sessions or wrong tokens, 503 busy (with `Retry-After`) or model not
loaded, 507 the kiosk's disk is full (with `Retry-After`). API responses are never cached
(`Cache-Control: no-store`)."""


def _docs_assets() -> str | None:
    """Swagger UI's files from the swagger-ui-bundle package: /docs works on an offline clinic network."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # pragma: no cover - a kiosk dependency; /docs then answers 404
        return None
    return str(swagger_ui_path)


def load_engines(settings: Settings) -> KioskEngine | EnginePool:
    """``settings.engines`` full copies of the models: one engine, or a pool of them."""
    limits = PhotoLimits(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
    engines = [
        KioskEngine.create(
            settings.bundle,
            settings.backend,
            settings.detector,
            settings.landmarks_model,
            settings.quality,
            limits,
            find=settings.find,
        )
        for _ in range(settings.engines)
    ]
    return engines[0] if len(engines) == 1 else EnginePool(engines)


def create_app(
    settings: Settings, engine: KioskEngine | EnginePool | None = None, store: ResultsStore | None = None
) -> FastAPI:
    """Build the app. Without ``engine``, the model is loaded once at start-up (lifespan)."""

    def attach(app: FastAPI, eng: KioskEngine) -> None:
        app.state.engine = eng
        app.state.store.note_served(ServedModelRow.of_card(eng.model_info()))
        app.state.sessions = SessionManager(
            eng,
            settings.guidance,
            settings.max_sessions,
            settings.session_idle_s,
            per_client=settings.sessions_per_client,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.engine is None:
            attach(app, await run_in_threadpool(load_engines, settings))
        yield
        if store is None:
            app.state.store.close()

    app = FastAPI(
        title="facescreen kiosk",
        version=software_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.limits = PhotoLimits(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
    app.state.decode_budget = DecodeBudget(int(settings.decode_budget_mp * 1e6))
    app.state.queue = InferenceQueue(settings.engines, settings.queue_depth)
    app.state.store = store or ResultsStore(settings.data_dir)
    app.state.started = time.monotonic()
    app.state.engine = None
    app.state.sessions = None
    if engine is not None:
        attach(app, engine)
    errors.install(app)
    body_limit = settings.max_upload_bytes + MULTIPART_OVERHEAD
    app.add_middleware(
        RequestGate,
        token=settings.token,
        queue=app.state.queue,
        routes=app.router.routes,  # every route, the docs' and the static files' included
        max_body_bytes=body_limit,
        body_timeout_s=settings.body_timeout_s,
    )
    # every accepted upload stays in memory: a photo is never spooled to a temp file on disk (uploads.py)
    app.state.upload_spool_bytes = body_limit
    for r in ROUTERS:
        app.include_router(r)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    assets = _docs_assets()
    if assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        def docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=app.openapi_url,
                title=app.title + " - API",
                swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                swagger_css_url="/docs-assets/swagger-ui.css",
                swagger_favicon_url="/docs-assets/favicon-32x32.png",
            )

    return app
