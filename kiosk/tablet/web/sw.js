// The service worker: after one visit, the page, the runtime and the bundle's browser artifacts
// (every file app.json lists, each checked against its SHA-256 there) are in the cache, so the app
// opens and screens in airplane mode.
// One cache per app version (app.json's content hash, in this script's URL): a new export, found by
// the page's check past every cache (app.js checkForUpdate), installs beside the old one and the old
// cache is dropped once the new one is complete.
// Every response it serves carries cross-origin isolation (the headers kiosk/isolation.py names), so
// a statically hosted copy, which cannot set headers, still gets SharedArrayBuffer and so
// multi-threaded WebAssembly from the second visit on (the first is served before the worker runs).
const VERSION = new URL(self.location.href).searchParams.get('v') || 'dev';
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

function isolated(response) {
  if (!response || response.type === 'opaque' || response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [k, v] of Object.entries(ISOLATION)) headers.set(k, v);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
const CACHE = `facescreen-tablet-${VERSION}`;

// A file for the offline copy: from the network, never the browser's HTTP cache (cache: 'reload'),
// and the very file the export wrote (its SHA-256 in app.json) or none. With addAll, a static host's
// cached copy of the previous export (the same file names: model/*.onnx, core/*.js) could be kept
// under the new version, the new model card screening with the old model, past the parity gate.
async function exported(path, sha256) {
  const resp = await fetch(new Request(path, { cache: 'reload' }));
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  if (sha256) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await resp.clone().arrayBuffer()));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    if (hex !== sha256) throw new Error(`${path} is not the file this app was exported with (its SHA-256 differs from app.json's)`);
  }
  return resp;
}

// Why the offline copy was not kept, to the pages (app.js shows it on its badge): a failed install
// was silent, and the app simply never became ready to work without a network.
async function tell(reason) {
  for (const c of await self.clients.matchAll({ includeUncontrolled: true, type: 'window' })) c.postMessage({ offlineFailed: reason, version: VERSION });
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    try {
      // app.json read once: the copy kept is the one whose hashes every other file was checked against
      const listed = await fetch('app.json', { cache: 'no-store' });
      if (!listed.ok) throw new Error(`app.json: HTTP ${listed.status}`);
      const app = await listed.clone().json();
      const cache = await caches.open(CACHE);
      await cache.put('app.json', listed);
      for (const [path, sha256] of [['./', app.files['index.html']], ...Object.entries(app.files)]) {
        await cache.put(path, await exported(path, sha256));
      }
    } catch (err) {
      await caches.delete(CACHE);  // half a copy is no copy: the next visit tries again
      await tell(err.message || String(err));
      throw err;
    }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('facescreen-tablet-') && key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  // only the app's own files; sync POSTs to a kiosk and anything cross-origin go to the network
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  // a page asking past every cache (the app's check for a new export, app.js checkForUpdate) gets the
  // network's answer: from this copy, an installed tablet saw its first export's app.json for good
  if (req.cache === 'no-store') {
    event.respondWith(fetch(req).then(isolated));
    return;
  }
  // caches.match, not caches.open(CACHE).match: opening makes the cache, and a request this worker
  // answered after a newer version's activation had dropped its cache made an empty copy of it again
  event.respondWith((async () => {
    const hit = await caches.match(req, { cacheName: CACHE, ignoreSearch: true });
    return isolated(hit || await fetch(req));
  })());
});
