"""The banner both capture pages open with, the phone page the kiosk serves and the offline tablet
app: NOT FOR CLINICAL USE and the place of the demo notice.

It is in each page's HTML rather than written by the page's script, so that it shows even when the
script fails (a working script then translates it). Its one home is banner.html beside this file:
each page names its place once with ``MARKER`` inside its own ``<header id="banner">`` (the tablet
adds its language menu and offline badge there), and it is filled in where the page leaves
Python: when the kiosk serves the phone page and when the tablet app is exported.
"""

from __future__ import annotations

from pathlib import Path

BANNER_HTML = Path(__file__).with_name("banner.html")
MARKER = "<!-- banner.html -->"


def with_banner(page: str) -> str:
    """``page`` with its one ``MARKER`` replaced by the banner."""
    n = page.count(MARKER)
    if n != 1:
        raise ValueError(f"a capture page names the banner's place once ({MARKER}); this one names it {n} times")
    return page.replace(MARKER, BANNER_HTML.read_text(encoding="utf-8").strip())
