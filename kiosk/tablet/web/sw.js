// The service worker: after one visit, the page, the runtime and the bundle's browser artifacts
// (every file app.json lists) are in the cache, so the app opens and screens in airplane mode.
// One cache per app version (app.json's content hash, in this script's URL): a new export
// installs beside the old one and the old cache is dropped once the new one is complete.
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

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const app = await (await fetch('app.json', { cache: 'no-store' })).json();
    const cache = await caches.open(CACHE);
    await cache.addAll(['./', 'app.json', ...Object.keys(app.files)]);
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
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(req, { ignoreSearch: true });
    return isolated(hit || await fetch(req));
  })());
});
