// The parity harness's module (harness.html): kiosk/tablet/parity.py opens the app's screener here
// and hands it photos, as base64 RGB pixels, through `module_call` (one import, one call, the answer
// returned over WebDriver). The tests drive the same screener and decode their frames with `pixels`.
import { BrowserScreener } from './core/screen.js';

// the screener `open` made, for whoever imports this module in the page
export let screener = null;

// base64 of (h, w, 3) uint8 RGB, as Python's base64.b64encode(rgb.tobytes()) writes it
export function pixels(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export async function open() {
  screener = await BrowserScreener.create(new URL('./', location.href));
  return screener.backendLabel;
}

// one photo: its faces (the photo path's detection) and its screening, timed in the page
export async function screen(b64, h, w) {
  const rgb = pixels(b64);
  const faces = await screener.detect(rgb, h, w);
  const t0 = performance.now();
  const r = await screener.screen(rgb, h, w);
  return {
    faces, probability: r.probability ?? null, class_probabilities: r.class_probabilities ?? null,
    ms: performance.now() - t0, screen_ms: r.timings_ms ?? null,
  };
}
