"""The kiosk's HTTP server (FastAPI): the API for phones and tablets and the capture page."""

from .main import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
