/* HaiLong kiosk service worker: keeps the kiosk shell (page, script, styles) so that a reload while the
   network is down still shows the kiosk.  Served by /kiosk-sw.js, which fills in VERSION and SHELL.
   Network first for the page (a revoked kiosk must learn it at once when online), cache first for the
   versioned assets.  API calls are never cached: the page's own queue handles them.
   The audio of "Listen to the question" (survey/respond/speech.py) is kept in its own cache, filled when the
   kiosk page sends the list of its audio files (names are content hashes: a kept file never goes stale). */
"use strict";
var VERSION = "__VERSION__";
var SHELL = __SHELL__;
var PAGE = SHELL[0];
var CACHE = "hailong-kiosk-" + VERSION;
var SPEECH_CACHE = "hailong-speech";  // not "hailong-kiosk-…": a new software version keeps the audio
var SPEECH_PREFIX = PAGE + "/speech/";

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

// The kiosk page sends {type: "hailong-speech-cache", urls: [...]}: fetch the missing files, drop the ones no
// longer listed (an older questionnaire version), answer {cached: n} on the given port.
function cacheSpeech(urls) {
  var wanted = {};
  urls.forEach(function (u) { wanted[new URL(u, self.location.origin).href] = true; });
  return caches.open(SPEECH_CACHE).then(function (cache) {
    return cache.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return !wanted[k.url]; }).map(function (k) { return cache.delete(k); }));
    }).then(function () {
      return Promise.all(urls.map(function (u) {
        return cache.match(u).then(function (hit) {
          return hit ? true : cache.add(u).then(function () { return true; }, function () { return false; });
        });
      }));
    });
  }).then(function (done) { return done.filter(Boolean).length; });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "hailong-speech-cache" || !Array.isArray(data.urls)) { return; }
  var urls = data.urls.filter(function (u) { return typeof u === "string" && u.indexOf(SPEECH_PREFIX) === 0; });
  var port = event.ports && event.ports[0];
  event.waitUntil(cacheSpeech(urls).then(function (n) {
    if (port) { port.postMessage({cached: n}); }
  }));
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
  if (url.pathname.indexOf(SPEECH_PREFIX) === 0) {
    event.respondWith(caches.match(url.pathname, {cacheName: SPEECH_CACHE}).then(function (hit) {
      return hit || fetch(request);
    }));
    return;
  }
  if (SHELL.indexOf(url.pathname + url.search) > 0) {
    event.respondWith(caches.match(request, {cacheName: CACHE}).then(function (hit) {
      return hit || fetch(request);
    }));
  }
});
