/* 网格员手机端 service worker: precaches the app shell and Leaflet so that /m/ opens with no
   network after its first load. Only the shell and /static/ files are answered from the cache;
   every API call (data and writes) goes to the network untouched: the app keeps its own
   offline copy of data and its write queue in IndexedDB (app.js). Version {{VERSION}}. */
'use strict';
const VERSION = '{{VERSION}}';
const CACHE = 'wangge-m-' + VERSION;
const PRECACHE = {{PRECACHE}};

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(PRECACHE.map((u) => new Request(u, {credentials: 'same-origin', cache: 'reload'}))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('wangge-m-') && k !== CACHE)
      .map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

function isShell(url) {
  if (url.origin !== self.location.origin) return false;
  if (url.pathname === '/m/' || url.pathname === '/m') return true;
  if (url.pathname.startsWith('/m/') && url.pathname !== '/m/sw.js') return true;
  return url.pathname.startsWith('/static/');
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (!isShell(url)) return;  // API: straight to the network
  const key = (url.pathname === '/m' || url.pathname === '/m/') ? '/m/' : req;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(key, {ignoreSearch: true});
    // the page: from the cache at once, refreshed in the background when online
    const fresh = fetch(req).then((res) => {
      if (res && res.ok && res.type === 'basic') cache.put(key, res.clone());
      return res;
    }).catch(() => null);
    if (hit) {
      event.waitUntil(fresh);
      return hit;
    }
    const res = await fresh;
    return res || new Response('离线且未缓存 / offline and not cached', {
      status: 503, headers: {'content-type': 'text/plain; charset=utf-8'}});
  })());
});
