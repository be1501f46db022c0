// The activation map the result shows, ported from edge/postprocess.py: screening_cam (evidence for
// the positive classes over the negative ones, resized to the input size as OpenCV's INTER_CUBIC
// does, scaled to [0, 1]) and overlay_cam (OpenCV's JET colour map blended over the face). Pinned
// against those Python functions in Chromium by tests/kiosk/tablet/test_tablet_cam.py.

// edge.postprocess.overlay_cam's default blend: the map's share of each pixel
export const CAM_ALPHA = 0.45;
// edge.postprocess.CAM_FLAT_RTOL: a map whose range is within this fraction of its magnitude is flat
export const CAM_FLAT_RTOL = 1e-5;
// OpenCV's bicubic kernel parameter (imgproc/src/resize.cpp, interpolateCubic: A = -0.75)
export const CUBIC_A = -0.75;

function cubicWeights(x) {
  const A = CUBIC_A;
  const w0 = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
  const w1 = ((A + 2) * x - (A + 3)) * x * x + 1;
  const w2 = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
  return [w0, w1, w2, 1 - w0 - w1 - w2];
}

// For each output index: the four source indices (the edge replicated, as OpenCV's resize does)
// and their weights, with pixel centres aligned ((d + 0.5) * scale - 0.5).
function cubicTaps(n, out) {
  const scale = n / out;
  const taps = [];
  for (let d = 0; d < out; d++) {
    const f = (d + 0.5) * scale - 0.5;
    const s = Math.floor(f);
    const idx = [s - 1, s, s + 1, s + 2].map((i) => Math.min(Math.max(i, 0), n - 1));
    taps.push({ idx, w: cubicWeights(f - s) });
  }
  return taps;
}

// cv2.resize(src, (ow, oh), interpolation=INTER_CUBIC) of a one-channel (h, w) map, separable:
// rows first, then columns. Doubles throughout (OpenCV works in float32: see the pin's tolerance).
export function resizeCubic(src, h, w, oh, ow) {
  const tx = cubicTaps(w, ow), ty = cubicTaps(h, oh);
  const rows = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      const { idx, w: k } = tx[x];
      let v = 0;
      for (let j = 0; j < 4; j++) v += src[y * w + idx[j]] * k[j];
      rows[y * ow + x] = v;
    }
  }
  const out = new Float32Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const { idx, w: k } = ty[y];
    for (let x = 0; x < ow; x++) {
      let v = 0;
      for (let j = 0; j < 4; j++) v += rows[idx[j] * ow + x] * k[j];
      out[y * ow + x] = v;
    }
  }
  return out;
}

// screening_cam: one image's class-logit map (`data` laid out as `dims` = [1, h, w, K], the model's
// NHWC output) -> a (size, size) Float32Array in [0, 1], row-major; all zeros when the map is flat.
export function screeningCam(data, dims, positive, size) {
  if (dims.length !== 4 || dims[0] !== 1) throw new Error(`expected one (1, h, w, K) class-logit map, got dims [${dims}]`);
  const [, h, w, K] = dims;
  const negative = [...Array(K).keys()].filter((k) => !positive.includes(k));
  const evidence = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) {
    let pos = 0, neg = 0;
    for (const k of positive) pos += data[i * K + k];
    for (const k of negative) neg += data[i * K + k];
    evidence[i] = pos / positive.length - neg / negative.length;
  }
  const up = resizeCubic(evidence, h, w, size, size);
  let lo = Infinity, hi = -Infinity;
  for (const v of up) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (hi - lo <= Math.max(1e-12, CAM_FLAT_RTOL * Math.max(Math.abs(lo), Math.abs(hi)))) return new Float32Array(size * size);
  return up.map((v) => (v - lo) / (hi - lo));
}

// OpenCV's COLORMAP_JET for one level 0..255 (dark blue, blue, cyan, yellow, red, dark red): the
// piecewise-linear MATLAB jet, which OpenCV samples; within one level of cv2.applyColorMap.
export function jet(level) {
  const x = level / 255;
  const ch = (c) => Math.round(255 * Math.min(Math.max(1.5 - Math.abs(4 * x - c), 0), 1));
  return [ch(3), ch(2), ch(1)];
}

// overlay_cam: the map over an RGB (size, size, 3) uint8 face, as a new Uint8ClampedArray RGB.
// Each map value picks its colour as numpy's uint8 cast does (truncating cam * 255).
export function overlayCam(face, cam01, alpha = CAM_ALPHA) {
  const out = new Uint8ClampedArray(face.length);
  for (let i = 0; i < cam01.length; i++) {
    const heat = jet(Math.trunc(Math.fround(Math.min(Math.max(cam01[i], 0), 1) * 255)));
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.trunc((1 - alpha) * face[i * 3 + c] + alpha * heat[c]);
  }
  return out;
}
