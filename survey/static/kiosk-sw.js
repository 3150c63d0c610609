/* HaiLong kiosk service worker: keeps the kiosk shell (page, script, styles) so that a reload while the
   network is down still shows the kiosk.  Served by /kiosk-sw.js, which fills in VERSION and SHELL.
   Network first for the page (a revoked kiosk must learn it at once when online), cache first for the
   versioned assets.  API calls are never cached: the page's own queue handles them. */
"use strict";
var VERSION = "__VERSION__";
var SHELL = __SHELL__;
var PAGE = SHELL[0];
var CACHE = "hailong-kiosk-" + VERSION;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(SHELL);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) {
      return k.indexOf("hailong-kiosk-") === 0 && k !== CACHE;
    }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(PAGE, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(PAGE, {cacheName: CACHE}).then(function (hit) { return hit || Response.error(); });
    }));
    return;
  }
  if (SHELL.indexOf(url.pathname + url.search) > 0) {
    event.respondWith(caches.match(request, {cacheName: CACHE}).then(function (hit) {
      return hit || fetch(request);
    }));
  }
});
