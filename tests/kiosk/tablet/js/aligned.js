// The runtime matrix's browser cells (tests/test_runtime_matrix.py): the app's screener alone, without
// a detector or a face mesh (the stage has neither), screening faces aligned already.
const base = new URL('./', location.href);
const { pixels } = await import(new URL('harness.js', base).href);
const { BrowserScreener, loadApp } = await import(new URL('core/screen.js', base).href);
const { openRuntime } = await import(new URL('core/runtime.js', base).href);

let screener = null;

export async function open() {
  const { app, card } = await loadApp(base);
  const rt = await openRuntime(app.runtime, base);
  screener = new BrowserScreener(app, card, rt, {}, await rt.open(new URL(app.screener.file, base).href));
  return screener.backendLabel;
}

// `n` aligned (s, s, 3) uint8 faces, one after another in base64: each one's answer
export async function screenAligned(b64, n, s) {
  const all = pixels(b64), out = [];
  for (let i = 0; i < n; i++) {
    const r = await screener.screenAligned(all.subarray(i * s * s * 3, (i + 1) * s * s * 3));
    out.push({ probability: r.probability, flag: r.flag, class_probabilities: Array.from(r.class_probabilities) });
  }
  return out;
}
