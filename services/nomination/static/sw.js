/* The portal's service worker: its pages, scripts and rules are kept on the phone, so the form opens without a
   signal. Pages and rules: network first (fresh when there is signal), the kept copy otherwise. The JSON writes
   are never cached: the page queues them itself (queue.js). */
"use strict";
var CACHE = "payung-portal-v1";
var SHELL = ["/portal/usul", "/portal/daftar", "/portal/api/aturan", "/portal/static/portal.css",
             "/portal/static/rules.js", "/portal/static/queue.js", "/portal/static/portal.js"];
self.addEventListener("install", function (ev) {
  ev.waitUntil(caches.open(CACHE).then(function (c) {
    return Promise.all(SHELL.map(function (u) {
      return fetch(u, { credentials: "same-origin" }).then(function (r) { if (r.ok && !r.redirected) return c.put(u, r); })
        .catch(function () {});
    }));
  }).then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (ev) {
  ev.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches["delete"](k); }));
  }).then(function () { return self.clients.claim(); }));
});
self.addEventListener("fetch", function (ev) {
  var url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== location.origin) return;
  var path = url.pathname;
  var keep = SHELL.indexOf(path) >= 0;
  if (!keep) return;
  ev.respondWith(fetch(ev.request).then(function (r) {
    if (r.ok && !r.redirected) { var copy = r.clone(); caches.open(CACHE).then(function (c) { c.put(path, copy); }); }
    return r;
  }).catch(function () {
    return caches.match(path).then(function (hit) {
      return hit || new Response("Tidak ada sinyal dan halaman ini belum tersimpan.", { status: 503,
        headers: { "Content-Type": "text/plain; charset=utf-8" } });
    });
  }));
});
