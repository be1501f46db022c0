"""The child's programme reference (``child_ref``): the one thing that ties a result to a child.

Outreach programmes register children under a number, often printed on a card as a QR code or a
barcode. Every result may carry that number, typed or scanned, so a result can be found again
(``GET /v1/results?child_ref=``), exported and synced. It is a reference, never a name: the format
is strict so that a name typed by mistake is refused rather than stored as health data under it.

The format (docs/child-reference.md):
* 1 to ``CHILD_REF_MAX_LENGTH`` characters;
* ASCII letters, digits and ``. _ / -`` only (no spaces, so "Ana Silva" is refused);
* it starts with a letter or a digit (so a spreadsheet never reads it as a formula);
* it contains at least one digit (register numbers do; names do not).

The tablet app checks the same pattern offline: it receives ``CHILD_REF_PATTERN`` in its app.json.
"""

from __future__ import annotations

import re

CHILD_REF_MAX_LENGTH = 32
# JavaScript's RegExp reads the same text (kiosk/tablet/web/app.js, kiosk/server/static/capture.js)
CHILD_REF_PATTERN = rf"^(?=[^0-9]*[0-9])[A-Za-z0-9][A-Za-z0-9._/-]{{0,{CHILD_REF_MAX_LENGTH - 1}}}$"
CHILD_REF_RULE = (
    f"a child reference is the programme's register number: 1 to {CHILD_REF_MAX_LENGTH} letters, digits "
    "or . _ / -, starting with a letter or digit and containing a digit (never a name)"
)
_RE = re.compile(CHILD_REF_PATTERN)


def check_child_ref(value: str | None) -> str | None:
    """``value`` with surrounding spaces removed, None for none (or an empty one); a value that does
    not follow the format raises ValueError with the rule."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{CHILD_REF_RULE}; got {type(value).__name__}")
    value = value.strip()
    if not value:
        return None
    if not _RE.fullmatch(value):
        raise ValueError(f"{CHILD_REF_RULE}; got {value[:40]!r}")
    return value


def child_ref_spec() -> dict:
    """What a page needs to check a reference before sending it (the phone page reads it from
    /v1/model, the tablet app from its app.json)."""
    return {"pattern": CHILD_REF_PATTERN, "max_length": CHILD_REF_MAX_LENGTH, "rule": CHILD_REF_RULE}
