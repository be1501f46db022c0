// The browser side of kiosk/tablet/gap.py: one ONNX Runtime Web build, one execution provider, the
// screener graphs run on the same aligned faces that Python runs them on. Each face is run `runs`
// times after one untimed warm-up; the answer is each graph's median milliseconds per face and its
// raw outputs on every face, so that Python can hold them to the gate rule.

// the app's own rules (core/runtime.js, linked beside this file by gap.py)
const { fetchOk, wasmThreads } = await import(new URL('runtime.js', import.meta.url).href);

function pixels(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function webgpuAdapter() {
  if (!navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info || {};
  return [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
}

// WebNN: whether this browser offers a CPU context at all (Chromium on Linux says why not)
async function webnn() {
  if (!navigator.ml) return 'navigator.ml is absent';
  try {
    await navigator.ml.createContext({ deviceType: 'cpu' });
    return 'a CPU context opens';
  } catch (e) {
    return String(e);
  }
}

export async function measure(ortModule, ep, models, faces, size, runs) {
  const ort = await import(new URL(ortModule, location.href).href);
  ort.env.wasm.wasmPaths = new URL('./', new URL(ortModule, location.href)).href;
  const threads = wasmThreads();
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  const out = { ep, threads, isolated: self.crossOriginIsolated, webnn: await webnn(), adapter: null, models: {} };
  if (ep === 'webgpu') {
    out.adapter = await webgpuAdapter();
    if (!out.adapter) return out;
  }
  const inputs = faces.map((b64) => Float32Array.from(pixels(b64)));
  for (const [name, url] of Object.entries(models)) {
    try {
      const bytes = new Uint8Array(await (await fetchOk(new URL(url, location.href))).arrayBuffer());
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all' });
      const input = session.inputNames[0];
      const run = (x) => session.run({ [input]: new ort.Tensor('float32', x, [1, size, size, 3]) });
      await run(inputs[0]);
      const ms = [], probs = [];
      for (const x of inputs) {
        let r = null;
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          r = await run(x);
          ms.push(performance.now() - t0);
        }
        // the (1, K) output: edge.backends.base.split_outputs picks it by rank
        const key = session.outputNames.find((k) => r[k].dims.length === 2);
        probs.push(Array.from(r[key].data));
      }
      ms.sort((a, b) => a - b);
      out.models[name] = { median_ms: ms[ms.length >> 1], probs };
      await session.release();
    } catch (e) {
      out.models[name] = { error: String(e).slice(0, 400) };
    }
  }
  return out;
}
