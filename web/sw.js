// Driftglass' service worker: after one visit the app loads and scores with the network off.
// The build fills in VERSION and ASSETS (`cargo xtask extract-loader`, trunk's post-build hook):
// every file the page needs to score on the CPU. Demo sets and the WebGPU module are kept once
// they have been fetched. A new version installs in the background and takes over on the next
// visit (no skipWaiting: the open page keeps the code it started with).
const VERSION = 'unbuilt';
const ASSETS = [];
const CACHE = `driftglass-${VERSION}`;
// Where the worker remembers, in its own cache, which version it replaced (said once).
const UPDATED = './__driftglass-updated-from';

self.addEventListener('install', (event) => {
  // From the server, not the HTTP cache: a cached page of the old version would point at files
  // the new one no longer has.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS.map((url) => new Request(url, { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const older = (await caches.keys()).filter((key) => key.startsWith('driftglass-') && key !== CACHE);
    if (older.length > 0) {
      const cache = await caches.open(CACHE);
      await cache.put(UPDATED, new Response(older.map((key) => key.slice('driftglass-'.length)).join(', ')));
    }
    for (const key of older) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    // A navigation gets this version's page, so page and code always match.
    const key = request.mode === 'navigate' ? new URL('./', self.registration.scope).href : request;
    const hit = await cache.match(key);
    if (hit) return hit;
    const response = await fetch(request);
    // Kept for offline use when possible; a full cache must not fail the page's request.
    if (response.ok) event.waitUntil(cache.put(request, response.clone()).catch(() => {}));
    return response;
  })());
});

// The page asks which version serves it; the first page to ask after an update hears which
// version this one replaced.
self.addEventListener('message', (event) => {
  if (event.data !== 'version') return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const marker = await cache.match(UPDATED);
    const updatedFrom = marker ? await marker.text() : null;
    if (marker) await cache.delete(UPDATED);
    event.source?.postMessage({ driftglassVersion: VERSION, updatedFrom });
  })());
});
