/* The console's service worker: keeps the fleet page (its HTML, scripts, style sheets, the
   map library and the map's routes and tracks) for a short outage. Each is fetched from the
   network first; when the network fails, or has not answered within a few seconds, the copy
   kept from the last answer is served (the page then says it is offline and shows its last
   state with its age). The live stream and every write go to the network only. Logging out
   drops the copies. */
"use strict";
const CACHE = "dropline-fleet-v1";
const WAIT_MS = 6000;
const KEPT = [/^\/fleet$/, /^\/static\/[^/]+\.(js|css)$/, /^\/static\/vendor\/leaflet\//,
              /^\/api\/fleet$/];

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then((response) => {
    if (response.ok && !response.redirected && response.type === "basic") {
      cache.put(request, response.clone());
    }
    return response;
  });
  const kept = await cache.match(request);
  if (!kept) return network;
  const late = new Promise((resolve) => setTimeout(() => resolve(kept), WAIT_MS));
  return Promise.race([network.catch(() => kept), late]);
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin) return;
  if (event.request.method === "POST" && url.pathname === "/logout") {
    event.waitUntil(caches.delete(CACHE));
    return;
  }
  if (event.request.method !== "GET" || !KEPT.some((p) => p.test(url.pathname))) return;
  event.respondWith(networkFirst(event.request));
});
