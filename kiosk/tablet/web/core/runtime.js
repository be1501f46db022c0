// Browser inference runtimes, in a registry: each opens one of the bundle's verified artifacts and
// returns `run(Float32Array, dims) -> [{dims, data}]`. Runtime files are served by the app itself
// (vendor/, copied from the npm registry's packages at build time); nothing comes from a CDN.
// Which runtime the app offers is written in app.json by the export, after the parity gate.

const RUNTIMES = {};

// fetch that refuses an HTTP error: a missing model file would otherwise reach the runtime as the
// server's error page and fail as "protobuf parsing failed", naming neither the file nor the cause
export async function fetchOk(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${r.statusText}`.trim());
  return r;
}

export function registerRuntime(name, factory) { RUNTIMES[name] = factory; }

export async function openRuntime(name, base) {
  const factory = RUNTIMES[name];
  if (!factory) throw new Error(`unknown browser runtime ${JSON.stringify(name)}; expected one of ${Object.keys(RUNTIMES).join(', ')}`);
  return factory(base);
}

// WebAssembly threads: they need SharedArrayBuffer, which only a cross-origin isolated page has (the
// kiosk's headers, or the service worker's for a static copy); a USB-stick copy (file://) stays on one
export function wasmThreads() {
  return self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
}

// onnxruntime-web (WebAssembly, SIMD): any input shape per call, as P-Net's pyramid and the
// batched R-/O-Net crops need; the onnx-int8 screener takes float pixels (QDQ inside the graph).
registerRuntime('onnxruntime-web', async (base) => {
  const ort = await import(new URL('vendor/onnxruntime-web/ort.wasm.min.mjs', base).href);
  ort.env.wasm.wasmPaths = new URL('vendor/onnxruntime-web/', base).href;
  const threads = wasmThreads();
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  return {
    name: 'onnxruntime-web',
    version: ort.env.versions?.web || '',
    device: `wasm x${threads}`,  // shown in the result's backend label
    async open(url) {
      const bytes = new Uint8Array(await (await fetchOk(url)).arrayBuffer());
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const input = session.inputNames[0];
      return async (data, dims) => {
        const out = await session.run({ [input]: new ort.Tensor('float32', data, dims) });
        return session.outputNames.map((k) => ({ dims: out[k].dims, data: out[k].data }));
      };
    },
  };
});

// LiteRT.js (@litertjs/core, XNNPack in WebAssembly): fixed input shapes per compiled model.
registerRuntime('litert-js', async (base) => {
  const lrt = await import(new URL('vendor/litertjs/core/index.js', base).href);
  await lrt.loadLiteRt(new URL('vendor/litertjs/core/wasm/', base).href);
  return {
    name: 'litert-js',
    version: '',
    device: 'wasm',
    async open(url) {
      const model = await lrt.loadAndCompile(url, { accelerator: 'wasm' });
      return async (data, dims) => {
        const t = new lrt.Tensor(data, dims);
        const outs = await model.run(t);
        t.delete();
        const res = [];
        for (const o of outs) {
          const host = await o.moveTo('wasm');
          res.push({ dims: Array.from(host.type.layout.dimensions), data: host.toTypedArray().slice() });
          host.delete();
        }
        return res;
      };
    },
  };
});
