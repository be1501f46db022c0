// The face mesh in the browser: kiosk/landmarks.py's crop, model call and mapping back, on the
// plain 468-point face_landmark model converted to ONNX at export (kiosk/tablet/export.py; the
// kiosk's default attention mesh does not convert). Same crop as the kiosk: a square 1.5x the
// detector's box, rotated so the eye line is level (cv2.getRotationMatrix2D), OpenCV's fixed-point
// warpAffine with BORDER_REPLICATE (align.js), pixels / 255 in float32. Then kiosk/quality/pose.py's
// head pose. Pinned by tests/kiosk/tablet/test_tablet_ops.py and test_tablet_quality.py.

import { invertAffine, warpAffine } from './align.js';

export const INPUT_SIZE = 192;
export const N_MESH = 468;

// landmarks.roi_matrix: frame pixels -> the eye-levelled square crop (2x3, rows)
export function roiMatrix(box, landmarks, scale = 1.5, size = INPUT_SIZE) {
  const [x1, y1, x2, y2] = box;
  const cx = (x1 + x2) / 2, cy = (y1 + y2) / 2;
  const side = Math.max(x2 - x1, y2 - y1) * scale;
  const [[lx, ly], [rx, ry]] = landmarks;
  // the five points are float32 in Python, so is its arithmetic up to the angle in degrees (numpy's
  // float32 arctan2 is within an ulp of this correctly rounded one: the matrices agree to ~1e-7)
  const f = Math.fround;
  const angle = f(f(Math.atan2(f(ry - ly), f(rx - lx))) * f(180 / Math.PI)) * (Math.PI / 180);
  const s = size / Math.max(side, 1);
  const a = Math.cos(angle) * s, b = Math.sin(angle) * s;
  return [[a, b, (1 - a) * cx - b * cy + (size / 2 - cx)], [-b, a, b * cx + (1 - a) * cy + (size / 2 - cy)]];
}

// The model's input for one face: Float32 (192, 192, 3) in [0, 1].
export function meshInput(rgb, h, w, m) {
  const crop = warpAffine(rgb, h, w, m, INPUT_SIZE);
  const x = new Float32Array(crop.length);
  for (let i = 0; i < crop.length; i++) x[i] = crop[i] / 255;
  return x;
}

// DenseLandmarker.__call__'s tail: crop pixels -> frame pixels (z in the same scale), presence.
export function mapBack(pts, logit, m, minPresence = 0.5) {
  const presence = 1 / (1 + Math.exp(-Math.min(Math.max(logit, -60), 60)));
  if (presence < minPresence) return null;
  const inv = invertAffine(m);
  const scale = Math.sqrt(Math.abs(m[0][0] * m[1][1] - m[0][1] * m[1][0]));
  const points = [];
  for (let i = 0; i < pts.length / 3; i++) {
    const x = pts[3 * i], y = pts[3 * i + 1], z = pts[3 * i + 2];
    points.push([x * inv[0][0] + y * inv[0][1] + inv[0][2], x * inv[1][0] + y * inv[1][1] + inv[1][2], z / scale]);
  }
  return { points, presence };
}

// Run the mesh for `face` (a detection: box + five points). `run(data, dims)` is the runtime's session.
export async function faceMesh(run, rgb, h, w, face) {
  const f32 = (p) => [Math.fround(p[0]), Math.fround(p[1])];  // the detector's points are float32 in Python
  const m = roiMatrix(face.box, face.landmarks.map(f32));
  const outs = await run(meshInput(rgb, h, w, m), [1, INPUT_SIZE, INPUT_SIZE, 3]);
  const pts = outs.find((o) => o.data.length === N_MESH * 3), score = outs.find((o) => o.data.length === 1);
  if (!pts || !score) throw new Error(`no face-mesh outputs (${N_MESH * 3} landmarks + 1 score): ${outs.map((o) => `[${o.dims}]`).join(' ')}`);
  return mapBack(pts.data, score.data[0], m);
}

// kiosk/quality/pose.py head_pose (degrees; the plain mesh has no pitch bias)
const PAIRS = [[263, 33], [362, 133], [291, 61], [454, 234]];
const FOREHEAD = 10, CHIN = 152;
const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const unit = (a) => { const n = Math.sqrt(dot(a, a)); return [a[0] / n, a[1] / n, a[2] / n]; };
const clip1 = (v) => Math.min(Math.max(v, -1), 1);
const deg = (r) => r * (180 / Math.PI);

export function headPose(points, pitchBiasDeg = 0) {
  let x = [0, 0, 0];
  for (const [a, b] of PAIRS) { const d = sub(points[a], points[b]); x = [x[0] + d[0], x[1] + d[1], x[2] + d[2]]; }
  x = unit(x);
  let up = sub(points[FOREHEAD], points[CHIN]);
  const k = dot(up, x);
  up = unit([up[0] - k * x[0], up[1] - k * x[1], up[2] - k * x[2]]);
  return { roll: deg(Math.atan2(x[1], x[0])), yaw: deg(Math.asin(clip1(x[2]))), pitch: deg(Math.asin(clip1(up[2]))) + pitchBiasDeg };
}

const dist = (p, a, b) => Math.hypot(p[a][0] - p[b][0], p[a][1] - p[b][1]);
// kiosk/quality/expression.py: the smaller eye's lid gap over its width; lip gap over face height
export const eyesOpen = (p) => Math.min(dist(p, 159, 145) / dist(p, 33, 133), dist(p, 386, 374) / dist(p, 263, 362));
export const mouthGap = (p) => dist(p, 13, 14) / dist(p, 10, 152);
