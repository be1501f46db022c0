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

  function element(tag, attributes) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
    return e;
  }

  // The field's markup, built here so that both pages have the same one: the label, the input and the
  // scan button on one row (the button hidden until the camera runs), the message under them.
  function build(section) {
    const input = element("input", { id: "child-ref", type: "text", dir: "auto", autocomplete: "off",
                                     autocapitalize: "characters", spellcheck: "false" });
    const scanButton = element("button", { id: "scan-ref", type: "button", hidden: "" });
    const row = element("div", { class: "row" });
    row.append(input, scanButton);
    const label = element("label", { for: "child-ref" });
    const message = element("p", { id: "child-ref-msg", class: "small", role: "alert" });
    section.append(label, row, message);
    return { label, input, scanButton, message };
  }

  // Build a page's field into `section`: checked as it is typed, filled by a scan. `spec()`: the format
  // (null until the page knows it: then only an empty field is accepted); `t(key)`: the page's
  // messages, read again by `translate()` when the page changes language.
  function field({ section, video, spec, t }) {
    const { label, input, scanButton, message } = build(section);
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
    const translate = () => {
      label.textContent = t("child_ref_label");
      scanButton.textContent = t("child_ref_scan");
    };
    // emptied once a result is saved under it: the reference is that child's, not the next one's
    const clear = () => { input.value = ""; show(); };
    return { current, show, translate, clear };
  }

  return { check, canScan, scan, field };
})();
