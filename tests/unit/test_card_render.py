"""Membership cards (shared/cards): the PDF's text says who, what, who pays, since when and how to claim; the QR
code in the PNG and in the PDF decodes to the exact signed card URL; long and accented names wrap, never overflow."""

from __future__ import annotations

import dataclasses
import io
import uuid
from datetime import date
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from shared.cards import model
from shared.cards.links import card_token, card_url, read_card_token
from shared.cards.render import CARD_H, CARD_W, PER_SHEET, Card, card_pdf, card_png, desa_batch_pdf

SELF_CHECK = "https://cek.payung.example.go.id"


def _card(name: str = "Siti Aminah", kpj: str = "12345678901", printer: str = "notification") -> Card:
    nomination_id = uuid.uuid4()
    return Card(
        full_name=name,
        membership_number=kpj,
        funding_source_name="APBD Kabupaten Kutai Timur",
        coverage_start=date(2026, 12, 1),
        desa_name="Bumi Rapak",
        nomination_id=nomination_id,
        qr_url=card_url(SELF_CHECK, card_token(printer, nomination_id)),
    )


def _text(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def _decoded(image: Image.Image) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]


def test_the_pdf_card_says_who_what_who_pays_since_when_and_how_to_claim() -> None:
    card = _card()
    front, back = _text(card_pdf(card))
    for expected in (
        "KARTU PESERTA",
        "Siti Aminah",
        "12345678901",
        "BPJS Ketenagakerjaan: JKK + JKM",
        "APBD Kabupaten Kutai Timur",
        "1 Desember 2026",
        "Bumi Rapak",
    ):
        assert expected in front
    assert "2×24 jam" in back and "nomor KPJ" in back
    assert "akta kematian" in back and "Rp42.000.000" in back
    assert "BPJS Ketenagakerjaan 175" in back
    reader = PdfReader(io.BytesIO(card_pdf(card)))
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((CARD_W, CARD_H))


def test_the_qr_code_of_the_png_and_of_the_pdf_opens_the_signed_card_url() -> None:
    card = _card()
    with Image.open(io.BytesIO(card_png(card))) as png:
        assert png.size == (1012, 638)
        assert _decoded(png) == [card.qr_url]
    images = PdfReader(io.BytesIO(card_pdf(card))).pages[0].images
    assert len(images) == 1
    assert _decoded(images[0].image) == [card.qr_url]
    token = card.qr_url.removeprefix(SELF_CHECK + "/cek/kartu/")
    assert read_card_token(token) == card.nomination_id
    assert read_card_token(token, printers=("nomination",)) is None  # signed by notification, not nomination


def test_long_names_with_apostrophes_and_diacritics_wrap_inside_the_card() -> None:
    name = "Hj. Nur'aini Zoë Ñuñez binti Muhammad Ma'ruf Al-Banjari Đặng Śrīwahyuningsih Kusumawardhani"
    card = _card(name)
    front = _text(card_pdf(card))[0]
    for word in ("Nur'aini", "Zoë", "Ñuñez", "Ma'ruf", "Al-Banjari", "Dang", "Kusumawardhani"):
        assert word in front
    with Image.open(io.BytesIO(card_png(card))) as png:
        assert _decoded(png) == [card.qr_url]  # the name did not run over the code
    width = 40 * mm
    lines = model.wrap(model.latin(name), width, lambda t, s: stringWidth(t, "Helvetica-Bold", s), 9)
    assert len(lines) > 1 and all(stringWidth(line, "Helvetica-Bold", 9) <= width for line in lines)
    # one word longer than a line is cut, not left to overflow
    long_word = "A" * 80
    cut = model.wrap(long_word, width, lambda t, s: stringWidth(t, "Helvetica", s), 9)
    assert "".join(cut) == long_word and all(stringWidth(line, "Helvetica", 9) <= width for line in cut)


def test_no_text_runs_past_the_edge_of_the_card() -> None:
    card = _card("Hj. Nur'aini Zoë Ñuñez binti Muhammad Ma'ruf Al-Banjari Đặng Śrīwahyuningsih Kusumawardhani Putri")
    card = dataclasses.replace(
        card,
        funding_source_name="APBD Provinsi Kalimantan Timur melalui Dinas Tenaga Kerja dan Transmigrasi Provinsi",
        desa_name="Sungai Merdeka Kecamatan Samboja Barat yang Namanya Panjang Sekali",
    )
    for page in PdfReader(io.BytesIO(card_pdf(card))).pages:
        placed: list[tuple[str, float, float, float, str]] = []

        def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
            if text.strip():
                bold = "Bold" in str((font or {}).get("/BaseFont", ""))
                placed.append(
                    (text.strip(), cm[4] + tm[4], cm[5] + tm[5], size, "Helvetica-Bold" if bold else "Helvetica")
                )

        page.extract_text(visitor_text=visit)
        assert placed
        for text, x, y, size, font in placed:
            assert 0 < x and x + stringWidth(text, font, size) <= CARD_W + 0.5, text
            assert 2 < y < CARD_H - size, text
            assert size >= 4.4, text  # never shrunk out of legibility


def test_latin_keeps_what_the_built_in_fonts_draw() -> None:
    assert model.latin("Zoë  Ñuñez\tMa'ruf") == "Zoë Ñuñez Ma'ruf"
    assert model.latin("Śrī Đặng 李") == "Sri Dang ?"
    assert model.rupiah(42_000_000) == "Rp42.000.000"
    assert model.tanggal(date(2027, 1, 31)) == "31 Januari 2027"


def test_the_desa_batch_has_sheets_of_cards_then_the_receipt_list_sorted_by_name() -> None:
    names = ["Yusuf", "ahmad", "Ádi Saputra", "Budi", "Rahmat", "Wati", "Nur", "Dewi", "Citra", "Eko"]
    cards = [_card(n, kpj=f"{i:011d}", printer="nomination") for i, n in enumerate(names)]
    pdf = desa_batch_pdf(cards, "Bumi Rapak", date(2026, 12, 3))
    pages = _text(pdf)
    sheets = -(-len(cards) // PER_SHEET)
    assert len(pages) == 2 * sheets + 1  # fronts and backs of each sheet, then one page of receipts
    assert "lembar 1/2 (depan)" in pages[0] and "lembar 1/2 (belakang)" in pages[1]
    assert pages[1].count("Cara mengajukan klaim") == PER_SHEET
    receipt = pages[-1]
    assert "Tanda terima kartu" in receipt and "Tanda tangan" in receipt and "Tanggal" in receipt
    assert "Jumlah: 10 kartu" in receipt and "3 Desember 2026" in receipt
    order = sorted(names, key=lambda n: n.replace("Á", "A").casefold())
    positions = [receipt.index(f"{number} {name}") for number, name in enumerate(order, start=1)]
    assert positions == sorted(positions)
    # card 1 of the first sheet is line 1 of the list
    assert pages[0].index("Ádi Saputra") < pages[0].index("ahmad") < pages[0].index("Budi")
    reader = PdfReader(io.BytesIO(pdf))
    decoded = {text for page in reader.pages[: 2 * sheets : 2] for img in page.images for text in _decoded(img.image)}
    assert decoded == {c.qr_url for c in cards}
    assert {read_card_token(u.rsplit("/", 1)[1], printers=("nomination",)) for u in decoded} == {
        c.nomination_id for c in cards
    }


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError):
        desa_batch_pdf([], "Bumi Rapak", date(2026, 12, 3))
