/* The server's validation rules (GET /portal/api/aturan, from services/nomination/portal_rules.py), applied before
   sending. The server checks everything again and decides; messages are in Bahasa and never repeat the value. */
"use strict";
var PayungRules = (function () {
  function daysIn(month, yy) {
    if (month === 2) return yy % 4 === 0 ? 29 : 28; // 1900+yy or 2000+yy: some century has a 29 February iff yy%4==0
    return [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  }
  function nikDate(nik) {
    var dd = parseInt(nik.slice(6, 8), 10), mm = parseInt(nik.slice(8, 10), 10), yy = parseInt(nik.slice(10, 12), 10);
    var day = dd % 40;
    if (mm < 1 || mm > 12 || day < 1 || day > daysIn(mm, yy)) return null;
    return { day: day, month: mm, yy: yy, sex: dd > 40 ? "F" : "M" };
  }
  function nik(value, rules) {
    if (!/^[0-9]{16}$/.test(value)) return "NIK harus tepat 16 angka.";
    if (!nikDate(value)) return "NIK tidak sah: tanggal lahir di dalam NIK (angka ke-7 sampai 12) tidak mungkin.";
    if (rules.nik.provinces.indexOf(value.slice(0, 2)) < 0) return "NIK tidak sah: kode provinsi (2 angka pertama) tidak dikenal.";
    return null;
  }
  function phone(value, rules) {
    var compact = value.replace(/[\s-]/g, "");
    if (!new RegExp(rules.phone.pattern).test(compact)) return "Nomor HP harus nomor seluler Indonesia, misalnya 0812xxxxxxx.";
    return null;
  }
  function birthDate(value, rules) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return "Isi tanggal lahir.";
    var year = parseInt(value.slice(0, 4), 10);
    if (year < rules.birth_date.min_year) return "Tanggal lahir sebelum tahun 1900.";
    if (value > new Date().toISOString().slice(0, 10)) return "Tanggal lahir di masa depan.";
    return null;
  }
  /* Not refused by the server (verification flags it and the civil registry decides): a warning to check. */
  function birthAgainstNik(nikValue, birth, sex) {
    var d = nikDate(nikValue);
    if (!d || !/^\d{4}-\d{2}-\d{2}$/.test(birth)) return null;
    var same = d.day === parseInt(birth.slice(8, 10), 10) && d.month === parseInt(birth.slice(5, 7), 10) &&
      d.yy === parseInt(birth.slice(2, 4), 10);
    var msgs = [];
    if (!same) msgs.push("tanggal lahir tidak sama dengan tanggal di dalam NIK");
    if (sex && d.sex !== sex) msgs.push("jenis kelamin tidak sama dengan NIK (tanggal +40 untuk perempuan)");
    return msgs.length ? "Periksa lagi: " + msgs.join("; ") + "." : null;
  }
  function desa(code, rules) {
    for (var i = 0; i < rules.desa.length; i++) if (rules.desa[i].code === code) return null;
    return "Pilih desa di wilayah Anda.";
  }
  function letterFile(file, rules) {
    if (!file) return "Lampirkan foto atau PDF surat keterangan.";
    if (file.size > rules.letter.max_bytes) return "Berkas terlalu besar (paling besar " + Math.floor(rules.letter.max_bytes / 1048576) + " MB). Kecilkan fotonya.";
    return null;
  }
  /* magic bytes, as the server checks them */
  function letterContent(bytes) {
    if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
    if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "image/png";
    if (bytes[0] === 0x25 && bytes[1] === 0x50 && bytes[2] === 0x44 && bytes[3] === 0x46) return "application/pdf";
    return null;
  }
  return { nik: nik, phone: phone, birthDate: birthDate, birthAgainstNik: birthAgainstNik, desa: desa,
           letterFile: letterFile, letterContent: letterContent, nikDate: nikDate };
})();
