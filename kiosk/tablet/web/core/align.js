// Five-point similarity alignment in the browser, the same as edge/align.py's align_face: the
// least-squares similarity onto the card's template, pyrDown while the warp shrinks by more than
// 2x, then OpenCV's warpAffine (INTER_LINEAR, BORDER_REPLICATE) in its own fixed-point arithmetic
// (INTER_BITS = 5, 15-bit weights), so the crop the screener sees is the Python crop, pixel for pixel.
// Pinned by tests/kiosk/tablet/test_tablet_ops.py.

// similarity_transform (Umeyama 1991). In 2-D the best proper rotation of the cross-covariance C
// has the closed form [[a, -b], [b, a]] / |(a, b)| with a = C00 + C11, b = C10 - C01, and the
// scale is |(a, b)| / var(src): the SVD solution, without an SVD.
export function similarityTransform(src, dst) {
  const n = src.length;
  let msx = 0, msy = 0, mdx = 0, mdy = 0;
  for (let i = 0; i < n; i++) { msx += src[i][0]; msy += src[i][1]; mdx += dst[i][0]; mdy += dst[i][1]; }
  msx /= n; msy /= n; mdx /= n; mdy /= n;
  let varS = 0, c00 = 0, c01 = 0, c10 = 0, c11 = 0;
  for (let i = 0; i < n; i++) {
    const sx = src[i][0] - msx, sy = src[i][1] - msy, dx = dst[i][0] - mdx, dy = dst[i][1] - mdy;
    varS += sx * sx + sy * sy;
    c00 += dx * sx; c01 += dx * sy; c10 += dy * sx; c11 += dy * sy;
  }
  varS /= n;
  if (varS < 1e-9) throw new Error('landmarks are degenerate (all at one point)');
  const a = (c00 + c11) / n / varS, b = (c10 - c01) / n / varS;
  return [[a, -b, mdx - (a * msx - b * msy)], [b, a, mdy - (b * msx + a * msy)]];
}

// cv::invertAffineTransform
export function invertAffine(m) {
  let d = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  d = d !== 0 ? 1 / d : 0;
  const a11 = m[1][1] * d, a22 = m[0][0] * d, a12 = -m[0][1] * d, a21 = -m[1][0] * d;
  return [[a11, a12, -a11 * m[0][2] - a12 * m[1][2]], [a21, a22, -a21 * m[0][2] - a22 * m[1][2]]];
}

// cvRound / saturate_cast<int>(double): round half to even
function cvRound(x) {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

// cv::pyrDown on uint8 RGB: 5-tap [1 4 6 4 1] / 16 both ways, BORDER_REFLECT_101, (sum + 128) >> 8.
export function pyrDown(src, h, w) {
  const dh = (h + 1) >> 1, dw = (w + 1) >> 1;
  const refl = (i, n) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const k = [1, 4, 6, 4, 1];
  const rows = new Int32Array(h * dw * 3);  // horizontal pass on every source row
  for (let y = 0; y < h; y++) for (let x = 0; x < dw; x++) for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let t = -2; t <= 2; t++) s += k[t + 2] * src[(y * w + refl(2 * x + t, w)) * 3 + c];
    rows[(y * dw + x) * 3 + c] = s;
  }
  const out = new Uint8ClampedArray(dh * dw * 3);
  for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let t = -2; t <= 2; t++) s += k[t + 2] * rows[(refl(2 * y + t, h) * dw + x) * 3 + c];
    out[(y * dw + x) * 3 + c] = (s + 128) >> 8;
  }
  return { data: out, height: dh, width: dw };
}

// cv::warpAffine(src, m, (size, size), INTER_LINEAR, BORDER_REPLICATE) on uint8 RGB.
export function warpAffine(src, h, w, m, size) {
  const inv = invertAffine(m);
  const AB = 1024, ROUND = 16;  // AB_BITS = 10; round_delta = AB_SCALE / INTER_TAB_SIZE / 2
  const out = new Uint8ClampedArray(size * size * 3);
  const adelta = new Int32Array(size), bdelta = new Int32Array(size);
  for (let x = 0; x < size; x++) { adelta[x] = cvRound(inv[0][0] * x * AB); bdelta[x] = cvRound(inv[1][0] * x * AB); }
  const clampX = (v) => (v < 0 ? 0 : v >= w ? w - 1 : v), clampY = (v) => (v < 0 ? 0 : v >= h ? h - 1 : v);
  for (let y = 0; y < size; y++) {
    const X0 = cvRound((inv[0][1] * y + inv[0][2]) * AB) + ROUND;
    const Y0 = cvRound((inv[1][1] * y + inv[1][2]) * AB) + ROUND;
    for (let x = 0; x < size; x++) {
      const X = (X0 + adelta[x]) >> 5, Y = (Y0 + bdelta[x]) >> 5;
      const sx = X >> 5, sy = Y >> 5, fx = X & 31, fy = Y & 31;
      // the 2-D weights are multiples of 1/1024, so their 15-bit forms are exact and sum to 32768
      const w00 = (32 - fy) * (32 - fx) * 32, w01 = (32 - fy) * fx * 32, w10 = fy * (32 - fx) * 32, w11 = fy * fx * 32;
      const x0 = clampX(sx), x1 = clampX(sx + 1), y0 = clampY(sy), y1 = clampY(sy + 1);
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = src[(y0 * w + x0) * 3 + c] * w00 + src[(y0 * w + x1) * 3 + c] * w01
          + src[(y1 * w + x0) * 3 + c] * w10 + src[(y1 * w + x1) * 3 + c] * w11;
        out[o + c] = (v + (1 << 14)) >> 15;
      }
    }
  }
  return out;
}

// align_face: template points are fractions of the crop side (the card's alignment.points).
export function alignFace(rgb, h, w, landmarks, size, templatePoints) {
  const dst = templatePoints.map(([x, y]) => [x * size, y * size]);
  const matrix = similarityTransform(landmarks, dst);
  let src = rgb, sh = h, sw = w;
  const m = matrix.map((r) => r.slice());
  let scale = Math.sqrt(Math.abs(m[0][0] * m[1][1] - m[0][1] * m[1][0]));
  while (scale < 0.5 && Math.min(sh, sw) >= 8) {
    ({ data: src, height: sh, width: sw } = pyrDown(src, sh, sw));
    // pixel centres: x_full = 2 * x_half + 0.5
    m[0][2] += 0.5 * (m[0][0] + m[0][1]);
    m[1][2] += 0.5 * (m[1][0] + m[1][1]);
    m[0][0] *= 2; m[0][1] *= 2; m[1][0] *= 2; m[1][1] *= 2;
    scale *= 2;
  }
  return { image: warpAffine(src, sh, sw, m, size), matrix };
}
