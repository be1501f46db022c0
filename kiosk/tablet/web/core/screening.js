// The model card's post-processing, ported from edge/postprocess.py: the card's temperature
// (apply_temperature), the summed positive-class probability (screening_probability) and the flag
// rule (flagged). Pinned against those Python functions in Chromium by
// tests/kiosk/tablet/test_tablet_screening.py, and run by every cell of the runtime matrix.

// edge.postprocess._PROB_FLOOR: a quantised output gives exact zeros, floored before the logarithm
export const PROB_FLOOR = 1e-7;

// softmax(log p / T), computed from the softmax output itself; T == 1 returns the probabilities
// unchanged. Doubles throughout, as numpy's float64; each result rounded to float32, as
// Screener.predict casts it.
export function applyTemperature(probs, temperature = 1) {
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new Error(`temperature must be a finite number > 0, got ${temperature}`);
  if (temperature === 1) return Array.from(probs, Math.fround);
  const z = Array.from(probs, (p) => Math.log(Math.min(Math.max(p, PROB_FLOOR), 1)) / temperature);
  const top = Math.max(...z);
  const e = z.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => Math.fround(v / sum));
}

// Summed probability of the positive classes (indices), clipped to [0, 1].
export function screeningProbability(probs, positive) {
  let p = 0;
  for (const k of positive) p += probs[k];
  return Math.min(Math.max(p, 0), 1);
}

// The screening rule (edge.postprocess.flagged).
export function flagged(probability, threshold) { return probability >= threshold; }
