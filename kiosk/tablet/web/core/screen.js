// The browser's photo path, the same steps as edge.pipeline.prepare_face + edge.screener:
// detect (on a copy shrunk to max_side) -> the largest confident face -> align -> screen.
// Everything it needs is named in app.json, written by `facescreen-kiosk tablet-export`.
import { faceMesh } from './mesh.js';
import { detect as mtcnnDetect, resizeArea, roundHalfEven } from './mtcnn.js';
import { assess, modelInterEyePx, subjectFirst } from './quality.js';
import { alignFace } from './align.js';
import { fetchOk, openRuntime } from './runtime.js';
import { applyTemperature, flagged, screeningProbability } from './screening.js';
import { screeningCam } from './cam.js';

export const REFER = 'refer for genetic evaluation';
export const NO_FLAG = 'no referral flag';

export async function loadApp(base) {
  const app = await (await fetchOk(new URL('app.json', base))).json();
  const card = await (await fetchOk(new URL(app.card, base))).json();
  return { app, card };
}

// FindConfig.detect_config: the detection settings for one frame of `frameHeight` pixels. The
// smallest face is half the quality's minimum head size (a smaller face fails anyway), and a
// guidance frame (not `fullSize`) is detected on a copy reduced until that face spans work_face_px.
export function detectConfig(find, base, quality, frameHeight, fullSize) {
  const whole = { max_side: base.max_side, min_confidence: base.min_confidence, min_face_px: null,
                  work_face_px: null, min_face_fraction: null };
  if (find.min_face_of_min_head === null) return whole;
  const minFace = Math.max(20, find.min_face_of_min_head * quality.min_head_size * frameHeight);
  return { ...whole, min_face_px: minFace, work_face_px: fullSize ? null : find.work_face_px };
}

// detect_faces: faces in full-resolution pixels, confident ones only. `cfg` is a DetectConfig
// (app.json "detect" for a photo, detectConfig's for a guidance frame).
export async function detectFaces(rgb, h, w, runNet, app, cfg = app.detect) {
  const { max_side: maxSide, min_confidence: minConf, work_face_px: workFacePx = null,
          min_face_fraction: minFaceFraction = null } = cfg;
  let minFacePx = cfg.min_face_px ?? null;
  if (minFaceFraction !== null) minFacePx = Math.max(minFacePx ?? 20, minFaceFraction * Math.min(h, w));
  let scale = Math.min(1, maxSide / Math.max(h, w));
  if (minFacePx !== null && workFacePx !== null) scale = Math.min(scale, workFacePx / minFacePx);
  let small = rgb, sh = h, sw = w;
  if (scale !== 1) {
    sw = Math.max(1, roundHalfEven(w * scale)); sh = Math.max(1, roundHalfEven(h * scale));
    small = resizeArea(rgb, h, w, 3, sh, sw, true);
  }
  const cascade = minFacePx === null ? app.cascade : { ...app.cascade, min_face_size: Math.max(20, Math.trunc(minFacePx * scale)) };
  const faces = (await mtcnnDetect(small, sh, sw, runNet, cascade)).filter((f) => f.confidence >= minConf);
  if (scale === 1) return faces;
  const k = 1 / scale;
  return faces.map((f) => ({ box: f.box.map((v) => v * k), confidence: f.confidence,
                             landmarks: f.landmarks.map(([x, y]) => [x * k, y * k]) }));
}

export class BrowserScreener {
  // `loaded`: loadApp(base)'s answer, where the page read it already; `onProgress(done, total)`: after
  // each model file is open (the page shows how far loading is)
  static async create(base, loaded = null, onProgress = () => {}) {
    const { app, card } = loaded ?? await loadApp(base);
    const files = [...Object.values(app.detector.nets), app.screener.file, ...(app.mesh ? [app.mesh.file] : [])];
    let done = 0;
    const open = async (file) => { const net = await rt.open(new URL(file, base).href); onProgress(++done, files.length + 1); return net; };
    const rt = await openRuntime(app.runtime, base);
    onProgress(++done, files.length + 1);
    const nets = {};
    for (const [net, file] of Object.entries(app.detector.nets)) nets[net] = await open(file);
    const screener = await open(app.screener.file);
    const meshNet = app.mesh ? await open(app.mesh.file) : null;
    return new BrowserScreener(app, card, rt, nets, screener, meshNet);
  }

  constructor(app, card, rt, nets, screener, meshNet = null) {
    this.app = app; this.card = card; this.runtime = rt; this.nets = nets; this.screener = screener; this.meshNet = meshNet;
    this.runNet = (net, data, dims) => this.nets[net](data, dims);
    this.positive = card.positive_classes.map((c) => card.classes.indexOf(c));
  }

  // e.g. "onnxruntime-web[wasm x4]:onnx-int8": which runtime, on which device and threads, ran which artifact
  get backendLabel() { return `${this.runtime.name}[${this.runtime.device}]:${this.app.screener.artifact}`; }

  // every face detection goes through here (a photo's, a guidance frame's): the tests count them
  detect(rgb, h, w, cfg = this.app.detect) { return detectFaces(rgb, h, w, this.runNet, this.app, cfg); }

  // FrameAnalyser._mesh: the face's mesh, or null and why (the measures that need no mesh still run)
  async faceMesh(rgb, h, w, face) {
    if (!this.meshNet) return { mesh: null, note: 'no dense-landmark model is loaded' };
    try {
      const mesh = await faceMesh(this.meshNet, rgb, h, w, face);
      return { mesh, note: mesh ? '' : 'the landmark model did not find a whole face in the detected box' };
    } catch (err) {
      return { mesh: null, note: `dense landmarks failed: ${err.name}: ${err.message}` };
    }
  }

  // FrameAnalyser.analyse: one frame's faces (subject first), quality report, and whether its face
  // was followed by the mesh on `track` (a guidance loop's own FaceTrack) rather than detected.
  // `capture`: this frame may be screened, so it is detected at full size, never tracked.
  async analyse(rgb, h, w, track = null, capture = true) {
    let faces = [], mesh = null, note = '', tracked = false;
    if (track && !capture && !track.due) {
      ({ mesh, note } = await this.faceMesh(rgb, h, w, track.face));  // where the face was on the previous frame
      const face = mesh ? track.follow(mesh) : null;
      if (face) { faces = [face]; tracked = true; } else track.lose();
    }
    if (!tracked) {
      const { find, detect, quality } = this.app;
      faces = subjectFirst(await this.detect(rgb, h, w, detectConfig(find, detect, quality, h, capture)));
      ({ mesh, note } = faces.length ? await this.faceMesh(rgb, h, w, faces[0]) : { mesh: null, note: '' });
      if (track) { if (faces.length) track.start(faces[0], mesh); else track.lose(); }
    }
    return { faces, tracked, report: assess(faces, h, w, this.app.quality, modelInterEyePx(this.card), rgb, mesh, note) };
  }

  // One frame's quality report, as the kiosk's FrameAnalyser.analyse(rgb) gives it.
  async quality(rgb, h, w) { return (await this.analyse(rgb, h, w)).report; }

  // the network's raw outputs for one aligned (S, S, 3) uint8 crop: float pixels 0..255 (the card's
  // in-graph scaling); `probs` before the card's temperature, `cam` the class-logit map
  // ({dims: [1, h, w, K], data}), picked by rank as edge.backends.base.split_outputs does
  async predict(crop) {
    const s = this.card.input.size;
    const x = Float32Array.from(crop);
    const outs = await this.screener(x, [1, s, s, 3]);
    const probs = outs.filter((o) => o.dims.length === 2), cams = outs.filter((o) => o.dims.length === 4);
    if (probs.length !== 1 || cams.length !== 1) throw new Error(`expected one (N, K) and one (N, h, w, K) output, got ${outs.map((o) => `[${o.dims}]`).join(' ')}`);
    return { probs: Array.from(probs[0].data), cam: { dims: Array.from(cams[0].dims), data: Float32Array.from(cams[0].data) } };
  }

  // The whole path for one RGB image; a result shaped like ScreeningResult.to_dict's essentials.
  // `analysis`: this frame's, from a detection (analyse): its face, the one quality was judged on,
  // is the one screened, not detected again (KioskEngine.screen, find.reuse_capture_detection).
  async screen(rgb, h, w, analysis = null) {
    const t0 = performance.now();
    const reuse = analysis !== null && this.app.find.reuse_capture_detection;
    if (reuse && analysis.tracked) throw new Error("this frame's face was tracked, not detected; analyse it with a detection to screen it");
    const faces = reuse ? analysis.faces : await this.detect(rgb, h, w);
    const face = subjectFirst(faces)[0] ?? null;  // find_face: the subject (quality.js, the one rule)
    if (!face) return { error: 'no_face', n_faces: 0 };
    const t1 = performance.now();
    const aligned = alignFace(rgb, h, w, face.landmarks, this.card.input.size, this.card.alignment.points);
    const t2 = performance.now();
    const result = await this.screenAligned(aligned.image);
    return {
      ...result, detection: face, n_faces: faces.length, align_matrix: aligned.matrix, aligned: aligned.image,
      timings_ms: { ...(reuse ? {} : { detect: t1 - t0 }), align: t2 - t1, ...result.timings_ms },  // as prepare_face's
    };
  }

  // Screener.screen_aligned: one aligned crop -> the card's temperature, the positive classes'
  // sum and the flag rule (core/screening.js), and the activation map at input size (core/cam.js,
  // as ScreeningResult.cam): the ports of edge/postprocess.py.
  async screenAligned(crop) {
    const t0 = performance.now();
    const out = await this.predict(crop);
    const probs = applyTemperature(out.probs, this.card.calibration?.temperature ?? 1);
    const t1 = performance.now();
    const p = screeningProbability(probs, this.positive);
    const flag = flagged(p, this.card.threshold);
    return {
      probability: p, threshold: this.card.threshold, flag, label: flag ? REFER : NO_FLAG,
      class_names: this.card.classes, class_probabilities: probs, positive_classes: this.card.positive_classes,
      model_id: this.card.model_id, model_version: this.card.version, backend: this.backendLabel,
      intended_use: this.card.intended_use, not_for_clinical_use: this.card.not_for_clinical_use,
      cam: screeningCam(out.cam.data, out.cam.dims, this.positive, this.card.input.size), cam_logits: out.cam,
      timings_ms: { infer: t1 - t0 },
    };
  }
}
