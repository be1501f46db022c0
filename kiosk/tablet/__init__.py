"""The offline tablet app: a PWA that screens in the browser with the bundle's own verified
artifacts (kiosk.tablet.export builds it behind a browser parity gate) and syncs its results to a
kiosk later (kiosk.server.routers.sync)."""
