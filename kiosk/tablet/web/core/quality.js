// The capture-quality measures that need only the detector's box and five points, ported from
// kiosk/quality/face.py and kiosk/quality/image.py with the same thresholds (app.json "quality",
// written from the kiosk's QualityConfig at export) and the same priority order
// (kiosk/quality/assess.py). One instruction at a time: the first failing measure's. Pinned against
// Python by tests/kiosk/tablet/test_tablet_quality.py (measures) and test_tablet_ops.py (gray,
// resize, Laplacian).
//
// Pose (roll/yaw/pitch) and expression (eyes open, mouth closed) read the face mesh (mesh.js, the
// plain 468-point model). Without a mesh for the face they are NOT ASSESSED with the reason, and the
// frame fails with "show the whole face", as the kiosk does (kiosk/quality/base.py run_measure).

import { eyesOpen, headPose, mouthGap } from './mesh.js';
import { resizeArea, roundHalfEven } from './mtcnn.js';

const height = (f) => f.box[3] - f.box[1];
// kiosk/quality/image.py's constants; pinned by tests/kiosk/tablet/test_tablet_constants.py
export const SHARPNESS_WIDTH = 128;
export const CRUSHED = 5, BLOWN = 250;
export const CHEEK_ZONE = 0.3, CHEEK_DROP = 0.5;
export const REPEAT_FRACTION = 10;

// cv2.cvtColor(rgb, COLOR_RGB2GRAY) on uint8: OpenCV 4's fixed-point weights (15 bits), rounded.
export function toGray(rgb, h, w) {
  const out = new Uint8Array(h * w);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) out[i] = (rgb[j] * 9798 + rgb[j + 1] * 19235 + rgb[j + 2] * 3735 + 16384) >> 15;
  return out;
}

// FrameContext.inner_face: brows to below the mouth from the five detector points, clipped.
export function innerFace(landmarks, h, w) {
  const xs = landmarks.map((p) => p[0]);
  const d = Math.hypot(landmarks[1][0] - landmarks[0][0], landmarks[1][1] - landmarks[0][1]);
  const eyesY = (landmarks[0][1] + landmarks[1][1]) / 2, mouthY = (landmarks[3][1] + landmarks[4][1]) / 2;
  const x1 = Math.min(...xs) - 0.45 * d, x2 = Math.max(...xs) + 0.45 * d;
  const y1 = eyesY - 0.45 * d, y2 = mouthY + 0.30 * d;
  return [Math.max(0, Math.trunc(x1)), Math.max(0, Math.trunc(y1)), Math.min(w, Math.ceil(x2)), Math.min(h, Math.ceil(y2))];
}

function crop(gray, w, [x1, y1, x2, y2]) {
  const cw = Math.max(0, x2 - x1), ch = Math.max(0, y2 - y1);
  const out = new Uint8Array(cw * ch);
  for (let y = 0; y < ch; y++) out.set(gray.subarray((y1 + y) * w + x1, (y1 + y) * w + x1 + cw), y * cw);
  return { data: out, h: ch, w: cw };
}

// OpenCV's linear tables (resize.cpp): source index and 11-bit fixed-point weights per output index.
function linearTab(ssize, dsize) {
  const scale = ssize / dsize, ofs = new Int32Array(dsize), a = new Int32Array(dsize * 2);
  for (let d = 0; d < dsize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) { f = 0; s = 0; }
    if (s >= ssize - 1) { f = 0; s = ssize - 1; }
    ofs[d] = s;
    a[2 * d] = roundHalfEven(Math.fround(1 - f) * 2048);
    a[2 * d + 1] = roundHalfEven(f * 2048);
  }
  return { ofs, a };
}

// cv2.resize(gray, (dw, dh), INTER_LINEAR) on uint8, OpenCV's fixed-point path. Equal to OpenCV's
// except for +-1 on some pixels of the first and last output rows (test_tablet_ops.py bounds it).
export function resizeLinearU8(src, sh, sw, dh, dw) {
  const xt = linearTab(sw, dw), yt = linearTab(sh, dh);
  const rows = new Int32Array(sh * dw);
  for (let y = 0; y < sh; y++) for (let d = 0; d < dw; d++) {
    const s = xt.ofs[d], s1 = Math.min(s + 1, sw - 1);
    rows[y * dw + d] = src[y * sw + s] * xt.a[2 * d] + src[y * sw + s1] * xt.a[2 * d + 1];
  }
  const out = new Uint8Array(dh * dw);
  for (let d = 0; d < dh; d++) {
    const s = yt.ofs[d], s1 = Math.min(s + 1, sh - 1), b0 = yt.a[2 * d], b1 = yt.a[2 * d + 1];
    for (let x = 0; x < dw; x++) {
      const v = (((b0 * (rows[s * dw + x] >> 4)) >> 16) + ((b1 * (rows[s1 * dw + x] >> 4)) >> 16) + 2) >> 2;
      out[d * dw + x] = Math.max(0, Math.min(255, v));
    }
  }
  return out;
}

// cv2.Laplacian(img, CV_64F) (ksize 1: the 4-neighbour kernel, BORDER_REFLECT_101), then numpy's var.
export function laplacianVar(img, h, w) {
  const at = (y, x) => img[(y < 0 ? -y : y >= h ? 2 * h - 2 - y : y) * w + (x < 0 ? -x : x >= w ? 2 * w - 2 - x : x)];
  const lap = new Float64Array(h * w);
  let sum = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = at(y - 1, x) + at(y + 1, x) + at(y, x - 1) + at(y, x + 1) - 4 * at(y, x);
    lap[y * w + x] = v; sum += v;
  }
  const mean = sum / lap.length;
  let ss = 0;
  for (const v of lap) ss += (v - mean) * (v - mean);
  return ss / lap.length;
}

// kiosk.quality.image.sharpness: the inner face resized to 128 px wide, Laplacian variance.
export function sharpness(gray, h, w) {
  if (h < 8 || w < 8) throw new Error(`the face region is too small (${w}x${h} px)`);
  const dh = Math.max(8, roundHalfEven(h * SHARPNESS_WIDTH / w));
  const small = w > SHARPNESS_WIDTH
    ? resizeArea(Float32Array.from(gray), h, w, 1, dh, SHARPNESS_WIDTH, true)
    : resizeLinearU8(gray, h, w, dh, SHARPNESS_WIDTH);
  return laplacianVar(small, dh, SHARPNESS_WIDTH);
}

function faceGray(c) {
  if (!c._faceGray) c._faceGray = crop(c.gray(), c.w, c.inner());
  return c._faceGray;
}

const meanOf = (a, pred) => { let n = 0; for (const v of a) n += pred(v) ? 1 : 0; return n / a.length; };

function uniformity(c) {
  const [x1, , x2] = c.inner();
  const g = faceGray(c);
  const split = roundHalfEven(Math.min(Math.max(c.face.landmarks[2][0], x1 + 1), x2 - 1)) - x1;
  if (split <= 0 || split >= g.w || g.h === 0) throw new Error('the face is cut off at the frame edge');
  const hl = new Float64Array(32), hr = new Float64Array(32);
  for (let y = 0; y < g.h; y++) for (let x = 0; x < g.w; x++) (x < split ? hl : hr)[g.data[y * g.w + x] >> 3] += 1;
  const nl = split * g.h, nr = (g.w - split) * g.h;
  let s = 0;
  for (let i = 0; i < 32; i++) s += Math.min(hl[i] / nl, hr[i] / nr);
  return s;
}

// kiosk.quality.image.frame_histogram: the whole frame's luma histogram, once per frame.
function frameHistogram(c) {
  if (!c._frameHist) {
    const g = c.gray(), hist = new Float64Array(256);
    for (let i = 0; i < g.length; i++) hist[g[i]] += 1;
    c._frameHist = hist;
  }
  return c._frameHist;
}

// the fraction of the frame's pixels with luma in [lo, hi]
function frameFraction(c, lo, hi) {
  const hist = frameHistogram(c);
  let n = 0;
  for (let v = lo; v <= hi; v++) n += hist[v];
  return n / (c.h * c.w);
}

// kiosk.quality.image.dynamic_range: entropy (bits) of the 256-bin luma histogram (OFIQ's DynamicRange).
export function dynamicRange(data) {
  if (!data.length) throw new Error('the face region is empty');
  const hist = new Float64Array(256);
  for (const v of data) hist[v] += 1;
  let s = 0;
  for (const n of hist) if (n > 0) { const p = n / data.length; s += p * Math.log2(p); }
  return -s;
}

// kiosk.quality.image.cheek_zones: OFIQ's two illumination zones along the eye line, clipped.
export function cheekZones(landmarks, h, w) {
  const [el, er] = landmarks;
  const iod = Math.hypot(er[0] - el[0], er[1] - el[1]);
  if (!(iod > 0)) throw new Error('the eyes coincide');
  const u = [(er[0] - el[0]) / iod, (er[1] - el[1]) / iod], v = [-u[1], u[0]];
  const mouth = [(landmarks[3][0] + landmarks[4][0]) / 2, (landmarks[3][1] + landmarks[4][1]) / 2];
  const drop = CHEEK_DROP * Math.hypot(mouth[0] - (el[0] + er[0]) / 2, mouth[1] - (el[1] + er[1]) / 2);
  const z = Math.max(2, roundHalfEven(CHEEK_ZONE * iod));
  return [[el, -1], [er, 1]].map(([eye, outward]) => {
    const cx = eye[0] + u[0] * (outward * z / 2) + v[0] * (drop + z / 2);
    const cy = eye[1] + u[1] * (outward * z / 2) + v[1] * (drop + z / 2);
    const x0 = roundHalfEven(cx - z / 2), y0 = roundHalfEven(cy - z / 2);
    return [Math.max(0, x0), Math.max(0, y0), Math.min(w, x0 + z), Math.min(h, y0 + z)];
  });
}

// kiosk.quality.image LightBalance: the darker cheek's mean luma over the brighter one's.
function lightBalance(c) {
  const means = cheekZones(c.face.landmarks, c.h, c.w).map(([x1, y1, x2, y2]) => {
    if (x2 <= x1 || y2 <= y1) throw new Error('a cheek is outside the frame');
    const g = crop(c.gray(), c.w, [x1, y1, x2, y2]).data;
    let s = 0;
    for (const v of g) s += v;
    return s / g.length;
  });
  if (Math.max(...means) <= 0) throw new Error('both cheeks are black');
  return Math.min(...means) / Math.max(...means);
}

// kiosk.quality.image.pixel_repetition: 1 / (1 - the share of rows and columns that copy their neighbour).
export function pixelRepetition(g, h, w) {
  if (h < 3 || w < 3) throw new Error(`the face region is too small (${w}x${h} px)`);
  const cols = new Float64Array(w - 1), rows = new Float64Array(h - 1);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = g[y * w + x];
    if (x + 1 < w) cols[x] += Math.abs(g[y * w + x + 1] - v);
    if (y + 1 < h) rows[y] += Math.abs(g[(y + 1) * w + x] - v);
  }
  const copied = (d) => {
    let total = 0, n = 0;
    for (const v of d) total += v;
    for (const v of d) n += v * REPEAT_FRACTION * d.length < total ? 1 : 0;
    return n / d.length;
  };
  return 1 / (1 - (copied(cols) + copied(rows)) / 2);
}

const pose = (c) => c._pose || (c._pose = headPose(c.mesh.points));

// name, needs, raw(ctx), bound(ctx) -> [min, max] (null = open), instructions by side
export const MEASURES = [
  // judged only when no face is found (with one, the face's own light measures judge it)
  { name: 'frame_over_exposure', needs: 'frame', instructions: { high: 'less_light' },
    raw: (c) => frameFraction(c, BLOWN, 255),
    bound: (c) => [null, c.face ? 1 : c.config.max_frame_clipped_fraction] },
  { name: 'frame_under_exposure', needs: 'frame', instructions: { high: 'more_light' },
    raw: (c) => frameFraction(c, 0, CRUSHED),
    bound: (c) => [null, c.face ? 1 : c.config.max_frame_clipped_fraction] },
  { name: 'single_face', needs: 'frame', instructions: { low: 'no_face', high: 'one_face_only' },
    raw: (c) => (c.faces.length ? c.faces.filter((f) => height(f) >= c.config.other_face_min_ratio * height(c.faces[0])).length : 0),
    bound: () => [1, 1] },
  { name: 'inter_eye_distance', needs: 'face', instructions: { low: 'move_closer', high: 'move_back' },
    raw: (c) => Math.hypot(c.face.landmarks[1][0] - c.face.landmarks[0][0], c.face.landmarks[1][1] - c.face.landmarks[0][1]),
    bound: (c) => [c.config.min_inter_eye_px ?? c.modelIodPx, null] },
  { name: 'head_size', needs: 'face', instructions: { low: 'move_closer', high: 'move_back' },
    raw: (c) => height(c.face) / c.h,
    bound: (c) => [c.config.min_head_size, c.config.max_head_size] },
  { name: 'centred', needs: 'face', instructions: { high: 'move_to_centre' },
    raw: (c) => { const [x1, y1, x2, y2] = c.face.box; return Math.max(Math.abs((x1 + x2) / 2 - c.w / 2) / c.w, Math.abs((y1 + y2) / 2 - c.h / 2) / c.h); },
    bound: (c) => [null, c.config.max_centre_offset] },
  { name: 'head_roll', needs: 'mesh', instructions: { low: 'head_level', high: 'head_level' },
    raw: (c) => pose(c).roll, bound: (c) => [-c.config.max_roll_deg, c.config.max_roll_deg] },
  { name: 'head_yaw', needs: 'mesh', instructions: { low: 'look_straight', high: 'look_straight' },
    raw: (c) => pose(c).yaw, bound: (c) => [-c.config.max_yaw_deg, c.config.max_yaw_deg] },
  { name: 'head_pitch', needs: 'mesh', instructions: { low: 'raise_chin', high: 'lower_chin' },
    raw: (c) => pose(c).pitch + c.config.pitch_offset_deg, bound: (c) => [-c.config.max_pitch_deg, c.config.max_pitch_deg] },
  { name: 'brightness', needs: 'face', instructions: { low: 'more_light', high: 'less_light' },
    raw: (c) => { const g = faceGray(c).data; let s = 0; for (const v of g) s += v; return s / g.length; },
    bound: (c) => [c.config.min_brightness, c.config.max_brightness] },
  { name: 'under_exposure', needs: 'face', instructions: { high: 'more_light' },
    raw: (c) => meanOf(faceGray(c).data, (v) => v <= CRUSHED),
    bound: (c) => [null, c.config.max_clipped_fraction] },
  { name: 'over_exposure', needs: 'face', instructions: { high: 'avoid_glare' },
    raw: (c) => meanOf(faceGray(c).data, (v) => v >= BLOWN),
    bound: (c) => [null, c.config.max_clipped_fraction] },
  { name: 'dynamic_range', needs: 'face', instructions: { low: 'low_contrast' },
    raw: (c) => dynamicRange(faceGray(c).data),
    bound: (c) => [c.config.min_dynamic_range, null] },
  { name: 'illumination_uniformity', needs: 'face', instructions: { low: 'even_light' },
    raw: uniformity,
    bound: (c) => [c.config.min_illumination_uniformity, null] },
  { name: 'light_balance', needs: 'face', instructions: { low: 'even_light' },
    raw: lightBalance,
    bound: (c) => [c.config.min_light_balance, null] },
  { name: 'pixel_repetition', needs: 'face', instructions: { high: 'no_zoom' },
    raw: (c) => { const g = faceGray(c); return pixelRepetition(g.data, g.h, g.w); },
    bound: (c) => [null, c.config.max_pixel_repetition] },
  { name: 'sharpness', needs: 'face', instructions: { low: 'hold_still' },
    raw: (c) => { const g = faceGray(c); return sharpness(g.data, g.h, g.w); },
    bound: (c) => [c.config.min_sharpness, null] },
  { name: 'eyes_open', needs: 'mesh', instructions: { low: 'open_eyes' },
    raw: (c) => eyesOpen(c.mesh.points), bound: (c) => [c.config.min_eye_openness, null] },
  { name: 'mouth_closed', needs: 'mesh', instructions: { high: 'close_mouth' },
    raw: (c) => mouthGap(c.mesh.points), bound: (c) => [null, c.config.max_mouth_gap] },
];

const area = (f) => Math.max(0, f.box[2] - f.box[0]) * Math.max(0, f.box[3] - f.box[1]);

// The subject first: the largest confident face, ties broken by confidence (edge.detect.subject_first).
export function subjectFirst(faces) {
  return [...faces].sort((a, b) => (area(b) - area(a)) || (b.confidence - a.confidence));
}

// FrameAnalyser.analyse: every measure in priority order (kiosk.quality.base.run_measure's rules).
// `rgb` (uint8 RGB, h x w) is read by the light and sharpness measures; `mesh` is the subject's face
// mesh ({points, presence}, mesh.js), or null with `meshNote` saying why there is none.
export function assess(faces, h, w, config, modelIodPx, rgb, mesh = null, meshNote = '') {
  const sorted = subjectFirst(faces);
  let gray = null;
  const ctx = { faces: sorted, face: sorted[0] || null, h, w, config, modelIodPx, mesh,
    gray: () => { if (!rgb) throw new Error('no frame pixels given'); return gray || (gray = toGray(rgb, h, w)); },
    inner: () => ctx._inner || (ctx._inner = innerFace(ctx.face.landmarks, h, w)) };
  const notAssessed = (m, detail, instruction) => ({ name: m.name, assessed: false, passed: null, raw: null, instruction, detail });
  const results = MEASURES.map((m) => {
    if (m.needs !== 'frame' && !ctx.face) return notAssessed(m, 'no face in the frame', 'no_face');
    if (m.needs === 'mesh' && !ctx.mesh) return notAssessed(m, meshNote || 'no dense landmarks for this face', 'show_whole_face');
    let raw;
    // run_measure's rule: a frame the measure cannot judge names it; a bug (TypeError, ...) is thrown
    try { raw = m.raw(ctx); } catch (err) {
      if (err instanceof TypeError || err instanceof ReferenceError || err instanceof SyntaxError) throw err;
      return notAssessed(m, `${m.name} could not be assessed: ${err.name}: ${err.message}`, 'show_whole_face');
    }
    if (!Number.isFinite(raw)) return notAssessed(m, `${m.name} is undefined on this frame`, 'show_whole_face');
    const [lo, hi] = m.bound(ctx);
    const side = lo !== null && raw < lo ? 'low' : hi !== null && raw > hi ? 'high' : null;
    return { name: m.name, assessed: true, passed: side === null, raw, bound: [lo, hi], instruction: side ? m.instructions[side] : null };
  });
  const first = results.find((r) => !r.passed);
  return { results, passed: !first, instruction: first ? first.instruction : null };
}

// the inter-eye distance of the model's aligned crop (quality.assess.model_inter_eye_px)
export function modelInterEyePx(card) {
  const [a, b] = card.alignment.points;
  return Math.hypot((b[0] - a[0]) * card.input.size, (b[1] - a[1]) * card.input.size);
}
