// The service worker: after one visit, the page, the runtime and the bundle's browser artifacts
// (every file app.json lists) are in the cache, so the app opens and screens in airplane mode.
// One cache per app version (app.json's content hash, in this script's URL): a new export
// installs beside the old one and the old cache is dropped once the new one is complete.
const VERSION = new URL(self.location.href).searchParams.get('v') || 'dev';
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
    return hit || fetch(req);
  })());
});
