// The child's programme reference on the capture pages (the phone page, and the tablet app, whose
// export copies this file): typed, or scanned from the card's QR code or barcode with the camera
// where the browser has BarcodeDetector (typed entry always works). The format is kiosk/childref.py's:
// the page gets its pattern from the kiosk (/v1/model "child_ref") or from the tablet's app.json.
"use strict";
window.facescreenChildRef = (() => {
  const SCAN_EVERY_MS = 200;

  // {value, ok}: value null for an empty field (a reference is optional)
  function check(spec, raw) {
    const value = String(raw || "").trim();
    if (!value) return { value: null, ok: true };
    return { value, ok: value.length <= spec.max_length && new RegExp(spec.pattern).test(value) };
  }

  const canScan = () => "BarcodeDetector" in window;

  // The first code seen in `video` within `timeoutMs`, or null; `stop()` ends the search early.
  function scan(video, timeoutMs = 20000) {
    let stopped = false;
    const found = (async () => {
      const detector = new window.BarcodeDetector();
      const until = performance.now() + timeoutMs;
      while (!stopped && performance.now() < until) {
        if (video.readyState >= 2) {
          const codes = await detector.detect(video).catch(() => []);
          if (codes.length) return codes[0].rawValue;
        }
        await new Promise((r) => setTimeout(r, SCAN_EVERY_MS));
      }
      return null;
    })();
    return { found, stop: () => { stopped = true; } };
  }

  // Wire a page's field: checked as it is typed, filled by a scan. `spec()`: the format (null until
  // the page knows it: then only an empty field is accepted); `t(key)`: the page's messages.
  function field({ input, message, scanButton, video, spec, t }) {
    const current = () => {
      const s = spec();
      return s ? check(s, input.value) : { value: null, ok: !String(input.value).trim() };
    };
    const show = () => {
      const { ok } = current();
      input.setAttribute("aria-invalid", String(!ok));
      message.textContent = ok ? "" : t("child_ref_invalid");
      return ok;
    };
    input.addEventListener("input", show);
    scanButton.addEventListener("click", async () => {
      message.textContent = t("child_ref_scanning");
      const value = await scan(video).found;
      if (value === null) { message.textContent = t("child_ref_not_found"); return; }
      input.value = value.trim();
      show();
    });
    return { current, show };
  }

  return { check, canScan, scan, field };
})();
