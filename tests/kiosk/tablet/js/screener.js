// The screener harness.js opened (an exported app's), driven frame by frame against the kiosk's
// engine (test_tablet_quality.py): quality, the face mesh, and the guidance loop with every detection
// counted. Frames arrive as base64 RGB, decoded by harness.js `pixels`.
const harness = await import(new URL('harness.js', location.href).href);
const { pixels } = harness;

let guide = null;
let detections = 0;

// one frame's quality report, as the kiosk's FrameAnalyser.analyse(rgb) gives it
export async function quality(b64, h, w) {
  return harness.screener.quality(pixels(b64), h, w);
}

// the subject's detection and its 468-point mesh (null when no face is found)
export async function mesh(b64, h, w) {
  const rgb = pixels(b64), s = harness.screener;
  const q = await import(new URL('core/quality.js', location.href).href);
  const faces = q.subjectFirst(await s.detect(rgb, h, w));
  if (!faces.length) return null;
  const { mesh, note } = await s.faceMesh(rgb, h, w, faces[0]);
  return { face: faces[0], mesh, note };
}

// the page's FindConfig (app.json "find"), overridden key for key; the whole of it returned
export function setFind(find) {
  return Object.assign(harness.screener.app.find, find);
}

// a Guide on the screener, with a spy on the one door every detection goes through (BrowserScreener.detect)
export async function guideStart() {
  const s = harness.screener;
  const { Guide } = await import(new URL('core/guide.js', location.href).href);
  const detect = s.detect;
  s.detect = function (...a) { detections += 1; return detect.apply(this, a); };
  guide = new Guide(s);
  return s.app.find;
}

// one guidance frame at time `now` (ms): what the page records, and a capture screened at once
export async function guideStep(b64, h, w, now) {
  const rgb = pixels(b64), d0 = detections;
  const g = await guide.step(rgb, h, w, now);
  const out = { key: g.key, tracked: g.analysis.tracked, box: g.analysis.faces[0]?.box ?? null, result: null };
  if (g.capture) {
    const d1 = detections;
    const r = await harness.screener.screen(g.capture.rgb, g.capture.h, g.capture.w, g.capture.analysis);
    out.result = { label: r.label, probability: r.probability, detections: detections - d1,
                   timed: Object.keys(r.timings_ms), captured_is_this_frame: g.capture.rgb === rgb };
    guide.reset();  // the operator's retake, at once
  }
  out.detections = detections - d0;
  return out;
}
