/* Nominations kept on the device (IndexedDB) until they are sent, each exactly once: its Idempotency-Key is made
   when the form is filled in, so a send repeated after a lost answer is replayed by the server, not created twice.
   States: "menunggu" (menunggu sinyal), "terkirim", "ditolak". */
"use strict";
var PayungQueue = (function () {
  var DB = "payung-portal", STORE = "usulan", sending = false;
  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "key" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function tx(mode, fn) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), store = t.objectStore(STORE), out = fn(store);
        t.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return "portal-" + crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return "portal-" + Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  /* letterFrom: the rejected nomination whose letter a corrected resubmission keeps (no new file attached) */
  function add(body, letter, letterFrom) {
    var item = { key: newKey(), body: body, letter: letter || null, letter_from: letterFrom || null,
                 state: "menunggu", created: Date.now(), label: body.full_name, nomination_id: null, reasons: [] };
    return tx("readwrite", function (s) { s.put(item); }).then(function () { return item; });
  }
  function all() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).sort(function (a, b) { return a.created - b.created; });
    });
  }
  function save(item) {
    // once final, the phone keeps the name and the state only: no NIK, phone or letter stays on the device
    if (item.state !== "menunggu") { item.body = null; item.letter = null; }
    return tx("readwrite", function (s) { s.put(item); });
  }
  function csrf() {
    return fetch("/portal/api/csrf", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("sesi"); return r.json(); })
      .then(function (j) { return j.csrf; });
  }
  var FIELD = { nik: "NIK", full_name: "nama", birth_date: "tanggal lahir", phone: "nomor HP", sex: "jenis kelamin",
                "address.desa_code": "desa", "address.rt": "RT", "address.rw": "RW", letter: "surat",
                "nominator.name": "nama pengusul", supporting_letter: "surat keterangan" };
  function reasonsOf(status, problem) {
    if (status === 409) return ["NIK ini sudah diusulkan dan sedang diproses."];
    if (status === 403) return ["Alamat di luar wilayah akun Anda."];
    if (status === 413) return ["Berkas surat terlalu besar."];
    if (status === 415) return ["Surat harus foto JPG/PNG atau PDF."];
    var errs = (problem && problem.errors) || [];
    if (!errs.length) return ["Data tidak diterima (kode " + status + ")."];
    return errs.map(function (e) {
      var f = e.field.replace(/^body\./, "");
      return (FIELD[f] || f) + ": " + e.message;
    });
  }
  function sendOne(item, token) {
    var headers = { "Content-Type": "application/json", "Idempotency-Key": item.key, "X-CSRF-Token": token };
    var step = item.nomination_id ? Promise.resolve(null) :
      fetch("/portal/api/nominations", { method: "POST", credentials: "same-origin", headers: headers,
                                         body: JSON.stringify(item.body) }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (r.status === 202) { item.nomination_id = j.nomination_id; return save(item); }
          if (r.status >= 500 || r.status === 401 || r.status === 429) throw new Error("nanti");
          item.state = "ditolak"; item.reasons = reasonsOf(r.status, j); return save(item);
        });
      });
    return step.then(function () {
      if (item.state === "ditolak") return;
      if (!item.letter && !item.letter_from) { item.state = "terkirim"; return save(item); }
      var url = "/portal/api/nominations/" + item.nomination_id + "/letter" +
        (item.letter ? "" : "?dari=" + encodeURIComponent(item.letter_from));
      return fetch(url, {
        method: "PUT", credentials: "same-origin", headers: { "X-CSRF-Token": token }, body: item.letter || ""
      }).then(function (r) {
        if (r.status >= 500 || r.status === 401 || r.status === 429) throw new Error("nanti");
        if (r.ok) { item.state = "terkirim"; item.letter = null; item.letter_from = null; return save(item); }
        return r.json().catch(function () { return {}; }).then(function (j) {
          item.state = "ditolak"; item.reasons = reasonsOf(r.status, j); return save(item);
        });
      });
    });
  }
  /* Send what waits, one at a time; a failure of the network leaves the rest waiting for the next try. */
  function flush() {
    if (sending || !navigator.onLine) return Promise.resolve();
    sending = true;
    return all().then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "menunggu"; });
      if (!waiting.length) return;
      return csrf().then(function (token) {
        return waiting.reduce(function (p, item) { return p.then(function () { return sendOne(item, token); }); },
                              Promise.resolve());
      });
    }).catch(function () { /* no signal yet: stays "menunggu sinyal" */ })
      .then(function () { sending = false; });
  }
  return { add: add, all: all, flush: flush, remove: function (key) { return tx("readwrite", function (s) { s["delete"](key); }); } };
})();
