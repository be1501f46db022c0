#!/usr/bin/env bash
# What the browser tests need from Debian, each piece installed only when it is missing:
#   chromium + chromium-driver  headless Chromium and its WebDriver (tests/kiosk/tablet, the capture page)
#   fonts-wqy-zenhei            a CJK font, so the Chinese pages render in screenshots
#   xvfb                        an X server without a screen or window manager: the kiosk window's
#                               test (tests/kiosk/test_kiosk_display.py) opens it as on a bare `X :0`
#   npm                         only when no npm is on PATH: NodeSource's nodejs bundles npm and
#                               declares "Conflicts: npm", so asking apt for it there stops the whole
#                               install (held broken packages) and, with it, .ci/run.
# One apt-get call per piece, so that one refusal names its package and cannot take the others down.
# APT_GET can name another apt-get (tests/deploy/test_browser_deps.py records the calls with it).
set -euo pipefail
apt_get=${APT_GET:-apt-get}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if ! command -v fc-list >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    missing+=(fonts-wqy-zenhei)
fi
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
    echo "browser: chromium, chromedriver, a CJK font, Xvfb and npm are all here"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] && [ -z "${APT_GET:-}" ]; then
    echo "error: missing ${missing[*]}; installing them needs root: sudo make browser" >&2
    exit 1
fi
echo "browser: installing ${missing[*]} (Debian packages, one at a time)"
"$apt_get" update -qq
for pkg in "${missing[@]}"; do
    if ! DEBIAN_FRONTEND=noninteractive "$apt_get" install -y -qq --no-install-recommends "$pkg"; then
        echo "error: apt-get could not install $pkg (see above); the browser tests need it" >&2
        exit 1
    fi
done
