#!/usr/bin/env bash
# Screenshots of the phone/tablet capture page in real headless Chromium:
#   docs/kiosk-capture.png         live camera view with the one instruction overlaid
#   docs/kiosk-capture-result.png  the result screen
#   docs/kiosk-result-card.png     the kiosk's own screen (OpenCV window / --save-frames) at a result
# The server runs on 127.0.0.1 (a secure origin, so the page gets the camera); Chromium's fake
# camera plays a clip made from a sample photo (too far, then well placed).
# Needs: chromium and chromium-driver (Debian: apt-get update && apt-get install -y chromium chromium-driver),
#        the demo bundle (make demo) and the landmark model (make assets).
# Usage:  kiosk/tools/screenshot.sh [--lang zh-Hans] [--window 768x1024]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PY:-.venv/bin/python}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec "$PY" -m facescreen.kiosk.tools.screenshot --bundle "${BUNDLE:-.cache/demo-bundle}" \
    --out docs/kiosk-capture.png --result-out docs/kiosk-capture-result.png \
    --card-out docs/kiosk-result-card.png "$@"
