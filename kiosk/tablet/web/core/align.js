// Five-point similarity alignment in the browser, the same as edge/align.py's align_face: the
// least-squares similarity onto the card's template, pyrDown while the warp shrinks by more than
// 2x, then OpenCV's warpAffine (INTER_LINEAR, BORDER_REPLICATE) in its own fixed-point arithmetic
// (INTER_BITS = 5, 15-bit weights), so the crop the screener sees is the Python crop, pixel for pixel.
// The warp reads only a small rectangle of the photo, so each pyramid level is computed only over
// the rectangle the next step reads: the same pixels as OpenCV's whole-image pyrDown there, in a
// fraction of the time. Pinned by tests/kiosk/tablet/test_tablet_ops.py.

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

// A region: the pixels of the rectangle x0..x1, y0..y1 (inclusive) of an image, uint8 RGB, row by row.
const whole = (data, h, w) => ({ data, x0: 0, y0: 0, x1: w - 1, y1: h - 1 });

// BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba)
const reflect101 = (i, n) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);

// the five source offsets (index * step, from origin) of each of `count` outputs from `first` on
function pyrTaps(first, count, n, origin, step) {
  const taps = new Int32Array(count * 5);
  for (let j = 0; j < count; j++) {
    for (let t = 0; t < 5; t++) taps[j * 5 + t] = (reflect101(2 * (first + j) + t - 2, n) - origin) * step;
  }
  return taps;
}

// the source rectangle pyrDown reads for the output rectangle r of an (h, w) image: its 5-tap
// support, where the reflected taps fall too (for sides >= 3; alignFace halves sides >= 8 only)
function pyrSupport(r, h, w) {
  return { x0: Math.max(2 * r.x0 - 2, 0), y0: Math.max(2 * r.y0 - 2, 0), x1: Math.min(2 * r.x1 + 2, w - 1), y1: Math.min(2 * r.y1 + 2, h - 1) };
}

// cv::pyrDown of an (h, w) image over the output rectangle r, from a region holding pyrSupport(r):
// 5-tap [1 4 6 4 1] / 16 both ways, BORDER_REFLECT_101 at the image's true borders, (sum + 128) >> 8
function pyrDownRegion(src, h, w, r) {
  const ow = r.x1 - r.x0 + 1, oh = r.y1 - r.y0 + 1, line = ow * 3, d = src.data;
  const sup = pyrSupport(r, h, w), srcLine = (src.x1 - src.x0 + 1) * 3;
  const cols = pyrTaps(r.x0, ow, w, src.x0, 3), rows = pyrTaps(r.y0, oh, h, sup.y0, line);
  const hs = new Uint16Array((sup.y1 - sup.y0 + 1) * line);  // horizontal pass on the rows read (<= 16 * 255)
  for (let y = sup.y0, o = 0; y <= sup.y1; y++) {
    const base = (y - src.y0) * srcLine;
    for (let x = 0; x < ow; x++, o += 3) {
      const a = base + cols[x * 5], b = base + cols[x * 5 + 1], c = base + cols[x * 5 + 2];
      const e = base + cols[x * 5 + 3], f = base + cols[x * 5 + 4];
      hs[o] = d[a] + 4 * (d[b] + d[e]) + 6 * d[c] + d[f];
      hs[o + 1] = d[a + 1] + 4 * (d[b + 1] + d[e + 1]) + 6 * d[c + 1] + d[f + 1];
      hs[o + 2] = d[a + 2] + 4 * (d[b + 2] + d[e + 2]) + 6 * d[c + 2] + d[f + 2];
    }
  }
  const out = new Uint8Array(oh * line);
  for (let y = 0, o = 0; y < oh; y++) {
    const a = rows[y * 5], b = rows[y * 5 + 1], c = rows[y * 5 + 2], e = rows[y * 5 + 3], f = rows[y * 5 + 4];
    for (let i = 0; i < line; i++, o++) out[o] = (hs[a + i] + 4 * (hs[b + i] + hs[e + i]) + 6 * hs[c + i] + hs[f + i] + 128) >> 8;
  }
  return { ...r, data: out };
}

// cv::pyrDown on uint8 RGB, the whole image
export function pyrDown(src, h, w) {
  const dh = (h + 1) >> 1, dw = (w + 1) >> 1;
  return { data: pyrDownRegion(whole(src, h, w), h, w, { x0: 0, y0: 0, x1: dw - 1, y1: dh - 1 }).data, height: dh, width: dw };
}

// the source rectangle of an (h, w) image that warpRegion reads through m for a size x size crop:
// the inverse-mapped crop's corners (an affine map's extremes), widened by a pixel for the
// fixed-point rounding and one more above for the bilinear neighbour, clamped as BORDER_REPLICATE clamps
function warpSupport(m, size, h, w) {
  const inv = invertAffine(m), xs = [], ys = [];
  for (const [u, v] of [[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]]) {
    xs.push(inv[0][0] * u + inv[0][1] * v + inv[0][2]);
    ys.push(inv[1][0] * u + inv[1][1] * v + inv[1][2]);
  }
  const clamp = (v, n) => Math.min(Math.max(v, 0), n - 1);
  return {
    x0: clamp(Math.floor(Math.min(...xs)) - 1, w), x1: clamp(Math.floor(Math.max(...xs)) + 2, w),
    y0: clamp(Math.floor(Math.min(...ys)) - 1, h), y1: clamp(Math.floor(Math.max(...ys)) + 2, h),
  };
}

// cv::warpAffine(src, m, (size, size), INTER_LINEAR, BORDER_REPLICATE) of an (h, w) image, read from
// a region holding every pixel the warp samples (warpSupport)
function warpRegion(src, h, w, m, size) {
  const inv = invertAffine(m);
  const AB = 1024, ROUND = 16;  // AB_BITS = 10; round_delta = AB_SCALE / INTER_TAB_SIZE / 2
  const out = new Uint8ClampedArray(size * size * 3);
  const adelta = new Int32Array(size), bdelta = new Int32Array(size);
  for (let x = 0; x < size; x++) { adelta[x] = cvRound(inv[0][0] * x * AB); bdelta[x] = cvRound(inv[1][0] * x * AB); }
  const d = src.data, line = (src.x1 - src.x0 + 1) * 3;
  for (let y = 0, o = 0; y < size; y++) {
    const X0 = cvRound((inv[0][1] * y + inv[0][2]) * AB) + ROUND;
    const Y0 = cvRound((inv[1][1] * y + inv[1][2]) * AB) + ROUND;
    for (let x = 0; x < size; x++, o += 3) {
      const X = (X0 + adelta[x]) >> 5, Y = (Y0 + bdelta[x]) >> 5;
      const sx = X >> 5, sy = Y >> 5, fx = X & 31, fy = Y & 31;
      // the 2-D weights are multiples of 1/1024, so their 15-bit forms are exact and sum to 32768
      const w00 = (32 - fy) * (32 - fx) * 32, w01 = (32 - fy) * fx * 32, w10 = fy * (32 - fx) * 32, w11 = fy * fx * 32;
      const c0 = ((sx < 0 ? 0 : sx >= w ? w - 1 : sx) - src.x0) * 3, c1 = ((sx + 1 < 0 ? 0 : sx + 1 >= w ? w - 1 : sx + 1) - src.x0) * 3;
      const r0 = ((sy < 0 ? 0 : sy >= h ? h - 1 : sy) - src.y0) * line, r1 = ((sy + 1 < 0 ? 0 : sy + 1 >= h ? h - 1 : sy + 1) - src.y0) * line;
      const a = r0 + c0, b = r0 + c1, c = r1 + c0, e = r1 + c1;
      out[o] = (d[a] * w00 + d[b] * w01 + d[c] * w10 + d[e] * w11 + (1 << 14)) >> 15;
      out[o + 1] = (d[a + 1] * w00 + d[b + 1] * w01 + d[c + 1] * w10 + d[e + 1] * w11 + (1 << 14)) >> 15;
      out[o + 2] = (d[a + 2] * w00 + d[b + 2] * w01 + d[c + 2] * w10 + d[e + 2] * w11 + (1 << 14)) >> 15;
    }
  }
  return out;
}

// cv::warpAffine(src, m, (size, size), INTER_LINEAR, BORDER_REPLICATE) on uint8 RGB.
export function warpAffine(src, h, w, m, size) {
  return warpRegion(whole(src, h, w), h, w, m, size);
}

// align_face: template points are fractions of the crop side (the card's alignment.points).
export function alignFace(rgb, h, w, landmarks, size, templatePoints) {
  const dst = templatePoints.map(([x, y]) => [x * size, y * size]);
  const matrix = similarityTransform(landmarks, dst);
  const m = matrix.map((r) => r.slice());
  const sides = [[h, w]];  // (height, width) of each pyramid level
  let scale = Math.sqrt(Math.abs(m[0][0] * m[1][1] - m[0][1] * m[1][0]));
  while (scale < 0.5 && Math.min(...sides.at(-1)) >= 8) {
    const [sh, sw] = sides.at(-1);
    sides.push([(sh + 1) >> 1, (sw + 1) >> 1]);
    // pixel centres: x_full = 2 * x_half + 0.5
    m[0][2] += 0.5 * (m[0][0] + m[0][1]);
    m[1][2] += 0.5 * (m[1][0] + m[1][1]);
    m[0][0] *= 2; m[0][1] *= 2; m[1][0] *= 2; m[1][1] *= 2;
    scale *= 2;
  }
  // the rectangle each level must hold, from the warp's back up to the photo's first halving
  const top = sides.length - 1, need = [];
  need[top] = warpSupport(m, size, ...sides[top]);
  for (let l = top; l > 1; l--) need[l - 1] = pyrSupport(need[l], ...sides[l - 1]);
  let src = whole(rgb, h, w);
  for (let l = 1; l <= top; l++) src = pyrDownRegion(src, ...sides[l - 1], need[l]);
  return { image: warpRegion(src, ...sides[top], m, size), matrix };
}
