// The tablet section of facescreen-bench (kiosk/tablet/bench.py), in an exported app's harness page:
// the guidance loop's per-frame work (detection or mesh tracking, the face mesh, every measure), as
// kiosk/bench.py times the kiosk's, on the same frames. Frames arrive as base64 RGB (harness.js).
const harness = await import(new URL('harness.js', location.href).href);
const { FaceTrack } = await import(new URL('core/track.js', location.href).href);

let track = null;

// a new guidance loop's face track, with the app's FindConfig (app.json "find")
export function guidanceStart() {
  track = new FaceTrack(harness.screener.app.find);
  return harness.screener.app.find;
}

// one guidance frame, never a capture (as the kiosk's measure_guidance: capture=False): its time in
// the page and whether its face was followed by the mesh rather than detected
export async function guidanceStep(b64, h, w) {
  const rgb = harness.pixels(b64);
  const t0 = performance.now();
  const a = await harness.screener.analyse(rgb, h, w, track, false);
  return { ms: performance.now() - t0, tracked: a.tracked, instruction: a.report.instruction ?? null };
}
