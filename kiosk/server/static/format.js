// The message tables' fields filled in on the capture pages (the phone page, and the tablet app, whose
// export copies this file), as the kiosk fills them in Python (str.format: kiosk/messages.py's tables)
// for the fields the tables use: {name}, and {name:.3f} for a number to three decimals. One formatter
// for both pages: each page had its own, and they differed (the phone page wrote every number with
// three decimals, whatever the table said). Pinned against Python's str.format for every message of
// every table in tests/kiosk/tablet/test_tablet_speech.py.
"use strict";
window.facescreenFormat = (text, fields = {}) =>
  text.replace(/\{(\w+)(?::\.(\d+)f)?\}/g, (_, k, digits) => (digits ? Number(fields[k]).toFixed(+digits) : String(fields[k])));
