// The capture-quality measures that need only the detector's box and five points, ported from
// kiosk/quality/face.py with the same thresholds (app.json "quality", written from the kiosk's
// QualityConfig at export) and the same priority order (kiosk/quality/assess.py). One instruction
// at a time: the first failing measure's. Pinned against Python by tests/kiosk/tablet/test_tablet_quality.py.
//
// Not ported yet: pose (roll/yaw/pitch), light, sharpness and expression, which need the face
// mesh; the browser guidance does not check them (README, "The tablet works offline").

const height = (f) => f.box[3] - f.box[1];

// name, needs, raw(ctx), bound(ctx) -> [min, max] (null = open), instructions by side
export const MEASURES = [
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
];

const area = (f) => Math.max(0, f.box[2] - f.box[0]) * Math.max(0, f.box[3] - f.box[1]);

// FrameAnalyser.analyse without the mesh: faces largest first, every measure in priority order.
export function assess(faces, h, w, config, modelIodPx) {
  const sorted = [...faces].sort((a, b) => (area(b) - area(a)) || (b.confidence - a.confidence));
  const ctx = { faces: sorted, face: sorted[0] || null, h, w, config, modelIodPx };
  const results = MEASURES.map((m) => {
    if (m.needs === 'face' && !ctx.face) return { name: m.name, assessed: false, passed: false, raw: null, instruction: 'no_face' };
    const raw = m.raw(ctx);
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
