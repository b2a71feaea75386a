/* The nomination form: check with the server's rules, keep on the device, send when there is signal. */
"use strict";
(function () {
  var form = document.getElementById("usul"), list = document.getElementById("antrian"),
      signal = document.getElementById("sinyal"), warn = document.getElementById("warn"), rules = null,
      correcting = null;
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/portal/sw.js", { scope: "/portal/" });

  function loadRules() {
    return fetch("/portal/api/aturan", { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("aturan");
      return r.json();
    }).then(function (j) { try { localStorage.setItem("payung-aturan", JSON.stringify(j)); } catch (e) {} return j; })
      .catch(function () { return JSON.parse(localStorage.getItem("payung-aturan") || "null"); });
  }
  function val(id) { var el = document.getElementById(id); return el ? el.value.trim() : ""; }
  function sex() { var c = form.querySelector("input[name=sex]:checked"); return c ? c.value : ""; }
  function show(id, msg) {
    var p = document.getElementById(id + "-err"), input = document.getElementById(id);
    if (p) p.textContent = msg || "";
    if (input) { if (msg) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid"); }
    return !msg;
  }
  function showSignal() {
    signal.textContent = navigator.onLine ? "Ada sinyal: usulan langsung dikirim." :
      "Tidak ada sinyal: usulan disimpan di HP ini dan dikirim otomatis saat sinyal kembali.";
  }
  var LABEL = { menunggu: "menunggu sinyal", terkirim: "terkirim", ditolak: "ditolak" };
  function render() {
    return PayungQueue.all().then(function (items) {
      list.textContent = "";
      items.slice().reverse().forEach(function (item) {
        var li = document.createElement("li"), st = document.createElement("span");
        li.className = "q-" + item.state;
        li.setAttribute("data-state", item.state);
        st.className = "state";
        st.textContent = LABEL[item.state] + (item.state === "ditolak" ? ": " + item.reasons.join("; ") : "");
        li.appendChild(document.createTextNode(item.label + " · "));
        li.appendChild(st);
        list.appendChild(li);
      });
    });
  }
  function sendAll() { return PayungQueue.flush().then(render); }

  function check() {
    var ok = true, today = new Date().toISOString().slice(0, 10);
    ok = show("nik", PayungRules.nik(val("nik"), rules)) && ok;
    ok = show("full_name", /\p{L}/u.test(val("full_name")) ? "" : "Isi nama lengkap sesuai KTP.") && ok;
    ok = show("birth_date", PayungRules.birthDate(val("birth_date"), rules)) && ok;
    ok = show("sex", sex() ? "" : "Pilih jenis kelamin.") && ok;
    ok = show("phone", PayungRules.phone(val("phone"), rules)) && ok;
    ok = show("desa_code", PayungRules.desa(val("desa_code"), rules)) && ok;
    ok = show("rt", /^\d{1,3}$/.test(val("rt")) && /^\d{1,3}$/.test(val("rw")) ? "" : "RT dan RW diisi angka (1-3 angka).") && ok;
    ok = show("nominator_name", /\p{L}/u.test(val("nominator_name")) ? "" : "Isi nama pengusul.") && ok;
    ok = show("letter_number", val("letter_number") ? "" : "Isi nomor surat.") && ok;
    var ld = val("letter_date");
    ok = show("letter_date", !ld ? "Isi tanggal surat." : ld > today ? "Tanggal surat di masa depan." : "") && ok;
    ok = show("letter_issuer", val("letter_issuer") ? "" : "Isi nama penandatangan surat.") && ok;
    var file = document.getElementById("letter_file").files[0];
    // a corrected resubmission keeps the rejected one's letter unless a new one is attached
    ok = show("letter_file", file || !correcting ? PayungRules.letterFile(file, rules) : "") && ok;
    warn.textContent = PayungRules.birthAgainstNik(val("nik"), val("birth_date"), sex()) || "";
    return { ok: ok, file: file };
  }
  function body() {
    var desa = document.getElementById("desa_code"), opt = desa.options[desa.selectedIndex];
    var who = rules.nominator;
    return {
      nik: val("nik"), full_name: val("full_name"), birth_date: val("birth_date"), sex: sex(),
      phone: val("phone").replace(/[\s-]/g, ""), occupation: val("occupation"),
      address: { kecamatan_code: opt.getAttribute("data-kecamatan"), desa_code: desa.value, rt: val("rt"),
                 rw: val("rw"), street: val("street") },
      nominator: { type: who.type, name: val("nominator_name"), region_code: who.region_code || desa.value },
      supporting_letter: { number: val("letter_number"), date: val("letter_date"), issuer: val("letter_issuer") }
    };
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!rules) return;
    var c = check();
    if (!c.ok) { var bad = form.querySelector("[aria-invalid=true]"); if (bad) bad.focus(); return; }
    var head = c.file ? c.file.slice(0, 8).arrayBuffer() : Promise.resolve(null);
    head.then(function (buf) {
      if (buf && !PayungRules.letterContent(new Uint8Array(buf))) {
        show("letter_file", "Berkas bukan foto JPG/PNG atau PDF."); return;
      }
      return PayungQueue.add(body(), c.file || null, c.file ? null : correcting).then(function () {
        form.reset(); warn.textContent = ""; correcting = null; render(); sendAll();
        document.getElementById("nik").focus();
      });
    });
  });
  function prefill() {
    var id = new URLSearchParams(location.search).get("perbaiki");
    if (!id) return;
    fetch("/portal/api/nominations/" + encodeURIComponent(id) + "/request", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; }).then(function (req) {
        if (!req) return;
        var set = function (id, v) { var el = document.getElementById(id); if (el && v != null) el.value = v; };
        set("nik", req.nik); set("full_name", req.full_name); set("birth_date", req.birth_date);
        set("phone", req.phone); set("occupation", req.occupation);
        var a = req.address || {}; set("desa_code", a.desa_code); set("rt", a.rt); set("rw", a.rw); set("street", a.street);
        var n = req.nominator || {}; set("nominator_name", n.name);
        var l = req.supporting_letter || {}; set("letter_number", l.number); set("letter_date", l.date); set("letter_issuer", l.issuer);
        var r = form.querySelector("input[name=sex][value=" + (req.sex === "F" ? "F" : "M") + "]"); if (r) r.checked = true;
        correcting = id;
        signal.textContent = "Data usulan yang ditolak sudah diisikan (suratnya dipakai lagi): perbaiki lalu kirim ulang.";
      });
  }
  window.addEventListener("online", function () { showSignal(); sendAll(); });
  window.addEventListener("offline", showSignal);
  showSignal();
  loadRules().then(function (r) { rules = r; form.setAttribute("data-ready", "1"); prefill(); });
  render().then(sendAll);
})();
