"""API routers, wired together by kiosk.server.main.create_app."""
