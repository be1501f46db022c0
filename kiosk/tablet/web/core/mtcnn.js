// The MTCNN cascade's arithmetic in the browser, mirroring edge/detectors/mtcnn_cascade.py function
// by function (each names the Python function it ports). The networks are the bundle's converted,
// verified P/R/O-Net files; `runNet(net, data, shape)` (see runtime.js) runs one of them.
// tests/kiosk/tablet/test_tablet_ops.py pins every function here against the Python one.

export const PNET_STRIDE = 2;
export const PNET_CELL = 12;

// CascadeConfig's defaults (the mtcnn package's detect_faces keywords); pinned by
// tests/kiosk/tablet/test_tablet_constants.py, and app.json's "cascade" is what the app passes.
export const CASCADE_DEFAULTS = Object.freeze({
  min_face_size: 20, min_size: 12, scale_factor: 0.709,
  threshold_pnet: 0.6, threshold_rnet: 0.7, threshold_onet: 0.8,
  nms_pnet1: 0.5, nms_pnet2: 0.7, nms_rnet: 0.7, nms_onet: 0.7, whole_pixels: true,
});

// Each network's outputs, told apart by their last dimension (mtcnn_manifest.OUTPUT_ROLES; pinned
// by tests/kiosk/tablet/test_tablet_constants.py).
export const OUTPUT_ROLES = {
  pnet: { 4: 'bbox_reg', 2: 'face_prob' },
  rnet: { 4: 'bbox_reg', 2: 'face_prob' },
  onet: { 4: 'bbox_reg', 10: 'landmarks', 2: 'face_prob' },
};

// numpy's round (half to even), as np.round and Python's round do.
export function roundHalfEven(x) {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

// normalise: uint8 RGB (H*W*3) -> float32 (x - 127.5) / 128 (exact in float32).
export function normalise(rgb) {
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = (rgb[i] - 127.5) / 128;
  return out;
}

// scale_pyramid
export function scalePyramid(height, width, cfg) {
  const minDim = Math.min(width, height);
  const count = roundHalfEven(-((Math.log(minDim / cfg.min_size) / Math.log(cfg.scale_factor)) + 1));
  const m = cfg.min_size / cfg.min_face_size;
  const scales = [];
  for (let i = 0; i < Math.max(count, 0); i++) scales.push(m * Math.pow(cfg.scale_factor, i));
  return scales;
}

// scaled_shape: the float target size truncated to integers.
export function scaledShape(height, width, scale) {
  return [Math.trunc(height * scale), Math.trunc(width * scale)];
}

// OpenCV's computeResizeAreaTab (imgproc/src/resize.cpp): per entry, the destination index, the
// source index and its weight (float32), in typed arrays for the resize's inner loops.
function areaTab(ssize, dsize, scale) {
  const dst = [], src = [], weight = [];
  const push = (dx, sx, w) => { dst.push(dx); src.push(sx); weight.push(w); };
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale, fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, ssize - fsx1);
    let sx1 = Math.ceil(fsx1), sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, ssize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) push(dx, sx1 - 1, (sx1 - fsx1) / cellWidth);
    for (let sx = sx1; sx < sx2; sx++) push(dx, sx, 1.0 / cellWidth);
    if (fsx2 - sx2 > 1e-3) push(dx, sx2, Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth);
  }
  return { count: dst.length, dst: Int32Array.from(dst), src: Int32Array.from(src), weight: Float32Array.from(weight) };
}

// resize_area: cv2.resize(..., INTER_AREA) for a shrink (the only case the cascade and the photo
// downscale need), channels interleaved. Float32Array in -> Float32Array out; with `asUint8` the
// output is rounded and saturated as OpenCV does for uint8 images.
export function resizeArea(src, height, width, channels, dstH, dstW, asUint8 = false) {
  if (dstH > height || dstW > width) throw new Error(`resizeArea only shrinks: ${width}x${height} -> ${dstW}x${dstH}`);
  const scaleX = 1 / (dstW / width), scaleY = 1 / (dstH / height);
  const out = asUint8 ? new Uint8ClampedArray(dstH * dstW * channels) : new Float32Array(dstH * dstW * channels);
  const ix = Math.round(scaleX), iy = Math.round(scaleY);
  if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON) {
    // resizeAreaFast_: the plain mean of each ix * iy block
    const area = ix * iy;
    for (let y = 0; y < dstH; y++) for (let x = 0; x < dstW; x++) for (let c = 0; c < channels; c++) {
      let s = 0;
      for (let dy = 0; dy < iy; dy++) for (let dx = 0; dx < ix; dx++) s += src[((y * iy + dy) * width + x * ix + dx) * channels + c];
      out[(y * dstW + x) * channels + c] = asUint8 ? roundHalfEven(s / area) : Math.fround(s * Math.fround(1 / area));
    }
    return out;
  }
  const xtab = areaTab(width, dstW, scaleX), ytab = areaTab(height, dstH, scaleY);
  const rowBuf = new Float32Array(dstW * channels);
  const sum = new Float64Array(dstW * channels);
  let prevDy = -1, prevSy = -1;
  const flush = (dy) => {
    for (let i = 0; i < sum.length; i++) out[dy * dstW * channels + i] = asUint8 ? roundHalfEven(sum[i]) : sum[i];
    sum.fill(0);
  };
  for (let k = 0; k < ytab.count; k++) {
    const dy = ytab.dst[k], sy = ytab.src[k], beta = ytab.weight[k];
    if (dy !== prevDy && prevDy >= 0) flush(prevDy);
    prevDy = dy;
    if (sy !== prevSy) {  // a source row straddling two destination rows is filtered once for both
      prevSy = sy;
      rowBuf.fill(0);
      const rowOff = sy * width * channels;
      for (let j = 0; j < xtab.count; j++) {
        const o = xtab.dst[j] * channels, from = rowOff + xtab.src[j] * channels, alpha = xtab.weight[j];
        if (channels === 3) {  // the photo and the pyramid; the sharpness measure's grey is the other case
          rowBuf[o] += alpha * src[from]; rowBuf[o + 1] += alpha * src[from + 1]; rowBuf[o + 2] += alpha * src[from + 2];
        } else for (let c = 0; c < channels; c++) rowBuf[o + c] += alpha * src[from + c];
      }
    }
    for (let i = 0; i < sum.length; i++) sum[i] += beta * rowBuf[i];
  }
  if (prevDy >= 0) flush(prevDy);
  return out;
}

// descending: argsort by score, highest first (ties: later index first, as argsort()[::-1]).
export function descending(scores) {
  const idx = scores.map((_, i) => i);
  idx.sort((a, b) => (scores[b] - scores[a]) || (b - a));
  return idx;
}

// pnet_boxes: reg (h*w*4), prob (h*w, the face probability) -> boxes [[x1,y1,x2,y2]], scores.
export function pnetBoxes(reg, prob, h, w, threshold, scale) {
  const boxes = [], scores = [];
  const size = PNET_CELL - 1;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const p = prob[y * w + x];
    if (!(p > Math.fround(threshold))) continue;  // numpy compares float32 scores in float32
    const r = reg.subarray((y * w + x) * 4, (y * w + x) * 4 + 4);
    const x1 = x * PNET_STRIDE + 1, y1 = y * PNET_STRIDE + 1;
    const x2 = x * PNET_STRIDE + PNET_CELL, y2 = y * PNET_STRIDE + PNET_CELL;
    boxes.push([x1 + r[0] * size, y1 + r[1] * size, x2 + r[2] * size, y2 + r[3] * size]);
    scores.push(p);
  }
  const order = descending(scores);
  return { boxes: order.map((i) => boxes[i].map((v) => v / scale)), scores: order.map((i) => scores[i]) };
}

// iou_matrix for one pair
export function iou(a, b, method = 'union') {
  const areaA = (a[2] - a[0]) * (a[3] - a[1]), areaB = (b[2] - b[0]) * (b[3] - b[1]);
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  if (method === 'union') return inter / (areaA + areaB - inter);
  if (method === 'min') return inter / Math.min(areaA, areaB);
  throw new Error(`method must be 'union' or 'min', got ${method}`);
}

// suppress: keep a box unless ANY earlier box (kept or not) overlaps it above the threshold.
export function suppress(boxes, threshold, method = 'union') {
  const keep = [];
  for (let j = 0; j < boxes.length; j++) {
    let ok = true;
    for (let i = 0; i < j && ok; i++) if (iou(boxes[i], boxes[j], method) > threshold) ok = false;
    if (ok) keep.push(j);
  }
  return keep;
}

// nms (smart_nms_from_bboxes for one image)
export function nms(boxes, scores, threshold, method = 'union', initialSort = true, extra = null) {
  if (initialSort) {
    const order = descending(scores);
    boxes = order.map((i) => boxes[i]); scores = order.map((i) => scores[i]);
    if (extra) extra = order.map((i) => extra[i]);
  }
  const keep = suppress(boxes, threshold, method);
  return { boxes: keep.map((i) => boxes[i]), scores: keep.map((i) => scores[i]), extra: extra ? keep.map((i) => extra[i]) : null };
}

// to_square
export function toSquare(boxes) {
  return boxes.map(([x1, y1, x2, y2]) => {
    const w = x2 - x1, h = y2 - y1, side = Math.max(w, h);
    const nx = x1 + w * 0.5 - side * 0.5, ny = y1 + h * 0.5 - side * 0.5;
    return [nx, ny, nx + side, ny + side];
  });
}

// apply_offsets: offsets (n*4 float32) times the box size (with +1)
export function applyOffsets(boxes, offsets) {
  return boxes.map((b, i) => {
    const w = b[2] - b[0] + 1, h = b[3] - b[1] + 1;
    const o = offsets.subarray(i * 4, i * 4 + 4);
    return [b[0] + o[0] * w, b[1] + o[1] * h, b[2] + o[2] * w, b[3] + o[3] * h];
  });
}

// place_landmarks: O-Net's x1..x5, y1..y5 box fractions -> [[x, y] x 5] pixels
export function placeLandmarks(landmarks, boxes) {
  return boxes.map((b, i) => {
    const lm = landmarks.subarray(i * 10, i * 10 + 10);
    const w = b[2] - b[0] + 1, h = b[3] - b[1] + 1;
    const pts = [];
    for (let k = 0; k < 5; k++) pts.push([w * lm[k] + b[0] - 1, h * lm[5 + k] + b[1] - 1]);
    return pts;
  });
}

// crop_and_resize: tf.image.crop_and_resize(image, boxes / [H, W, H, W], size), bilinear, zero
// outside; float32 arithmetic in TensorFlow's order. image: float32 H*W*3 -> n*size*size*3.
export function cropAndResize(image, hgt, wid, boxes, size) {
  const f = Math.fround;
  const out = new Float32Array(boxes.length * size * size * 3);
  const inY = new Float32Array(size), inX = new Float32Array(size);
  boxes.forEach((b, n) => {
    const ny1 = f(b[1] / hgt), nx1 = f(b[0] / wid), ny2 = f(b[3] / hgt), nx2 = f(b[2] / wid);
    const stepY = f(f(f(ny2 - ny1) * (hgt - 1)) / (size - 1));
    const stepX = f(f(f(nx2 - nx1) * (wid - 1)) / (size - 1));
    const y0 = f(ny1 * (hgt - 1)), x0 = f(nx1 * (wid - 1));
    for (let s = 0; s < size; s++) { inY[s] = f(y0 + f(s * stepY)); inX[s] = f(x0 + f(s * stepX)); }
    for (let yy = 0; yy < size; yy++) {
      const iy = inY[yy];
      const okY = iy >= 0 && iy <= hgt - 1;
      const top = Math.min(Math.max(Math.floor(iy), 0), hgt - 1), bottom = Math.min(Math.max(Math.ceil(iy), 0), hgt - 1);
      const yl = f(iy - Math.floor(iy));
      for (let xx = 0; xx < size; xx++) {
        const ix = inX[xx];
        const o = ((n * size + yy) * size + xx) * 3;
        if (!(okY && ix >= 0 && ix <= wid - 1)) continue;  // stays 0
        const left = Math.min(Math.max(Math.floor(ix), 0), wid - 1), right = Math.min(Math.max(Math.ceil(ix), 0), wid - 1);
        const xl = f(ix - Math.floor(ix));
        for (let c = 0; c < 3; c++) {
          const tl = image[(top * wid + left) * 3 + c], tr = image[(top * wid + right) * 3 + c];
          const bl = image[(bottom * wid + left) * 3 + c], br = image[(bottom * wid + right) * 3 + c];
          const t = f(tl + f(f(tr - tl) * xl));
          const btm = f(bl + f(f(br - bl) * xl));
          out[o + c] = f(t + f(f(btm - t) * yl));
        }
      }
    }
  });
  return out;
}

// fit_to_image
export function fitToImage(boxes, height, width) {
  const cx = (v) => Math.min(Math.max(v, 0), width - 1), cy = (v) => Math.min(Math.max(v, 0), height - 1);
  return boxes.map(([x1, y1, x2, y2]) => [cx(x1), cy(y1), cx(x2), cy(y2)]);
}

// whole_pixels
export function wholePixels(boxes, landmarks) {
  return {
    boxes: boxes.map((b) => [b[0], b[1], b[0] + (b[2] - b[0]), b[1] + (b[3] - b[1])].map(roundHalfEven)),
    landmarks: landmarks.map((pts) => pts.map(([x, y]) => [roundHalfEven(x), roundHalfEven(y)])),
  };
}

// Pick each network output by its last dimension (runtimes do not keep output order).
export function roles(net, outputs) {
  const want = OUTPUT_ROLES[net];
  const got = {};
  for (const o of outputs) {
    const role = want[o.dims[o.dims.length - 1]];
    if (!role || got[role]) throw new Error(`MTCNN ${net}: unexpected outputs ${outputs.map((x) => `[${x.dims}]`).join(' ')}`);
    got[role] = o.data;
  }
  if (Object.keys(got).length !== Object.keys(want).length) throw new Error(`MTCNN ${net}: outputs lack a role`);
  return got;
}

// The cascade (MtcnnLiteDetector.detect). rgb: Uint8 H*W*3. runNet(net, Float32Array, dims) ->
// [{dims, data}]. Returns [{box, confidence, landmarks}] in the image's pixels.
export async function detect(rgb, height, width, runNet, cfg = CASCADE_DEFAULTS) {
  const image = normalise(rgb);
  let boxes = await stagePnet(image, height, width, runNet, cfg);
  if (boxes.length) boxes = await stageRnet(image, height, width, boxes, runNet, cfg);
  if (!boxes.length) return [];
  const o = await stageOnet(image, height, width, boxes, runNet, cfg);
  let fitted = fitToImage(o.boxes, height, width);
  let lms = o.extra;
  if (cfg.whole_pixels) ({ boxes: fitted, landmarks: lms } = wholePixels(fitted, lms));
  return fitted.map((b, i) => ({ box: b, confidence: Math.min(Math.max(o.scores[i], 0), 1), landmarks: lms[i] }));
}

async function stagePnet(image, height, width, runNet, cfg) {
  let allBoxes = [], allScores = [];
  for (const scale of scalePyramid(height, width, cfg)) {
    const [h, w] = scaledShape(height, width, scale);
    if (Math.min(h, w) < PNET_CELL) continue;
    const resized = resizeArea(image, height, width, 3, h, w);
    const raw = await runNet('pnet', resized, [1, h, w, 3]);
    const out = roles('pnet', raw);
    const [, oh, ow] = raw[0].dims;  // the network's own output grid (its pooling rounds up)
    const prob = new Float32Array(oh * ow);
    for (let i = 0; i < oh * ow; i++) prob[i] = out.face_prob[i * 2 + 1];
    const p = pnetBoxes(out.bbox_reg, prob, oh, ow, cfg.threshold_pnet, scale);
    if (p.boxes.length) {
      const k = nms(p.boxes, p.scores, cfg.nms_pnet1, 'union', false);
      allBoxes = allBoxes.concat(k.boxes); allScores = allScores.concat(k.scores);
    }
  }
  if (!allBoxes.length) return [];
  return toSquare(nms(allBoxes, allScores, cfg.nms_pnet2, 'union').boxes);
}

async function stageRnet(image, height, width, boxes, runNet, cfg) {
  const out = roles('rnet', await runNet('rnet', cropAndResize(image, height, width, boxes, 24), [boxes.length, 24, 24, 3]));
  const refined = applyOffsets(boxes, out.bbox_reg);
  const kb = [], ks = [];
  refined.forEach((b, i) => { const s = out.face_prob[i * 2 + 1]; if (s > cfg.threshold_rnet) { kb.push(b); ks.push(s); } });
  if (!kb.length) return [];
  return toSquare(nms(kb, ks, cfg.nms_rnet, 'union').boxes);
}

async function stageOnet(image, height, width, boxes, runNet, cfg) {
  const out = roles('onet', await runNet('onet', cropAndResize(image, height, width, boxes, 48), [boxes.length, 48, 48, 3]));
  const landmarks = placeLandmarks(out.landmarks, boxes);
  const refined = applyOffsets(boxes, out.bbox_reg);
  const kb = [], ks = [], kl = [];
  refined.forEach((b, i) => {
    const s = out.face_prob[i * 2 + 1];
    if (s > cfg.threshold_onet) { kb.push(b); ks.push(s); kl.push(landmarks[i]); }
  });
  if (!kb.length) return { boxes: [], scores: [], extra: [] };
  return nms(kb, ks, cfg.nms_onet, 'min', true, kl);
}
